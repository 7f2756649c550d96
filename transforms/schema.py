"""Canonical names and types shared by every layer (see ../shared/spec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import polars as pl

from transforms.profile import RATE_COLUMNS

if TYPE_CHECKING:
    from transforms.profile import Profile

LOCAL_TZ = "Asia/Ho_Chi_Minh"

# Timestamps are stored naive, in local time (Asia/Ho_Chi_Minh): the spec judges
# everything, including whether a due_at has a time of day, on local time.
TIMESTAMP = pl.Datetime("us")

EVENT_FIELDS = ("submitted_at", "received_at", "finished_at", "returned_at", "rejected_at")
DATE_FIELDS = ("submitted_at", "received_at", "due_at", "finished_at", "returned_at", "rejected_at")
# the fields whose values are free text, written by a clerk: a phone, an identity
# number or an e-mail typed into one is withheld (normalise.PERSONAL_IN_TEXT)
FREE_TEXT_FIELDS = ("unit_name", "procedure_name", "field_name")
BOOL_FIELDS = (
    "fee_required",
    "paid_online",
    "digitized",
    "e_result",
    "synced",
    "apology_issued",
    "complaint",
)
RATINGS = ("satisfied", "neutral", "dissatisfied")

# Every field of dossier-log.md, in the order of the spec, with its type once read.
CANONICAL_FIELDS: dict[str, pl.DataType] = {
    "dossier_id": pl.Utf8(),
    "unit_code": pl.Utf8(),
    "unit_name": pl.Utf8(),
    "procedure_code": pl.Utf8(),
    "procedure_name": pl.Utf8(),
    "field_name": pl.Utf8(),
    "channel": pl.Int8(),
    "status": pl.Int8(),
    "submitted_at": TIMESTAMP,
    "received_at": TIMESTAMP,
    "due_at": TIMESTAMP,
    "finished_at": TIMESTAMP,
    "returned_at": TIMESTAMP,
    "rejected_at": TIMESTAMP,
    "supplement_count": pl.Int32(),
    "fee_required": pl.Boolean(),
    "paid_online": pl.Boolean(),
    "digitized": pl.Boolean(),
    "e_result": pl.Boolean(),
    "synced": pl.Boolean(),
    "apology_issued": pl.Boolean(),
    "rating": pl.Utf8(),
    "complaint": pl.Boolean(),
}

# Fields a reader keeps: the canonical fields, plus codes that are not canonical
# themselves but decide canonical values once normalised (the national sync's
# DuocThanhToanTrucTuyen 0/1/2/3 decides both fee_required and paid_online).
READ_FIELDS: dict[str, pl.DataType] = {**CANONICAL_FIELDS, "payment_code": pl.Utf8()}

# A column a reader adds, not read from any header: the text of the group row above
# a row (an overdue list's merged row naming the unit of the dossiers below it),
# unit evidence for rows that name no unit. Never stored.
UNIT_HINT = "unit_hint"

# A column the CSV reader adds: the line has a cell that is not blank past the
# header's (a separator inside an unquoted value, such as the comma of "Số 12 ngõ 34,
# Hoàn Kiếm", moved the cells after it), so no cell of the row can be trusted to be
# its column's. Such a row is quarantined as `misaligned_row`. Never stored.
MISALIGNED = "__misaligned"

# A file must have a column for each of these, for one of PROCEDURE_COLUMNS, and
# for one of UNIT_COLUMNS unless the file names its unit otherwise (banner,
# envelope, per-source mapping, dossier_id prefix).
REQUIRED_COLUMNS = ("dossier_id", "received_at")
PROCEDURE_COLUMNS = ("procedure_code", "procedure_name")
UNIT_COLUMNS = ("unit_code", "unit_name")

# A canonical dossier as stored in the warehouse: the read fields with the unit
# resolved to its registry identity (code + valid_from, since codes are reused)
# and the lineage of the copy that won deduplication.
DOSSIER_SCHEMA: dict[str, pl.DataType] = {
    **{k: v for k, v in CANONICAL_FIELDS.items() if k != "unit_name"},
    "unit_valid_from": pl.Date(),
    "source_file": pl.Utf8(),
    "source_row": pl.Int64(),
}

UNIT_SCHEMA: dict[str, pl.DataType] = {
    "unit_code": pl.Utf8(),
    "unit_name": pl.Utf8(),
    "level": pl.Utf8(),
    "parent_code": pl.Utf8(),
    "peer_group": pl.Utf8(),
    "valid_from": pl.Date(),
    "valid_to": pl.Date(),
}

# The levels units are ranked within (scoreboard.md, "Ranking"), in the order
# every table lists them; a level outside these sorts after them.
LEVELS = ("district", "commune", "department")
LEVEL_ORDER: dict[str, int] = {level: i for i, level in enumerate(LEVELS)}


def level_order(column: str = "level") -> pl.Expr:
    """A level's place in LEVEL_ORDER, for sorting (other levels last)."""
    return pl.col(column).replace_strict(LEVEL_ORDER, default=len(LEVELS), return_dtype=pl.Int64)


# The registry as read (transforms.units.load_registry): the units table plus the
# optional agency code (mã định danh, QCVN 102:2016/BTTTT, e.g. 000.12.20.H26) that
# resolution uses; the warehouse keeps UNIT_SCHEMA.
REGISTRY_SCHEMA: dict[str, pl.DataType] = {**UNIT_SCHEMA, "agency_code": pl.Utf8()}

QUARANTINE_REASONS = (
    "misaligned_row",
    "missing_id",
    "missing_field",
    "bad_date",
    "unknown_unit",
    "ambiguous_unit",
    "future_date",
    "chronology",
    "finished_no_end",
)

# The published scoreboard (scoreboard.md, "Published scoreboard"): these columns,
# with the profile's group columns between them (scoreboard_columns).
SCOREBOARD_COUNTS: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "period_start": pl.Date(),
    "level": pl.Utf8(),
    "unit_code": pl.Utf8(),
    "unit_name": pl.Utf8(),
    "peer_group": pl.Utf8(),
    "received": pl.Int64(),
    "finished": pl.Int64(),
    "early": pl.Int64(),
    "on_time": pl.Int64(),
    "overdue": pl.Int64(),
    "no_deadline": pl.Int64(),
    "pending_overdue": pl.Int64(),
    "rejected": pl.Int64(),
    "timeliness_base": pl.Int64(),
    **{rate: pl.Float64() for rate in RATE_COLUMNS},
    "avg_working_days": pl.Float64(),
}
# the counts of dossiers among them, in that order
COUNT_COLUMNS: tuple[str, ...] = tuple(c for c, t in SCOREBOARD_COUNTS.items() if t == pl.Int64())
SCOREBOARD_RANKS: dict[str, pl.DataType] = {
    "score": pl.Float64(),
    "band": pl.Utf8(),
    "ranked": pl.Boolean(),
    "rank": pl.Int64(),
    "rank_in_peer": pl.Int64(),
    "rank_change": pl.Int64(),
    "unit_valid_from": pl.Date(),
    "provisional": pl.Boolean(),
}
POINTS_PREFIX, MAX_POINTS_PREFIX = "points_", "max_points_"


def scoreboard_columns(group_keys: Sequence[str]) -> dict[str, pl.DataType]:
    """The published scoreboard of a profile with these groups, in order: the counts
    and rates, `points_<group>` of each group, score … provisional, then (scoreboard.md:
    "more may follow") `max_points_<group>` of each group, its applicable maximum."""
    return {
        **SCOREBOARD_COUNTS,
        **{f"{POINTS_PREFIX}{g}": pl.Float64() for g in group_keys},
        **SCOREBOARD_RANKS,
        **{f"{MAX_POINTS_PREFIX}{g}": pl.Float64() for g in group_keys},
    }


def scoreboard_schema(profile: Profile) -> dict[str, pl.DataType]:
    """The published scoreboard of `profile` (the groups of its catalogue)."""
    return scoreboard_columns(profile.group_keys)


def scoreboard_groups(columns: Iterable[str]) -> tuple[str, ...]:
    """The group keys of a scoreboard's columns (its `points_<group>`), in order."""
    return tuple(c[len(POINTS_PREFIX):] for c in columns if c.startswith(POINTS_PREFIX))


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
