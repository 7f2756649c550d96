"""Which reader reads a file, decided by its content (magic bytes, then how its text
starts), never by its name: a web screen's "Excel" export is an HTML page named
``.xls``, a sync payload may be named ``.txt``. A new format is one new module with
a ``read_*`` function and one line in FORMATS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from transforms.readers.aliases import ALIASES_PATH, HeaderMatcher, load_aliases, shared_matcher
from transforms.readers.assemble import Body, finish
from transforms.readers.csv import read_csv
from transforms.readers.html import read_html
from transforms.readers.json import read_json
from transforms.readers.mapping import SourceMapping, as_mapping
from transforms.readers.parquet import MAGIC as PARQUET_MAGIC, read_parquet
from transforms.readers.table import RawTable, UnusableFile
from transforms.readers.text import head_text
from transforms.readers.xls import MAGIC as BIFF_MAGIC, read_xls
from transforms.readers.xlsx import MAGIC as ZIP_MAGIC, read_xlsx

# Names a table export is given; only used to word the message for a file whose
# content is certainly not a table.
TABLE_EXTENSIONS = {
    ".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".xlsb", ".ods",
    ".json", ".jsonl", ".ndjson", ".parquet", ".pq", ".html", ".htm",
}

# Content that is certainly not a table, whatever the file is called.
NOT_TABLES: tuple[tuple[bytes, str], ...] = (
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

HEAD_BYTES = 4096


@dataclass(frozen=True)
class Format:
    name: str
    # (the first bytes, the same as text) -> whether this reader takes the file
    detect: Callable[[bytes, str], bool]
    read: Callable[[Path, HeaderMatcher, SourceMapping | None], Body]


# Tried in order; the last one takes any text.
FORMATS: tuple[Format, ...] = (
    Format("parquet", lambda head, text: head.startswith(PARQUET_MAGIC), read_parquet),
    Format("xlsx", lambda head, text: head.startswith(ZIP_MAGIC), read_xlsx),
    Format("xls", lambda head, text: head.startswith(BIFF_MAGIC), read_xls),
    Format("html", lambda head, text: text.lstrip().startswith("<"), read_html),
    Format("json", lambda head, text: text.lstrip()[:1] in ("[", "{"), read_json),
    Format("csv", lambda head, text: True, read_csv),
)


def _head(path: Path) -> bytes:
    if not path.is_file():
        raise UnusableFile(path, "file not found or not a regular file")
    try:
        with path.open("rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError:
        raise UnusableFile(path, "the file cannot be opened") from None


def detect_format(path: Path) -> Format:
    """The reader of ``path``; UnusableFile when the content is certainly not a table."""
    head = _head(path)
    if not head:
        raise UnusableFile(path, "the file is empty (0 bytes)")
    for magic, what in NOT_TABLES:
        if head.startswith(magic):
            ext = path.suffix.lower()
            if ext in TABLE_EXTENSIONS:
                raise UnusableFile(path, f"not a table: the content is {what}, whatever its name says")
            raise UnusableFile(path, f"unsupported format '{ext or '(no extension)'}': the content is {what}, not a table")
    text = head_text(head)
    return next(f for f in FORMATS if f.detect(head, text))


def format_of(path: Path) -> str | None:
    """The format name of a file, or None when it has none we read (never raises)."""
    try:
        return detect_format(Path(path)).name
    except UnusableFile:
        return None


def read_body(
    path: Path | str,
    mapping: SourceMapping | Mapping[str, str | None] | Path | str | None = None,
    aliases: Path | str | None = None,
) -> Body:
    """Read ``path`` (format by content) as far as its Body, which many files' bodies
    are assembled from at once (assemble.assemble_bodies); raise UnusableFile (the
    file) or MappingError (the mapping). ``aliases``: the header alias table
    (default the shipped config/header_aliases.csv)."""
    path = Path(path)
    source = as_mapping(mapping)
    table = str(aliases or ALIASES_PATH)
    if source is not None and source.columns:
        matcher = HeaderMatcher(load_aliases(table), source.columns)
    else:
        matcher = shared_matcher(table)
    return detect_format(path).read(path, matcher, source)


def read_table(
    path: Path | str,
    mapping: SourceMapping | Mapping[str, str | None] | Path | str | None = None,
    aliases: Path | str | None = None,
) -> RawTable:
    """Read ``path`` (format by content) to a RawTable; raise UnusableFile (the file)
    or MappingError (the mapping). ``aliases``: the header alias table (default the
    shipped config/header_aliases.csv)."""
    return finish(read_body(path, mapping, aliases))
