"""Per-source mappings: what a data engineer writes for a vendor we have never seen
(dossier-log.md, "Real exports"; format and examples in README.md).

A mapping is one small file per vendor. YAML holds every section::

    files: ["vendor_x/*"]        # landing paths it applies to (default: the folder named like the file)
    columns:                     # header -> field ("ignore" drops a column an alias would keep)
      MaSoHoSo: dossier_id
    values:                      # per field: the vendor's label or code -> ours
      status: {"Hoàn thành": 10}
    unit: "000.12.20.H26"        # the unit of every row that names none (code, agency code or name)
    z_means_local: true          # a trailing Z on this vendor's times is local time, not UTC

The older flat forms stay valid: YAML ``{header: field}`` or ``{field: [headers]}``,
and CSV ``alias,field`` rows (columns only). A wrong file raises MappingError, one
sentence naming the file, the line and the problem.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from transforms.normalise import normalise_key
from transforms.readers.aliases import IGNORE, never_read
from transforms.schema import BOOL_FIELDS, READ_FIELDS

SECTIONS = ("files", "columns", "values", "unit", "z_means_local")
MAPPING_SUFFIXES = (".yaml", ".yml", ".csv")

_TRUE = {"true", "yes", "1", "co"}
_FALSE = {"false", "no", "0", "khong"}
# What a value map may produce, per field: normalised value -> the text we store.
_TARGETS: dict[str, dict[str, str]] = {
    "status": {str(i): str(i) for i in range(1, 11)},
    "channel": {"1": "1", "2": "2", "3": "3"},
    "payment_code": {str(i): str(i) for i in range(4)},
    "rating": {
        **{str(i): str(i) for i in range(1, 6)},
        "satisfied": "satisfied", "neutral": "neutral", "dissatisfied": "dissatisfied",
    },
    **{b: {**{t: "true" for t in _TRUE}, **{f: "false" for f in _FALSE}} for b in BOOL_FIELDS},
}


class MappingError(ValueError):
    """A per-source mapping file that cannot be used; the message is one sentence."""


@dataclass(frozen=True)
class SourceMapping:
    name: str = "mapping"
    # normalised header key -> field, or None to drop the column
    columns: Mapping[str, str | None] = field(default_factory=dict)
    # field -> normalised vendor value -> the value we read instead
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    unit: str | None = None
    z_means_local: bool = False
    files: tuple[str, ...] = ()
    digest: str = ""

    def applies_to(self, source: str) -> bool:
        """Whether the landing-relative path ``source`` is one of this vendor's files."""
        patterns = self.files or (f"{Path(self.name).stem}/*",)
        return any(fnmatch.fnmatchcase(source, p) for p in patterns)


def _fail(where: str, line: int | None, problem: str) -> MappingError:
    at = f", line {line}" if line else ""
    return MappingError(f"{where}{at}: {problem}.")


def _column_target(where: str, line: int | None, header: str, target: str | None) -> str | None:
    if target is None or target.strip().lower() in IGNORE:
        return None
    target = target.strip()
    if never_read(header):
        raise _fail(where, line, f"the column '{header}' carries personal data (a free-text summary, an officer, an identity number) and is never read")
    if target not in READ_FIELDS:
        raise _fail(where, line, f"'{target}' (for the column '{header}') is not a field we read; use one of {', '.join(READ_FIELDS)} or 'ignore'")
    return target


def mapping_from_dict(raw: Mapping[str, str | None], name: str = "mapping") -> SourceMapping:
    """A mapping given in code: ``{raw header: field}`` (columns only)."""
    columns = {normalise_key(h): _column_target(name, None, str(h), None if t is None else str(t)) for h, t in raw.items()}
    return SourceMapping(name=name, columns=columns)


# ------------------------------------------------------------------------- YAML


def _scalar(node, where: str, what: str) -> str:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        raise _fail(where, node.start_mark.line + 1, f"{what} must be a single value, not a list or a mapping")
    return node.value


def _pairs(node, where: str, what: str):
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise _fail(where, node.start_mark.line + 1, f"{what} must be a mapping (key: value lines)")
    return node.value


def _yaml_columns(node, where: str, columns: dict[str, str | None]) -> None:
    import yaml

    for key, value in _pairs(node, where, "'columns'"):
        line = key.start_mark.line + 1
        head = _scalar(key, where, "a column name")
        if isinstance(value, yaml.SequenceNode) and head in READ_FIELDS:  # field: [headers]
            for item in value.value:
                columns[normalise_key(_scalar(item, where, "a header"))] = head
            continue
        target = None if (isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null")) else _scalar(value, where, f"the field of '{head}'")
        columns[normalise_key(head)] = _column_target(where, line, head, target)


def _yaml_values(node, where: str, values: dict[str, dict[str, str]]) -> None:
    for key, value in _pairs(node, where, "'values'"):
        fld = _scalar(key, where, "a field name")
        if fld not in _TARGETS:
            raise _fail(where, key.start_mark.line + 1, f"values can be mapped for {', '.join(_TARGETS)}, not for '{fld}'")
        table = values.setdefault(fld, {})
        for label, target in _pairs(value, where, f"the values of '{fld}'"):
            text = _scalar(label, where, "a value label")
            wanted = _scalar(target, where, f"the {fld} of '{text}'")
            ours = _TARGETS[fld].get(normalise_key(wanted))
            if ours is None:
                raise _fail(where, target.start_mark.line + 1, f"'{wanted}' is not a {fld} (expected one of {', '.join(dict.fromkeys(_TARGETS[fld].values()))})")
            table[normalise_key(text)] = ours


def _load_yaml(path: Path, text: str) -> dict:
    import yaml

    where = path.name
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise _fail(where, mark.line + 1 if mark else None, f"not valid YAML ({problem})") from None
    out: dict = {"columns": {}, "values": {}, "unit": None, "z_means_local": False, "files": ()}
    if root is None:
        return out
    pairs = _pairs(root, where, "the file")
    keys = [k.value if hasattr(k, "value") else "" for k, _ in pairs]
    if not any(k in SECTIONS for k in keys):  # the flat form: {header: field} or {field: [headers]}
        _yaml_columns(root, where, out["columns"])
        return out
    for key, value in pairs:
        name = _scalar(key, where, "a section name")
        line = key.start_mark.line + 1
        if name == "columns":
            _yaml_columns(value, where, out["columns"])
        elif name == "values":
            _yaml_values(value, where, out["values"])
        elif name == "unit":
            unit = _scalar(value, where, "'unit'").strip()
            if not unit:
                raise _fail(where, line, "'unit' is empty; give the unit's code, agency code or name")
            out["unit"] = unit
        elif name == "z_means_local":
            flag = normalise_key(_scalar(value, where, "'z_means_local'"))
            if flag not in _TRUE | _FALSE:
                raise _fail(where, line, "'z_means_local' must be true or false")
            out["z_means_local"] = flag in _TRUE
        elif name == "files":
            import yaml

            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            out["files"] = tuple(_scalar(i, where, "a file pattern").strip() for i in items)
        else:
            raise _fail(where, line, f"unknown section '{name}' (expected {', '.join(SECTIONS)})")
    return out


# -------------------------------------------------------------------------- CSV


def _load_csv(path: Path, text: str) -> dict:
    columns: dict[str, str | None] = {}
    rows = list(csv.reader(text.splitlines()))
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if line == 1 and [c.lower() for c in cells[:2]] == ["alias", "field"]:
            continue
        if not any(cells) or cells[0].startswith("#"):
            continue
        if len(cells) > 2 and any(cells[2:]):
            raise _fail(path.name, line, "a CSV mapping has two columns, alias and field")
        target = cells[1] if len(cells) > 1 else ""
        columns[normalise_key(cells[0])] = _column_target(path.name, line, cells[0], target)
    return {"columns": columns, "values": {}, "unit": None, "z_means_local": False, "files": ()}


def load_mapping(path: Path | str) -> SourceMapping:
    """Read a per-source mapping file (YAML or CSV); raise MappingError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError:
        raise _fail(path.name, None, "the mapping file cannot be read") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(path.name, None, "the mapping file is not UTF-8 text") from None
    parsed = _load_yaml(path, text) if path.suffix.lower() in (".yaml", ".yml") else _load_csv(path, text)
    return SourceMapping(name=path.name, digest=hashlib.sha256(data).hexdigest()[:12], **parsed)


def load_mappings(folder: Path | str | None) -> list[SourceMapping]:
    """Every mapping file of a folder, by name (none when the folder does not exist)."""
    if not folder or not Path(folder).is_dir():
        return []
    return [load_mapping(p) for p in sorted(Path(folder).iterdir()) if p.is_file() and p.suffix.lower() in MAPPING_SUFFIXES and not p.name.startswith(".")]


def mapping_for(source: str, mappings: list[SourceMapping]) -> SourceMapping | None:
    """The mapping of one landing file; MappingError when two claim it."""
    hits = [m for m in mappings if m.applies_to(source)]
    if len(hits) > 1:
        raise MappingError(f"{source}: the mappings {' and '.join(m.name for m in hits)} both apply to it; make their 'files' patterns exclusive.")
    return hits[0] if hits else None


def as_mapping(mapping: SourceMapping | Mapping[str, str | None] | Path | str | None) -> SourceMapping | None:
    """Whatever a caller gives (a mapping, a dict of columns, a file path) as a SourceMapping."""
    if mapping is None or isinstance(mapping, SourceMapping):
        return mapping
    if isinstance(mapping, (str, Path)):
        return load_mapping(mapping)
    return mapping_from_dict(mapping)
