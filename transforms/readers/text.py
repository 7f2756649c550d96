"""Bytes -> text for the text formats (CSV, JSON, HTML): BOMs, BOM-less UTF-16,
UTF-8, else Windows-1258; binary content refused."""

from __future__ import annotations

from pathlib import Path

from transforms.readers.table import UnusableFile

# C0 control characters that never occur in a text export (tab, line breaks, form
# feed and the DOS end-of-file mark may).
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1A))


def sniff_encoding(data: bytes) -> tuple[str, int] | None:
    """(encoding, BOM length) when the bytes say so (BOM, or BOM-less UTF-16)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8", 3
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return "utf-16", 0
    sample = data[:4096]
    if len(sample) >= 4 and sample.count(b"\x00") * 4 >= len(sample):
        # BOM-less UTF-16: ASCII characters leave every other byte zero.
        even_zero = sample[0::2].count(0)
        odd_zero = sample[1::2].count(0)
        return ("utf-16-le" if odd_zero > even_zero else "utf-16-be"), 0
    return None


def is_binary(data: bytes) -> bool:
    head = data[:65536]
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return b"\x00" in head or controls * 100 > len(head)


def decode(path: Path, data: bytes) -> tuple[str, str]:
    """(text, encoding name); UnusableFile when the bytes are not text."""
    known = sniff_encoding(data)
    if known is None and is_binary(data):
        raise UnusableFile(path, "not a table: the content is binary, not text")
    if known is not None:
        enc, bom = known
        try:
            text = data[bom:].decode(enc)
        except UnicodeDecodeError:
            raise UnusableFile(path, f"unreadable encoding (looks like {enc.upper()} but is not valid)") from None
    else:
        try:
            text, enc = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, enc = data.decode("cp1258"), "windows-1258"
            except UnicodeDecodeError:
                raise UnusableFile(path, "unreadable encoding (neither UTF-8, UTF-16 nor Windows-1258)") from None
    if "\x00" in text:
        raise UnusableFile(path, "not a text table (binary content)")
    return text, enc


def utf8_bom(data: bytes) -> int | None:
    """The length of the BOM (0 or 3) when `decode` would read `data` as UTF-8 and its
    text has no CR and no NUL: such a file can be parsed from its own bytes, its text
    never made here (checking costs a fraction of decoding and scanning it:
    docs/benchmarks.md). None otherwise: `decode` says what the text is."""
    known = sniff_encoding(data)
    if known not in (None, ("utf-8", 3)) or (known is None and is_binary(data)):
        return None
    bom = known[1] if known else 0
    if b"\x00" in data or b"\r" in data or not _valid_utf8(data, bom):
        return None
    return bom


def _valid_utf8(data: bytes, start: int) -> bool:
    """Whether data[start:] is UTF-8, checked by Arrow over the bytes as they are."""
    import numpy as np
    import pyarrow as pa

    offsets = pa.py_buffer(np.array([0, len(data) - start], dtype=np.int64).tobytes())
    array = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)[start:]])
    try:
        array.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise UnusableFile(path, "the file cannot be read") from None


def head_text(head: bytes) -> str:
    """The first bytes of a file as text, enough to see how it starts."""
    enc, bom = sniff_encoding(head) or ("utf-8", 0)
    return head[bom:].decode(enc, errors="ignore")
