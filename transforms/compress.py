"""Deflate for what the site publishes: the workbooks' zip archives and the
compressed CSVs inside the workbook recipes (`data/<table>-<key>.js`).

Both use ISA-L (python-isal) at its level 1, not zlib: a first build deflates
hundreds of MB, and ISA-L does it several times faster, for workbooks somewhat
larger than zlib's default makes (the measurements and the trade:
docs/site-build.md, "Compression: ISA-L, not zlib"). Every reader inflates them as
any deflate stream.

The archive is written here rather than by `zipfile`, which compresses with zlib
only: plain deflated entries, no extra fields, the fixed 1980-01-01 timestamp, so
the same files give the same bytes.
"""

from __future__ import annotations

import struct

from isal import igzip, isal_zlib

LEVEL = 1
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, 00:00:00 (DOS time 0)
_VERSION = 20  # deflate, no zip64: what zipfile writes for such entries
_MADE_BY = (3 << 8) | _VERSION  # Unix, as zipfile on Linux
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")


def gzip_bytes(data: bytes) -> bytes:
    """`data` as a gzip member with no timestamp (the same data, the same bytes)."""
    return igzip.compress(data, LEVEL, mtime=0)


def _deflate(data: bytes) -> bytes:
    packer = isal_zlib.compressobj(LEVEL, isal_zlib.DEFLATED, -15)  # raw deflate, as zip entries hold
    return packer.compress(data) + packer.flush()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip archive of `files` (name → content, in that order), each entry deflated."""
    if len(files) >= 1 << 16:
        raise ValueError(f"{len(files)} files: too many for a zip archive without zip64")
    parts, central, offset = [], [], 0
    for name, content in files.items():
        raw_name = name.encode("ascii")
        if len(content) >= 1 << 32:
            raise ValueError(f"{name}: too large for a zip archive without zip64")
        packed, crc = _deflate(content), isal_zlib.crc32(content)
        sizes = (crc, len(packed), len(content), len(raw_name))
        parts += [_LOCAL.pack(0x04034B50, _VERSION, 0, 8, 0, _DOS_DATE, *sizes, 0), raw_name, packed]
        central += [_CENTRAL.pack(0x02014B50, _MADE_BY, _VERSION, 0, 8, 0, _DOS_DATE, *sizes, 0, 0, 0, 0, 0, offset),
                    raw_name]
        offset += _LOCAL.size + len(raw_name) + len(packed)
    directory = b"".join(central)
    end = _END.pack(0x06054B50, 0, 0, len(files), len(files), len(directory), offset, 0)
    return b"".join([*parts, directory, end])
