"""What several page kinds share: the templates, labels, download links and the
ranking tables (written a column at a time, dashboards.html)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import jinja2
import polars as pl
from markupsafe import Markup

from dashboards import html
from dashboards.charts import described
from dashboards.format import PCT, SCORE, Fmt, fmt_date, fmt_int, fmt_num, period_label, period_short_label, texts
from dashboards.groups import Group
from dashboards.html import Head
from dashboards.i18n import COLUMNS, LEVEL_ORDER, PEER_GROUPS, UI, Band, Label, level_label, peer_group_label
# every rate, in the published order: those a profile can score, and apology_rate, shown only
from transforms.profile import RATE_COLUMNS

TEMPLATES = Path(__file__).parent.parent / "templates"

# Only what could reach the network is restricted; scripts and styles are the
# site's own files (the tests check that no page names an external one).
CSP = (
    "connect-src 'none'; font-src 'none'; frame-src 'none'; media-src 'none'; "
    "object-src 'none'; worker-src 'none'; manifest-src 'none'; img-src data:; "
    "form-action 'none'; base-uri 'none'"
)

COUNT_COLUMNS = (
    "received", "finished", "early", "on_time", "overdue", "no_deadline", "pending_overdue", "rejected",
    "timeliness_base",
)
GROUPS = "*groups"  # where a column list takes the profile's groups' points
COMPACT_COLUMNS = (
    "rank", "unit_name", "peer_group", "score", "band", "rank_change", GROUPS, "received", "overdue", "pending_overdue",
)
FULL_COLUMNS = (
    "rank", "rank_in_peer", "unit_name", "peer_group", "score", "band", "rank_change", GROUPS,
    *COUNT_COLUMNS[:-1], "timeliness_base", *RATE_COLUMNS, "avg_working_days",
)
REPORT_COLUMNS = (
    "rank", "unit_name", "peer_group", "score", "band", "rank_change", "received", "overdue", "pending_overdue",
)
DATA_SUFFIXES = ("csv", "xlsx", "parquet")
TABLE_SUFFIXES = ("csv", "xlsx")
FILE_LABELS = {"csv": UI["file_csv"], "xlsx": UI["file_xlsx"], "parquet": UI["file_parquet"]}
TABLE_LABELS = {
    "scoreboard": UI["report_ranking"],
    "weak_points": UI["weak_title"],
    "bottlenecks": UI["bottleneck_title"],
    "what_if": UI["what_if_title"],
    "evidence": UI["evidence_title"],
}
# the tables that explain a scoreboard, published per period beside it
INSIGHTS = ("weak_points", "bottlenecks", "what_if", "evidence")


# --------------------------------------------------------------------------- templates


@functools.lru_cache(maxsize=1)
def env() -> jinja2.Environment:
    e = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )
    e.globals.update(UI=UI, COLUMNS=COLUMNS, csp=CSP, table_html=html.table_html)
    return e


def page(data: Any, template: str, **context: Any) -> bytes:
    """A page: `template` (templates/<name>.html.j2) with the menu (the fact `nav`)."""
    nav = data.fact("nav")
    context.setdefault("nav", nav)
    context.setdefault("has_ingestion", nav["ingestion"])
    note, n = UI["not_ranked_note"], fmt_int(nav["min_volume"])
    context.setdefault("not_ranked_note", Label(note.vi.format(n=n), note.en.format(n=n)))
    for name in ("peers", "body_class", "chart_json"):
        context.setdefault(name, None)
    context.setdefault("shared_specs", False)
    return env().get_template(f"{template}.html.j2").render(**context).encode("utf-8")


def script_json(data: Any) -> Markup:
    """JSON safe to put verbatim inside <script type="application/json">.

    A script element's text is not HTML-decoded, so it must not be escaped as
    HTML; instead `<`, `>` and `&` become JSON escapes, so no `</script>` or
    `<!--` can appear whatever the data (unit names included).
    """
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


def chart_json(datasets: dict, charts: list[dict], format_locale: dict) -> Markup | None:
    """The page's charts for site.js: each a spec per language, described by its title
    (charts.described), or the name of a spec the unit pages share (assets/charts.js)."""
    if not charts:
        return None
    return script_json({
        "datasets": datasets,
        "formatLocale": format_locale,
        "charts": [
            {"id": c["id"], "spec": c["spec"]} if "spec" in c else
            {"id": c["id"], **{lang: described(c[lang], c["title"].get(lang)) for lang in ("vi", "en")}}
            for c in charts
        ],
    })


def figure(id: str, title: Label, images: list[dict] | None = None, *, wide: bool = False, scroll: bool = False,
           note: Label | None = None) -> dict:
    return {"id": id, "title": title, "images": images, "wide": wide, "scroll": scroll, "note": note}


# --------------------------------------------------------------------------- labels


def same(text: str) -> Label:
    return Label(text, text)


def plabel(ptype: str, key: str, *, mid: bool = False) -> Label:
    """A period's label in both languages; `mid`: as written inside a sentence."""
    try:
        return Label(period_label(ptype, key, "vi", mid=mid), period_label(ptype, key, "en", mid=mid))
    except ValueError:
        return same(str(key))


def pshort(ptype: str, key: str) -> Label:
    try:
        return Label(period_short_label(ptype, key, "vi"), period_short_label(ptype, key, "en"))
    except ValueError:
        return same(str(key))


def level_lab(level: str | None) -> Label:
    return Label(level_label(level or "", "vi"), level_label(level or "", "en"))


def peer_lab(peer: str | None) -> Label:
    return Label(peer_group_label(peer, "vi"), peer_group_label(peer, "en"))


def levels_of(values: Iterable[str]) -> list[str]:
    """The levels present, in LEVEL_ORDER (any other level after them, by name)."""
    present = {v for v in values if v is not None}
    return [lv for lv in LEVEL_ORDER if lv in present] + sorted(present - set(LEVEL_ORDER))


def level_rank() -> pl.Expr:
    return pl.col("level").replace_strict(
        {lv: i for i, lv in enumerate(LEVEL_ORDER)}, default=len(LEVEL_ORDER), return_dtype=pl.Int32
    )


def peers_of(values: Iterable[str | None]) -> list[dict]:
    """Options of the peer-group filter: the usual groups first, then by name."""
    present = {v for v in values if v}
    order = {k: i for i, k in enumerate(PEER_GROUPS)}
    return [{"value": v, "label": peer_lab(v)} for v in sorted(present, key=lambda v: (order.get(v, len(order)), v))]


def cutoff_note(cutoff: str | None, provisional: bool) -> Label | None:
    """What a period in progress says of its figures: provisional up to the cut-off (the
    latest event in the data, dd/mm/yyyy hh:mm) where it is known; None otherwise (the
    page then says only that they are provisional)."""
    return fmt_lab(UI["provisional_cutoff"], t=cutoff) if cutoff and provisional else None


def fmt_lab(lab: Label, **kw: Any) -> Label:
    kw_en = {k: (v.en if isinstance(v, Label) else v) for k, v in kw.items()}
    kw_vi = {k: (v.vi if isinstance(v, Label) else v) for k, v in kw.items()}
    return Label(lab.vi.format(**kw_vi), lab.en.format(**kw_en))


def period_record(ptype: str, key: str, start: Any, provisional: bool) -> dict:
    """A period as pages name it (plain values: it goes into cache keys as it is)."""
    return {
        "type": ptype, "key": key, "start": fmt_date(start), "start_iso": start.isoformat() if start else "",
        "provisional": bool(provisional), "label": list(plabel(ptype, key)), "short": list(pshort(ptype, key)),
        "anchor": f"p-{key}",
    }


def with_labels(p: dict | None) -> dict | None:
    """A period record with its labels as Labels again (for the templates)."""
    if p is None:
        return None
    return dict(p, label=Label(*p["label"]), short=Label(*p["short"]))


# --------------------------------------------------------------------------- downloads


def data_file_name(period_key: str, suffix: str, table: str = "scoreboard") -> str:
    """`scoreboard-2024-W07.csv` (suffix `csv`, `parquet` or `xlsx`), `weak_points-2024-02.xlsx`."""
    return f"{table}-{period_key}.{suffix}"


def files(key: str, root: str) -> list[dict]:
    """The scoreboard's three files of a period."""
    return [{"href": f"{root}data/{data_file_name(key, s)}", "label": FILE_LABELS[s]} for s in DATA_SUFFIXES]


def all_files(key: str, root: str, published: Iterable[str]) -> list[dict]:
    """The scoreboard's files of a period, then each published table's CSV and XLSX
    (the XLSX made by site.js from `<table>-<key>.js`; without JavaScript the link
    gives the CSV)."""
    out = []
    for name in ("scoreboard", *published):
        lab = TABLE_LABELS[name]
        for sfx in DATA_SUFFIXES if name == "scoreboard" else TABLE_SUFFIXES:
            f = FILE_LABELS[sfx]
            item = {"href": f"{root}data/{data_file_name(key, sfx, name)}", "xlsx": None,
                    "label": Label(f"{lab.vi}: {f.vi}", f"{lab.en}: {f.en}")}
            if name != "scoreboard" and sfx == "xlsx":
                item.update(href=f"{root}data/{data_file_name(key, 'csv', name)}",
                            xlsx=f"{root}data/{data_file_name(key, 'js', name)}",
                            name=data_file_name(key, "xlsx", name))
            out.append(item)
    return out


# --------------------------------------------------------------------------- ranking tables


def expand(columns: Iterable[str], groups: tuple[Group, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for c in columns:
        out.extend(g.column for g in groups) if c == GROUPS else out.append(c)
    return tuple(out)


def column_head(key: str, groups: tuple[Group, ...], rates: Mapping[str, Label]) -> Head:
    """A ranking column's heading: a group's and a rate's labels are the profile's
    (`rates`: dashboards.i18n.rate_labels, the site fact `rates`)."""
    for g in groups:
        if key == g.column:
            mx = fmt_num(g.full_max, 0 if float(g.full_max).is_integer() else 1)
            return Head(g.label, sub=Label(f"/{mx} điểm", f"/{mx} pts"))
    if key in ("unit_name", "peer_group"):
        return Head(COLUMNS[key], "text")
    if key in RATE_COLUMNS:
        return Head(rates[key], sub=same("%"))
    return Head(COLUMNS[key])


def formats(columns: Iterable[str], groups: tuple[Group, ...]) -> dict[str, tuple[str, Fmt]]:
    """How each number column of a ranking is written (`_t_<column>` text columns)."""
    group_cols = {g.column for g in groups}
    out = {}
    for c in columns:
        if c == "score":
            out[c] = SCORE
        elif c in RATE_COLUMNS:
            out[c] = PCT
        elif c in group_cols or c == "avg_working_days":
            out[c] = Fmt("num", 1)
        elif c in (*COUNT_COLUMNS, "rank", "rank_in_peer"):
            out[c] = Fmt("int")
    return {f"_t_{c}": (c, f) for c, f in out.items()}


def cell(key: str, root: str, bands: tuple[Band, ...]) -> pl.Expr:
    """The `<td>` of one ranking column (over a frame with its `_t_` text columns)."""
    col = pl.col
    if key == "unit_name":
        return html.th_unit(col("unit_name"), col("unit_code"), col("_slug"), root, col("_until"))
    if key in ("rank", "rank_in_peer"):
        return html.td_rank(col(f"_t_{key}"), col("ranked") & col(key).is_not_null())
    if key == "peer_group":
        return html.td_html(html.labelled(col("peer_group"), PEER_GROUPS))
    if key == "band":
        return html.td_band(col("band"), bands)
    if key == "rank_change":
        return html.td_change(col("rank_change"))
    return html.td_num(col(f"_t_{key}"))


def with_texts(frame: pl.DataFrame, columns: Iterable[str], groups: tuple[Group, ...]) -> pl.DataFrame:
    spec = formats(columns, groups)
    return pl.concat([frame, texts(frame, spec)], how="horizontal") if spec else frame


def ranking_tables(
    frame: pl.DataFrame, columns: Iterable[str], groups: tuple[Group, ...], *, bands: tuple[Band, ...],
    rates: Mapping[str, Label] | None = None, root: str, row_ids: bool = False,
) -> dict[str, list[dict]]:
    """Per period_key of `frame` (prepared, sorted rows): one table per level.

    `groups`, `bands` and `rates` (the labels of the rate columns, needed when
    `columns` has any) are the profile's: the site facts of the same names.

    Rows carry their peer group (for the filter) and, with `row_ids`, an id
    `u-<unit slug>` that unit pages link to. A level with no ranked unit (the
    districts after the 2025 reform, listed only for their late dossiers) is
    folded away, after the others."""
    missing = {g.column for g in groups} - set(frame.columns)  # a group the scoreboard has no points for
    columns = tuple(c for c in expand(columns, groups) if c not in missing)
    if frame.height == 0:
        return {}
    f = with_texts(frame, columns, groups)
    row = html.rows(
        f, [cell(c, root, bands) for c in columns],
        id=(pl.lit("u-") + pl.col("_slug")) if row_ids else None,
        peer=pl.col("peer_group"), unranked=~pl.col("ranked"),
    )
    blocks = (
        f.with_columns(_row=row)
        .group_by("period_type", "period_key", "level", maintain_order=True)
        .agg(body=pl.col("_row").str.join(""), n=pl.len(), ranked=pl.col("ranked").sum())
        .with_columns(_lv=level_rank())
        .sort("_lv", "level", maintain_order=True)
    )
    head = [column_head(c, groups, rates or {}) for c in columns]
    out: dict[str, list[dict]] = {}
    for ptype, key, level, body, n, ranked, _lv in blocks.iter_rows():
        p = plabel(ptype, key)
        lv = level_lab(level)
        out.setdefault(key, []).append(html.table(
            Label(f"{lv.vi} · {p.vi}", f"{lv.en} · {p.en}"), head, body, n,
            Label(f"{ranked}/{n} đơn vị được xếp hạng", f"{ranked}/{n} units ranked"),
            collapsed=ranked == 0,
        ))
    for tables in out.values():
        if any(not tb["collapsed"] for tb in tables):
            tables.sort(key=lambda tb: tb["collapsed"])
        else:
            for tb in tables:
                tb["collapsed"] = False
    return out
