"""Reconciling our scores with the national portal's published 766 index.

Provinces are told to reconcile the scores the National Public Service Portal
publishes with their own figures. `read_portal_file` reads what an office saves
from the portal: the JSON its index page serves (a list of records such as
``{"ID", "TEN", "MA_COQUAN", "CAPDONVIID", "CKMB", "TDGQ", "CLGQ", "TTTT",
"MDSH", "MDHL", "TONG_SCORE"}``, or the newer ``{"data": {"evaluation": [
{"departmentName", "departmentCode", "totalScore", "groupScores": {...}}]}}``),
or a CSV of the same fields. Which field is which of our groups is data
(config/portal_fields.csv), because public trackers read them differently.

`reconcile` matches the portal's records to the units of one month of our
scoreboard (by agency code, then our unit code, then the normalised name with
transforms.units' keys), compares our points and score with the portal's group
by group, lists our units the portal lacks (missing), portal records that name
no unit of ours (extra) and records that name several, or a unit another record
already names (unmatched), and explains the largest gaps from our own data.
Nothing is dropped: every record and every unit lands in exactly one list.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from config import config_path
from transforms.config_files import INT, NUMBER, Rule, check, check_complete, is_shipped, merge, read_mapping, shipped
from transforms.normalise import normalise_key
from transforms.profile import Profile
from transforms.units import strip_level_expr, strip_zeros_expr, unit_name_key

IDENTITY = ("unit_id", "agency_code", "unit_name", "unit_name_alt", "level", "unit_type", "rank")
MEANINGS = (*IDENTITY, "total", "ignore")
UNIT_KEY = ["unit_code", "unit_valid_from"]

# One row per portal record, as stored in the warehouse (values in `portal_values`).
RECORD_SCHEMA: dict[str, pl.DataType] = {
    "record": pl.Int64(),
    "unit_id": pl.Utf8(),
    "agency_code": pl.Utf8(),
    "unit_name": pl.Utf8(),
    "unit_name_alt": pl.Utf8(),
    "level": pl.Utf8(),
    "unit_type": pl.Utf8(),
    "rank": pl.Int64(),
}
VALUE_SCHEMA: dict[str, pl.DataType] = {"record": pl.Int64(), "item": pl.Utf8(), "value": pl.Float64()}

# The six groups of Decision 766 that the national portal publishes, in its order:
# what a portal field may mean (alone or summed), whatever groups our own profile has.
PORTAL_GROUPS = ("transparency", "timeliness", "online", "payment", "digitization", "satisfaction")


class ReconcileError(ValueError):
    """A portal file or mapping that cannot be used, said in one sentence."""


# --------------------------------------------------------------------------- mapping


@dataclass(frozen=True)
class FieldMap:
    """Normalised field name -> meaning, in the mapping file's order."""

    meanings: dict[str, str]
    source: str

    def items(self) -> list[str]:
        """The score items the mapping knows: total and groups (or sums of groups)."""
        return [m for m in dict.fromkeys(self.meanings.values()) if m not in IDENTITY and m != "ignore"]


def default_fields_path() -> Path:
    return config_path("portal_fields.csv")


def _check_meaning(meaning: str) -> bool:
    if meaning in MEANINGS:
        return True
    parts = meaning.split("+")
    return all(p in PORTAL_GROUPS for p in parts) and len(set(parts)) == len(parts)


def load_field_map(path: Path | str | None = None) -> FieldMap:
    path = Path(path) if path else default_fields_path()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReconcileError(f"cannot read the portal field mapping {path}: {exc}") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.lstrip().startswith("#")]
    rows = list(csv.reader(line for _, line in lines))
    if not rows or [c.strip() for c in rows[0][:2]] != ["field", "meaning"]:
        raise ReconcileError(f"{path.name}: the first line that is not a comment must be the header field,meaning,note")
    meanings: dict[str, str] = {}
    for (line_no, _), row in zip(lines[1:], rows[1:]):
        name = normalise_key(row[0] if row else "")
        meaning = (row[1] if len(row) > 1 else "").strip().replace(" ", "")
        if not name or not _check_meaning(meaning):
            raise ReconcileError(
                f"{path.name}, line {line_no}: {meaning!r} is not a meaning "
                f"({', '.join(MEANINGS)}, a group or groups joined by +)"
            )
        meanings.setdefault(name, meaning)
    return FieldMap(meanings, path.name)


@dataclass(frozen=True)
class ReconcileSettings:
    """config/reconcile.yaml, and the office's file over it (load_reconcile_settings)."""

    largest_gaps: int
    min_gap_points: float
    synced_below: float
    max_points_tolerance: float


SHIPPED_SETTINGS = "reconcile.yaml"  # every setting's default
SETTINGS_RULES: dict[str, Rule] = {
    "largest_gaps": (INT, 0, None, False),
    "min_gap_points": (NUMBER, 0, None, False),
    "synced_below": (NUMBER, 0, 1, False),
    "max_points_tolerance": (NUMBER, 0, None, False),
}


def load_reconcile_settings(path: Path | str | None = None) -> ReconcileSettings:
    """The office's file `path` over the shipped config/reconcile.yaml (None: that file
    alone). A setting of the wrong kind, or one reconciliation does not read, is one
    sentence naming the file and the setting."""
    base = shipped(SHIPPED_SETTINGS)
    check(SHIPPED_SETTINGS, base, SETTINGS_RULES, reader="reconciliation reads", error=ReconcileError)
    check_complete(SHIPPED_SETTINGS, base, SETTINGS_RULES, ReconcileError)
    raw: dict = {}
    if path is not None and not is_shipped(path, SHIPPED_SETTINGS):
        name = Path(path).name
        raw = read_mapping(Path(path), "reconciliation settings", ReconcileError, name=name)
        check(name, raw, SETTINGS_RULES, reader="reconciliation reads", error=ReconcileError)
    values = merge(base, raw)
    kinds = {INT: int, NUMBER: float}
    return ReconcileSettings(**{k: kinds[rule[0]](values[k]) for k, rule in SETTINGS_RULES.items()})


# --------------------------------------------------------------------------- reading


@dataclass
class PortalFile:
    """A portal file read and mapped: one row per record, its score items long."""

    source_file: str
    content_hash: str
    records: pl.DataFrame  # RECORD_SCHEMA
    values: pl.DataFrame  # VALUE_SCHEMA
    items: list[str]
    where: str  # "line" (CSV) or "record" (JSON): how the page names a record
    period_hint: str | None = None


_LIST_PATHS = (("data", "evaluation"), ("evaluation",), ("data", "children"), ("data",), ("provinces",),
               ("units",), ("items",), ("rows",), ("result",))


def _records_of(doc: Any, name: str) -> list:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for path in _LIST_PATHS:
            node: Any = doc
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, list):
                return node
    raise ReconcileError(
        f"{name}: no list of units found (expected a JSON list of records, or data.evaluation as the portal serves it)"
    )


def _flatten(record: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


def _number(value: Any, name: str, where: str, fieldname: str) -> float | None:
    """A cell or JSON value as a finite number; None when empty. NaN and infinities
    (``float()`` reads "NaN", "inf", "Infinity"; JSON's NaN and 1e999 arrive as such
    floats) are refused like any other text that is not a number: Polars orders NaN
    above every number, so one taken in headed the largest gaps and was warned about
    as above its group's maximum."""
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ReconcileError(f"{name}, {where}: {fieldname} is {value!r}, not a number")
        return None
    number: float | None = None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip().replace("\u00a0", "")
        if text in ("", "-", "—"):
            return None
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # a decimal comma, as Vietnamese spreadsheets write it
        try:
            number = float(text)
        except ValueError:
            pass
    if number is None or not math.isfinite(number):
        raise ReconcileError(f"{name}, {where}: {fieldname} is {str(value)[:40]!r}, not a number")
    return number


def _points(value: Any, name: str, where: str, fieldname: str) -> float | None:
    """A score item's value: a number of points, never below 0 (every 766 group and the
    total count from 0, so no mapping explains one). Above a group's maximum is only a
    warning (`_file_warnings`): the sign of a mapping that does not fit the file."""
    number = _number(value, name, where, fieldname)
    if number is not None and number < 0:
        raise ReconcileError(f"{name}, {where}: {fieldname} is {str(value)[:40]!r}, below 0 (points are never negative)")
    return number


def _map_record(flat: dict[str, Any], fmap: FieldMap) -> dict[str, tuple[str, Any]]:
    """meaning -> (field as written, value): the first field of the mapping's order."""
    by_key: dict[str, tuple[str, Any]] = {}
    for path, value in flat.items():
        for key in (normalise_key(path), normalise_key(path.rsplit(".", 1)[-1])):
            by_key.setdefault(key, (path, value))
    out: dict[str, tuple[str, Any]] = {}
    for key, meaning in fmap.meanings.items():
        if key in by_key and meaning != "ignore" and meaning not in out:
            out[meaning] = by_key[key]
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def map_records(raw: list, fmap: FieldMap, name: str, where: str,
                numbers: list[int] | None = None) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Records (dicts) -> (records, values, items seen), checked: every record must
    name a unit and carry at least one score the mapping knows. A record is named by
    its number in `numbers` (a CSV file's lines), else by its place from 1."""
    records, values, items_seen = [], [], []
    for n, rec in zip(numbers or range(1, len(raw) + 1), raw):
        place = f"{where} {n}"
        if not isinstance(rec, dict):
            raise ReconcileError(f"{name}, {place}: expected a record of fields, found {type(rec).__name__}")
        mapped = _map_record(_flatten(rec), fmap)
        if not any(m in mapped and _text(mapped[m][1]) for m in ("unit_name", "unit_name_alt", "agency_code", "unit_id")):
            raise ReconcileError(f"{name}, {place}: the record names no unit (no field of the mapping gives a name or code)")
        scores = [m for m in mapped if m not in IDENTITY]
        if not scores:
            known = ", ".join(k for k, v in fmap.meanings.items() if v not in IDENTITY and v != "ignore")
            raise ReconcileError(f"{name}, {place}: no score field the mapping {fmap.source} knows (such as {known[:80]})")
        rank = _number(mapped["rank"][1], name, place, mapped["rank"][0]) if "rank" in mapped else None
        records.append(
            {"record": n, **{m: _text(mapped[m][1]) if m in mapped else None for m in IDENTITY if m != "rank"},
             "rank": int(rank) if rank is not None else None}
        )
        for item in scores:
            values.append({"record": n, "item": item, "value": _points(mapped[item][1], name, place, mapped[item][0])})
            if item not in items_seen:
                items_seen.append(item)
    if not records:
        raise ReconcileError(f"{name}: the file lists no unit")
    return (
        pl.DataFrame(records, schema=RECORD_SCHEMA),
        pl.DataFrame(values, schema=VALUE_SCHEMA),
        items_seen,
    )


def _csv_rows(data: bytes, name: str) -> tuple[list[dict], list[int]]:
    """The rows of a CSV file that are not blank, and the line each ends on (the line
    an office finds a one-line row on, blank lines and cells of several lines counted)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReconcileError(f"{name}: not UTF-8 text (byte {exc.start}); save the table as CSV UTF-8") from None
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames or len(reader.fieldnames) < 2:
        raise ReconcileError(f"{name}, line 1: no header of fields")
    rows, lines = [], []
    for row in reader:
        if None in row:
            raise ReconcileError(f"{name}, line {reader.line_num}: more cells than the header has")
        if any((v or "").strip() for v in row.values()):
            rows.append(row)
            lines.append(reader.line_num)
    return rows, lines


_PERIOD_IN_NAME = re.compile(r"(?<!\d)(20\d{2})[-_.](0[1-9]|1[0-2])(?!\d)")


def _period_hint(name: str, doc: Any) -> str | None:
    """A month the file says it is for: its name (portal-2025-10.json), or the
    year and month a tracker saved beside the records."""
    m = _PERIOD_IN_NAME.search(name)
    if m:
        return f"{m[1]}-{m[2]}"
    if isinstance(doc, dict):
        for holder in (doc, doc.get("request") or {}, doc.get("params") or {}):
            if isinstance(holder, dict):
                year = holder.get("year") or holder.get("p_nam")
                month = holder.get("month") or holder.get("p_thang")
                try:
                    if year and month and 1 <= int(month) <= 12:
                        return f"{int(year):04d}-{int(month):02d}"
                except (TypeError, ValueError):
                    pass
    return None


def read_portal_file(path: Path | str, fmap: FieldMap | None = None) -> PortalFile:
    """A portal file (JSON as the portal serves it, or CSV) mapped to our groups.
    Raises ReconcileError naming the file, the line or record, and the problem."""
    path = Path(path)
    fmap = fmap or load_field_map()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReconcileError(f"cannot read {path}: {exc.strerror}") from None
    name = path.name
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    doc: Any = None
    if path.suffix.lower() == ".json" or stripped[:1] in (b"[", b"{"):
        try:
            doc = json.loads(stripped.decode("utf-8"))
        except UnicodeDecodeError:
            raise ReconcileError(f"{name}: not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise ReconcileError(f"{name}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
        records, values, items = map_records(_records_of(doc, name), fmap, name, "record")
        where = "record"
    elif path.suffix.lower() in (".csv", ".txt"):
        rows, lines = _csv_rows(data, name)
        records, values, items = map_records(rows, fmap, name, "line", lines)
        where = "line"
    else:
        raise ReconcileError(f"{name}: a portal file must be JSON (as the portal serves it) or CSV")
    return PortalFile(
        source_file=name,
        content_hash=hashlib.sha256(data).hexdigest(),
        records=records,
        values=values,
        items=ordered_items(items),
        where=where,
        period_hint=_period_hint(name, doc),
    )


# --------------------------------------------------------------------------- matching


def registry_agency_codes(registry: pl.DataFrame, raw_registry_path: Path | str | None = None) -> pl.DataFrame:
    """(unit_code, unit_valid_from, agency_code) of a registry that has an
    `agency_code` column (optional: the shipped one may not); empty otherwise."""
    empty = pl.DataFrame(schema={"unit_code": pl.Utf8, "unit_valid_from": pl.Date, "agency_code": pl.Utf8})
    if "agency_code" not in registry.columns and raw_registry_path is not None:
        raw = pl.read_csv(raw_registry_path, infer_schema=False, encoding="utf8-lossy")
        raw = raw.rename({c: c.strip().lstrip("\ufeff") for c in raw.columns})
        if "agency_code" in raw.columns and raw.height == registry.height:
            registry = registry.with_columns(raw["agency_code"])  # load_registry keeps the rows in order
    if "agency_code" not in registry.columns:
        return empty
    return registry.select(
        "unit_code", pl.col("valid_from").alias("unit_valid_from"), pl.col("agency_code").cast(pl.Utf8)
    ).filter(pl.col("agency_code").str.strip_chars().str.len_chars() > 0)


def _code_key(expr: pl.Expr) -> pl.Expr:
    k = expr.str.strip_chars().str.to_uppercase()
    return pl.when(k.str.len_chars() > 0).then(k)


STEPS = ("agency_code", "unit_code", "name", "name_alt", "bare_name")


def match_records(records: pl.DataFrame, ours: pl.DataFrame, agency: pl.DataFrame) -> pl.DataFrame:
    """Per record: `status` (matched | ambiguous | duplicate | extra), `matched_by`
    (the step that decided), the unit (code, valid_from) when one, and the
    candidates' codes when several."""
    units = ours.select(*UNIT_KEY, "unit_name").join(agency, on=UNIT_KEY, how="left")
    units = units.with_columns(
        _ac=_code_key(pl.col("agency_code")),
        _uc=strip_zeros_expr(_code_key(pl.col("unit_code"))),
        _nk=unit_name_key(pl.col("unit_name")),
    ).with_columns(_bare=strip_level_expr(pl.col("_nk")))
    recs = records.with_columns(
        _ac=_code_key(pl.col("agency_code")),
        _uc=strip_zeros_expr(_code_key(pl.col("agency_code"))),
        _nk=unit_name_key(pl.col("unit_name")),
        _nk2=unit_name_key(pl.col("unit_name_alt")),
    ).with_columns(_bare=strip_level_expr(pl.coalesce("_nk", "_nk2")))
    keys = {"agency_code": ("_ac", "_ac"), "unit_code": ("_uc", "_uc"), "name": ("_nk", "_nk"),
            "name_alt": ("_nk2", "_nk"), "bare_name": ("_bare", "_bare")}
    decided = pl.DataFrame(schema={"record": pl.Int64, "matched_by": pl.Utf8, "candidates": pl.List(pl.Struct(
        {"unit_code": pl.Utf8, "unit_valid_from": pl.Date}))})
    for step in STEPS:
        left, right = keys[step]
        hits = (
            recs.filter(pl.col(left).is_not_null() & ~pl.col("record").is_in(decided["record"].implode()))
            .select("record", left)
            .join(units.filter(pl.col(right).is_not_null()).select(*UNIT_KEY, right), left_on=left, right_on=right)
            .unique(["record", *UNIT_KEY])
            .sort("record", *UNIT_KEY)
            .group_by("record", maintain_order=True)
            .agg(candidates=pl.struct(*UNIT_KEY))
            .with_columns(matched_by=pl.lit(step))
        )
        decided = pl.concat([decided, hits.select(decided.columns)])
    out = records.select("record").join(decided, on="record", how="left").with_columns(
        n=pl.col("candidates").list.len().fill_null(0)
    )
    one = pl.col("n") == 1
    out = out.with_columns(
        unit_code=pl.when(one).then(pl.col("candidates").list.first().struct.field("unit_code")),
        unit_valid_from=pl.when(one).then(pl.col("candidates").list.first().struct.field("unit_valid_from")),
    )
    claims = out.filter(one).group_by(UNIT_KEY).agg(claims=pl.len())
    out = out.join(claims, on=UNIT_KEY, how="left", nulls_equal=False)
    status = (
        pl.when(pl.col("n") == 0).then(pl.lit("extra"))
        .when(pl.col("n") > 1).then(pl.lit("ambiguous"))
        .when(pl.col("claims") > 1).then(pl.lit("duplicate"))
        .otherwise(pl.lit("matched"))
    )
    return out.with_columns(
        status=status,
        candidate_codes=pl.col("candidates").list.eval(pl.element().struct.field("unit_code")),
    ).select("record", "status", "matched_by", "unit_code", "unit_valid_from", "candidate_codes")


# --------------------------------------------------------------------------- comparing


def ordered_items(items) -> list[str]:
    """Score items in the page's order: total, then the groups in the profile's
    published order, a sum of groups at its first group."""
    def key(item: str) -> tuple:
        if item == "total":
            return (-1, 0)
        parts = item.split("+")
        return (min(PORTAL_GROUPS.index(g) for g in parts), len(parts))

    return sorted(dict.fromkeys(items), key=key)


def item_label_parts(item: str) -> list[str]:
    """`online+payment` -> ['online', 'payment']; 'total' -> []."""
    return [] if item == "total" else item.split("+")


def _ours_expr(item: str, columns: list[str]) -> pl.Expr:
    """Our value of a portal item; null where our profile has no such group."""
    if item == "total":
        return pl.col("score")
    if any(f"points_{g}" not in columns for g in item_label_parts(item)):
        return pl.lit(None, dtype=pl.Float64)
    parts = [pl.col(f"points_{g}") for g in item_label_parts(item)]
    if len(parts) == 1:
        return parts[0]
    # a sum of groups: null only when none of them applies
    return pl.when(pl.any_horizontal([p.is_not_null() for p in parts])).then(pl.sum_horizontal(parts))


def group_max_points(profile: Profile) -> dict[str, float]:
    return {group.key: group.max_points for group in profile.groups}


def item_max(item: str, maxima: dict[str, float]) -> float | None:
    if item == "total":
        return 100.0
    parts = item_label_parts(item)
    return sum(maxima.get(g, 0.0) for g in parts) if all(g in maxima for g in parts) else None


@dataclass
class Reconciliation:
    """Everything the reconciliation page shows for one month."""

    period_key: str
    source_file: str
    content_hash: str
    where: str
    items: list[str]
    compared: pl.DataFrame  # one row per matched unit: identity, context, ours_/portal_/diff_<item>
    missing: pl.DataFrame  # our units no record names
    extra: pl.DataFrame  # records that name no unit of ours
    unmatched: pl.DataFrame  # records naming several units, or a unit another record names
    explanations: pl.DataFrame  # the largest gaps: unit, order, kind, item, a, b
    warnings: list[dict] = field(default_factory=list)  # {kind, item, count, limit, example}
    provisional: bool = False

    def counts(self) -> dict[str, int]:
        return {
            "records": self.compared.height + self.extra.height + self.unmatched.height,
            "matched": self.compared.height,
            "missing": self.missing.height,
            "extra": self.extra.height,
            "unmatched": self.unmatched.height,
        }


def _safe(item: str) -> str:
    return item.replace("+", "_")


def _file_warnings(values: pl.DataFrame, records: pl.DataFrame, maxima: dict[str, float], tolerance: float) -> list[dict]:
    """Plausibility of the mapping: a group above its maximum, groups not adding up to the total."""
    out = []
    named = values.join(records.select("record", pl.coalesce("unit_name", "unit_name_alt", "agency_code").alias("name")), on="record")
    for item in values["item"].unique(maintain_order=True).to_list():
        limit = item_max(item, maxima)
        if limit is None:
            continue
        over = named.filter((pl.col("item") == item) & (pl.col("value") > limit + tolerance)).sort("value", descending=True)
        if over.height:
            out.append({"kind": "above_max", "item": item, "count": over.height, "limit": limit,
                        "value": over["value"][0], "example": over["name"][0]})
    groups = [i for i in values["item"].unique().to_list() if i != "total"]
    covered = [g for i in groups for g in item_label_parts(i)]
    if "total" in values["item"].to_list() and sorted(covered) == sorted(PORTAL_GROUPS):
        wide = values.pivot(on="item", index="record", values="value")
        off = wide.filter((pl.sum_horizontal([pl.col(g) for g in groups]) - pl.col("total")).abs() > 0.05 + tolerance)
        if off.height:
            out.append({"kind": "not_adding_up", "item": "total", "count": off.height, "limit": None,
                        "value": None, "example": None})
    return out


def reconcile(
    portal: PortalFile,
    scoreboard: pl.DataFrame,
    period_key: str,
    *,
    profile: Profile,
    agency: pl.DataFrame | None = None,
    settings: ReconcileSettings | None = None,
) -> Reconciliation:
    """Compare the portal's records with our month `period_key` (scoreboard rows of
    any periods: only that month's are used)."""
    settings = settings or load_reconcile_settings()
    ours = scoreboard.filter((pl.col("period_type") == "month") & (pl.col("period_key") == period_key))
    agency = agency if agency is not None else registry_agency_codes(pl.DataFrame(schema={"unit_code": pl.Utf8}))
    matches = match_records(portal.records, ours, agency)
    recs = portal.records.join(matches, on="record", how="left")

    wide = _portal_columns(portal)
    matched = recs.filter(pl.col("status") == "matched").join(wide, on="record", how="left")
    compared = _compared_units(matched, ours, portal.items)

    claimed = recs.filter(pl.col("status").is_in(["matched", "duplicate"])).select(UNIT_KEY).unique()
    missing = ours.join(claimed, on=UNIT_KEY, how="anti").sort("level", "unit_code").select(
        *UNIT_KEY, "unit_name", "level", "score", "received", "ranked"
    )
    total_col = [pl.col("portal_total")] if "total" in portal.items else [pl.lit(None, dtype=pl.Float64).alias("portal_total")]
    extra = recs.filter(pl.col("status") == "extra").join(wide, on="record", how="left").select(
        "record", "unit_name", "unit_name_alt", "agency_code", "unit_id", "level", *total_col
    ).sort("record")
    names = ours.select(*UNIT_KEY, pl.col("unit_name").alias("_our_name"))
    unmatched = (
        recs.filter(pl.col("status").is_in(["ambiguous", "duplicate"]))
        .join(names, on=UNIT_KEY, how="left")
        .with_columns(
            candidates=pl.when(pl.col("status") == "duplicate")
            .then(pl.concat_list(pl.col("unit_code")))
            .otherwise(pl.col("candidate_codes"))
        )
        .join(wide, on="record", how="left")
        .select("record", "unit_name", "agency_code", "status", "matched_by", "candidates", *total_col)
        .sort("record")
    )
    maxima = group_max_points(profile)
    explanations = explain_gaps(compared, portal.items, profile, settings)
    provisional = bool(ours["provisional"].any()) if ours.height else False
    return Reconciliation(
        period_key=period_key,
        source_file=portal.source_file,
        content_hash=portal.content_hash,
        where=portal.where,
        items=portal.items,
        compared=compared,
        missing=missing,
        extra=extra,
        unmatched=unmatched,
        explanations=explanations,
        warnings=_file_warnings(portal.values, portal.records, maxima, settings.max_points_tolerance),
        provisional=provisional,
    )


def _portal_columns(portal: PortalFile) -> pl.DataFrame:
    """The records' values, one column `portal_<item>` per item (null where the file
    gives none)."""
    wide = portal.values.pivot(on="item", index="record", values="value") if portal.values.height else None
    for item in portal.items:
        if wide is None or item not in wide.columns:
            wide = (wide if wide is not None else portal.records.select("record")).with_columns(pl.lit(None, dtype=pl.Float64).alias(item))
    return wide.rename({i: f"portal_{_safe(i)}" for i in portal.items})


def _compared_units(matched: pl.DataFrame, ours: pl.DataFrame, items: list[str]) -> pl.DataFrame:
    """The matched records beside our rows of their units: each item's ours_, portal_
    and diff_ value, the largest gap in the total first."""
    compared = matched.rename({"unit_name": "portal_name", "level": "portal_level", "rank": "portal_rank"}).join(
        ours, on=UNIT_KEY, how="inner"
    )
    compared = compared.with_columns(
        *[_ours_expr(i, compared.columns).alias(f"ours_{_safe(i)}") for i in items]
    ).with_columns(
        *[(pl.col(f"ours_{_safe(i)}") - pl.col(f"portal_{_safe(i)}")).alias(f"diff_{_safe(i)}") for i in items]
    )
    order = pl.col("diff_total").abs() if "total" in items else pl.lit(None)
    return compared.with_columns(_gap=order).sort(
        [pl.col("_gap").fill_null(-1.0), "level", "unit_code"], descending=[True, False, False]
    ).drop("_gap")


# --------------------------------------------------------------------------- explaining

EXPLANATION_SCHEMA: dict[str, pl.DataType] = {
    "unit_code": pl.Utf8(),
    "unit_valid_from": pl.Date(),
    "order": pl.Int64(),
    "kind": pl.Utf8(),
    "item": pl.Utf8(),
    "a": pl.Float64(),
    "b": pl.Float64(),
}
# Kinds, in the order they are told: the group with the largest gap, then what in
# our data explains it. The page words each kind (dashboards/reconcile_page.py).
KINDS = (
    "largest_group",  # item, a = ours, b = portal
    "not_synced",  # a = synced_rate, b = received: the portal counts synced dossiers only
    "group_not_applicable",  # item, b = portal: no dossier of ours has the group's fields known
    "portal_no_value",  # item, a = ours: the portal gives the group no value
    "rescaled",  # a = applicable maximum points: our score is rescaled to 100 over them
    "low_volume",  # a = received + timeliness_base, b = minimum volume: not ranked
    "provisional",  # our month is still in progress
    "unexplained",  # none of the above
)


def _applicable_max(row: dict, profile: Profile) -> float:
    return sum(i.max_points for i in profile.indicators if row.get(i.rate) is not None)


def explain_gaps(compared: pl.DataFrame, items: list[str], profile: Profile, settings: ReconcileSettings) -> pl.DataFrame:
    """Why the largest gaps (|our score − the portal's total| ≥ min_gap_points, the
    `largest_gaps` largest) may be there, from our own data: structured rows the
    page puts into words."""
    if "total" not in items or compared.height == 0:
        return pl.DataFrame(schema=EXPLANATION_SCHEMA)
    gaps = compared.filter(pl.col("diff_total").abs() >= settings.min_gap_points).head(settings.largest_gaps)
    groups = [i for i in items if i != "total"]
    rows: list[dict] = []
    for r in gaps.iter_rows(named=True):
        found: list[tuple] = []
        diffs = [(abs(r[f"diff_{_safe(g)}"]), g) for g in groups if r[f"diff_{_safe(g)}"] is not None]
        if diffs and max(diffs)[0] >= 0.01:
            _, g = max(diffs)
            found.append(("largest_group", g, r[f"ours_{_safe(g)}"], r[f"portal_{_safe(g)}"]))
        synced = r.get("synced_rate")
        if synced is not None and synced < settings.synced_below:
            found.append(("not_synced", None, synced, float(r.get("received") or 0)))
        for g in groups:
            ours_v, portal_v = r[f"ours_{_safe(g)}"], r[f"portal_{_safe(g)}"]
            if ours_v is None and portal_v is not None:
                found.append(("group_not_applicable", g, None, portal_v))
            elif portal_v is None and ours_v is not None:
                found.append(("portal_no_value", g, ours_v, None))
        applicable = _applicable_max(r, profile)
        if 0 < applicable < profile.max_total - 1e-9:
            found.append(("rescaled", None, applicable, profile.max_total))
        volume = (r.get("received") or 0) + (r.get("timeliness_base") or 0)
        if not r.get("ranked") and volume < profile.min_volume:
            found.append(("low_volume", None, float(volume), float(profile.min_volume)))
        if r.get("provisional"):
            found.append(("provisional", None, None, None))
        if not [f for f in found if f[0] != "largest_group"]:
            found.append(("unexplained", None, None, None))
        for order, (kind, item, a, b) in enumerate(found):
            rows.append({"unit_code": r["unit_code"], "unit_valid_from": r["unit_valid_from"], "order": order,
                         "kind": kind, "item": item, "a": a, "b": b})
    return pl.DataFrame(rows, schema=EXPLANATION_SCHEMA)
