"""The static scoreboard site: plain files that open from disk with no network.

    site/
      index.html                 latest month and week per level, charts, every period
      periods/<period_key>.html  the full ranking of one period, per level
      ingestion.html             rows read/accepted/quarantined per input file (optional)
      assets/site.css, site.js   shared style and behaviour
      assets/vega-bundle.js      Vega + Vega-Lite + vega-embed, vendored from vl-convert
      data/scoreboard-<key>.csv|.parquet|.xlsx, data/manifest.json

The same inputs give the same bytes; files already right are not rewritten,
and files of periods no longer published are removed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable

import jinja2
import polars as pl
from markupsafe import Markup

from dashboards import charts as charts_mod
from dashboards.assets import SITE_CSS, SITE_JS
from dashboards.format import (
    fmt_date,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_rank_change,
    fmt_score,
    period_label,
    period_short_label,
    rank_change_text,
)
from dashboards.i18n import (
    BAND_BY_VI,
    BANDS,
    COLUMNS,
    FILE_STATUSES,
    GROUP_MAX_POINTS,
    GROUPS,
    INGESTION_COLUMNS,
    LEVEL_ORDER,
    NO_BAND,
    PERIOD_TYPES,
    QUARANTINE_REASONS,
    UI,
    Label,
    level_label,
    peer_group_label,
)
from dashboards.publish import data_file_name, prepare_scoreboard, write_if_changed, write_manifest, write_period_files
from dashboards.templates import TEMPLATES

# Only what could reach the network is restricted; scripts and styles are the
# site's own files (the tests check that no page names an external one).
CSP = (
    "connect-src 'none'; font-src 'none'; frame-src 'none'; media-src 'none'; "
    "object-src 'none'; worker-src 'none'; manifest-src 'none'; img-src data:; "
    "form-action 'none'; base-uri 'none'"
)

DATA_SUFFIXES = ("csv", "xlsx", "parquet")
FILE_LABELS = {"csv": UI["file_csv"], "xlsx": UI["file_xlsx"], "parquet": UI["file_parquet"]}

GROUP_COLUMNS = tuple(GROUPS)
RATE_COLUMNS = (
    "on_time_rate",
    "online_rate",
    "paid_online_rate",
    "digitized_rate",
    "e_result_rate",
    "synced_rate",
    "complaint_rate",
    "satisfaction_rate",
    "apology_rate",
)
# Columns of the overview tables and of the full period tables.
COMPACT_COLUMNS = (
    "rank", "unit_name", "peer_group", "score", "band", "rank_change",
    *GROUP_COLUMNS, "received", "overdue", "pending_overdue",
)
FULL_COLUMNS = (
    "rank", "rank_in_peer", "unit_name", "peer_group", "score", "band", "rank_change",
    *GROUP_COLUMNS,
    "received", "finished", "early", "on_time", "overdue", "no_deadline", "pending_overdue", "rejected",
    "timeliness_base", *RATE_COLUMNS, "avg_working_days",
)


# --------------------------------------------------------------------------- bundle


def vega_lite_version() -> str:
    """The Vega-Lite minor version Altair writes specs for (`v6.4.1` -> `6.4`)."""
    import altair as alt
    import vl_convert as vlc

    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    version = f"{major}.{minor}"
    if version not in vlc.get_vegalite_versions():
        raise RuntimeError(
            f"vl-convert {vlc.__version__} has no Vega-Lite {version} (Altair {alt.__version__} writes it); "
            f"it has {vlc.get_vegalite_versions()}"
        )
    return version


@functools.lru_cache(maxsize=2)
def vega_bundle(vl_version: str | None = None) -> bytes:
    """vega-embed + Vega-Lite + Vega as one script defining window.vegaEmbed (~0.9 MB).

    Building it takes vl-convert several seconds, so it is made once per process
    and only when the file on disk is missing or not the one wanted.
    """
    import vl_convert as vlc

    return vlc.javascript_bundle(vl_version=vl_version or vega_lite_version()).encode("utf-8")


_BUNDLE_HEADER = re.compile(rb"/\* (vl-convert [^,]+, Vega-Lite [0-9.]+), sha256 ([0-9a-f]{64}) \*/")


def write_vega_bundle(assets_dir: Path) -> Path:
    """`assets/vega-bundle.js`, headed by the versions and hash of what follows.

    A file whose header names the wanted versions and whose body matches its
    hash is left alone without asking vl-convert for the bundle again.
    """
    import vl_convert as vlc

    path = Path(assets_dir) / "vega-bundle.js"
    tag = f"vl-convert {vlc.__version__}, Vega-Lite {vega_lite_version()}"
    if _valid_bundle(path, tag) is not None:
        return path
    vendored = _valid_bundle(VENDORED_BUNDLE, tag)
    if vendored is None:
        body = vega_bundle(vega_lite_version())
        vendored = f"/* {tag}, sha256 {hashlib.sha256(body).hexdigest()} */\n".encode() + body
    write_if_changed(path, vendored)
    return path


# Made once by `python scripts/vendor_vega.py` and committed, so that building a
# site never waits for vl-convert (several seconds) unless the versions change.
VENDORED_BUNDLE = Path(__file__).parent / "vendor" / "vega-bundle.js"


def _valid_bundle(path: Path, tag: str) -> bytes | None:
    """The file's bytes when its header names `tag` and its body matches its hash."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    first, _, body = data.partition(b"\n")
    m = _BUNDLE_HEADER.fullmatch(first)
    if m and m[1].decode() == tag and hashlib.sha256(body).hexdigest() == m[2].decode():
        return data
    return None


def vendor_bundle() -> Path:
    """Write the vendored bundle for the installed vl-convert and Altair."""
    import vl_convert as vlc

    VENDORED_BUNDLE.parent.mkdir(parents=True, exist_ok=True)
    tag = f"vl-convert {vlc.__version__}, Vega-Lite {vega_lite_version()}"
    body = vega_bundle(vega_lite_version())
    VENDORED_BUNDLE.write_bytes(f"/* {tag}, sha256 {hashlib.sha256(body).hexdigest()} */\n".encode() + body)
    return VENDORED_BUNDLE


def write_assets(site_dir: Path, *, with_bundle: bool = True) -> list[Path]:
    assets = Path(site_dir) / "assets"
    out = []
    for name, text in (("site.css", SITE_CSS), ("site.js", SITE_JS)):
        write_if_changed(assets / name, text.encode("utf-8"))
        out.append(assets / name)
    if with_bundle:
        out.append(write_vega_bundle(assets))
    return out


# --------------------------------------------------------------------------- tables


def _col(key: str, sort: str = "num", *, label: Label | None = None, sub: Label | None = None) -> dict:
    return {"key": key, "label": label or COLUMNS[key], "sort": sort, "sub": sub, "title": None}


def _column_header(key: str) -> dict:
    if key == "unit_name":
        return _col(key, "text")
    if key == "peer_group":
        return _col(key, "text")
    if key in GROUPS:
        mx = GROUP_MAX_POINTS[key]
        return _col(key, sub=Label(f"/{mx} điểm", f"/{mx} pts"))
    if key in RATE_COLUMNS:
        return _col(key, sub=Label("%", "%"))
    return _col(key)


def _cell(key: str, row: dict[str, Any]) -> dict:
    v = row[key]
    if key == "unit_name":
        return {"kind": "unit", "name": v or "", "code": row["unit_code"] or ""}
    if key in ("rank", "rank_in_peer"):
        return {"kind": "rank", "text": fmt_int(v) if (v is not None and row["ranked"]) else ""}
    if key == "peer_group":
        return {"kind": "label", "label": Label(peer_group_label(v, "vi"), peer_group_label(v, "en"))}
    if key == "band":
        band = BAND_BY_VI.get(v) if v is not None else None
        if v is None:
            return {"kind": "band", "css": "none", "label": NO_BAND, "order": None}
        if band is None:  # a band name this site does not know: shown as published
            return {"kind": "band", "css": "none", "label": Label(v, v), "order": len(BANDS)}
        return {"kind": "band", "css": band.css, "label": Label(band.vi, band.en), "order": BANDS.index(band)}
    if key == "rank_change":
        css = "" if v is None else ("up" if v > 0 else "down" if v < 0 else "same")
        title = Label(rank_change_text(v, "vi"), rank_change_text(v, "en"))
        return {"kind": "change", "text": fmt_rank_change(v), "css": css, "title": title}
    if key == "score":
        return {"kind": "num", "text": fmt_score(v)}
    if key in RATE_COLUMNS:
        return {"kind": "num", "text": fmt_pct(v)}
    if key in GROUPS or key == "avg_working_days":
        return {"kind": "num", "text": fmt_num(v, 1)}
    return {"kind": "num", "text": fmt_int(v) if isinstance(v, int) else fmt_num(v, 2)}


def _levels(frame: pl.DataFrame) -> list[str]:
    present = set(frame["level"].to_list())
    return [lv for lv in LEVEL_ORDER if lv in present] + sorted(present - set(LEVEL_ORDER))


def ranking_tables(period: pl.DataFrame, columns: Iterable[str]) -> list[dict]:
    """One table per level of one period's (sorted) rows."""
    columns = tuple(columns)
    ptype, pkey = period.item(0, "period_type"), period.item(0, "period_key")
    plabel = Label(period_label(ptype, pkey, "vi"), period_label(ptype, pkey, "en"))
    tables = []
    for level in _levels(period):
        rows = period.filter(pl.col("level") == level).to_dicts()
        ranked = sum(1 for r in rows if r["ranked"])
        tables.append(
            {
                "caption": Label(
                    f"{level_label(level, 'vi')} · {plabel.vi}", f"{level_label(level, 'en')} · {plabel.en}"
                ),
                "note": Label(
                    f"{ranked}/{len(rows)} đơn vị được xếp hạng", f"{ranked}/{len(rows)} units ranked"
                ),
                "columns": [_column_header(c) for c in columns],
                "rows": [{"unranked": not r["ranked"], "cells": [_cell(c, r) for c in columns]} for r in rows],
            }
        )
    return tables


# --------------------------------------------------------------------------- periods


def _periods(frame: pl.DataFrame) -> list[dict]:
    """Every (type, key) with its start and provisional flag, oldest first per type."""
    p = (
        frame.group_by("period_type", "period_key")
        .agg(pl.col("period_start").min(), pl.col("provisional").any())
        .sort("period_type", "period_start", "period_key")
    )
    out = []
    for ptype, key, start, provisional in p.iter_rows():
        out.append(
            {
                "type": ptype,
                "key": key,
                "start": fmt_date(start),
                "start_iso": start.isoformat() if start else "",
                "provisional": bool(provisional),
                "label": Label(period_label(ptype, key, "vi"), period_label(ptype, key, "en")),
                "short": Label(period_short_label(ptype, key, "vi"), period_short_label(ptype, key, "en")),
                "anchor": f"p-{key}",
            }
        )
    return out


def _files(key: str, root: str) -> list[dict]:
    return [{"href": f"{root}data/{data_file_name(key, s)}", "label": FILE_LABELS[s]} for s in DATA_SUFFIXES]


def _period_groups(periods: list[dict], root: str) -> list[dict]:
    groups = []
    for ptype, label in (("month", UI["months"]), ("week", UI["weeks"])):
        ps = [dict(p, files=_files(p["key"], root)) for p in periods if p["type"] == ptype]
        if not ps:
            continue
        years: dict[str, list] = {}
        for p in reversed(ps):  # newest first
            years.setdefault(p["key"][:4], []).append(p)
        groups.append({"label": label, "years": [{"year": y, "periods": v} for y, v in years.items()]})
    return groups


# --------------------------------------------------------------------------- ingestion


_FILE_COLUMNS = ("source_file", "file_name", "file", "path", "filename")
# Text the ingestion page may show: codes it knows how to label, never free text
# (messages, dropped header names, values) from the files.
_TEXT_COLUMNS = {"reason": QUARANTINE_REASONS, "status": FILE_STATUSES, "format": None}
_HASH_COLUMNS = ("content_hash", "sha256")


def ingestion_table(frame: pl.DataFrame | None, caption: Label) -> dict | None:
    """File name, status, format, short hash and row counts; nothing read from inside a file."""
    if frame is None or frame.width == 0:
        return None
    cols = [
        c
        for c, t in frame.schema.items()
        if c in _FILE_COLUMNS or c in _TEXT_COLUMNS or c in _HASH_COLUMNS or t.is_integer()
    ]
    if not cols:
        return None
    head = []
    for c in cols:
        if c in _FILE_COLUMNS:
            head.append(_col(c, "text", label=INGESTION_COLUMNS["source_file"]))
        elif c in _HASH_COLUMNS:
            head.append(_col(c, "text", label=INGESTION_COLUMNS["content_hash"]))
        else:
            lab = INGESTION_COLUMNS.get(c) or Label(c, c)
            head.append(_col(c, "text" if c in _TEXT_COLUMNS else "num", label=lab))
    shown = frame.select(cols).with_columns(
        # the file's name only, never the folder it came from
        pl.col(c).cast(pl.Utf8).str.replace_all("\\", "/", literal=True).str.extract(r"([^/]*)$")
        for c in cols
        if c in _FILE_COLUMNS
    )
    sort_cols = [c for c in cols if c in _FILE_COLUMNS or c in _TEXT_COLUMNS] or cols
    rows = []
    for r in shown.sort(sort_cols, nulls_last=True).to_dicts():
        cells = []
        for c in cols:
            v = r[c]
            if c in _FILE_COLUMNS:
                cells.append({"kind": "file", "text": v or ""})
            elif c in _HASH_COLUMNS:
                cells.append({"kind": "file", "text": (str(v)[:12] if v else "")})
            elif c in _TEXT_COLUMNS:
                labels = _TEXT_COLUMNS[c] or {}
                text = "" if v is None else str(v)[:16]
                cells.append({"kind": "label", "label": labels.get(text) or Label(text, text)})
            else:
                cells.append({"kind": "num", "text": fmt_int(v)})
        rows.append({"unranked": False, "cells": cells})
    return {"caption": caption, "note": None, "columns": head, "rows": rows}


# --------------------------------------------------------------------------- pages


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.DictLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(UI=UI, COLUMNS=COLUMNS, csp=CSP)
    return env


def _render(name: str, **context: Any) -> bytes:
    context.setdefault("chart_json", None)
    return _env().get_template(name).render(**context).encode("utf-8")


def _script_json(data: Any) -> Markup:
    """JSON safe to put verbatim inside <script type="application/json">.

    A script element's text is not HTML-decoded, so it must not be escaped as
    HTML; instead `<`, `>` and `&` become JSON escapes, so no `</script>` or
    `<!--` can appear whatever the data (unit names included).
    """
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text)


def _prune(folder: Path, pattern: str, keep: set[str]) -> None:
    if folder.is_dir():
        for p in folder.glob(pattern):
            if p.is_file() and p.name not in keep:
                p.unlink()


def seed_site(previous_site: Path, site_dir: Path) -> int:
    """Fill `site_dir` with hard links to the files of a previous build; return how many.

    For a build into a fresh folder (a new release): build_site then rewrites
    only what changed, and never in place (a new file is renamed over the
    link), so the previous build stays as it was, while unchanged workbooks
    and the Vega bundle are not made again. Copies where links are impossible.
    """
    previous_site = Path(previous_site).resolve()
    site_dir = Path(site_dir)
    if not previous_site.is_dir():
        return 0
    n = 0
    for src in sorted(previous_site.rglob("*")):
        rel = src.relative_to(previous_site)
        if not src.is_file() or src.is_symlink() or any(part.startswith(".") for part in rel.parts):
            continue
        dest = site_dir / rel
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dest)
        except OSError:
            shutil.copy2(src, dest)
        n += 1
    return n


def build_site(
    site_dir: Path,
    scoreboard: pl.DataFrame,
    *,
    manifest: dict,
    ingestion: pl.DataFrame | None = None,
    quarantine_summary: pl.DataFrame | None = None,
) -> Path:
    """Write the whole site under `site_dir`; return the path of its index.html."""
    site_dir = Path(site_dir)
    frame = prepare_scoreboard(scoreboard)
    periods = _periods(frame)
    keys = {p["key"] for p in periods}

    data_dir = site_dir / "data"
    write_period_files(frame, data_dir)
    write_manifest(site_dir, manifest)
    _prune(data_dir, "scoreboard-*", {data_file_name(k, s) for k in keys for s in DATA_SUFFIXES})

    by_key = {
        p.item(0, "period_key"): p for p in frame.partition_by(["period_type", "period_key"], maintain_order=True)
    }
    has_ingestion = ingestion is not None or quarantine_summary is not None

    # period pages
    pages_dir = site_dir / "periods"
    for ptype in PERIOD_TYPES:
        ps = [p for p in periods if p["type"] == ptype]
        for i, p in enumerate(ps):
            period = dict(p, files=_files(p["key"], "../"), tables=ranking_tables(by_key[p["key"]], FULL_COLUMNS))
            html = _render(
                "period.html",
                root="../",
                title=p["label"],
                period=period,
                prev=ps[i - 1] if i > 0 else None,
                next=ps[i + 1] if i + 1 < len(ps) else None,
                has_ingestion=has_ingestion,
            )
            write_if_changed(pages_dir / f"{p['key']}.html", html)
    _prune(pages_dir, "*.html", {f"{k}.html" for k in keys})

    # overview
    def latest(ptype: str) -> dict | None:
        ps = [p for p in periods if p["type"] == ptype]
        if not ps:
            return None
        p = ps[-1]
        return dict(p, files=_files(p["key"], ""), tables=ranking_tables(by_key[p["key"]], COMPACT_COLUMNS))

    latest_month, latest_week = latest("month"), latest("week")
    months = frame.filter(pl.col("period_type") == "month")
    chart_data = charts_mod.overview_charts(by_key[latest_month["key"]] if latest_month else None, months)
    chart_data["formatLocale"] = charts_mod.VI_FORMAT_LOCALE
    chart_json = _script_json(
        {
            "datasets": chart_data["datasets"],
            "formatLocale": chart_data["formatLocale"],
            "charts": [{"id": c["id"], "vi": c["vi"], "en": c["en"]} for c in chart_data["charts"]],
        }
    ) if chart_data["charts"] else None

    write_assets(site_dir, with_bundle=True)
    index = site_dir / "index.html"
    write_if_changed(
        index,
        _render(
            "index.html",
            root="",
            title=UI["nav_overview"],
            latest_month=latest_month,
            latest_week=latest_week,
            charts=[{"id": c["id"], "title": c["title"]} for c in chart_data["charts"]],
            chart_json=chart_json,
            period_groups=_period_groups(periods, ""),
            has_ingestion=has_ingestion,
        ),
    )

    # ingestion report
    ingestion_page = site_dir / "ingestion.html"
    if has_ingestion:
        tables = [
            t
            for t in (
                ingestion_table(ingestion, UI["ingestion_files"]) if ingestion is not None else None,
                ingestion_table(quarantine_summary, UI["quarantine_title"])
                if quarantine_summary is not None
                else None,
            )
            if t is not None
        ]
        write_if_changed(
            ingestion_page,
            _render("ingestion.html", root="", title=UI["ingestion_title"], tables=tables, has_ingestion=True),
        )
    elif ingestion_page.exists():
        ingestion_page.unlink()
    return index
