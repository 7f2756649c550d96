"""Header cell -> canonical field: the shipped alias table (config/header_aliases.csv)
and a per-source mapping's columns on top of it."""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from config import config_path
from transforms.normalise import normalise_key
from transforms.readers.table import MAX_HEADER_CHARS
from transforms.schema import READ_FIELDS

ALIASES_PATH = config_path("header_aliases.csv")

# A mapping value that means "drop this column even if an alias matches it".
IGNORE = {"", "-", "ignore", "drop", "none", "skip"}

_MATCHER_CACHE_MAX = 200_000
_LETTER = re.compile(r"[^\W\d_]")
# the last character that is not a separator (what a key ends with) is a digit
_DIGIT_END = re.compile(r"\d[\W_]*\Z")
# a bracketed remark such as "(dd/mm/yyyy)", or a required-field star
_REMARK = re.compile(r"\([^)]*\)|\[[^\]]*\]|\*")

# Headers whose values are never read, whatever an alias or a mapping says: free-text
# summaries carry applicants' names, the officer's name is personal, DinhDanhCHS
# holds identity numbers (dossier-log.md, Real exports).
NEVER_READ = frozenset(
    k.replace("_", "")
    for k in map(normalise_key, (
        "TrichYeuHoSo", "Trích yếu", "Trích yếu hồ sơ", "Nội dung hồ sơ", "Nội dung",
        "Người nhận hồ sơ", "Người tiếp nhận", "Cán bộ tiếp nhận", "TenCanBoTiepNhan", "TenNguoiNhanHoSo",
        "DinhDanhCHS", "SoDinhDanh", "SoGiayToChuHoSo",
    ))
)


def never_read(text: str) -> bool:
    return normalise_key(text).replace("_", "") in NEVER_READ


@lru_cache(maxsize=4)
def _alias_table(path: str) -> dict[str, str]:
    table: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            fld = (row.get("field") or "").strip()
            alias = row.get("alias") or ""
            if fld in READ_FIELDS and alias.strip() and not never_read(alias):
                table.setdefault(normalise_key(alias), fld)
    for fld in READ_FIELDS:  # canonical names always match
        table[normalise_key(fld)] = fld
    return table


def load_aliases(path: Path | str | None = None) -> dict[str, str]:
    """Normalised header key -> field: ``config/header_aliases.csv``, with the office's
    own table ``path`` (same columns) applied over it when another one is named."""
    table = dict(_alias_table(str(ALIASES_PATH)))
    if path is not None and Path(path).resolve() != ALIASES_PATH.resolve():
        table.update(_alias_table(str(path)))
    return table


class HeaderMatcher:
    """Header cell -> field, with a per-source mapping on top of the alias table.
    Lookup order: the mapping, then the alias table, each first by the full key, then
    with a bracketed remark such as ``(dd/mm/yyyy)`` removed; finally the key without
    underscores (``Ma ho so`` = ``MaHoSo``)."""

    def __init__(self, aliases: Mapping[str, str], overrides: Mapping[str, str | None] | None = None) -> None:
        self.aliases = dict(aliases)
        self.overrides = dict(overrides or {})
        self.squashed = {k.replace("_", ""): v for k, v in self.aliases.items()}
        self._cache: dict[str, str | None] = {}
        # Most cells the header search looks at are data (dates, ids, counts, and a
        # header cell joined with the data under it): a text without a letter keys to
        # digits alone, one ending in a digit to a key ending in one, and neither
        # names anything unless some key of the tables is like that.
        keys = (*self.aliases, *self.overrides, *self.squashed)
        self._letterless = any(not _LETTER.search(k) for k in keys)
        self._digit_ending = any(_DIGIT_END.search(k) for k in keys)

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
        if not self._letterless and not _LETTER.search(text):
            return None
        remark = "(" in text or "[" in text or "*" in text
        if not self._digit_ending and not remark and _DIGIT_END.search(text):
            return None
        key = normalise_key(text)
        if not key or key.replace("_", "") in NEVER_READ:
            return None
        candidates = [key]
        if remark:
            stripped = normalise_key(_REMARK.sub(" ", text))
            if stripped and stripped != key:
                candidates.append(stripped)
        for cand in candidates:
            if cand in self.overrides:
                value = self.overrides[cand]
                return None if value is None or value.strip().lower() in IGNORE else value.strip()
        for cand in candidates:
            if cand in self.aliases:
                return self.aliases[cand]
        for cand in candidates:
            if cand.replace("_", "") in self.squashed:
                return self.squashed[cand.replace("_", "")]
        return None


@lru_cache(maxsize=4)
def shared_matcher(aliases_path: str = str(ALIASES_PATH)) -> HeaderMatcher:
    """The matcher of files without a per-source mapping, shared by every read of the
    process: its cache then learns each system's header cells once, not once a file."""
    return HeaderMatcher(load_aliases(aliases_path))


def match_header(header: object, aliases: Mapping[str, str] | None = None, overrides: Mapping[str, str | None] | None = None) -> str | None:
    """Field of one header cell, or None (``overrides``: normalised key -> field, as
    built from a per-source mapping)."""
    return HeaderMatcher(aliases if aliases is not None else load_aliases(), overrides)(header)
