"""Read one exported dossier file into text columns named by canonical field.

dossier-log.md, "Reading files" and "Personal data never enters": only columns whose
header maps to a canonical field survive the read; every other column is dropped at
once and only its header *name* is kept (``RawTable.dropped_columns``). No value of
the file ever appears in an object returned from here or in an exception message.

Formats: .csv/.txt (``,`` ``;`` or tab; UTF-8 with/without BOM, UTF-16 with BOM,
Windows-1258), .xlsx/.xlsm/.xls/.ods (first sheet with a recognisable header row,
banner rows above and totals rows skipped), .json (array of objects), .jsonl,
.parquet. Values come out as text; Excel dates come out as ISO ``YYYY-MM-DD
HH:MM:SS[.fff]`` and whole numbers without ``.0``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import polars as pl

from transforms.normalise import clean_text_expr, key_expr, normalise_key, x_mark_columns
from transforms.schema import CANONICAL_FIELDS, LOCAL_TZ, PROCEDURE_COLUMNS, REQUIRED_COLUMNS, UNIT_COLUMNS

ALIASES_PATH = Path(__file__).resolve().parent.parent / "config" / "header_aliases.csv"

CSV_EXTENSIONS = {".csv", ".txt", ".tsv"}
EXCEL_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
JSON_EXTENSIONS = {".json"}
JSONL_EXTENSIONS = {".jsonl", ".ndjson"}
PARQUET_EXTENSIONS = {".parquet", ".pq"}

# A mapping value that means "drop this column even if an alias matches it".
_IGNORE = {"", "-", "ignore", "drop", "none", "skip"}

# How many leading rows/records to search for the header row.
HEADER_SEARCH_ROWS = 60
HEADER_LOOKAHEAD_ROWS = 3
MAX_HEADER_CHARS = 120

# A cell is cut to this many characters as soon as it is read: no canonical value is
# anywhere near it, and a 50 MB cell must not be copied through every later step.
# (normalise.MAX_TEXT_CHARS decides what is too long to be a value: null + counted.)
MAX_CELL_CHARS = 10_000

# Spreadsheet guard: the reader (calamine) allocates the rectangle from A1 to the
# farthest cell that holds a value, whatever the <dimension> element declares, and a
# failed allocation aborts the process. A sheet whose rectangle exceeds this is set
# aside: reading costs ~70 bytes a cell of the rectangle (reader, Arrow, Polars), so
# ~1.5 GB at the limit (500,000 rows × 40 columns). Its XML is scanned, streaming,
# before it is loaded.
MAX_SHEET_CELLS = 20_000_000
MAX_SHEET_XML_BYTES = 4 << 30

# Content that is certainly not a table, whatever the file is called.
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "a program"),
    (b"MZ\x90\x00", "a program"),
    (b"{\\rtf", "an RTF document"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)

# First non-empty cell of a totals / subtotal row ("Tổng cộng", "Cộng", "Tổng số: 12").
_TOTALS = r"^(tong_cong|tong_so|tong|cong|total|totals|grand_total|sub_total|subtotal)(_\d.*)?$|^tong_cong_.*$|^tong_so_.*$"


class UnusableFile(Exception):
    """The file cannot be used at all. The message names the file, the reason and the
    missing fields; it may name header cells but never values."""

    def __init__(
        self,
        path: Path | str,
        reason: str,
        missing_fields: Iterable[str] = (),
        seen_columns: Iterable[str] = (),
    ) -> None:
        self.path = Path(path)
        self.reason = reason
        self.missing_fields = list(missing_fields)
        self.seen_columns = list(seen_columns)
        super().__init__(self.describe())

    def describe(self, name: str | None = None) -> str:
        msg = f"{name or self.path.name}: {self.reason}"
        if self.missing_fields:
            msg += f"; no column for: {', '.join(self.missing_fields)}"
        if self.seen_columns:
            msg += f" (columns found: {', '.join(repr(c) for c in self.seen_columns)})"
        return msg


@dataclass
class RawTable:
    """A read file: ``frame`` has one Utf8 column per canonical field found, named by
    field, plus ``source_row`` (Int64, from 1 after the header; JSON Lines: the line)."""

    frame: pl.DataFrame
    rows_read: int
    dropped_columns: list[str]
    format: str
    x_mark_columns: list[str] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)  # field -> headers used
    encoding: str | None = None
    sheet: str | None = None
    # File-level evidence of the receiving unit, most specific first, as cleaned
    # text: the per-source mapping's unit, the sync envelope's `madonvi`, banner
    # lines above the header. Ingestion resolves them (dossier-log.md, Real exports).
    unit_hints: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ header aliases


@lru_cache(maxsize=4)
def _alias_table(path: str) -> dict[str, str]:
    table: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            fld = (row.get("field") or "").strip()
            alias = row.get("alias") or ""
            if fld in CANONICAL_FIELDS and alias.strip():
                table.setdefault(normalise_key(alias), fld)
    for fld in CANONICAL_FIELDS:  # canonical names always match
        table[normalise_key(fld)] = fld
    return table


def load_aliases(path: Path | None = None) -> dict[str, str]:
    """Normalised header key -> canonical field, from ``config/header_aliases.csv``."""
    return dict(_alias_table(str(path or ALIASES_PATH)))


def load_mapping(path: Path | str) -> dict[str, str]:
    """A per-source mapping file: CSV with columns ``alias,field`` (a header row is
    optional) or YAML (``{raw header: field}`` or ``{field: [raw headers]}``).
    A field of ``""``/``ignore``/``drop`` drops the column."""
    path = Path(path)
    mapping: dict[str, str] = {}
    if path.suffix.lower() in {".yaml", ".yml"}:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path.name}: a mapping file must hold a mapping")
        for key, value in data.items():
            if str(key) in CANONICAL_FIELDS and isinstance(value, list):
                for alias in value:
                    mapping[str(alias)] = str(key)
            else:
                mapping[str(key)] = "" if value is None else str(value)
    else:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["alias", "field"]:
            rows = rows[1:]
        for row in rows:
            if len(row) >= 2 and row[0].strip():
                mapping[row[0]] = row[1].strip()
            elif len(row) == 1 and row[0].strip():
                mapping[row[0]] = ""
    _check_mapping(mapping, path.name)
    return mapping


def _check_mapping(mapping: Mapping[str, str | None], where: str = "mapping") -> None:
    bad = sorted({str(v) for v in mapping.values() if v is not None and str(v).strip().lower() not in _IGNORE and str(v).strip() not in CANONICAL_FIELDS})
    if bad:
        raise ValueError(f"{where}: not canonical fields: {', '.join(bad)}")


class HeaderMatcher:
    """Header cell -> canonical field, with a per-source mapping on top of the alias
    table. Lookup order: the mapping, then the alias table, each first by the full
    key, then with a bracketed remark such as ``(dd/mm/yyyy)`` removed; finally the
    key without underscores (``Ma ho so`` = ``MaHoSo``)."""

    def __init__(self, aliases: Mapping[str, str], overrides: Mapping[str, str | None] | None = None) -> None:
        self.aliases = dict(aliases)
        self.overrides = dict(overrides or {})
        self.squashed = {k.replace("_", ""): v for k, v in self.aliases.items()}
        self._cache: dict[str, str | None] = {}

    def __call__(self, header: object) -> str | None:
        if header is None:
            return None
        text = str(header)
        if text not in self._cache:
            if len(self._cache) >= _MATCHER_CACHE_MAX:  # data cells are looked at too
                self._cache.clear()
            self._cache[text] = self._match(text)
        return self._cache[text]

    def _match(self, text: str) -> str | None:
        if len(text) > MAX_HEADER_CHARS:  # a data cell, or a whole line split wrongly
            return None
        key = normalise_key(text)
        if not key:
            return None
        candidates = [key]
        stripped = normalise_key(re.sub(r"\([^)]*\)|\[[^\]]*\]|\*", " ", text))
        if stripped and stripped != key:
            candidates.append(stripped)
        for cand in candidates:
            if cand in self.overrides:
                value = self.overrides[cand]
                return None if value is None or value.strip().lower() in _IGNORE else value.strip()
        for cand in candidates:
            if cand in self.aliases:
                return self.aliases[cand]
        for cand in candidates:
            if cand.replace("_", "") in self.squashed:
                return self.squashed[cand.replace("_", "")]
        return None


_MATCHER_CACHE_MAX = 200_000


@lru_cache(maxsize=4)
def _shared_matcher(aliases_path: str) -> HeaderMatcher:
    """The matcher of files without a per-source mapping, shared by every read of the
    process: its cache then learns each system's header cells once, not once a file."""
    return HeaderMatcher(_alias_table(aliases_path))


def match_header(header: object, aliases: Mapping[str, str] | None = None, overrides: Mapping[str, str | None] | None = None) -> str | None:
    """Canonical field of one header cell, or None (``overrides``: normalised key ->
    field, as built from a per-source mapping)."""
    return HeaderMatcher(aliases if aliases is not None else load_aliases(), overrides)(header)


def _overrides(mapping: Mapping[str, str | None] | None) -> dict[str, str | None]:
    if not mapping:
        return {}
    _check_mapping(mapping)
    return {normalise_key(k): v for k, v in mapping.items()}


def _row_fields(cells: Iterable[object], matcher: HeaderMatcher) -> set[str]:
    return {f for f in (matcher(c) for c in cells) if f}


def _missing(fields: Iterable[str]) -> list[str]:
    have = set(fields)
    missing = [f for f in REQUIRED_COLUMNS if f not in have]
    if not any(p in have for p in PROCEDURE_COLUMNS):
        missing.append("procedure_code or procedure_name")
    if not any(u in have for u in UNIT_COLUMNS):
        missing.append("unit_code or unit_name")
    return missing


# -------------------------------------------------------------------------- public


def read_table(path: Path, mapping: Mapping[str, str | None] | Path | str | None = None) -> RawTable:
    """Read ``path`` (format by extension) to a RawTable; raise UnusableFile."""
    path = Path(path)
    if isinstance(mapping, (str, Path)):
        mapping = load_mapping(mapping)
    matcher = HeaderMatcher(load_aliases(), _overrides(mapping)) if mapping else _shared_matcher(str(ALIASES_PATH))
    if not path.is_file():
        raise UnusableFile(path, "file not found or not a regular file")
    ext = path.suffix.lower()
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        raise UnusableFile(path, "the file cannot be opened") from None
    if not head:
        raise UnusableFile(path, "the file is empty (0 bytes)")
    if ext in CSV_EXTENSIONS | EXCEL_EXTENSIONS | JSON_EXTENSIONS | JSONL_EXTENSIONS | PARQUET_EXTENSIONS:
        for magic, what in _BINARY_SIGNATURES:
            if head.startswith(magic):
                raise UnusableFile(path, f"not a table: the content is {what}, whatever its name says")
    # Trust unambiguous content over a misleading extension.
    if head.startswith(b"PAR1") and ext not in PARQUET_EXTENSIONS:
        ext = ".parquet"
    elif head.startswith(b"PK\x03\x04") and ext in CSV_EXTENSIONS | JSON_EXTENSIONS | JSONL_EXTENSIONS:
        ext = ".xlsx"
    elif head.startswith(b"\xd0\xcf\x11\xe0") and ext in CSV_EXTENSIONS:
        ext = ".xls"

    if ext in CSV_EXTENSIONS:
        return _read_csv(path, matcher)
    if ext in EXCEL_EXTENSIONS:
        return _read_excel(path, matcher)
    if ext in JSON_EXTENSIONS:
        return _read_json(path, matcher, lines=False)
    if ext in JSONL_EXTENSIONS:
        return _read_json(path, matcher, lines=True)
    if ext in PARQUET_EXTENSIONS:
        return _read_parquet(path, matcher)
    raise UnusableFile(path, f"unsupported format '{ext or '(no extension)'}' (expected .csv, .txt, .xlsx, .json, .jsonl or .parquet)")


# ------------------------------------------------------------------------ assembly


def _assemble_kept(
    path: Path,
    fmt: str,
    kept: pl.DataFrame,
    kept_fields: list[str],
    kept_headers: list[str],
    dropped: list[str],
    row_numbers: pl.Series,
    *,
    totals_mask: pl.Series | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> RawTable:
    """``kept`` holds the surviving columns positionally (text), ``kept_fields`` their
    canonical field. Coalesce duplicate fields in order, drop empty/totals rows."""
    kept = kept.rename({old: f"__c{i}" for i, old in enumerate(kept.columns)})
    by_field: dict[str, list[int]] = {}
    for i, fld in enumerate(kept_fields):
        by_field.setdefault(fld, []).append(i)
    columns = {
        fld: [kept_headers[i] for i in idx] for fld, idx in by_field.items()
    }
    # One query per file (a file has a few hundred rows: the fixed cost of a query,
    # not the rows, is what a file costs).
    cleaned = [_cleaned_column(i) for i in range(kept.width)]
    exprs = [
        pl.coalesce([pl.col(f"__c{i}") for i in idx]).cast(pl.Utf8).alias(fld)
        for fld, idx in by_field.items()
    ]
    lazy = kept.lazy().select(cleaned).select(exprs) if exprs else pl.LazyFrame()
    lazy = lazy.with_columns(row_numbers.cast(pl.Int64).alias("source_row"))
    keep = pl.any_horizontal([pl.col(fld).is_not_null() for fld in by_field]) if by_field else pl.lit(False)
    if totals_mask is not None:
        lazy = lazy.with_columns(totals_mask.alias("__totals"))
        keep = keep & ~pl.col("__totals")
    frame = lazy.filter(keep).drop("__totals", strict=False).collect()
    ordered = [f for f in CANONICAL_FIELDS if f in frame.columns] + ["source_row"]
    frame = frame.select(ordered)
    return RawTable(
        frame=frame,
        rows_read=frame.height,
        dropped_columns=dropped,
        format=fmt,
        x_mark_columns=x_mark_columns(frame),
        columns=columns,
        encoding=encoding,
        sheet=sheet,
    )


@lru_cache(maxsize=256)
def _cleaned_column(i: int) -> pl.Expr:
    """``__c{i}`` cleaned (built once: building expressions costs as much as running
    them on a file's few hundred rows)."""
    return _cleaned_cell(pl.col(f"__c{i}")).alias(f"__c{i}")


def _cleaned_cell(cell: pl.Expr) -> pl.Expr:
    """Text cut to MAX_CELL_CHARS, then cleaned (normalise.clean_text_expr)."""
    text = cell.cast(pl.Utf8)
    return clean_text_expr(pl.when(text.str.len_bytes() > MAX_CELL_CHARS).then(text.str.slice(0, MAX_CELL_CHARS)).otherwise(text))


def _plan(
    path: Path,
    headers: list[object],
    matcher: HeaderMatcher,
) -> tuple[list[int], list[str], list[str], list[str]]:
    """Positions to keep, their fields, their header names, dropped header names.
    Raises UnusableFile when a required column is missing."""
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
    missing = _missing(kept_fields)
    if missing:
        # Header names may be shown, but a row that matched almost nothing may be a
        # data row of a headerless file: then show nothing of it.
        shown = (
            [" ".join(unicodedata.normalize("NFC", str(h)).split()) for h in headers if h is not None and str(h).strip()]
            if len(set(kept_fields)) >= 2
            else []
        )
        raise UnusableFile(path, "the header lacks required columns", missing, shown)
    return positions, kept_fields, kept_headers, dropped


def _totals_mask(df: pl.DataFrame) -> pl.Series:
    """Rows whose first non-empty cell says they are totals ("Tổng cộng", "Cộng")."""
    if df.width == 0:
        return pl.Series([False] * df.height, dtype=pl.Boolean)
    stripped = [pl.col(c).cast(pl.Utf8).str.strip_chars() for c in df.columns]
    lead = df.select(stripped[0].alias("first"))
    if (lead.get_column("first").str.len_bytes().fill_null(0).min() or 0) > 0:
        first = pl.col("first")  # the first column is filled on every row (an STT column)
    else:
        lead, first = df, pl.coalesce([pl.when(e.str.len_chars() > 0).then(e) for e in stripped])
    cand = (
        lead.select(first.alias("first"))
        .with_row_index("__i")
        # cheap pre-filter: every totals word starts with one of these letters
        .filter(pl.col("first").str.contains(r"^[TtCcGgSs]"))
    )
    if cand.height == 0:
        return pl.Series([False] * df.height, dtype=pl.Boolean)
    hits = cand.filter(key_expr(pl.col("first")).str.contains(_TOTALS)).get_column("__i")
    return pl.Series(range(df.height)).is_in(hits.cast(pl.Int64).implode()).cast(pl.Boolean)


# ----------------------------------------------------------------------------- CSV


# C0 control characters that never occur in a text export (tab, line breaks, form
# feed and the DOS end-of-file mark may).
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1A))


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        enc, body = "utf-8", data[3:]
    elif data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        enc, body = "utf-16", data
    else:
        sample = data[:4096]
        enc, body = "", data
        if sample.count(b"\x00") * 4 >= len(sample) and len(sample) >= 4:
            # BOM-less UTF-16: ASCII characters leave every other byte zero.
            even_zero = sample[0::2].count(0)
            odd_zero = sample[1::2].count(0)
            enc = "utf-16-le" if odd_zero > even_zero else "utf-16-be"
        else:
            head = data[:65536]
            controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
            if b"\x00" in head or controls * 100 > len(head):
                raise UnusableFile(path, "not a table: the content is binary, not text")
    if enc:
        try:
            text = body.decode(enc)
        except UnicodeDecodeError:
            raise UnusableFile(path, f"unreadable encoding (looks like {enc.upper()} but is not valid)") from None
    else:
        try:
            text, enc = body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, enc = body.decode("cp1258"), "windows-1258"
            except UnicodeDecodeError:
                raise UnusableFile(path, "unreadable encoding (neither UTF-8, UTF-16 nor Windows-1258)") from None
    if "\x00" in text:
        raise UnusableFile(path, "not a text table (binary content)")
    return text, enc


class _LineCounter:
    """Feeds csv.reader line by line while counting consumed characters."""

    def __init__(self, text: str) -> None:
        self._lines = io.StringIO(text, newline="")
        self.consumed = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            self.consumed += len(line)
            yield line


def _cell(c: object) -> str:
    return "" if c is None else " ".join(str(c).split())


def _best_header(records: list[list[object]], matcher: HeaderMatcher) -> tuple[int, int, int, list[str] | None]:
    """(score, width, index of the header's last row, header cells) of the row that
    names the most canonical fields. A two-row header (a merged group cell such as
    ``Ngày`` above ``Tiếp nhận`` / ``Hẹn trả``) is read as ``Ngày Tiếp nhận`` ..."""
    best: tuple[int, int, int, list[str] | None] = (0, 0, -1, None)
    previous: list[str] = []
    for idx, record in enumerate(records):
        # data rows follow the header: once one is found, a few rows past it are
        # enough (matching every data cell against the aliases is what costs)
        if best[3] is not None and idx > best[2] + HEADER_LOOKAHEAD_ROWS:
            break
        cells = [_cell(c) for c in record]
        candidates = [cells]
        if previous and any(previous):
            upper: list[str] = []
            last = ""
            for i in range(len(cells)):
                up = previous[i] if i < len(previous) else ""
                last = up or (last if cells[i] else "")
                upper.append(up or last)
            combined = []
            for up, low in zip(upper, cells):
                both = f"{up} {low}".strip() if up and low else (up or low)
                if matcher(both):
                    combined.append(both)
                elif low and matcher(low):
                    combined.append(low)
                else:
                    combined.append(both)
            candidates.append(combined)
        for cand in candidates:
            score = len(_row_fields(cand, matcher))
            width = sum(1 for c in cand if c)
            if score > 0 and (score, width) > best[:2]:
                best = (score, width, idx, cand)
        previous = cells
    return best


def _scan_header(text: str, sep: str, matcher: HeaderMatcher) -> tuple[int, int, int, list[str] | None]:
    """(score, width, char offset of the data after the header, header cells)."""
    counter = _LineCounter(text)
    reader = csv.reader(counter, delimiter=sep, quotechar='"')
    records: list[list[str]] = []
    offsets: list[int] = []
    try:
        for record in itertools.islice(reader, HEADER_SEARCH_ROWS):
            records.append(record)
            offsets.append(counter.consumed)
    except csv.Error:
        pass
    score, width, idx, header = _best_header(records, matcher)
    if header is None:
        return (0, 0, 0, None)
    return (score, width, offsets[idx], header)


def _numbering_row(df: pl.DataFrame) -> pl.Series:
    """True for a first data row that only numbers the columns: (1) (2) (3) ..."""
    mask = [False] * df.height
    if df.height and df.width:
        first = df.head(1).select(pl.all().cast(pl.Utf8).str.slice(0, 32))
        cells = [_cell(c) for c in first.row(0)]
        filled = [c for c in cells if c]
        if len(filled) >= 3 and all(re.fullmatch(r"\(?\d{1,3}\)?", c) for c in filled):
            mask[0] = True
    return pl.Series(mask, dtype=pl.Boolean)


def _read_csv(path: Path, matcher: HeaderMatcher) -> RawTable:
    try:
        data = path.read_bytes()
    except OSError:
        raise UnusableFile(path, "the file cannot be read") from None
    text, encoding = _decode(path, data)
    del data
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    sample = text[:1_000_000]
    best: tuple[int, int, int, list[str] | None, str] = (0, 0, 0, None, ",")
    for sep in (",", ";", "\t", "|"):
        if best[0] >= 2 and sep not in sample:
            continue  # every row one cell: at most one field, cannot win
        score, width, offset, header = _scan_header(sample, sep, matcher)
        if (score, width) > best[:2]:
            best = (score, width, offset, header, sep)
    score, _, offset, header, sep = best
    if not header:
        raise UnusableFile(path, "no recognisable header row (not a dossier table)")
    positions, kept_fields, kept_headers, dropped = _plan(path, header, matcher)
    body = text[offset:]
    del text
    if not body.strip():
        kept = pl.DataFrame({f"__p{i}": pl.Series([], dtype=pl.Utf8) for i in positions})
        totals = pl.Series([], dtype=pl.Boolean)
        rows = pl.Series([], dtype=pl.Int64)
    else:
        read_cols = list(range(len(header)))
        try:
            df = _polars_csv(body, sep, len(header), read_cols)
        except UnusableFile:
            raise
        except Exception:
            raise UnusableFile(path, "the table cannot be parsed as CSV (corrupt or ragged beyond repair)") from None
        cols = df.columns  # same order as read_cols
        pos_to_col = dict(zip(read_cols, cols))
        rows = pl.Series(range(1, df.height + 1), dtype=pl.Int64)
        # A totals row names itself in its first non-empty cell (often a dropped STT column).
        totals = _totals_mask(df) | _numbering_row(df)
        kept = df.select([pl.col(pos_to_col[p]).alias(f"__p{p}") for p in positions])
    return _assemble_kept(
        path, "csv", kept, kept_fields, kept_headers, dropped, rows,
        totals_mask=totals, encoding=encoding,
    )


def _polars_csv(body: str, sep: str, width: int, read_cols: list[int]) -> pl.DataFrame:
    names = [f"column_{i}" for i in range(width)]
    df = pl.read_csv(
        io.BytesIO(body.encode("utf-8")),
        has_header=False,
        separator=sep,
        quote_char='"',
        infer_schema=False,
        truncate_ragged_lines=True,
        new_columns=names,
        schema={n: pl.Utf8 for n in names},
    )
    return df.select([pl.col(names[i]) for i in read_cols])


# --------------------------------------------------------------------------- Excel


_CORRUPT_SHEET = "not a readable spreadsheet (corrupt or wrong format)"
# A worksheet cell that holds something: <c r="B7" ...> not closed by "/>" (a
# formatted empty cell, <c r="B7" s="3"/>, is skipped by the reader).
_ATTRS = rb"""(?:[ \t\r\n]+[A-Za-z0-9_:.-]+[ \t\r\n]*=[ \t\r\n]*(?:"[^"]*"|'[^']*'))*[ \t\r\n]*>"""
_ANY_VALUED_CELL = re.compile(rb' r="([A-Z]{1,4})([0-9]{1,9})"' + _ATTRS)


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _column_letters(n: int) -> str:
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _greater(text: str, alphabet: str, longest: int) -> str:
    """Regex alternatives for the strings of ``alphabet`` (ordered, no leading first
    symbol) that sort after ``text`` as numbers/columns do: longer, or as long and
    lexically greater."""
    first, last = alphabet[0], alphabet[-1]
    lead = alphabet[1:] if alphabet == "0123456789" else alphabet
    alts = []
    if len(text) < longest:
        alts.append(f"[{lead[0]}-{lead[-1]}][{first}-{last}]{{{len(text)},{longest - 1}}}")
    for i, ch in enumerate(text):
        if ch != last:
            nxt = alphabet[alphabet.index(ch) + 1]
            alts.append(f"{re.escape(text[:i])}[{nxt}-{last}][{first}-{last}]{{{len(text) - i - 1}}}")
    return "|".join(alts) or "(?!)"


@lru_cache(maxsize=4096)
def _beyond(max_col: int, max_row: int) -> str:
    """Regex: a valued cell in a column after ``max_col`` or a row after ``max_row``."""
    cols = _greater(_column_letters(max_col), "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4) if max_col else "[A-Z]{1,4}"
    rows = _greater(str(max_row), "0123456789", 9) if max_row else "[0-9]{1,9}"
    return rf' r="(?:(?P<c>{cols})[0-9]{{1,9}}|[A-Z]{{1,4}}(?P<r>{rows}))"' + _ATTRS.decode()


def _last_valued_row(chunk: bytes) -> int:
    end = len(chunk)
    while end > 0:
        start = max(0, end - 65536)
        last = None
        for last in _ANY_VALUED_CELL.finditer(chunk, start, end):
            pass
        if last is not None:
            return int(last.group(2))
        end = start
    return 0


def sheet_extent(stream) -> tuple[int, int]:
    """(last row, last column) of the cells holding a value in a worksheet's XML.

    Read in chunks of 4 MB. Rows are in ascending order in a well-formed sheet, so
    the last valued cell of a chunk gives its last row; then one (Rust) regex scan of
    the chunk looks for any valued cell beyond the extent found so far (a later
    column, or a row out of order), and only such cells are looked at in Python."""
    max_row = max_col = 0
    carry = b""
    while True:
        block = stream.read(1 << 22)
        data = carry + block
        if not data:
            break
        cut = data.rfind(b"<") if block else len(data)
        if cut <= 0:
            carry = data
            continue
        chunk, carry = data[:cut], data[cut:]
        max_row = max(max_row, _last_valued_row(chunk))
        try:  # bytes to Polars text without a Python str in between
            text = pl.DataFrame({"t": pl.Series([chunk], dtype=pl.Binary)}).select(pl.col("t").cast(pl.Utf8))
        except pl.exceptions.PolarsError:  # not UTF-8: look at it with replacement characters
            text = pl.DataFrame({"t": [chunk.decode("utf-8", errors="replace")]})
        while True:
            pattern = _beyond(max_col, max_row)
            if not text.select(pl.col("t").str.contains(pattern)).item():
                break
            c, r = text.select(pl.col("t").str.extract_groups(pattern).struct.unnest()).row(0)
            if c is not None:
                max_col = _column_number(c)
            elif r is not None:
                max_row = int(r)
            else:
                break
        if not block:
            break
    return max_row, max_col


def _ooxml_sheet_parts(zf) -> dict[str, str]:
    """Sheet name -> its worksheet part in an .xlsx/.xlsm package."""
    import posixpath
    import xml.etree.ElementTree as ET

    names = set(zf.namelist())
    book = "xl/workbook.xml"
    if book not in names:
        book = next((n for n in sorted(names) if n.endswith("workbook.xml")), None)
        if book is None:
            return {}
    folder = posixpath.dirname(book)
    rels_name = posixpath.join(folder, "_rels", posixpath.basename(book) + ".rels")
    targets: dict[str, str] = {}
    if rels_name in names:
        for el in ET.fromstring(zf.read(rels_name)).iter():
            if el.tag.rsplit("}", 1)[-1] == "Relationship" and el.get("Id") and el.get("Target"):
                target = el.get("Target")
                part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
                targets[el.get("Id")] = part
    parts: dict[str, str] = {}
    for el in ET.fromstring(zf.read(book)).iter():
        if el.tag.rsplit("}", 1)[-1] != "sheet":
            continue
        rid = next((v for k, v in el.attrib.items() if k.rsplit("}", 1)[-1] == "id"), None)
        if el.get("name") is not None and rid in targets:
            parts[el.get("name")] = targets[rid]
    return parts


def _check_sheet_size(path: Path, label: str, part: str, zf) -> None:
    """Raise UnusableFile when loading this worksheet part would allocate beyond
    MAX_SHEET_CELLS cells."""
    import zipfile
    import zlib

    try:
        info = zf.getinfo(part)
        if info.file_size > MAX_SHEET_XML_BYTES:
            raise UnusableFile(path, f"{label} is too large to read safely ({info.file_size:,} bytes of XML)")
        with zf.open(info) as stream:
            rows, cols = sheet_extent(stream)
    except (KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, ValueError):
        raise UnusableFile(path, _CORRUPT_SHEET) from None
    if rows * cols > MAX_SHEET_CELLS:
        raise UnusableFile(
            path,
            f"{label} is too large to read safely: it has a value in cell "
            f"{_column_letters(cols)}{rows}, so it spans {rows:,} rows × {cols:,} columns "
            f"(limit {MAX_SHEET_CELLS:,} cells); delete the stray cells outside the table and save it again",
        )


def _read_excel(path: Path, matcher: HeaderMatcher) -> RawTable:
    import zipfile

    import fastexcel

    try:
        reader = fastexcel.read_excel(str(path))
        sheet_names = list(reader.sheet_names)
    except Exception:
        raise UnusableFile(path, _CORRUPT_SHEET) from None
    if not zipfile.is_zipfile(path):  # .xls / .xlsb: no guard
        return _read_sheets(path, matcher, reader, sheet_names, lambda position, name: None)
    try:
        package = zipfile.ZipFile(path)
    except Exception:
        raise UnusableFile(path, _CORRUPT_SHEET) from None
    with package:
        try:
            parts = _ooxml_sheet_parts(package)
        except Exception:
            parts = {}
        if not parts:  # an odd package (or .ods): check every worksheet part up front
            for part in sorted(n for n in package.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")):
                _check_sheet_size(path, f"the worksheet {part}", part, package)

        def check(position: int, name: str) -> None:
            if name in parts:
                _check_sheet_size(path, f"sheet {position} ('{name}')", parts[name], package)

        return _read_sheets(path, matcher, reader, sheet_names, check)


def _read_sheets(path: Path, matcher: HeaderMatcher, reader, sheet_names: list[str], check) -> RawTable:
    first_incomplete: UnusableFile | None = None
    for position, name in enumerate(sheet_names, start=1):
        check(position, name)
        try:
            df = reader.load_sheet(name, header_row=None, dtypes="string").to_polars()
        except Exception:
            continue
        if df.height == 0 or df.width == 0:
            continue
        head_rows = df.head(HEADER_SEARCH_ROWS).rows()
        _, _, header_idx, header = _best_header([list(r) for r in head_rows], matcher)
        if header is None:
            continue
        try:
            positions, kept_fields, kept_headers, dropped = _plan(path, header, matcher)
        except UnusableFile as exc:
            first_incomplete = first_incomplete or exc
            continue
        body = df.slice(header_idx + 1)
        del df
        cols = body.columns
        rows = pl.Series(range(1, body.height + 1), dtype=pl.Int64)
        totals = _totals_mask(body) | _numbering_row(body)
        kept = body.select([pl.col(cols[p]).cast(pl.Utf8).alias(f"__p{p}") for p in positions])
        del body
        return _assemble_kept(
            path, "xlsx", kept, kept_fields, kept_headers, dropped, rows,
            totals_mask=totals, sheet=name,
        )
    if first_incomplete is not None:
        raise first_incomplete
    raise UnusableFile(path, "no sheet has a recognisable header row (not a dossier table)")


# ---------------------------------------------------------------------------- JSON


def _read_json(path: Path, matcher: HeaderMatcher, *, lines: bool) -> RawTable:
    """The records are parsed once by ``json`` (C) to learn their keys and check that
    they are objects; the kept keys' values are then read by Polars from the text
    itself (JSON Lines: the non-blank lines joined as one array; each record keeps
    its line number)."""
    fmt = "jsonl" if lines else "json"
    what = "JSON Lines" if lines else "JSON"
    try:
        data = path.read_bytes()
    except OSError:
        raise UnusableFile(path, "the file cannot be read") from None
    text, encoding = _decode(path, data)
    del data
    if not text.strip():
        raise UnusableFile(path, f"the file is empty (no {what} records)")
    numbered: pl.DataFrame | None = None
    if lines:
        numbered = (
            pl.DataFrame({"line": [text]})
            .select(pl.col("line").str.replace_all("\r\n?", "\n").str.split("\n"))
            .explode("line")
            .with_row_index("n", offset=1)
            .filter(pl.col("line").str.strip_chars().str.len_chars() > 0)
        )
        del text
        source = "[" + numbered.get_column("line").str.join(",").item() + "]"
    else:
        source = text
        del text
    try:
        doc = json.loads(source)
    except (ValueError, RecursionError):
        raise UnusableFile(path, f"not valid {what}") from None
    if isinstance(doc, dict) and not lines:
        # Be generous with a wrapper object holding the array ({"data": [...]}).
        arrays = [v for v in doc.values() if isinstance(v, list)]
        doc = arrays[0] if len(arrays) == 1 else None
        if doc is not None:
            source = json.dumps(doc, ensure_ascii=False)
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        # (never take the keys of anything but objects: a list's items are values)
        raise UnusableFile(path, "not a table (expected an array of objects)" if not lines else "not a table (expected one JSON object per line)")
    keys = list(dict.fromkeys(itertools.chain.from_iterable(doc)))
    height = len(doc)
    del doc
    if not keys:
        raise UnusableFile(path, "no recognisable header (no keys in the records)")
    positions, kept_fields, kept_headers, dropped = _plan(path, keys, matcher)
    kept_keys = list(dict.fromkeys(keys[p] for p in positions))
    schema = {k: pl.Utf8 for k in kept_keys}
    try:
        frame = pl.read_json(io.BytesIO(source.encode("utf-8")), schema=schema)
        del source
    except Exception:  # never show Polars' message: it quotes the value
        raise UnusableFile(path, "not a table (expected flat objects: a value of a kept field is itself an object or a list)") from None
    if numbered is not None:  # one record per non-blank line, in order
        row_numbers = numbered.get_column("n").cast(pl.Int64)
    else:
        row_numbers = pl.Series(range(1, frame.height + 1), dtype=pl.Int64)
    if frame.height != height or frame.height != row_numbers.len():
        raise UnusableFile(path, f"not a table (expected one object per {'line' if lines else 'record'})")
    kept = frame.select([pl.col(keys[p]).alias(f"__p{i}") for i, p in enumerate(positions)])
    return _assemble_kept(path, fmt, kept, kept_fields, kept_headers, dropped, row_numbers, encoding=encoding)


# ------------------------------------------------------------------------- Parquet


def _as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Type-aware text: whole floats without ``.0``, dates ISO, tz-aware -> local."""
    if dtype == pl.Utf8:
        return expr
    if dtype == pl.Boolean:
        return pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false"))
    if dtype.is_integer():
        return expr.cast(pl.Utf8)
    if dtype.is_float():
        whole = (expr == expr.round(0)) & (expr.abs() < 1e15)
        return pl.when(whole).then(expr.cast(pl.Int64, strict=False).cast(pl.Utf8)).otherwise(expr.cast(pl.Utf8))
    if isinstance(dtype, pl.Datetime):
        e = expr
        if dtype.time_zone is not None:
            e = e.dt.convert_time_zone(LOCAL_TZ).dt.replace_time_zone(None)
        return e.dt.to_string("%Y-%m-%d %H:%M:%S%.f")
    if dtype == pl.Date:
        return expr.dt.to_string("%Y-%m-%d")
    if isinstance(dtype, (pl.Categorical, pl.Enum)) or isinstance(dtype, pl.Decimal):
        return expr.cast(pl.Utf8)
    return pl.lit(None, dtype=pl.Utf8)


def _read_parquet(path: Path, matcher: HeaderMatcher) -> RawTable:
    try:
        schema = pl.read_parquet_schema(path)
    except Exception:
        raise UnusableFile(path, "not a readable Parquet file (corrupt or wrong format)") from None
    names = list(schema.keys())
    if not names:
        raise UnusableFile(path, "no recognisable header (no columns)")
    positions, kept_fields, kept_headers, dropped = _plan(path, names, matcher)
    kept_names = [names[p] for p in positions]
    try:
        df = pl.read_parquet(path, columns=list(dict.fromkeys(kept_names)))
    except Exception:
        raise UnusableFile(path, "not a readable Parquet file (corrupt)") from None
    kept = df.select([_as_text(pl.col(n), schema[n]).alias(f"__p{i}") for i, n in enumerate(kept_names)])
    rows = pl.Series(range(1, df.height + 1), dtype=pl.Int64)
    return _assemble_kept(path, "parquet", kept, kept_fields, kept_headers, dropped, rows)
