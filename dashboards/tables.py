"""Tables of the site's pages: header and cell descriptions the templates render.

Every value is formatted here (Vietnamese numbers, labels in both languages);
the templates only place and escape them.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any, Iterable

import polars as pl

from dashboards.format import fmt_int, fmt_num, fmt_pct, fmt_rank_change, fmt_score, period_label, rank_change_text
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
    QUARANTINE_REASONS,
    UI,
    Label,
    level_label,
    peer_group_label,
)
from transforms.profile import RATES

GROUP_COLUMNS = tuple(GROUPS)
# the rates a profile can score, and apology_rate, which is shown only
RATE_COLUMNS = (*RATES, "apology_rate")
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



# --------------------------------------------------------------------------- tables


def _col(key: str, sort: str = "num", *, label: Label | None = None, sub: Label | None = None) -> dict:
    return {"key": key, "label": label or COLUMNS[key], "sort": sort, "sub": sub, "title": None}


def _column_header(key: str, group_max: dict[str, float] | None = None) -> dict:
    if key == "unit_name":
        return _col(key, "text")
    if key == "peer_group":
        return _col(key, "text")
    if key in GROUPS:
        mx = (group_max or GROUP_MAX_POINTS).get(key, GROUP_MAX_POINTS[key])
        mx = fmt_num(mx, 0 if float(mx).is_integer() else 1)
        return _col(key, sub=Label(f"/{mx} điểm", f"/{mx} pts"))
    if key in RATE_COLUMNS:
        return _col(key, sub=Label("%", "%"))
    return _col(key)


def _cell(key: str, row: dict[str, Any]) -> dict:
    v = row[key]
    if key == "unit_name":
        return {"kind": "unit", "name": v or "", "code": row["unit_code"] or "", "slug": row.get("_slug")}
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
    return _num_cell(key, v, isinstance(v, int))


@functools.lru_cache(maxsize=1 << 16)
def _num_cell(key: str, v: Any, is_int: bool) -> dict:
    """A number's cell (cached: a period table repeats its counts and rates many times;
    the dict is only read)."""
    if key == "score":
        return {"kind": "num", "text": fmt_score(v)}
    if key in RATE_COLUMNS:
        return {"kind": "num", "text": fmt_pct(v)}
    if key in GROUPS or key == "avg_working_days":
        return {"kind": "num", "text": fmt_num(v, 1)}
    return {"kind": "num", "text": fmt_int(v) if is_int else fmt_num(v, 2)}


def _levels(frame: pl.DataFrame) -> list[str]:
    present = set(frame["level"].to_list())
    return [lv for lv in LEVEL_ORDER if lv in present] + sorted(present - set(LEVEL_ORDER))


def band_cell(band: str | None) -> dict:
    return _cell("band", {"band": band})


def ranking_tables(
    period: pl.DataFrame,
    columns: Iterable[str],
    *,
    row_ids: bool = False,
    group_max: dict[str, float] | None = None,
) -> list[dict]:
    """One table per level of one period's (sorted) rows.

    Rows carry their peer group (for the filter) and, with `row_ids`, an id
    `u-<unit slug>` that unit pages link to (one table per unit and period only).
    """
    # the groups of another profile than the default are not (yet) among `columns`;
    # those of the default profile that this one lacks are left out
    columns = tuple(c for c in columns if c in period.columns)
    ptype, pkey = period.item(0, "period_type"), period.item(0, "period_key")
    plabel = Label(period_label(ptype, pkey, "vi"), period_label(ptype, pkey, "en"))
    tables = []
    for level in _levels(period):
        rows = period.filter(pl.col("level") == level).to_dicts()
        ranked = sum(1 for r in rows if r["ranked"])
        tables.append(
            {
                # a level with no ranked unit (e.g. the districts after the 2025 reform,
                # listed only for their late dossiers) is folded away, after the others
                "collapsed": ranked == 0,
                "caption": Label(
                    f"{level_label(level, 'vi')} · {plabel.vi}", f"{level_label(level, 'en')} · {plabel.en}"
                ),
                "note": Label(
                    f"{ranked}/{len(rows)} đơn vị được xếp hạng", f"{ranked}/{len(rows)} units ranked"
                ),
                "columns": [_column_header(c, group_max) for c in columns],
                "rows": [
                    {
                        "unranked": not r["ranked"],
                        "peer": r["peer_group"] or "",
                        "id": f"u-{r['_slug']}" if row_ids and r.get("_slug") else None,
                        "cells": [_cell(c, r) for c in columns],
                    }
                    for r in rows
                ],
            }
        )
    if any(not tb["collapsed"] for tb in tables):
        tables.sort(key=lambda tb: tb["collapsed"])
    else:
        for tb in tables:
            tb["collapsed"] = False
    return tables



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


def unit_slug(unit_code: str | None, valid_from: Any) -> str:
    """`001-2008-08-01`: the file name (without .html) of a unit's page.

    Codes are registry data: anything but letters, digits, `.`, `_` and `-` is
    replaced, with a short hash of the true code so two codes cannot collide.
    """
    code = unit_code or ""
    vf = valid_from.isoformat() if hasattr(valid_from, "isoformat") else (str(valid_from) if valid_from else "na")
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", code).strip("_.") or "unit"
    if safe != code:
        safe = f"{safe[:40]}_{hashlib.sha256(code.encode()).hexdigest()[:8]}"
    return f"{safe}-{vf}"


NOT_RANKED = UI["not_ranked"]

# --------------------------------------------------------------------------- rendering rows
#
# Table bodies are written here rather than by a Jinja macro per cell: a period
# table of ~600 units has ~20,000 cells, and a macro call costs ~30 times more
# than these few string joins. The output is what the templates' autoescaping
# would give (markupsafe.escape on every value).

from markupsafe import Markup, escape  # noqa: E402


def _t(lab: Any) -> str:
    """A label in Vietnamese, with its English in data-en when they differ."""
    vi, en = escape(lab[0]), lab[1]
    if en and en != lab[0]:
        return f'<span data-en="{escape(en)}">{vi}</span>'
    return str(vi)


def _tattr(name: str, lab: Any) -> str:
    out = f'{name}="{escape(lab[0])}"'
    if lab[1] != lab[0]:
        out += f' data-en-{name}="{escape(lab[1])}"'
    return out


def _cell_html(c: dict, root: str) -> str:
    kind = c["kind"]
    if kind == "unit":
        name = escape(c["name"])
        inner = f'<a href="{escape(root)}units/{escape(c["slug"])}.html">{name}</a>' if c.get("slug") else str(name)
        return f'<th scope="row" class="unit">{inner} <span class="code">{escape(c["code"])}</span></th>'
    if kind == "rowhead":
        sub = f' <span class="code">{_t(c["sub"])}</span>' if c.get("sub") else ""
        return f'<th scope="row" class="t">{_t(c["label"])}{sub}</th>'
    if kind == "rowlink":
        badge = f' <span class="badge">{_t(c["badge"])}</span>' if c.get("badge") else ""
        return f'<th scope="row" class="t"><a href="{escape(c["href"])}">{_t(c["label"])}</a>{badge}</th>'
    if kind in ("text", "file"):
        return f'<td class="t">{escape(c["text"])}</td>'
    if kind == "date":
        shown = _t(c["label"]) if c.get("label") else escape(c["text"])
        return f'<td class="t" data-v="{escape(c["order"])}">{shown}</td>'
    if kind == "status":
        ok = c["ok"]
        return (
            f'<td class="t"><span class="status {"ok" if ok else "fail"}"><span aria-hidden="true">'
            f'{"✓" if ok else "✗"}</span> {_t(c["label"])}</span></td>'
        )
    if kind == "meter":
        if c["value"] is None:
            return '<td class="t">—</td>'
        return (
            f'<td class="t"><meter min="0" max="{escape(c["max"])}" value="{escape(c["value"])}" aria-hidden="true">'
            f'</meter> {escape(c["text"])}</td>'
        )
    if kind == "crossing":
        arrow = "▲" if c["css"] == "up" else "▼"
        return (
            f'<td class="t"><span class="chg {escape(c["css"])}"><span aria-hidden="true">{arrow}</span> '
            f'{_t(c["label"])}</span></td>'
        )
    if kind == "rank":
        if c["text"]:
            return f'<td>{escape(c["text"])}</td>'
        return f'<td {_tattr("title", NOT_RANKED)}>—</td>'
    if kind == "band":
        order = f' data-v="{escape(c["order"])}"' if c["order"] is not None else ""
        return f'<td class="t"{order}><span class="band band-{escape(c["css"])}">{_t(c["label"])}</span></td>'
    if kind == "change":
        if not c["text"]:
            return "<td></td>"
        return f'<td><span class="chg {escape(c["css"])}" {_tattr("title", c["title"])}>{escape(c["text"])}</span></td>'
    if kind == "label":
        return f'<td class="t">{_t(c["label"])}</td>'
    return f'<td>{escape(c["text"])}</td>'


def rows_html(rows: list[dict], root: str = "") -> Markup:
    """The <tr> elements of a table body, one per line."""
    out = []
    for r in rows:
        attrs = ""
        if r.get("id"):
            attrs += f' id="{escape(r["id"])}"'
        if r.get("peer") is not None:
            attrs += f' data-peer="{escape(r["peer"])}"'
        if r.get("unranked"):
            attrs += ' class="unranked"'
        out.append(f"<tr{attrs}>" + "".join(_cell_html(c, root) for c in r["cells"]) + "</tr>\n")
    return Markup("".join(out))
