"""The bytes of the published data files: one CSV, Parquet and XLSX per period, and the manifest.

`data/scoreboard-<period_key>.csv|.parquet|.xlsx` (scoreboard.md, Published
scoreboard), and beside them the tables that explain it, as CSV, with what the
browser makes their workbooks from (`workbook_recipe`):
`data/weak_points-<key>`, `data/bottlenecks-<key>`, `data/what_if-<key>`, and the
dossiers behind the late counts, `data/evidence-<key>`.
Month keys (`2024-02`) and ISO week keys (`2024-W07`) never collide. Files are
byte-for-byte reproducible: the same frame gives the same bytes, so a re-run
changes nothing and a changed file means changed numbers. dashboards.pages.data
writes them (through the build cache, like every other file of the site).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import polars as pl

from dashboards.i18n import COLUMNS, INSIGHT_COLUMNS, LEVEL_ORDER, Label
from transforms.compress import gzip_bytes
from transforms.csv_cut import cut_csv
from transforms.periods import PERIOD_TYPES
from transforms.evidence import EVIDENCE_ORDER, EVIDENCE_SCHEMA
from transforms.insights import BOTTLENECK_SCHEMA, WEAK_POINT_SCHEMA, WHAT_IF_SCHEMA
from transforms.schema import SCOREBOARD_COUNTS, SCOREBOARD_RANKS, scoreboard_columns, scoreboard_groups
from transforms.xlsx import DECIMAL, PERCENT, Sheet, workbooks_bytes

_KEY_PATTERN = {"month": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"), "week": re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")}

# A cell starting with one of these is read as a formula by spreadsheets
# (OWASP "CSV injection"); tab and carriage return are included as OWASP advises.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Fixed document dates, so that re-running gives the same bytes.
XLSX_CREATED = dt.datetime(2016, 1, 1, 0, 0, 0)

# the scoreboard's columns whatever the profile's groups (its points and maxima follow them)
_FIXED_COLUMNS = {**SCOREBOARD_COUNTS, **SCOREBOARD_RANKS}
_RATE_COLUMNS = frozenset(c for c in _FIXED_COLUMNS if c.endswith("_rate"))


def _two_decimals(columns: list[str]) -> frozenset[str]:
    """The scoreboard's decimals that are not rates: points, maxima, score, working days."""
    return frozenset(
        c for c in columns
        if c not in _RATE_COLUMNS and (_FIXED_COLUMNS.get(c) == pl.Float64() or c.startswith(("points_", "max_points_")))
    )
_COLUMN_WIDTHS = {
    "unit_name": 30, "peer_group": 14, "band": 12, "period_start": 12, "unit_valid_from": 12, "procedure_name": 40,
    "indicator": 18, "group": 14, "target_band": 12,
    "dossier_id": 24, "class": 16, "received_at": 18, "due_at": 18, "end_at": 18,
}


def data_file_name(period_key: str, suffix: str, table: str = "scoreboard") -> str:
    """`scoreboard-2024-W07.csv` (suffix `csv`, `parquet` or `xlsx`), `weak_points-2024-02.xlsx`."""
    return f"{table}-{period_key}.{suffix}"


@dataclass(frozen=True)
class TableSpec:
    """A per-period table published beside the scoreboard."""

    name: str  # file name prefix
    schema: Mapping[str, pl.DataType]
    sort: tuple[str, ...]  # after period_type, period_key (level sorts district, commune, department)
    title: str  # workbook title, before the period key
    rates: frozenset[str] = frozenset()  # fractions shown as percentages in the workbook
    two_decimals: frozenset[str] = frozenset()

    @property
    def labels(self) -> dict[str, Label]:
        merged = {**COLUMNS, **INSIGHT_COLUMNS}
        return {c: merged[c] for c in self.schema if c in merged}


TABLES: dict[str, TableSpec] = {
    "weak_points": TableSpec(
        "weak_points",
        WEAK_POINT_SCHEMA,
        ("level", "unit_code", "unit_valid_from", "position"),
        "Điểm yếu",
        rates=frozenset({"rate"}),
        two_decimals=frozenset(
            {"points_earned", "points_max", "points_lost", "peer_median_points", "gap_to_peer_median",
             "leader_points", "gap_to_leader"}
        ),
    ),
    "bottlenecks": TableSpec(
        "bottlenecks",
        BOTTLENECK_SCHEMA,
        ("unit_code", "unit_valid_from", "position"),
        "Thủ tục gây chậm",
        rates=frozenset({"share_of_late"}),
    ),
    "what_if": TableSpec(
        "what_if",
        WHAT_IF_SCHEMA,
        ("level", "rank", "unit_code", "unit_valid_from"),
        "Nếu đúng hạn thêm",
        two_decimals=frozenset({"score", "target_rank_score"}),
    ),
    # the dossiers behind each unit's overdue and pending-overdue counts (transforms.evidence)
    "evidence": TableSpec(
        "evidence",
        EVIDENCE_SCHEMA,
        ("unit_code", "unit_valid_from", *EVIDENCE_ORDER),
        "Hồ sơ trễ hạn",
    ),
}
TABLE_SUFFIXES = ("csv", "xlsx")


def check_period_key(period_type: str, period_key: str) -> None:
    """Refuse a key that is not `YYYY-MM` / `YYYY-Www` (it becomes a file name)."""
    pattern = _KEY_PATTERN.get(period_type)
    if pattern is None:
        raise ValueError(f"unknown period_type {period_type!r}, expected one of {sorted(PERIOD_TYPES)}")
    if period_key is None or not pattern.match(period_key):
        raise ValueError(f"bad {period_type} period_key {period_key!r}")


def prepare_scoreboard(scoreboard: pl.DataFrame, extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """The published columns, in order and with their types (then the `extra`
    columns the frame has), sorted deterministically.

    Sort: period_type, period_start, period_key, then level (district, commune,
    department, then any other level by name), rank (nulls last), unit_code,
    unit_valid_from.
    """
    missing = [c for c in _FIXED_COLUMNS if c not in scoreboard.columns]
    if missing:
        raise ValueError(f"scoreboard lacks columns: {missing}")
    # the published columns of the profile whose groups the frame carries (schema.scoreboard_columns)
    published = scoreboard_columns(scoreboard_groups(scoreboard.columns))
    frame = scoreboard.select(
        *[
            pl.col(c).cast(t, strict=True) if c in scoreboard.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in published.items()
        ],
        *[c for c in extra if c in scoreboard.columns and c not in published],
    )
    pairs = frame.select("period_type", "period_key").unique()
    for period_type, period_key in pairs.iter_rows():
        check_period_key(period_type, period_key)
    dup = pairs.group_by("period_key").len().filter(pl.col("len") > 1)
    if dup.height:
        raise ValueError(f"period_key used by two period types: {dup['period_key'].to_list()}")
    return _sorted(frame, ["period_type", "period_start", "period_key", "level", "rank", "unit_code", "unit_valid_from"])


def _level_rank() -> pl.Expr:
    return pl.col("level").replace_strict(
        {lvl: i for i, lvl in enumerate(LEVEL_ORDER)}, default=len(LEVEL_ORDER), return_dtype=pl.Int32
    )


def _sorted(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Sorted on `by`, nulls last, `level` in LEVEL_ORDER then by name."""
    if "level" not in by:
        return frame.sort(by, nulls_last=True, maintain_order=True)
    i = by.index("level")
    keys = [*by[:i], "_level_rank", *by[i:]]
    return (
        frame.with_columns(_level_rank=_level_rank())
        .sort(keys, nulls_last=True, maintain_order=True)
        .drop("_level_rank")
    )


def prepare_table(frame: pl.DataFrame, spec: TableSpec | str) -> pl.DataFrame:
    """The columns of `spec` in order, with their types, sorted; period keys checked."""
    spec = TABLES[spec] if isinstance(spec, str) else spec
    missing = [c for c in spec.schema if c not in frame.columns]
    if missing:
        raise ValueError(f"{spec.name} lacks columns: {missing}")
    out = frame.select([pl.col(c).cast(t, strict=True) for c, t in spec.schema.items()])
    for period_type, period_key in out.select("period_type", "period_key").unique().iter_rows():
        check_period_key(period_type, period_key)
    return _sorted(out, ["period_type", "period_key", *spec.sort])


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix `'` to every text cell a spreadsheet would read as a formula."""
    starts = "^[" + re.escape("".join(FORMULA_PREFIXES)) + "]"
    return frame.with_columns(
        [
            pl.when(pl.col(c).str.contains(starts)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
            for c, t in frame.schema.items()
            if t == pl.Utf8()
        ]
    )


def csv_bytes(period: pl.DataFrame) -> bytes:
    """UTF-8 with BOM; ISO dates and times (`2024-01-31 17:00:00`), true/false,
    full-precision floats, empty nulls."""
    return _write_csv(neutralise_formulas(period), True)


def csv_texts(parts: Sequence[pl.DataFrame]) -> list[bytes]:
    """`csv_bytes` of each of `parts` (frames of one schema: a table's periods or units),
    from one write of them all (transforms.csv_cut): the same bytes."""
    if len(parts) <= 1:
        return [csv_bytes(p) for p in parts]
    whole = neutralise_formulas(pl.concat(parts, rechunk=False))
    return cut_csv(whole, [p.height for p in parts], _write_csv)


def _write_csv(frame: pl.DataFrame, header: bool) -> bytes:
    buf = io.BytesIO()
    frame.write_csv(
        buf, include_header=header, include_bom=header, null_value="", date_format="%Y-%m-%d",
        datetime_format="%Y-%m-%d %H:%M:%S",
    )
    return buf.getvalue()


def parquet_bytes(period: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    period.write_parquet(buf, compression="zstd", statistics=True)
    return buf.getvalue()


@dataclass(frozen=True)
class Layout:
    """How a period's table is laid out as a workbook (Python or site.js writes it)."""

    title: str
    sheet: str
    styles: dict[str, int]  # column -> transforms.xlsx style id (PERCENT, DECIMAL)
    widths: dict[str, float]
    legend: list[tuple[str, str, str]]  # (column, Vietnamese, English)


LEGEND_SHEET = "Chú thích"
LEGEND_HEAD = ("Cột / Column", "Tiếng Việt", "English")
LEGEND_WIDTHS = (22, 34, 34)


def layout(
    columns: list[str], sheet_name: str, spec: TableSpec | None = None, *, labels: Mapping[str, Label] | None = None
) -> Layout:
    """Rates as percentages, other decimals with 2 places, a legend of every column.
    `spec` names one of TABLES; without it the table is the scoreboard. `labels`:
    the legend's labels of columns COLUMNS does not name (the groups' points,
    from the profile: dashboards.groups) or names otherwise (the profile's labels
    of its rates: dashboards.i18n.rate_labels)."""
    rates = spec.rates if spec is not None else _RATE_COLUMNS
    two_decimals = spec.two_decimals if spec is not None else _two_decimals(columns)
    labels = {**(spec.labels if spec is not None else COLUMNS), **(labels or {})}
    styles = {c: PERCENT for c in columns if c in rates}
    styles.update({c: DECIMAL for c in columns if c in two_decimals})
    return Layout(
        title=f"{spec.title} {sheet_name}" if spec is not None else f"Bảng xếp hạng {sheet_name}",
        sheet=sheet_name[:31],
        styles=styles,
        widths={c: _COLUMN_WIDTHS.get(c, max(10, min(len(c) + 2, 20))) for c in columns},
        legend=[(c, labels[c].vi if c in labels else "", labels[c].en if c in labels else "") for c in columns],
    )


def xlsx_bytes(
    period: pl.DataFrame, sheet_name: str, spec: TableSpec | None = None, *, labels: Mapping[str, Label] | None = None
) -> bytes:
    """A workbook with the table (bold header, frozen, filtered) and a legend sheet.

    Written by transforms.xlsx (sheet XML built column-wise by Polars): text is
    always an inline string, so a unit named `=HYPERLINK(...)` stays text. Dates
    show as dd/mm/yyyy, rates as percentages, other decimals with 2 places; the
    stored values keep full precision (`layout`); a value that is not finite is an
    empty cell.
    """
    return workbooks([(sheet_name, period)], spec, labels)[0]


def workbooks(
    periods: list[tuple[str, pl.DataFrame]], spec: TableSpec | None = None, labels: Mapping[str, Label] | None = None
) -> list[bytes]:
    """xlsx_bytes of each (period key, rows), written together (one task of the
    second process): their rows in one Polars pass."""
    books = []
    for key, rows in periods:
        lay = layout(rows.columns, key, spec, labels=labels)
        legend = pl.DataFrame(lay.legend, schema={h: pl.Utf8 for h in LEGEND_HEAD}, orient="row")
        sheets = [
            Sheet(lay.sheet, rows, styles=lay.styles, widths=lay.widths),
            Sheet(LEGEND_SHEET, legend, autofilter=False, widths=dict(zip(LEGEND_HEAD, LEGEND_WIDTHS))),
        ]
        books.append((sheets, lay.title))
    return workbooks_bytes(books, created=XLSX_CREATED)


def workbook_recipe(period: pl.DataFrame, sheet_name: str, spec: TableSpec, csv: bytes | None = None) -> bytes:
    """`data/<table>-<key>.js`: what site.js (static/xlsx.js) needs to make, when the
    reader asks for it, the workbook xlsx_bytes would write: the parts of that
    workbook without its rows, the kind and style of each column, and the period's
    CSV (gzip, base64; `csv`: its bytes when already made). A page opened from
    disk cannot read the CSV itself: browsers refuse file:// requests, so the CSV
    comes as a script. Compressed fast (transforms.compress): it is read once, by a browser."""
    import base64

    def kind(t: pl.DataType) -> str:
        return "b" if t == pl.Boolean else "n" if t.is_numeric() else "d" if t == pl.Date else "t" if t.is_temporal() else "s"

    lay = layout(period.columns, sheet_name, spec)
    if _KEY.fullmatch(sheet_name):
        parts = {name: part.replace(_KEY_TOKEN, sheet_name) for name, part in _empty_parts(period, _KEY_TOKEN, spec).items()}
    else:
        parts = _empty_parts(period, sheet_name, spec)
    recipe = {
        "parts": parts,
        "sheet": "xl/worksheets/sheet1.xml",
        "columns": [{"kind": kind(t), "style": lay.styles.get(c, 0)} for c, t in period.schema.items()],
        "csv": base64.b64encode(gzip_bytes(csv or csv_bytes(period))).decode("ascii"),
    }
    text = json.dumps(recipe, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"/* {lay.title}: the workbook site.js makes on request */\nwindow.parWorkbook({text});\n".encode("utf-8")


# A period key ([0-9A-Z-], at most 8 characters) is all a recipe's empty workbook says
# of its period: the parts are made once per table and layout, with this in its place.
_KEY = re.compile(r"[0-9A-Z-]{1,8}")
_KEY_TOKEN = "PERIOD00"


_PARTS: dict[tuple, dict[str, str]] = {}


def _empty_parts(period: pl.DataFrame, sheet_name: str, spec: TableSpec) -> dict[str, str]:
    """The parts of the workbook xlsx_bytes writes for the table without its rows (made
    once per table, columns and sheet name)."""
    import zipfile

    key = (spec.name, tuple(period.schema.items()), sheet_name)
    if key not in _PARTS:
        with zipfile.ZipFile(io.BytesIO(xlsx_bytes(period.clear(), sheet_name, spec))) as zf:
            _PARTS[key] = {name: zf.read(name).decode("utf-8") for name in zf.namelist()}
    return _PARTS[key]


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"manifest value of type {type(value).__name__} is not JSON")


def manifest_bytes(manifest: dict) -> bytes:
    text = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False, default=_json_default)
    return (text + "\n").encode("utf-8")


