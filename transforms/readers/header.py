"""Finding the header of a table and the banner rows above it (title, unit); which
columns are kept. (The rows below it that are not dossiers, numbering, totals and
group rows, are told in rows.py, for many files at once.)

Shared by every reader of a grid of cells (CSV, OOXML, BIFF, HTML)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from transforms.readers.aliases import HeaderMatcher
from transforms.readers.table import HEADER_LOOKAHEAD_ROWS, MAX_HEADER_CHARS, UnusableFile
from transforms.schema import PROCEDURE_COLUMNS, REQUIRED_COLUMNS, UNIT_COLUMNS

# A header has at most this many rows (a group cell above a group cell above fields).
MAX_HEADER_DEPTH = 3
# Banner text kept as unit evidence: this many lines at most, each this long at most.
MAX_BANNER_LINES = 40


def cell_text(c: object) -> str:
    """A cell as one line of text: runs of whitespace (line breaks too) made one space."""
    return "" if c is None else " ".join(str(c).split())


@dataclass
class Header:
    score: int = 0  # distinct fields named
    depth: int = 0  # rows the header spans
    width: int = 0  # non-empty header cells
    first: int = -1  # index of the header's first row
    last: int = -1  # index of the header's last row
    cells: list[str] | None = None  # one text per column, as matched

    def better_than(self, other: "Header") -> bool:
        # more fields; then fewer rows (a banner line above is not a header row); then wider
        return (self.score, -self.depth, self.width) > (other.score, -other.depth, other.width)


def _stacked(rows: list[list[str]], matcher: HeaderMatcher) -> list[str]:
    """One text per column of a header of several rows (dossier-log.md: a header cell
    is matched on its lowest non-empty row, then on the joined rows).

    A merged group cell (``Ngày, tháng, năm`` over ``Nhận hồ sơ`` | ``Hẹn trả kết
    quả``) holds its text in its first column only: an empty cell of an upper row takes
    the text on its left while a row below it has text."""
    width = max(len(r) for r in rows)
    grid = [list(r) + [""] * (width - len(r)) for r in rows]
    below = [False] * width  # some row under this one has text in the column
    for r in range(len(grid) - 2, -1, -1):
        below = [b or bool(x) for b, x in zip(below, grid[r + 1])]
        row, left = grid[r], ""
        for c in range(width):
            if row[c]:
                left = row[c]
            elif below[c] and left:
                row[c] = left
            else:
                left = ""
    out = []
    for column in zip(*grid):
        parts: list[str] = []
        for cell in column:
            if cell and (not parts or parts[-1] != cell):
                parts.append(cell)
        if len(parts) <= 1:  # one text: it is the column's, matched or not
            out.append(parts[0] if parts else "")
            continue
        joined = " ".join(parts)
        tries = [parts[-1], joined] + [" ".join(parts[k:]) for k in range(1, len(parts) - 1)]
        out.append(next((t for t in tries if matcher(t)), joined))
    return out


def find_header(records: Sequence[Sequence[object]], matcher: HeaderMatcher) -> Header:
    """The rows (one to MAX_HEADER_DEPTH, consecutive) that name the most fields.
    ``records`` is read only as far as the search goes (``records[k]`` raising
    IndexError past its end)."""
    rows: list[list[str]] = []  # records as cell texts, made as far as the search goes

    def row(k: int) -> list[str]:
        while len(rows) <= k:
            rows.append([cell_text(c) for c in records[len(rows)]])
        return rows[k]

    best = Header()
    idx = 0
    while True:
        # data rows follow the header: once one is found, a few rows past it are
        # enough (matching every data cell against the aliases is what costs)
        if best.cells is not None and idx > best.last + HEADER_LOOKAHEAD_ROWS:
            break
        try:
            row(idx)
        except IndexError:
            break
        for depth in range(1, MAX_HEADER_DEPTH + 1):
            top = idx - depth + 1
            if top < 0 or not all(any(row(k)) for k in range(top, idx + 1)):
                break
            cells = row(idx) if depth == 1 else _stacked([row(k) for k in range(top, idx + 1)], matcher)
            fields = set(map(matcher, cells))
            fields.discard(None)
            cand = Header(len(fields), depth, sum(1 for c in cells if c), top, idx, cells)
            if cand.score > 0 and cand.better_than(best):
                best = cand
        idx += 1
    return best


def banner_lines(records: Iterable[Iterable[object]]) -> list[str]:
    """The text of the rows above a header, one entry per line of each cell (a title,
    the unit, the period), top to bottom."""
    lines: list[str] = []
    for record in records:
        for c in record:
            for line in ("" if c is None else str(c)).splitlines():
                text = " ".join(line.split())
                if text and len(text) <= MAX_HEADER_CHARS and text not in lines:
                    lines.append(text)
    return lines[:MAX_BANNER_LINES]


@dataclass
class Plan:
    """Which columns of a header are kept, as which field; the dropped ones' names."""

    positions: list[int]
    fields: list[str]
    headers: list[str]
    dropped: list[str]
    unit_missing: UnusableFile | None = None


def missing_fields(fields: Iterable[str], *, unit_given: bool = False) -> list[str]:
    have = set(fields)
    missing = [f for f in REQUIRED_COLUMNS if f not in have]
    if not any(p in have for p in PROCEDURE_COLUMNS):
        missing.append("procedure_code or procedure_name")
    if not unit_given and not any(u in have for u in UNIT_COLUMNS):
        missing.append("unit_code or unit_name")
    return missing


def plan_columns(path: Path, headers: list[object], matcher: HeaderMatcher, *, unit_given: bool = False, banner: bool = False) -> Plan:
    """Positions to keep, their fields and header names, the dropped header names.

    Raises UnusableFile when a required column is missing. A file with no unit
    column and no unit evidence (``unit_given``: a banner, an envelope, a mapping)
    is not refused here: its dossier ids or its ``banner`` may name the unit, which
    only the registry can tell (``Plan.unit_missing`` is the error to give when they
    do not)."""
    positions: list[int] = []
    kept_fields: list[str] = []
    kept_headers: list[str] = []
    dropped: list[str] = []
    for i, h in enumerate(headers):
        name = "" if h is None else " ".join(unicodedata.normalize("NFC", str(h)).split())
        fld = matcher(h)
        if fld:
            positions.append(i)
            kept_fields.append(fld)
            kept_headers.append(name)
        else:
            dropped.append(name if name else f"(column {i + 1})")
    # Header names may be shown, but a row that matched almost nothing may be a data
    # row of a headerless file: then show nothing of it.
    shown = (
        [" ".join(unicodedata.normalize("NFC", str(h)).split()) for h in headers if h is not None and str(h).strip()]
        if len(set(kept_fields)) >= 2
        else []
    )
    unit_absent = not any(u in kept_fields for u in UNIT_COLUMNS)
    missing = missing_fields(kept_fields, unit_given=True)
    if missing:
        if unit_absent and not unit_given and not banner:
            missing.append("unit_code or unit_name")
        raise UnusableFile(path, "the header lacks required columns", missing, shown)
    plan = Plan(positions, kept_fields, kept_headers, dropped)
    if unit_absent and not unit_given:
        plan.unit_missing = UnusableFile(path, "the header lacks required columns", ["unit_code or unit_name"], shown)
    return plan
