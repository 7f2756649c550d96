"""What the unit, city, data-quality and monthly report pages show.

Each function turns frames into the plain dicts the templates render: labels
in both languages, numbers already formatted. Nothing here writes files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import polars as pl

from dashboards.format import (
    fmt_date,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_score,
    period_label,
    period_short_label,
)
from dashboards.i18n import (
    BAND_BY_VI,
    BANDS,
    CHECKS,
    COLUMNS,
    GROUP_KEYS,
    INDICATORS,
    INSIGHT_COLUMNS,
    LEVEL_ORDER,
    NO_BAND,
    PEER_GROUPS,
    QUARANTINE_REASONS,
    UI,
    WARNING_KINDS,
    Label,
    level_label,
    peer_group_label,
)
from dashboards.tables import RATE_COLUMNS, _cell, _col, band_cell, ingestion_table

COUNT_COLUMNS = (
    "received", "finished", "early", "on_time", "overdue", "no_deadline", "pending_overdue", "rejected",
    "timeliness_base",
)
HISTORY_COLUMNS = ("score", "band", "rank", "rank_change", "received", "overdue", "pending_overdue")
# A unit page lists every month but only the latest weeks (the chart shows them all),
# so that pages stay small as years of weeks pile up.
HISTORY_WEEKS = 26
# What the history tables and the unit's charts read of each period (dashboards.charts.unit_history).
HISTORY_FIELDS = (
    "period_type", "period_key", "period_start", "provisional", "ranked", *HISTORY_COLUMNS,
    "on_time_rate", "online_rate",
)
REPORT_COLUMNS = (
    "rank", "unit_name", "peer_group", "score", "band", "rank_change", "received", "overdue", "pending_overdue",
)


# --------------------------------------------------------------------------- small pieces


def plabel(ptype: str, key: str) -> Label:
    try:
        return Label(period_label(ptype, key, "vi"), period_label(ptype, key, "en"))
    except ValueError:
        return Label(str(key), str(key))


def pshort(ptype: str, key: str) -> Label:
    try:
        return Label(period_short_label(ptype, key, "vi"), period_short_label(ptype, key, "en"))
    except ValueError:
        return Label(str(key), str(key))


def same(text: str) -> Label:
    return Label(text, text)


def table(caption: Label, columns: list[dict], rows: list[dict], note: Label | None = None) -> dict:
    return {"caption": caption, "note": note, "columns": columns, "rows": rows}


def row(cells: list[dict], *, unranked: bool = False, peer: str | None = None, id: str | None = None) -> dict:
    return {"cells": cells, "unranked": unranked, "peer": peer, "id": id}


def num(text: str) -> dict:
    return {"kind": "num", "text": text}


def text(value: Any) -> dict:
    return {"kind": "text", "text": "" if value is None else str(value)}


def label_cell(lab: Label) -> dict:
    return {"kind": "label", "label": lab}


def rowhead(lab: Label, sub: Label | None = None) -> dict:
    return {"kind": "rowhead", "label": lab, "sub": sub}


def unit_cell(name: str | None, code: str | None, slug: str | None) -> dict:
    return {"kind": "unit", "name": name or "", "code": code or "", "slug": slug}


def signed(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "—"
    s = fmt_num(x, digits)
    return "+" + s if s.strip("0,.") and not s.startswith("-") else s


def fmt_value(indicator: str | None, x: float | None) -> str:
    """An indicator's value as pages write it: rates as percentages, counts whole."""
    if x is None:
        return "—"
    if indicator in RATE_COLUMNS or (indicator or "").endswith("_rate"):
        return fmt_pct(x)
    if float(x).is_integer():
        return fmt_int(int(x))
    return fmt_num(x, 2)


def indicator_label(name: str | None) -> Label:
    if name is None:
        return same("")
    return INDICATORS.get(name) or COLUMNS.get(name) or same(name)


def group_label(key: str | None, groups: list["Group"] | None = None) -> Label:
    for g in groups or ():
        if g.key == key:
            return g.label
    return GROUP_KEYS.get(key or "") or same(key or "")


def band_label_of(band: str | None) -> Label:
    if band is None:
        return NO_BAND
    b = BAND_BY_VI.get(band)
    return Label(b.vi, b.en) if b else same(band)


def level_lab(level: str) -> Label:
    return Label(level_label(level, "vi"), level_label(level, "en"))


def peer_lab(peer: str | None) -> Label:
    return Label(peer_group_label(peer, "vi"), peer_group_label(peer, "en"))


def levels_of(values: Iterable[str]) -> list[str]:
    present = set(values)
    return [lv for lv in LEVEL_ORDER if lv in present] + sorted(present - set(LEVEL_ORDER))


def peers_of(values: Iterable[str | None]) -> list[dict]:
    """Options of the peer-group filter: the usual groups first, then by name."""
    present = {v for v in values if v}
    order = {k: i for i, k in enumerate(PEER_GROUPS)}
    return [
        {"value": v, "label": peer_lab(v)}
        for v in sorted(present, key=lambda v: (order.get(v, len(order)), v))
    ]


def fmt_lab(lab: Label, **kw: Any) -> Label:
    kw_en = {k: (v.en if isinstance(v, Label) else v) for k, v in kw.items()}
    kw_vi = {k: (v.vi if isinstance(v, Label) else v) for k, v in kw.items()}
    return Label(lab.vi.format(**kw_vi), lab.en.format(**kw_en))


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class Group:
    key: str  # `timeliness`
    label: Label
    indicators: tuple[tuple[str, float], ...]  # (rate column, max points)

    @property
    def column(self) -> str:
        return f"points_{self.key}"

    @property
    def max_column(self) -> str:
        return f"max_{self.key}"

    @property
    def full_max(self) -> float:
        return sum(m for _r, m in self.indicators)


def profile_groups(profile: Any) -> list[Group]:
    """The published groups of a scoring profile, with their indicators."""
    out = []
    for group in profile.groups:
        key, vi, en = group.key, group.label_vi, group.label_en
        inds = tuple((i.rate, float(i.max_points)) for i in group.indicators)
        lab = GROUP_KEYS.get(key) or Label(vi, en)
        out.append(Group(key, Label(vi or lab.vi, en or lab.en), inds))
    return out


def with_group_max(frame: pl.DataFrame, groups: list[Group]) -> pl.DataFrame:
    """`max_<group>`: the maximum points of the group's applicable indicators (null: none applies)."""
    exprs = []
    for g in groups:
        inds = [(r, m) for r, m in g.indicators if r in frame.columns]
        if not inds:
            exprs.append(pl.lit(None, dtype=pl.Float64).alias(g.max_column))
            continue
        applicable = [pl.col(r).is_not_null() for r, _m in inds]
        total = pl.sum_horizontal([pl.when(a).then(pl.lit(m)).otherwise(pl.lit(0.0)) for a, (_r, m) in zip(applicable, inds)])
        exprs.append(pl.when(pl.any_horizontal(applicable)).then(total).alias(g.max_column))
    return frame.with_columns(exprs) if exprs else frame


def peer_medians(frame: pl.DataFrame, groups: list[Group]) -> dict[tuple, dict[str, float | None]]:
    """Median points per group over the ranked units of each period, level and peer group."""
    cols = [g.column for g in groups if g.column in frame.columns]
    if frame.is_empty() or not cols:
        return {}
    m = (
        frame.filter(pl.col("ranked"))
        .group_by("period_key", "level", "peer_group")
        .agg([pl.col(c).median() for c in cols])
    )
    return {(r["period_key"], r["level"], r["peer_group"]): r for r in m.iter_rows(named=True)}


# --------------------------------------------------------------------------- unit pages


def what_if_sentences(w: dict | None, ranked: bool, have_table: bool) -> list[Label]:
    """The what-if sentences of one unit and period (scoreboard.md, Ranking: What-if)."""
    if not have_table:
        return []
    if w is None or not ranked:
        return [UI["what_if_unranked"]]
    late = w["late_dossiers"] or 0
    if late == 0:
        out = [UI["no_late"]]
        if w["target_rank"] is None:
            out.insert(0, UI["what_if_top_rank"])
        return out

    def dossiers(n: int) -> str:
        return "dossier" if n == 1 else "dossiers"

    out = []
    if w["target_rank"] is None:
        out.append(UI["what_if_top_rank"])
    elif w["dossiers_for_rank"] is not None:
        n = w["dossiers_for_rank"]
        out.append(fmt_lab(UI["what_if_rank"], n=fmt_int(n), r=fmt_int(w["target_rank"]), dossiers=dossiers(n)))
    else:
        out.append(fmt_lab(UI["what_if_rank_none"], n=fmt_int(late), r=fmt_int(w["target_rank"]), dossiers=dossiers(late)))
    if w["target_band"] is None:
        out.append(UI["what_if_top_band"])
    elif w["dossiers_for_band"] is not None:
        n = w["dossiers_for_band"]
        out.append(fmt_lab(UI["what_if_band"], n=fmt_int(n), b=band_label_of(w["target_band"]), dossiers=dossiers(n)))
    else:
        out.append(fmt_lab(UI["what_if_band_none"], n=fmt_int(late), b=band_label_of(w["target_band"]), dossiers=dossiers(late)))
    return out


def groups_table(r: dict, groups: list[Group], medians: dict[str, float | None] | None) -> dict:
    head = [
        _col("group", "text", label=INSIGHT_COLUMNS["group"]),
        _col("earned", label=UI["earned"]),
        _col("max", label=UI["max"]),
        _col("median", label=UI["peer_median"]),
        _col("share", label=UI["share_of_max"], sub=same("%")),
    ]
    rows = []
    for g in groups:
        earned = r.get(g.column)
        mx = r.get(g.max_column)
        med = (medians or {}).get(g.column)
        share = earned / mx if (earned is not None and mx) else None
        rows.append(
            row(
                [
                    rowhead(g.label),
                    num(fmt_num(earned, 1)),
                    num(fmt_num(mx, 0 if mx is None or float(mx).is_integer() else 1)),
                    num(fmt_num(med, 1)),
                    {
                        "kind": "meter",
                        "value": None if share is None else round(share, 4),
                        "max": 1,
                        "text": fmt_pct(share, 0),
                    },
                ]
            )
        )
    return table(UI["groups_title"], head, rows)


def weak_table(weak: pl.DataFrame, groups: list[Group]) -> dict | None:
    if weak is None or weak.is_empty():
        return None
    head = [
        _col("indicator", "text", label=INSIGHT_COLUMNS["indicator"]),
        _col("rate", label=INSIGHT_COLUMNS["rate"], sub=same("%")),
        _col("points_earned", label=INSIGHT_COLUMNS["points_earned"]),
        _col("points_max", label=INSIGHT_COLUMNS["points_max"]),
        _col("points_lost", label=INSIGHT_COLUMNS["points_lost"]),
        _col("peer_median_points", label=INSIGHT_COLUMNS["peer_median_points"]),
        _col("gap_to_peer_median", label=INSIGHT_COLUMNS["gap_to_peer_median"]),
        _col("leader_points", label=INSIGHT_COLUMNS["leader_points"]),
        _col("gap_to_leader", label=INSIGHT_COLUMNS["gap_to_leader"]),
    ]
    rows = []
    for w in weak.sort("position").iter_rows(named=True):
        rows.append(
            row(
                [
                    rowhead(indicator_label(w["indicator"]), group_label(w["group"], groups)),
                    num(fmt_pct(w["rate"])),
                    num(fmt_num(w["points_earned"], 1)),
                    num(fmt_num(w["points_max"], 0 if float(w["points_max"] or 0).is_integer() else 1)),
                    num(fmt_num(w["points_lost"], 1)),
                    num(fmt_num(w["peer_median_points"], 1)),
                    num(signed(w["gap_to_peer_median"])),
                    num(fmt_num(w["leader_points"], 1)),
                    num(signed(w["gap_to_leader"])),
                ]
            )
        )
    return table(UI["weak_title"], head, rows)


def bottleneck_table(b: pl.DataFrame) -> dict | None:
    if b is None or b.is_empty():
        return None
    head = [
        _col("procedure_code", "text", label=INSIGHT_COLUMNS["procedure_code"]),
        _col("procedure_name", "text", label=INSIGHT_COLUMNS["procedure_name"]),
        _col("overdue"),
        _col("pending_overdue"),
        _col("late", label=INSIGHT_COLUMNS["late"]),
        _col("share_of_late", label=INSIGHT_COLUMNS["share_of_late"], sub=same("%")),
    ]
    rows = [
        row(
            [
                rowhead(same(r["procedure_code"] or "")),
                text(r["procedure_name"]),
                num(fmt_int(r["overdue"])),
                num(fmt_int(r["pending_overdue"])),
                num(fmt_int(r["late"])),
                num(fmt_pct(r["share_of_late"])),
            ]
        )
        for r in b.sort("position").iter_rows(named=True)
    ]
    return table(UI["bottleneck_title"], head, rows)


def warning_kind(kind: str | None) -> Label:
    return WARNING_KINDS.get(kind or "") or same(kind or "")


def warnings_table(w: pl.DataFrame, caption: Label, *, with_unit: bool, slugs: dict | None = None) -> dict:
    head = []
    if with_unit:
        head += [_col("unit_name", "text"), _col("level", "text")]
    head += [
        _col("indicator", "text", label=UI["indicator"]),
        _col("value", label=UI["value"]),
        _col("baseline", label=UI["baseline"]),
        _col("z", label=same("z")),
        _col("kind", "text", label=UI["warning_kind"]),
        _col("message", "text", label=UI["warning_message"]),
    ]
    rows = []
    for r in w.iter_rows(named=True):
        cells = []
        if with_unit:
            slug = (slugs or {}).get((r["unit_code"], r["unit_valid_from"]))
            cells += [unit_cell(r["unit_name"], r["unit_code"], slug), label_cell(level_lab(r["level"] or ""))]
        cells += [
            label_cell(indicator_label(r["indicator"])),
            num(fmt_value(r["indicator"], r["value"])),
            num(fmt_value(r["indicator"], r["baseline"])),
            num(signed(r["z"])),
            label_cell(warning_kind(r["kind"])),
            label_cell(Label(r["message_vi"] or "", r["message_en"] or r["message_vi"] or "")),
        ]
        rows.append(row(cells))
    return table(caption, head, rows)


def counts_table(r: dict) -> dict:
    head = [_col("indicator", "text", label=UI["indicator"]), _col("value", label=UI["value"])]
    rows = []
    for c in (*COUNT_COLUMNS, *RATE_COLUMNS, "avg_working_days"):
        cell = _cell(c, r)
        rows.append(row([rowhead(COLUMNS[c]), cell]))
    return table(UI["counts_title"], head, rows)


def history_tables(recs: list[dict], slug: str, periods: dict[str, dict]) -> list[dict]:
    """The unit's months, then its weeks, newest first, each linked to its row in the period's table.

    `recs`: the unit's rows, oldest first."""
    out = []
    head = [_col("period_key", "text"), *[_col(c) for c in HISTORY_COLUMNS]]
    for ptype, caption in (("month", UI["months"]), ("week", UI["weeks"])):
        part = [r for r in reversed(recs) if r["period_type"] == ptype]
        if not part:
            continue
        note = None
        if ptype == "week" and len(part) > HISTORY_WEEKS:
            part = part[:HISTORY_WEEKS]
            note = fmt_lab(UI["history_weeks"], n=HISTORY_WEEKS)
        body = []
        for r in part:
            key = r["period_key"]
            link = {
                "kind": "rowlink",
                "href": f"../periods/{key}.html#u-{slug}",
                "label": periods[key]["short"] if key in periods else pshort(ptype, key),
                "badge": COLUMNS["provisional"] if r["provisional"] else None,
            }
            body.append(row([link, *[_cell(c, r) for c in HISTORY_COLUMNS]], unranked=not r["ranked"]))
        out.append(table(caption, head, body, note))
    return out


def unit_context(
    rows: pl.DataFrame,
    *,
    slug: str,
    groups: list[Group],
    medians: dict[tuple, dict],
    ranked_counts: dict[tuple, int],
    periods: dict[str, dict],
    weak: pl.DataFrame | None,
    bottlenecks: pl.DataFrame | None,
    what_if: pl.DataFrame | None,
    warnings: pl.DataFrame | None,
    held: dict[str, Label],
    tables: dict[str, bool],
    files: list[dict],
    detail_key: str | None = None,
) -> dict:
    """Header, latest-month detail and history of one unit (`rows`: all its periods;
    `detail_key`: the period to detail, by default its latest month)."""
    rows = rows.sort("period_start", "period_type")
    # every period as a narrow record (a unit has hundreds: the wide dicts cost most of a page)
    recs = rows.select([c for c in HISTORY_FIELDS if c in rows.columns]).to_dicts()
    month_rows = rows.filter(pl.col("period_type") == "month")
    chosen = rows.filter(pl.col("period_key") == detail_key) if detail_key else rows.clear()
    latest = (chosen if chosen.height else month_rows if month_rows.height else rows).row(-1, named=True)
    newest = rows.row(-1, named=True)
    key, ptype, level = latest["period_key"], latest["period_type"], latest["level"]

    n_ranked = ranked_counts.get((key, level), 0)
    rank_text = (
        Label(f"{fmt_int(latest['rank'])}/{fmt_int(n_ranked)}", f"{fmt_int(latest['rank'])} of {fmt_int(n_ranked)}")
        if latest["ranked"] and latest["rank"] is not None
        else UI["not_ranked"]
    )
    peer_rank = (
        same(fmt_int(latest["rank_in_peer"])) if latest["ranked"] and latest["rank_in_peer"] is not None else UI["not_ranked"]
    )
    facts = [
        {"label": COLUMNS["score"], "value": same(fmt_score(latest["score"])), "band": None, "change": None},
        {"label": COLUMNS["band"], "value": None, "band": band_cell(latest["band"]), "change": None},
        {"label": COLUMNS["rank"], "value": rank_text, "band": None, "change": None},
        {"label": COLUMNS["rank_in_peer"], "value": peer_rank, "band": None, "change": None},
        {"label": COLUMNS["rank_change"], "value": None, "band": None, "change": _cell("rank_change", latest)},
    ]
    w = what_if.row(0, named=True) if what_if is not None and what_if.height else None
    detail = {
        "heading": UI["latest_detail"] if ptype == "month" else UI["latest_week"],
        "label": plabel(ptype, key),
        "provisional": bool(latest["provisional"]),
        "held_back": held.get(key),
        "period_href": f"../periods/{key}.html#u-{slug}",
        "facts": facts,
        "what_if": what_if_sentences(w, bool(latest["ranked"]), tables.get("what_if", False)),
        "groups": groups_table(latest, groups, medians.get((key, level, latest["peer_group"]))),
        "weak": weak_table(weak, groups) if tables.get("weak_points") else None,
        "bottlenecks": (
            bottleneck_table(bottlenecks)
            or table(UI["bottleneck_title"], [_col("x", "text", label=UI["bottleneck_title"])], [row([rowhead(UI["no_rows"])])])
        ) if tables.get("bottlenecks") else None,
        "warnings": warnings_table(warnings, UI["warnings_title"], with_unit=False)
        if warnings is not None and warnings.height
        else None,
        "counts": counts_table(latest),
        "files": files,
    }
    unit = {
        "name": newest["unit_name"] or "",
        "code": newest["unit_code"] or "",
        "level": level_lab(newest["level"] or ""),
        "peer": peer_lab(newest["peer_group"]) if newest["peer_group"] else None,
        "valid_from": fmt_date(newest["unit_valid_from"]),
    }
    return {"unit": unit, "detail": detail, "history": history_tables(recs, slug, periods), "records": recs}


# --------------------------------------------------------------------------- city page


def band_order(band: str | None) -> int | None:
    if band is None:
        return None
    b = BAND_BY_VI.get(band)
    return BANDS.index(b) if b else None


def crossings(now: pl.DataFrame, before: pl.DataFrame, slugs: dict) -> dict:
    """Units whose band differs from the previous period of the same kind (both scored)."""
    ptype, key = now.item(0, "period_type"), now.item(0, "period_key")
    pkey = before.item(0, "period_key")
    j = now.select("level", "unit_code", "unit_valid_from", "unit_name", "band", "score").join(
        before.select("unit_code", "unit_valid_from", band_before="band", score_before="score"),
        on=["unit_code", "unit_valid_from"],
        how="inner",
    ).filter(pl.col("band").is_not_null() & pl.col("band_before").is_not_null() & (pl.col("band") != pl.col("band_before")))
    head = [
        _col("unit_name", "text"),
        _col("level", "text"),
        _col("band_before", label=UI["band_before"]),
        _col("band_now", label=UI["band_now"]),
        _col("direction", "text", label=UI["direction"]),
        _col("score_before", label=UI["score_before"]),
        _col("score"),
    ]
    recs = []
    for r in j.iter_rows(named=True):
        o_now, o_before = band_order(r["band"]), band_order(r["band_before"])
        up = o_now is not None and o_before is not None and o_now < o_before
        level_i = LEVEL_ORDER.index(r["level"]) if r["level"] in LEVEL_ORDER else len(LEVEL_ORDER)
        recs.append((level_i, 0 if up else 1, r["unit_name"] or "", r["unit_code"] or "", r, up))
    rows_ = []
    for *_k, r, up in sorted(recs, key=lambda t: t[:4]):
        rows_.append(
            row(
                [
                    unit_cell(r["unit_name"], r["unit_code"], slugs.get((r["unit_code"], r["unit_valid_from"]))),
                    label_cell(level_lab(r["level"])),
                    band_cell(r["band_before"]),
                    band_cell(r["band"]),
                    {"kind": "crossing", "css": "up" if up else "down", "label": UI["crossing_up" if up else "crossing_down"]},
                    num(fmt_score(r["score_before"])),
                    num(fmt_score(r["score"])),
                ]
            )
        )
    caption = plabel(ptype, key)
    note = fmt_lab(UI["crossings_note"], p=plabel(before.item(0, "period_type"), pkey))
    return {"note": note, "table": table(caption, head, rows_)}


# --------------------------------------------------------------------------- data quality


def held_back(quality: pl.DataFrame | None) -> dict[str, Label]:
    """Period key -> "Số liệu mới của kỳ này đang bị giữ lại vì …", for periods with a blocking failure."""
    if quality is None or quality.is_empty() or "blocked" not in quality.columns:
        return {}
    out = {}
    blocked = quality.filter(pl.col("blocked").fill_null(False)).sort("period_key", "check")
    for key, part in blocked.group_by("period_key", maintain_order=True):
        labels = [check_label(r) for r in part.iter_rows(named=True)]
        vi = "; ".join(dict.fromkeys(lab.vi.rstrip(". ") for lab in labels))
        en = "; ".join(dict.fromkeys(lab.en.rstrip(". ") for lab in labels))
        out[key[0]] = fmt_lab(UI["held_back"], reasons=Label(vi, en))
    return out


def _period_head(ptype: str, key: str, keys: set[str], root: str = "") -> dict:
    if key in keys:
        return {"kind": "rowlink", "href": f"{root}periods/{key}.html", "label": plabel(ptype, key), "badge": None}
    return rowhead(plabel(ptype, key))


def _newest_first(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(_t=pl.col("period_type").replace_strict({"month": 0, "week": 1}, default=2)).sort(
        ["_t", "period_key"], descending=[False, True]
    ).drop("_t")


def held_batches_table(held_batches: pl.DataFrame | None) -> dict | None:
    """Files held as drifting (quality.holds.held_batches): file, unit, check, the reason
    with its figures, and the months and number of periods held."""
    if held_batches is None or held_batches.is_empty():
        return None
    head = [
        _col("source_file", "text", label=UI["held_file"]),
        _col("unit_name", "text", label=UI["held_unit"]),
        _col("check", "text", label=UI["check"]),
        _col("reason", "text", label=UI["held_reason"]),
        _col("periods", "text", label=UI["held_periods"]),
    ]

    def months(r: dict) -> Label:
        first, last = (plabel("month", r[k]) if r[k] else None for k in ("first_period", "last_period"))
        if first is None:
            return same("")
        if first == last:
            return first
        return Label(f"{first.vi} – {last.vi}", f"{first.en} – {last.en}")

    rows = [
        row([
            {"kind": "file", "text": r["source_file"]},
            rowhead(same(r["unit_name"] or r["unit_code"]), same(r["unit_code"])),
            label_cell(CHECKS.get(r["check_name"]) or same(r["check_name"])),
            label_cell(Label(r["message_vi"], r["message_en"])),
            label_cell(Label(f"{fmt_int(r['periods'])} · {months(r).vi}", f"{fmt_int(r['periods'])} · {months(r).en}")),
        ])
        for r in held_batches.iter_rows(named=True)
    ]
    return table(UI["held_batches_title"], head, rows)


def quality_context(
    quality: pl.DataFrame | None,
    quarantine: pl.DataFrame | None,
    warnings: pl.DataFrame | None,
    silent: list[dict],
    keys: set[str],
    held: dict[str, Label],
    held_batches: pl.DataFrame | None = None,
) -> dict:
    ctx: dict[str, Any] = {"held": [], "checks": None, "failed": None, "latest_checks": [], "quarantine": [],
                           "silent": silent, "warnings": None, "held_batches": held_batches_table(held_batches)}
    if quality is not None and not quality.is_empty():
        q = quality.with_columns(pl.col("success").fill_null(False), pl.col("blocked").fill_null(False))
        types = dict(q.select("period_key", "period_type").unique().iter_rows())
        # newest first; a link only where the period is published
        ctx["held"] = [
            {"key": k, "label": plabel(types.get(k, ""), k), "text": lab, "linked": k in keys}
            for k, lab in sorted(
                sorted(held.items(), key=lambda kv: kv[0], reverse=True), key=lambda kv: types.get(kv[0]) != "month"
            )
        ]
        summary = _newest_first(
            q.group_by("period_type", "period_key").agg(
                checks=pl.len(), passed=pl.col("success").sum(), failed=(~pl.col("success")).sum(),
                blocked=pl.col("blocked").any(),
            )
        )
        head = [
            _col("period_key", "text"),
            _col("checks", label=UI["check"]),
            _col("passed", label=UI["passed"]),
            _col("failed", label=UI["failed"]),
            _col("blocked", "text", label=UI["blocking"]),
        ]
        ctx["checks"] = table(
            UI["checks_title"],
            head,
            [
                row(
                    [
                        _period_head(r["period_type"], r["period_key"], keys),
                        num(fmt_int(r["checks"])),
                        num(fmt_int(r["passed"])),
                        num(fmt_int(r["failed"])),
                        {"kind": "status", "ok": not r["blocked"], "label": UI["yes"] if r["blocked"] else UI["no"]},
                    ]
                )
                for r in summary.iter_rows(named=True)
            ],
        )
        failed = _newest_first(q.filter(~pl.col("success"))).sort(
            ["period_type", "period_key", "check"], descending=[False, True, False], maintain_order=True
        )
        if failed.height:
            ctx["failed"] = table(UI["checks_failed_title"], _check_head(with_period=True), [
                _check_row(r, keys, with_period=True) for r in failed.iter_rows(named=True)
            ])
        for ptype in ("month", "week"):
            part = q.filter(pl.col("period_type") == ptype)
            if part.is_empty():
                continue
            key = part["period_key"].max()
            rows_ = part.filter(pl.col("period_key") == key).sort("check")
            ctx["latest_checks"].append(
                table(
                    Label(f"{UI['checks_latest'].vi} · {plabel(ptype, key).vi}", f"{UI['checks_latest'].en} · {plabel(ptype, key).en}"),
                    _check_head(with_period=False),
                    [_check_row(r, keys, with_period=False) for r in rows_.iter_rows(named=True)],
                )
            )
    if quarantine is not None and not quarantine.is_empty() and "reason" in quarantine.columns:
        rows_col = next((c for c in ("rows", "count", "n") if c in quarantine.columns), None)
        agg = quarantine.group_by("reason").agg(
            rows=pl.col(rows_col).sum() if rows_col else pl.len()
        ).sort(["rows", "reason"], descending=[True, False])
        ctx["quarantine"].append(
            table(
                UI["quarantine_by_reason"],
                [_col("reason", "text", label=INSIGHT_COLUMNS.get("reason") or Label("Lý do", "Reason")), _col("rows", label=Label("Số dòng", "Rows"))],
                [
                    row([rowhead(QUARANTINE_REASONS.get(r or "") or same(str(r or "")[:16])), num(fmt_int(n))])
                    for r, n in agg.iter_rows()
                ],
            )
        )
        by_file = ingestion_table(quarantine, UI["quarantine_by_file"])
        if by_file is not None:
            ctx["quarantine"].append(by_file)
    if warnings is not None and not warnings.is_empty():
        counts = _newest_first(warnings.group_by("period_type", "period_key", "kind").len()).sort(
            ["period_type", "period_key", "kind"], descending=[False, True, False], maintain_order=True
        )
        ctx["warnings"] = table(
            UI["warnings_by_period"],
            [_col("period_key", "text"), _col("kind", "text", label=UI["warning_kind"]), _col("count", label=UI["count"])],
            [
                row([_period_head(r["period_type"], r["period_key"], keys), label_cell(warning_kind(r["kind"])), num(fmt_int(r["len"]))])
                for r in counts.iter_rows(named=True)
            ],
        )
    return ctx


def check_label(r: dict) -> Label:
    """What a check found (its description), else what it checks (its label), else its code."""
    known = CHECKS.get(r["check"] or "") or same(r["check"] or "")
    vi = r["description_vi"] or known.vi
    return Label(vi, r["description_en"] or (known.en if not r["description_vi"] else vi))


def _check_head(with_period: bool) -> list[dict]:
    head = [_col("period_key", "text")] if with_period else []
    return head + [
        _col("check", "text", label=UI["check"]),
        _col("result", "text", label=UI["check_result"]),
        _col("unexpected", label=UI["unexpected"]),
        _col("blocked", "text", label=UI["blocking"]),
    ]


def _check_row(r: dict, keys: set[str], with_period: bool) -> dict:
    desc = check_label(r)
    cells = [_period_head(r["period_type"], r["period_key"], keys)] if with_period else []
    cells += [
        label_cell(desc) if with_period else rowhead(desc),
        {"kind": "status", "ok": bool(r["success"]), "label": UI["passed"] if r["success"] else UI["failed"]},
        num(fmt_int(r["unexpected_count"])),
        label_cell(UI["yes"] if r["blocked"] else UI["no"]),
    ]
    return row(cells)


def silent_tables(
    frame: pl.DataFrame, latest: list[tuple[str, str]], slugs: dict, periods: dict,
    fresh: pl.DataFrame | None = None,
) -> list[dict]:
    """Units with nothing received in the latest month and week, with the last period
    they had some and (from `fresh`, quality.completeness.freshness) their latest data date."""
    out = []
    unit_key = ["unit_code", "unit_valid_from"]
    for ptype, key in latest:
        period = frame.filter(pl.col("period_key") == key)
        silent = period.filter(pl.col("received").fill_null(0) == 0)
        last = (
            frame.filter((pl.col("period_type") == ptype) & (pl.col("received") > 0))
            .group_by("unit_code", "unit_valid_from")
            .agg(pl.col("period_key").sort_by("period_start").last().alias("last_key"))
        )
        silent = silent.join(last, on=unit_key, how="left")
        if fresh is not None:
            silent = silent.join(fresh.select(*unit_key, "latest_date"), on=unit_key, how="left")
        head = [_col("unit_name", "text"), _col("level", "text"), _col("peer_group", "text"),
                _col("last", "text", label=UI["last_active"])]
        if fresh is not None:
            head.append(_col("latest_data", "text", label=UI["latest_data"]))
        rows_ = []
        for r in silent.iter_rows(named=True):
            lk = r["last_key"]
            cells = [
                unit_cell(r["unit_name"], r["unit_code"], slugs.get((r["unit_code"], r["unit_valid_from"]))),
                label_cell(level_lab(r["level"])),
                label_cell(peer_lab(r["peer_group"])),
                label_cell(periods[lk]["short"] if lk in periods else same("—")),
            ]
            if fresh is not None:
                cells.append(date_cell(r["latest_date"]))
            rows_.append(row(cells, peer=r["peer_group"] or ""))
        out.append(table(plabel(ptype, key), head, rows_))
    return out


def date_cell(day) -> dict:
    """dd/mm/yyyy, sorted by the ISO date; "no data yet" when there is none."""
    if day is None:
        return {"kind": "date", "text": "", "label": UI["no_data_yet"], "order": ""}
    return {"kind": "date", "text": fmt_date(day), "label": None, "order": day.isoformat()}


def completeness_table(scoreboard: pl.DataFrame, keys: set[str]) -> dict | None:
    """Every period, newest first: the units the registry expects, those that sent
    dossiers, and how many were silent."""
    from quality.completeness import completeness

    per_period = _newest_first(completeness(scoreboard))
    if per_period.is_empty():
        return None
    head = [
        _col("period_key", "text"),
        _col("expected_units", label=UI["expected_units"]),
        _col("reporting_units", label=UI["reporting_units"]),
        _col("silent_count", label=UI["silent_units"]),
        _col("reporting_share", label=UI["reporting_share"]),
    ]
    return table(UI["completeness_title"], head, [
        row([
            _period_head(r["period_type"], r["period_key"], keys),
            num(fmt_int(r["expected_units"])),
            num(fmt_int(r["reporting_units"])),
            num(fmt_int(r["silent_count"])),
            num(fmt_pct(r["reporting_share"])),
        ])
        for r in per_period.iter_rows(named=True)
    ])


def freshness_table(fresh: pl.DataFrame | None, week: pl.DataFrame | None, slugs: dict) -> dict | None:
    """Every unit, stalest first: the date of its latest data, how many days that is
    behind the newest data of all, and what it received in the latest week (`week`:
    that week's scoreboard rows; a unit the registry expects that received nothing
    is silent)."""
    if fresh is None or fresh.is_empty():
        return None
    unit_key = ["unit_code", "unit_valid_from"]
    frame = fresh
    if week is not None and not week.is_empty():
        frame = frame.join(week.select(*unit_key, "received", "peer_group"), on=unit_key, how="left")
    else:
        frame = frame.with_columns(received=pl.lit(None, pl.Int64), peer_group=pl.lit(None, pl.Utf8))
    newest = frame["latest_date"].max()
    head = [
        _col("unit_name", "text"),
        _col("level", "text"),
        _col("latest_data", "text", label=UI["latest_data"]),
        _col("days_behind", label=UI["days_behind"]),
        _col("received", label=UI["received_latest_week"]),
        _col("week_status", "text", label=UI["latest_week"]),
    ]
    rows_ = []
    for r in frame.iter_rows(named=True):
        expected = r["received"] is not None
        rows_.append(row([
            unit_cell(r["unit_name"], r["unit_code"], slugs.get((r["unit_code"], r["unit_valid_from"]))),
            label_cell(level_lab(r["level"])),
            date_cell(r["latest_date"]),
            num(fmt_int(r["days_since"]) if r["days_since"] is not None else "—"),
            num(fmt_int(r["received"]) if expected else "—"),
            {"kind": "status", "ok": r["received"] > 0, "label": UI["sent"] if r["received"] > 0 else UI["silent_week"]}
            if expected else label_cell(same("—")),
        ], peer=r["peer_group"] or ""))
    caption = fmt_lab(UI["fresh_caption"], d=fmt_date(newest)) if newest else UI["fresh_title"]
    note = None
    if week is not None and not week.is_empty():
        silent = frame.filter(pl.col("received") == 0).height
        note = fmt_lab(UI["silent_week_count"], n=fmt_int(silent),
                       p=plabel(week.item(0, "period_type"), week.item(0, "period_key")))
    return table(caption, head, rows_, note)


# --------------------------------------------------------------------------- monthly report


def band_summary(month: pl.DataFrame) -> dict:
    head = [_col("level", "text")]
    head += [_col(f"band_{b.css}", label=Label(b.vi, b.en)) for b in BANDS]
    head += [_col("band_none", label=NO_BAND), _col("ranked", label=UI["ranked_units"]), _col("total", label=UI["total"])]
    rows_ = []
    for level in levels_of(month["level"].to_list()):
        part = month.filter(pl.col("level") == level)
        counts = dict(part.group_by("band").len().iter_rows())
        cells = [rowhead(level_lab(level))]
        cells += [num(fmt_int(counts.get(b.vi, 0))) for b in BANDS]
        cells += [
            num(fmt_int(counts.get(None, 0))),
            num(fmt_int(int(part["ranked"].sum()))),
            num(fmt_int(part.height)),
        ]
        rows_.append(row(cells))
    return table(UI["report_bands"], head, rows_)


def common_weak_points(month: pl.DataFrame, weak: pl.DataFrame | None, groups: list[Group]) -> list[dict]:
    """Per level: the indicators that are most often a ranked unit's largest weak point."""
    if weak is None or weak.is_empty():
        return []
    ranked = month.filter(pl.col("ranked")).select("unit_code", "unit_valid_from", "level")
    w = weak.join(ranked, on=["unit_code", "unit_valid_from", "level"], how="semi").filter(pl.col("points_lost") > 0)
    out = []
    for level in levels_of(w["level"].to_list()):
        part = w.filter(pl.col("level") == level)
        firsts = part.filter(pl.col("position") == pl.col("position").min().over("unit_code", "unit_valid_from"))
        agg = (
            part.group_by("indicator", "group")
            .agg(lost=pl.col("points_lost").mean())
            .join(firsts.group_by("indicator").agg(units=pl.len()), on="indicator", how="left")
            .with_columns(pl.col("units").fill_null(0))
            .sort(["units", "lost", "indicator"], descending=[True, True, False])
        )
        head = [
            _col("indicator", "text", label=INSIGHT_COLUMNS["indicator"]),
            _col("units", label=UI["report_weak_units"]),
            _col("lost", label=UI["report_weak_lost"]),
        ]
        rows_ = [
            row([rowhead(indicator_label(r["indicator"]), group_label(r["group"], groups)), num(fmt_int(r["units"])), num(fmt_num(r["lost"], 1))])
            for r in agg.iter_rows(named=True)
        ]
        out.append(table(Label(f"{UI['report_weak'].vi} · {level_lab(level).vi}", f"{UI['report_weak'].en} · {level_lab(level).en}"), head, rows_))
    return out
