"""An office's settings file over the shipped one, and the table that checks both.

The shipped file in config/ (config/quality.yaml, alerts.yaml, reconcile.yaml) is the
one place every setting's default is written; an office's file, by the path the
deployment gave (pipelines.resources.ScoreboardSettings), names only what it changes
and is merged over it, mapping by mapping. Nothing here reads the environment.

This lives in transforms because every settings loader may import it: quality
imports transforms (quality.settings), and transforms.alerts and transforms.reconcile
are transforms themselves; none of them may import pipelines.
"""

from __future__ import annotations

import copy
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from config import config_path

# What a setting must be: (kind, lowest, highest, may be null). Kinds: "number" (int
# or float), "int", "bool", "text". A rule's path may use * for a name the office chooses.
NUMBER, INT, BOOL, TEXT = "number", "int", "bool", "text"
Rule = tuple[str, float | None, float | None, bool]


def merge(base: Mapping, override: Mapping | None) -> dict:
    """`base` with `override` over it: mappings merged key by key, anything else replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_mapping(path: Path, what: str, error: type[ValueError] = ValueError, *, name: str | None = None) -> dict:
    """A YAML file's top-level mapping (an empty file: {}). Raises `error`, one sentence
    naming the file (`name`, default the path)."""
    where = name or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read the {what} {where}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{where}: not valid YAML{at}") from None
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise error(f"{where}: expected a mapping at the top level")
    return dict(raw)


@lru_cache(maxsize=16)
def _shipped(name: str, stamp: tuple[int, int]) -> dict:
    return read_mapping(config_path(name), f"shipped settings file {name}")


def shipped(name: str) -> dict:
    """The shipped file config/<name>, read once while it is unchanged (a copy)."""
    stat = config_path(name).stat()
    return copy.deepcopy(_shipped(name, (stat.st_mtime_ns, stat.st_size)))


def is_shipped(path: Path | str, name: str) -> bool:
    try:
        return Path(path).resolve() == config_path(name).resolve()
    except OSError:
        return False


def _rule(rules: Mapping[str, Rule], path: str) -> Rule | None:
    return next((rule for pattern, rule in rules.items() if fnmatchcase(path, pattern)), None)


def _is_section(path: str, patterns) -> bool:
    """Some setting's path goes through `path` (a mapping of settings)."""
    depth = path.count(".") + 1
    return any(
        p.count(".") >= depth and fnmatchcase(path, ".".join(p.split(".")[:depth])) for p in patterns
    )


def _what(kind: str, lo, hi, nullable: bool) -> str:
    noun = {NUMBER: "a number", INT: "a whole number", BOOL: "true or false", TEXT: "text"}[kind]
    if lo is not None and hi is not None:
        noun += f" from {lo:g} to {hi:g}"
    elif lo is not None:
        noun += f" of at least {lo:g}"
    elif hi is not None:
        noun += f" of at most {hi:g}"
    return noun + (" (or null)" if nullable else "")


def _valid(value: Any, kind: str, lo, hi, nullable: bool) -> bool:
    if value is None:
        return nullable
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == TEXT:
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if kind == INT and not float(value).is_integer():
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def check(
    where: str,
    node: Mapping,
    rules: Mapping[str, Rule],
    *,
    reader: str,
    open_mappings: tuple[str, ...] = (),
    elsewhere: tuple[str, ...] = (),
    error: type[ValueError] = ValueError,
    prefix: str = "",
) -> None:
    """Raise `error`, one sentence naming `where` and the setting, at the first setting
    that is not what its rule says, or that no rule knows ("is not a setting {reader}").
    `open_mappings`: mappings whose keys are names an office chooses; `elsewhere`:
    settings the caller checks itself (lists of recipients)."""
    for key, value in node.items():
        path = f"{prefix}{key}"
        if path in elsewhere:
            continue
        rule = _rule(rules, path)
        if isinstance(value, Mapping):
            if rule is not None:
                raise error(f"{where}: {path} must be {_what(*rule)}, not a mapping")
            if not _is_section(path, (*rules, *elsewhere)):
                raise error(f"{where}: {path} is not a setting {reader}")
            check(where, value, rules, reader=reader, open_mappings=open_mappings, elsewhere=elsewhere, error=error,
                  prefix=path + ".")
            continue
        if rule is None:
            if prefix.rstrip(".") in open_mappings:
                raise error(f"{where}: {path} must be a mapping of thresholds")
            if any(p.startswith(path + ".") for p in (*rules, *elsewhere)):
                raise error(f"{where}: {path} must be a mapping of settings, not {value!r}")
            raise error(f"{where}: {path} is not a setting {reader}")
        if not _valid(value, *rule):
            raise error(f"{where}: {path} must be {_what(*rule)}, not {value!r}")


def check_complete(where: str, node: Mapping, rules: Mapping[str, Rule], error: type[ValueError] = ValueError) -> None:
    """The shipped file gives every setting a value: raise `error` naming the first it lacks
    (settings under a * are the office's own names and need none)."""
    for path in rules:
        if "*" in path:
            continue
        value: Any = node
        for part in path.split("."):
            if not isinstance(value, Mapping) or part not in value:
                raise error(f"{where}: {path} is missing (the shipped file gives every setting its default)")
            value = value[part]
