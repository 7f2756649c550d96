"""JSON: an array of objects, JSON Lines (one object per line), a wrapper object
holding the array, and the national sync format (dossier-log.md, Real exports): the
``DongBoHoSoMC`` envelope ``{"session", "madonvi", "service", "isUpdating",
"data": [...]}`` or its bare ``data`` array. Nested lists of an item (documents,
fees) are dropped with every other key that is not a field."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import polars as pl

from transforms.normalise import normalise_key
from transforms.readers.aliases import HeaderMatcher
from transforms.readers.assemble import Body, assemble
from transforms.readers.header import Plan, plan_columns
from transforms.readers.mapping import SourceMapping
from transforms.readers.table import MAX_HEADER_CHARS, UnusableFile
from transforms.readers.text import decode, read_bytes

# Envelope keys naming the unit of every item that names none (the request's
# `madonvi`; S3's `MaDinhDanhDV` travels in a query string, the same code).
ENVELOPE_UNIT_KEYS = {"madonvi", "ma_don_vi", "madinhdanhdv", "madinhdanh", "ma_dinh_danh"}
ENVELOPE_DATA_KEYS = {"data"}


def _lines(text: str) -> pl.DataFrame:
    """The non-blank lines of a JSON Lines text, with their line numbers."""
    return (
        pl.DataFrame({"line": [text]})
        .select(pl.col("line").str.replace_all("\r\n?", "\n").str.split("\n"))
        .explode("line")
        .with_row_index("n", offset=1)
        .filter(pl.col("line").str.strip_chars().str.len_chars() > 0)
    )


def _unit_of(envelope: dict) -> str | None:
    for key, value in envelope.items():
        if normalise_key(key) in ENVELOPE_UNIT_KEYS and isinstance(value, (str, int)) and not isinstance(value, bool):
            text = " ".join(str(value).split())
            if text and len(text) <= MAX_HEADER_CHARS:
                return text
    return None


def _records(doc: object) -> tuple[object, str | None]:
    """(the records, the envelope's unit) of a parsed document."""
    if not isinstance(doc, dict):
        return doc, None
    data = [v for k, v in doc.items() if normalise_key(k) in ENVELOPE_DATA_KEYS and isinstance(v, list)]
    if len(data) == 1:
        return data[0], _unit_of(doc)
    arrays = [v for v in doc.values() if isinstance(v, list)]
    if len(arrays) == 1:  # a wrapper object holding the array ({"items": [...]})
        return arrays[0], _unit_of(doc)
    return [doc], None  # one record: a JSON Lines file of one line


def read_json(path: Path, matcher: HeaderMatcher, mapping: SourceMapping | None) -> Body:
    """The records are parsed once by ``json`` (C) to learn their keys and check that
    they are objects; the kept keys' values are then read by Polars from the text
    (JSON Lines: the non-blank lines joined as one array; each record keeps its
    line number)."""
    text, encoding = decode(path, read_bytes(path))
    if not text.strip():
        raise UnusableFile(path, "the file is empty (no JSON records)")
    numbered: pl.DataFrame | None = None
    envelope_unit: str | None = None
    try:
        doc = json.loads(text)
        source = text
    except (ValueError, RecursionError):
        doc = None
    if doc is None:  # JSON Lines
        numbered = _lines(text)
        del text
        source = "[" + numbered.get_column("line").str.join(",").item() + "]"
        try:
            doc = json.loads(source)
        except (ValueError, RecursionError):
            raise UnusableFile(path, "not valid JSON") from None
        if not all(isinstance(r, dict) for r in doc):
            raise UnusableFile(path, "not a table (expected one JSON object per line)")
    else:
        del text
        records, envelope_unit = _records(doc)
        if records is not doc:
            doc = records
            source = json.dumps(doc, ensure_ascii=False)
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        # (never take the keys of anything but objects: a list's items are values)
        raise UnusableFile(path, "not a table (expected an array of objects)")
    fmt = "jsonl" if numbered is not None else "json"
    keys = list(dict.fromkeys(itertools.chain.from_iterable(doc)))
    height = len(doc)
    del doc
    if not height:  # a sync with nothing to send ({"data": []}): read, with no row
        return assemble(path, fmt, pl.DataFrame(), Plan([], [], [], []), pl.Series([], dtype=pl.Int64),
                        mapping=mapping, unit_hints=[envelope_unit] if envelope_unit else [], unit_declared=True,
                        encoding=encoding)
    if not keys:
        raise UnusableFile(path, "no recognisable header (no keys in the records)")
    unit_given = bool(envelope_unit) or bool(mapping and mapping.unit)
    plan = plan_columns(path, keys, matcher, unit_given=unit_given)
    kept_keys = list(dict.fromkeys(keys[p] for p in plan.positions))
    try:
        frame = pl.read_json(io.BytesIO(source.encode("utf-8")), schema={k: pl.Utf8 for k in kept_keys})
        del source
    except Exception:  # never show Polars' message: it quotes the value
        raise UnusableFile(path, "not a table (expected flat objects: a value of a kept field is itself an object or a list)") from None
    if numbered is not None:  # one record per non-blank line, in order
        row_numbers = numbered.get_column("n").cast(pl.Int64)
    else:
        row_numbers = pl.Series(range(1, frame.height + 1), dtype=pl.Int64)
    if frame.height != height or frame.height != row_numbers.len():
        raise UnusableFile(path, f"not a table (expected one object per {'line' if numbered is not None else 'record'})")
    kept = frame.select([pl.col(keys[p]).alias(f"__p{i}") for i, p in enumerate(plan.positions)])
    return assemble(
        path, fmt, kept, plan, row_numbers, mapping=mapping,
        unit_hints=[envelope_unit] if envelope_unit else [], unit_declared=True, encoding=encoding,
    )
