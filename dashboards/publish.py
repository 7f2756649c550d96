"""The published data files: one CSV, Parquet and XLSX per period, and the manifest.

`data/scoreboard-<period_key>.csv|.parquet|.xlsx` (scoreboard.md, Published
scoreboard). Month keys (`2024-02`) and ISO week keys (`2024-W07`) never
collide. Files are byte-for-byte reproducible: the same frame gives the same
bytes, so a re-run changes nothing and a changed file means changed numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from dashboards.i18n import COLUMNS, LEVEL_ORDER
from transforms.schema import SCOREBOARD_COLUMNS

PERIOD_TYPES = ("month", "week")
_KEY_PATTERN = {"month": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"), "week": re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")}

# A cell starting with one of these is read as a formula by spreadsheets
# (OWASP "CSV injection"); tab and carriage return are included as OWASP advises.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Fixed document dates, so that re-running gives the same bytes.
XLSX_CREATED = dt.datetime(2016, 1, 1, 0, 0, 0)

_RATE_COLUMNS = frozenset(c for c in SCOREBOARD_COLUMNS if c.endswith("_rate"))
_TWO_DECIMALS = frozenset(
    c for c, t in SCOREBOARD_COLUMNS.items() if t == pl.Float64() and c not in _RATE_COLUMNS
)
_COLUMN_WIDTHS = {"unit_name": 30, "peer_group": 14, "band": 12, "period_start": 12, "unit_valid_from": 12}


def data_file_name(period_key: str, suffix: str) -> str:
    """`scoreboard-2024-W07.csv` (suffix `csv`, `parquet` or `xlsx`)."""
    return f"scoreboard-{period_key}.{suffix}"


def check_period_key(period_type: str, period_key: str) -> None:
    """Refuse a key that is not `YYYY-MM` / `YYYY-Www` (it becomes a file name)."""
    pattern = _KEY_PATTERN.get(period_type)
    if pattern is None:
        raise ValueError(f"unknown period_type {period_type!r}, expected one of {PERIOD_TYPES}")
    if period_key is None or not pattern.match(period_key):
        raise ValueError(f"bad {period_type} period_key {period_key!r}")


def prepare_scoreboard(scoreboard: pl.DataFrame) -> pl.DataFrame:
    """The published columns, in order and with their types, sorted deterministically.

    Sort: period_type, period_start, period_key, then level (district, commune,
    department, then any other level by name), rank (nulls last), unit_code,
    unit_valid_from.
    """
    missing = [c for c in SCOREBOARD_COLUMNS if c not in scoreboard.columns]
    if missing:
        raise ValueError(f"scoreboard lacks columns: {missing}")
    frame = scoreboard.select(
        [pl.col(c).cast(t, strict=True) for c, t in SCOREBOARD_COLUMNS.items()]
    )
    pairs = frame.select("period_type", "period_key").unique()
    for period_type, period_key in pairs.iter_rows():
        check_period_key(period_type, period_key)
    dup = pairs.group_by("period_key").len().filter(pl.col("len") > 1)
    if dup.height:
        raise ValueError(f"period_key used by two period types: {dup['period_key'].to_list()}")
    level_rank = pl.col("level").replace_strict(
        {lvl: i for i, lvl in enumerate(LEVEL_ORDER)}, default=len(LEVEL_ORDER), return_dtype=pl.Int32
    )
    return (
        frame.with_columns(_level_rank=level_rank)
        .sort(
            ["period_type", "period_start", "period_key", "_level_rank", "level", "rank", "unit_code", "unit_valid_from"],
            nulls_last=True,
            maintain_order=True,
        )
        .drop("_level_rank")
    )


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
    """UTF-8 with BOM; ISO dates, true/false, full-precision floats, empty nulls."""
    buf = io.BytesIO()
    neutralise_formulas(period).write_csv(buf, include_bom=True, null_value="", date_format="%Y-%m-%d")
    return buf.getvalue()


def parquet_bytes(period: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    period.write_parquet(buf, compression="zstd", statistics=True)
    return buf.getvalue()


# Bump when xlsx_bytes changes what it writes: workbooks carry a fingerprint of
# their content and of this version, and one that matches is not rebuilt
# (xlsxwriter costs ~15 µs a cell; the tables of the other formats are cheap).
XLSX_LAYOUT_VERSION = "1"


def xlsx_fingerprint(period: pl.DataFrame, sheet_name: str) -> str:
    h = hashlib.sha256()
    h.update(f"xlsx {XLSX_LAYOUT_VERSION} {xlsxwriter.__version__} {sheet_name}\n".encode())
    h.update(json.dumps({k: tuple(v) for k, v in COLUMNS.items()}, ensure_ascii=False).encode())
    buf = io.BytesIO()
    period.write_csv(buf, null_value="\\N")  # raw values, nulls told apart from ""
    h.update(buf.getvalue())
    return h.hexdigest()


def _xlsx_has_fingerprint(path: Path, fingerprint: str) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return fingerprint.encode() in zf.read("docProps/custom.xml")
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


def xlsx_bytes(period: pl.DataFrame, sheet_name: str) -> bytes:
    """A workbook with the table (bold header, frozen, filtered) and a legend sheet.

    Text is always written as text: `strings_to_formulas` is off, so a unit
    named `=HYPERLINK(...)` stays a string. Dates show as dd/mm/yyyy, rates as
    percentages; the stored values keep full precision.
    """
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": True,
        },
    )
    wb.set_properties(
        {
            "title": f"Bảng xếp hạng {sheet_name}",
            "subject": "PAR scoreboard",
            "author": "PAR scoreboard",
            "created": XLSX_CREATED,
        }
    )
    wb.set_custom_property("scoreboard_fingerprint", xlsx_fingerprint(period, sheet_name))
    header = wb.add_format({"bold": True, "bg_color": "#E8EEF4", "bottom": 1, "text_wrap": True, "valign": "top"})
    fmt_date = wb.add_format({"num_format": "dd/mm/yyyy"})
    fmt_rate = wb.add_format({"num_format": "0.0%"})
    fmt_two = wb.add_format({"num_format": "0.00"})
    ws = wb.add_worksheet(sheet_name[:31])
    columns = period.columns
    for j, name in enumerate(columns):
        ws.write_string(0, j, name, header)
        ws.set_column(j, j, _COLUMN_WIDTHS.get(name, max(10, min(len(name) + 2, 20))))
    for j, name in enumerate(columns):
        dtype = period.schema[name]
        values = period.get_column(name).to_list()
        if dtype == pl.Utf8():
            write, fmt = ws.write_string, None
        elif dtype == pl.Date():
            write, fmt = ws.write_datetime, fmt_date
        elif dtype == pl.Boolean():
            write, fmt = ws.write_boolean, None
        elif name in _RATE_COLUMNS:
            write, fmt = ws.write_number, fmt_rate
        elif name in _TWO_DECIMALS:
            write, fmt = ws.write_number, fmt_two
        else:
            write, fmt = ws.write_number, None
        for i, v in enumerate(values, start=1):
            if v is None:
                continue
            if fmt is None:
                write(i, j, v)
            else:
                write(i, j, v, fmt)
    ws.freeze_panes(1, 0)
    if columns:
        ws.autofilter(0, 0, max(period.height, 1), len(columns) - 1)
    legend = wb.add_worksheet("Chú thích")
    legend.write_row(0, 0, ["Cột / Column", "Tiếng Việt", "English"], header)
    for i, name in enumerate(columns, start=1):
        lab = COLUMNS.get(name)
        legend.write_row(i, 0, [name, lab.vi if lab else "", lab.en if lab else ""])
    legend.set_column(0, 0, 22)
    legend.set_column(1, 2, 34)
    legend.freeze_panes(1, 0)
    wb.close()
    return buf.getvalue()


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write atomically unless the file already holds these bytes. True if written."""
    path = Path(path)
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write_period_files(scoreboard: pl.DataFrame, data_dir: Path) -> list[Path]:
    """Write `scoreboard-<period_key>.csv|.parquet|.xlsx` for every period in the frame.

    Returns the paths, periods in (period_type, period_start) order, each as
    csv, parquet, xlsx. Files whose bytes are already right are left alone.
    """
    data_dir = Path(data_dir)
    frame = prepare_scoreboard(scoreboard)
    written: list[Path] = []
    if frame.height == 0:
        return written
    data_dir.mkdir(parents=True, exist_ok=True)
    for period in frame.partition_by(["period_type", "period_key"], maintain_order=True):
        key = period.item(0, "period_key")
        for suffix, make in (("csv", csv_bytes), ("parquet", parquet_bytes)):
            path = data_dir / data_file_name(key, suffix)
            write_if_changed(path, make(period))
            written.append(path)
        path = data_dir / data_file_name(key, "xlsx")
        if not _xlsx_has_fingerprint(path, xlsx_fingerprint(period, key)):
            write_if_changed(path, xlsx_bytes(period, key))
        written.append(path)
    return written


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


def write_manifest(site_dir: Path, manifest: dict) -> Path:
    """`<site_dir>/data/manifest.json`: sorted keys, indent 2, UTF-8 (not \\u-escaped)."""
    path = Path(site_dir) / "data" / "manifest.json"
    write_if_changed(path, manifest_bytes(manifest))
    return path
