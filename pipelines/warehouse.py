"""The DuckDB warehouse: its layout, its upgrades, and every statement run against it.

No other module holds SQL (but the benchmark's floor): the pipeline reads and writes
through the named functions below. Every write replaces a well-defined slice (a
file's rows, a period's rows) inside one transaction, so any step can be re-run or
interrupted and re-run safely. Inserts name their columns, so a table may carry
columns a profile no longer uses (the points of a group since dropped).

Layout versions. `schema_version` records each upgrade; a warehouse written before
it existed (the layout of b44d358) counts as version 1. Opening one for writing
upgrades it in place: missing tables and columns are added, then the numbered
MIGRATIONS after its version run, in one transaction.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Iterator, Sequence

import duckdb
import polars as pl

from pipelines import lake
from quality.early_warning import WARNING_SCHEMA
from quality.drift import DRIFT_CHECKS
from quality.holds import BATCH_QUARANTINE, HOLD_SCHEMA, SCOREBOARD_HOLD
from transforms.classify import CLOSED_STATUSES
from transforms.evidence import EVIDENCE_SCHEMA
from transforms.reconcile import RECORD_SCHEMA as PORTAL_RECORD_SCHEMA
from transforms.ingest import QUARANTINE_SCHEMA
from transforms.insights import BOTTLENECK_SCHEMA, WHAT_IF_SCHEMA
from transforms.profile import Profile
from transforms.revisions import CAUSE_SCHEMA, REVISION_SCHEMA, TOUCH_SCHEMA
from transforms.schema import (
    DOSSIER_SCHEMA,
    EVENT_FIELDS,
    LEVELS,
    SCOREBOARD_COUNTS,
    SCOREBOARD_RANKS,
    UNIT_SCHEMA,
    scoreboard_schema,
)

_SQL_TYPES = {
    pl.Utf8(): "VARCHAR",
    pl.Int8(): "TINYINT",
    pl.Int32(): "INTEGER",
    pl.Int64(): "BIGINT",
    pl.Float64(): "DOUBLE",
    pl.Boolean(): "BOOLEAN",
    pl.Date(): "DATE",
    pl.Datetime("us"): "TIMESTAMP",
    pl.UInt64(): "UBIGINT",
}


def _sql_type(dtype) -> str:
    return _SQL_TYPES[dtype() if isinstance(dtype, type) else dtype]


def _names(columns) -> str:
    return ", ".join(f'"{c}"' for c in columns)


INGESTED_FILES_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.Utf8(),
    "content_hash": pl.Utf8(),
    "format": pl.Utf8(),
    "status": pl.Utf8(),
    "message": pl.Utf8(),
    "rows_read": pl.Int64(),
    "dropped_columns": pl.Utf8(),
    "unreadable": pl.Utf8(),
    "ingested_at": pl.Datetime("us"),
}

SCORED_PERIODS_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "config_fingerprint": pl.Utf8(),
}

SCHEMA_VERSION_SCHEMA: dict[str, pl.DataType] = {
    "version": pl.Int64(),
    "description": pl.Utf8(),
    "applied_at": pl.Datetime("us"),
}

# One imported portal file per month: its records (who) and their scores (long).
PORTAL_RECORDS_SCHEMA: dict[str, pl.DataType] = {
    "period_key": pl.Utf8(),
    "source_file": pl.Utf8(),
    "content_hash": pl.Utf8(),
    "record_kind": pl.Utf8(),  # "line" (CSV) or "record" (JSON): how pages name a record
    "imported_at": pl.Datetime("us"),
    **PORTAL_RECORD_SCHEMA,
}
PORTAL_VALUES_SCHEMA: dict[str, pl.DataType] = {
    "period_key": pl.Utf8(),
    "record": pl.Int64(),
    "item": pl.Utf8(),
    "value": pl.Float64(),
}
# Every digest owed to a recipient: created once per (period, channel, recipient),
# never again (a re-run sends nothing twice); retried while not sent. The recipient
# is kept as a hash of its address (resolved from config/alerts.yaml when sending),
# so no address is stored here.
ALERT_OUTBOX_KEY = ("period_type", "period_key", "channel", "recipient_sha")
ALERT_OUTBOX_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "channel": pl.Utf8(),  # email | webhook
    "recipient_sha": pl.Utf8(),
    "recipient_hint": pl.Utf8(),  # a masked address, for reports
    "lang": pl.Utf8(),
    "subject": pl.Utf8(),
    "body": pl.Utf8(),
    "payload": pl.Utf8(),  # the webhook's JSON
    "digest_sha": pl.Utf8(),
    "status": pl.Utf8(),  # pending | sent | failed
    "attempts": pl.Int64(),
    "last_error": pl.Utf8(),
    "created_at": pl.Datetime("us"),
    "sent_at": pl.Datetime("us"),
}

RELEASE_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.Utf8(),
    "content_hash": pl.Utf8(),
    "checks": pl.Utf8(),
    "reason": pl.Utf8(),
    "released_at": pl.Datetime("us"),
}

# Revisions (issue 16, pipelines/revisions.py): each version of a final period's
# numbers that was made public, the rows of those versions (the profile's group
# columns are added as profiles write, like the scoreboard's), the units a revision
# changed and the files that caused it; and the files' changes waiting to be
# published, for the periods whose final numbers are public.
PUBLISHED_PERIODS_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "version": pl.Int64(),  # 1: the first final numbers made public; each revision adds one
    "digest": pl.Utf8(),  # transforms.revisions.period_digests
    "groups": pl.Utf8(),  # the profile's group keys, comma-separated: the version's columns
    "config_fingerprint": pl.Utf8(),
    "published_at": pl.Datetime("us"),
}
PENDING_SCHEMA: dict[str, pl.DataType] = {**TOUCH_SCHEMA, "scored": pl.Boolean()}
# The office's sign-offs of draft publications (scoreboard approve).
SIGN_OFF_SCHEMA: dict[str, pl.DataType] = {
    "draft_sha256": pl.Utf8(),  # of the draft's data/manifest.json
    "periods": pl.Utf8(),  # the periods signed off, comma-separated
    "signed_by": pl.Utf8(),
    "signed_at": pl.Datetime("us"),
    "changed_periods": pl.Utf8(),  # the periods whose published files the draft changed
}
# Raw exports moved out of the landing folder after ingestion (pipelines/retention.py).
ARCHIVED_FILES_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.Utf8(),
    "content_hash": pl.Utf8(),
    "archive_path": pl.Utf8(),  # under the archive folder
    "archived_at": pl.Datetime("us"),
    "deleted_at": pl.Datetime("us"),  # null while the archived copy is kept
}

# The registry the stored dossiers (and the quarantine's unit rows) were resolved
# against: one row, its content digest (transforms.units.registry_digest). A run with
# another registry resolves them again (pipelines/ingestion.py, apply_registry).
REGISTRY_RESOLUTION_SCHEMA: dict[str, pl.DataType] = {
    "registry_digest": pl.Utf8(),
    "resolved_at": pl.Datetime("us"),
}

# The scoreboard's columns that do not depend on the profile; the columns of the
# profile's groups are added when a profile first writes (ensure_columns).
SCOREBOARD_FIXED = {**SCOREBOARD_COUNTS, **SCOREBOARD_RANKS}

# The period tables the site reads from here rather than whole (StoredTable). The digest
# of their rows per unit and period is written with the rows (replace_periods, their only
# writer: any other would leave pages stale; an upgrade makes every digest again), and a
# build adds up those of the partitions its pages read instead of hashing the rows again.
# A digest is of the whole row: a page reads some of its columns, and a change elsewhere
# in the row makes the page again, never leaves it stale.
DIGESTED_TABLES = ("bottlenecks", "what_if", "evidence")
PARTITION_DIGEST_SCHEMA: dict[str, pl.DataType] = {
    "table_name": pl.Utf8(), "period_type": pl.Utf8(), "period_key": pl.Utf8(), "unit_code": pl.Utf8(),
    "unit_valid_from": pl.Date(), "row_count": pl.Int64(),
    # the sum (modulo 2^64) and the xor of the rows' hashes: the same rows in any order
    # give the same digest, and the digests of partitions add up to their union's
    "hash_sum": pl.UInt64(), "hash_xor": pl.UInt64(),
}

# A period, as periods_to_score keeps it.
PERIOD_KEY_SCHEMA: dict[str, pl.DataType] = {"period_type": pl.Utf8(), "period_key": pl.Utf8()}

TABLES: dict[str, dict[str, pl.DataType]] = {
    "units": UNIT_SCHEMA,
    "ingested_files": INGESTED_FILES_SCHEMA,
    "dossier_versions": DOSSIER_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
    "dossiers": DOSSIER_SCHEMA,
    "scoreboard": SCOREBOARD_FIXED,
    "bottlenecks": BOTTLENECK_SCHEMA,
    "what_if": WHAT_IF_SCHEMA,
    # the dossiers behind each unit's overdue and pending-overdue counts, per period
    "evidence": EVIDENCE_SCHEMA,
    "scored_periods": SCORED_PERIODS_SCHEMA,
    # Dossier ids whose kept copy a file write may have changed and that `dossiers`
    # has not caught up with yet: written with the files, cleared with the refresh,
    # so an interrupted run is completed by the next one.
    "stale_dossier_ids": {"dossier_id": pl.Utf8()},
    # The periods whose numbers the kept copies' changes move and that have not been
    # scored since: written in the transaction that changes `dossiers`, cleared in the
    # one that stores the periods' numbers, so a run killed between the two leaves
    # them for the next run to score.
    "periods_to_score": PERIOD_KEY_SCHEMA,
    "quality_holds": HOLD_SCHEMA,
    # early warnings and bands at risk, computed once when their periods are scored
    "warnings": WARNING_SCHEMA,
    # imported national-portal files and the alert digests owed, sent or failed
    "portal_records": PORTAL_RECORDS_SCHEMA,
    "portal_values": PORTAL_VALUES_SCHEMA,
    "alert_outbox": ALERT_OUTBOX_SCHEMA,
    # a file that drifts from its units' own history (quality/drift) is held: what it
    # gave waits in these tables, with the columns of ingested_files / dossier_versions /
    # quarantine, and changes nothing scored until a corrected file replaces it or the
    # office releases it (batch_releases, listed in the site's manifest)
    "held_files": INGESTED_FILES_SCHEMA,
    "held_versions": DOSSIER_SCHEMA,
    "held_quarantine": QUARANTINE_SCHEMA,
    "batch_releases": RELEASE_SCHEMA,
    "schema_version": SCHEMA_VERSION_SCHEMA,
    "published_periods": PUBLISHED_PERIODS_SCHEMA,
    "published_scoreboard": {"version": pl.Int64(), **SCOREBOARD_FIXED},
    "revisions": REVISION_SCHEMA,
    "revision_causes": CAUSE_SCHEMA,
    "revision_pending": PENDING_SCHEMA,
    "sign_offs": SIGN_OFF_SCHEMA,
    "archived_files": ARCHIVED_FILES_SCHEMA,
    "partition_digests": PARTITION_DIGEST_SCHEMA,
    "registry_resolution": REGISTRY_RESOLUTION_SCHEMA,
}
TOUCHED = "stale_dossier_ids"
PERIOD_TABLES = ("scored_periods", "scoreboard", "bottlenecks", "what_if", "warnings", "evidence")
# How a lake partitions a province's data files (pipelines/lake.py; the other tables are
# small and unpartitioned): a re-scored period rewrites its own files only, and a read of
# some periods opens theirs.
PARTITION_KEYS = {
    "dossiers": "year(received_at)",
    "dossier_versions": "year(received_at)",
    **{t: "period_type, period_key" for t in (*PERIOD_TABLES, "partition_digests")},
}

FILE_ACCOUNTING_SQL = """
CREATE OR REPLACE VIEW file_accounting AS
SELECT f.source_file, f.content_hash, f.format, f.status, f.message, f.rows_read,
       coalesce(a.accepted, 0) AS rows_accepted,
       coalesce(q.quarantined, 0) AS rows_quarantined,
       coalesce(v.versions, 0) - coalesce(a.accepted, 0) AS rows_superseded,
       f.dropped_columns, f.unreadable, f.ingested_at
FROM ingested_files f
LEFT JOIN (SELECT source_file, count(*) AS versions FROM dossier_versions GROUP BY 1) v USING (source_file)
LEFT JOIN (SELECT source_file, count(*) AS accepted FROM dossiers GROUP BY 1) a USING (source_file)
LEFT JOIN (SELECT source_file, count(*) AS quarantined FROM quarantine GROUP BY 1) q USING (source_file)
"""


# ------------------------------------------------------------------ connection and layout


def duckdb_config() -> dict:
    # DuckDB's buffer pool would otherwise grow to 80 % of RAM while a first load of
    # millions of dossiers is inserted; beyond this it writes to the file and spills.
    # Never try to download an extension (intranets): the lake's come as packages.
    return {"memory_limit": os.environ.get("SCOREBOARD_DUCKDB_MEMORY", "2GB"), "autoinstall_known_extensions": False}


@contextmanager
def connect(
    path: Path | str, *, read_only: bool = False, province: str = "", lake_data: str = ""
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse: a DuckDB file, or with ``ducklake:<catalog>`` the `province`'s
    tables in a DuckLake whose data files are in `lake_data` (pipelines/lake.py)."""
    config = duckdb_config()
    if lake.is_lake(path):
        with lake.connect(str(path), province=province, data=lake_data, read_only=read_only, config=config,
                          layout=LAYOUT) as con:
            yield con
        return
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    try:
        if not read_only:
            ensure_schema(con)
        yield con
    finally:
        con.close()


def _reset_scored_periods(con: duckdb.DuckDBPyConnection) -> None:
    # rows written before version 2 have no max_points_<group> and their warnings
    # were never stored, before version 5 no evidence: the next run re-scores every period
    con.execute("DELETE FROM scored_periods")


def _drop_weak_points(con: duckdb.DuckDBPyConnection) -> None:
    # the weak points are the scoreboard's rows seen indicator by indicator: the site
    # derives them from it (docs/site-build.md), so they are no longer a second copy here
    con.execute("DROP TABLE IF EXISTS weak_points")
    con.execute("DELETE FROM partition_digests WHERE table_name = 'weak_points'")


# (version, what it changed, the data step beyond adding tables and columns)
MIGRATIONS: tuple[tuple[int, str, Callable[[duckdb.DuckDBPyConnection], None] | None], ...] = (
    (1, "the layout before schema versions (b44d358)", None),
    (2, "warnings table; max_points_<group> beside points_<group>; schema_version", _reset_scored_periods),
    (3, "portal_records, portal_values (portal reconciliation); alert_outbox (alert deliveries)", None),
    (4, "held_files, held_versions, held_quarantine, batch_releases (drifting batches); quality_holds: "
        "unit_code, unit_valid_from, unit_name, usual, observed", None),
    # its periods are scored again, which fills it
    (5, "evidence (the dossiers behind the late counts)", _reset_scored_periods),
    (6, "published_periods, published_scoreboard, revisions, revision_causes, revision_pending (revisions); "
        "sign_offs (draft publications); archived_files (retention of raw exports)", None),
    # (its data step is the one every upgrade ends with: ensure_schema)
    (7, "partition_digests (the row digests of the site's stored period tables)", None),
    (8, "weak_points no longer stored: the site derives them from the scoreboard", _drop_weak_points),
    # a lake partitions it as it upgrades (pipelines/lake.py); a DuckDB file has nothing to do
    (9, "evidence partitioned by period in a lake, as the other period tables", None),
    # empty after the upgrade: the next run resolves the stored dossiers once against its registry
    (10, "registry_resolution (the registry the stored dossiers were resolved against)", None),
    (11, "periods_to_score (the periods changed rows move, until they are scored)", None),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class WarehouseVersionError(RuntimeError):
    pass


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND database_name = current_database() "
        "AND schema_name = current_schema() ORDER BY column_index",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    # the current schema: `main` of a DuckDB file, the province's in the lake
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = current_schema()").fetchall()}


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The layout version of this warehouse: 0 for an empty file, 1 for one written
    before versions were recorded."""
    tables = _tables(con)
    if "schema_version" in tables:
        return one(con, "SELECT coalesce(max(version), 0) FROM schema_version")[0]
    return 1 if "units" in tables else 0


def ensure_columns(con: duckdb.DuckDBPyConnection, table: str, schema: dict[str, pl.DataType]) -> None:
    """Add the columns of `schema` that `table` lacks (an upgrade, or a new group)."""
    have = set(_table_columns(con, table))
    for name, dtype in schema.items():
        if name not in have:
            con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {_sql_type(dtype)}')


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create or upgrade the layout in place, and record its version."""
    found = schema_version(con)
    if found > SCHEMA_VERSION:
        raise WarehouseVersionError(
            f"the warehouse has layout version {found}, newer than this software's {SCHEMA_VERSION}: "
            "update the software before running it on this warehouse"
        )
    if found == SCHEMA_VERSION:
        _ensure_file_accounting(con)
        return
    con.execute("BEGIN")
    try:
        for table, schema in TABLES.items():
            columns = ", ".join(f'"{name}" {_sql_type(dtype)}' for name, dtype in schema.items())
            con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({columns})')
            ensure_columns(con, table, schema)
        # an empty file is created in the latest layout: no data to carry over
        steps = MIGRATIONS if found == 0 else [m for m in MIGRATIONS if m[0] > found]
        for version, description, step in steps:
            if step is not None and found:
                step(con)
            con.execute(
                f"INSERT INTO schema_version ({_names(SCHEMA_VERSION_SCHEMA)}) VALUES (?, ?, current_localtimestamp())",
                [version, description],
            )
        if found:  # whatever the steps changed, the stored digests are of the rows now
            digest_partitions(con)
        _ensure_file_accounting(con)
        con.execute("COMMIT")
    except Exception:
        _rollback(con)  # (a failed COMMIT has ended it: the lake runs it again, lake.retrying)
        raise


def _ensure_file_accounting(con: duckdb.DuckDBPyConnection) -> None:
    """The file_accounting view as FILE_ACCOUNTING_SQL defines it now, replaced only
    when that changed (the view's comment holds a hash of it): replacing it at every
    connection was a write, and a write makes closing the file a checkpoint
    (docs/benchmarks.md, "A new week's fixed costs"). In a DuckLake the layout is
    prepared only when its version is not current (pipelines/lake.py): there a
    change of FILE_ACCOUNTING_SQL needs a new layout version."""
    mark = hashlib.sha256(FILE_ACCOUNTING_SQL.encode()).hexdigest()[:16]
    found = con.execute(
        "SELECT comment FROM duckdb_views() WHERE view_name = 'file_accounting' "
        "AND database_name = current_database() AND schema_name = current_schema()"
    ).fetchall()
    if found != [(mark,)]:
        con.execute(FILE_ACCOUNTING_SQL)
        con.execute(f"COMMENT ON VIEW file_accounting IS '{mark}'")


# what the lake needs to create, upgrade and roll up a province's tables (pipelines/lake.py);
# the digests are a province's site bookkeeping, not data to roll up
LAYOUT = lake.Layout(
    tables=tuple(t for t in TABLES if t != "partition_digests"), partitions=PARTITION_KEYS,
    is_current=lambda con: schema_version(con) == SCHEMA_VERSION, ensure=ensure_schema,
)


# ------------------------------------------------------------------ generic helpers


def read_table(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> pl.DataFrame:
    # a prepared statement, not con.sql(sql, params=...): DuckDB 1.4's relation with
    # parameters converts its result many times slower (docs/benchmarks.md;
    # duckdb/duckdb-python#238, #300)
    return con.execute(sql, params or []).pl()


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    """The first row of a query. (DuckDB 2 keeps a half-fetched result open and refuses
    the next statement, so always fetch to the end.)"""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else ()


def insert(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, schema: dict[str, pl.DataType] | None = None
) -> None:
    """Append a frame's rows, its columns named (`schema`: the table's by default)."""
    if frame.height == 0:
        return
    schema = schema or TABLES[table]
    # (Arrow's string views: the text is handed over, not copied into large strings)
    arrow = frame.select([pl.col(c).cast(t) for c, t in schema.items()]).to_arrow(compat_level=pl.CompatLevel.newest())
    con.register("_incoming", arrow)
    try:
        con.execute(f'INSERT INTO "{table}" ({_names(schema)}) SELECT {_names(schema)} FROM _incoming')
    finally:
        con.unregister("_incoming")


@contextmanager
def unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Statements here may store their rows in any order: DuckDB then writes a large
    insert's row groups to the file from each thread as they fill, where keeping the
    order writes them at the commit, on one thread (docs/benchmarks.md, "The dossiers
    stored in any order"). Only for tables nothing reads in stored order: the dossiers
    and their versions, read by id, in windows and groups."""
    before = one(con, "SELECT current_setting('preserve_insertion_order')")[0]
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if before else 'false'}")


# The connections in a transaction of _in_transaction: a write called inside another's
# work is part of that transaction (all_in_one), committed or rolled back with it.
_OPEN: set[int] = set()


def _in_transaction(
    con: duckdb.DuckDBPyConnection, work: Callable[[], None], attempts: int = lake.COMMIT_ATTEMPTS
) -> None:
    """Run `work` in one transaction. In the lake, a commit that DuckLake could not
    settle against another process's is run again from the start after a pause
    (lake.retryable, lake.retry_pause): every write here replaces a slice, so doing
    it again is safe. Inside another transaction of this module, `work` is part of it."""
    if id(con) in _OPEN:
        work()
        return
    for attempt in range(1, attempts + 1):
        con.execute("BEGIN")
        _OPEN.add(id(con))
        try:
            work()
            con.execute("COMMIT")
            return
        except Exception as exc:
            _rollback(con)
            if attempt == attempts or not lake.retryable(exc):
                raise
        finally:
            _OPEN.discard(id(con))
        lake.retry_pause(attempt)


def all_in_one(con: duckdb.DuckDBPyConnection, work: Callable[[], None]) -> None:
    """The writes `work` makes, committed together or not at all (a process killed in
    between leaves none of them)."""
    _in_transaction(con, work)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:  # a failed COMMIT has ended the transaction already
        pass


def _select(con: duckdb.DuckDBPyConnection, table: str, schema: dict[str, pl.DataType]) -> str:
    """The select list of `schema` from `table`, a typed null for a column it lacks
    (a group no profile has written yet)."""
    have = set(_table_columns(con, table))
    return ", ".join(
        f'"{c}"' if c in have else f'NULL::{_sql_type(t)} AS "{c}"' for c, t in schema.items()
    )


def count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    assert table in TABLES, table
    return one(con, f'SELECT count(*) FROM "{table}"')[0]


# ------------------------------------------------------------------ units and files


def replace_units(con: duckdb.DuckDBPyConnection, units: pl.DataFrame) -> None:
    def work():
        con.execute("DELETE FROM units")
        insert(con, "units", units)

    _in_transaction(con, work)


def read_units(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(con, f"SELECT {_names(UNIT_SCHEMA)} FROM units")


def known_files(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """source_file → content hash of what was ingested from it; not of a file set aside
    (status rejected), which gave nothing: back in the landing folder, it is read again."""
    return dict(con.execute(
        "SELECT source_file, content_hash FROM ingested_files WHERE status <> 'rejected'"
    ).fetchall())


def ingested_inputs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every ingested file with its hash, status and rows read (for the manifest)."""
    return read_table(
        con, "SELECT source_file, content_hash, status, rows_read FROM ingested_files ORDER BY source_file"
    )


def file_accounting(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per file: rows read, accepted, quarantined and superseded."""
    return read_table(con, "SELECT * FROM file_accounting ORDER BY source_file")


def quarantine_summary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Quarantined rows per file and reason."""
    return read_table(
        con, "SELECT source_file, reason, count(*) AS rows FROM quarantine GROUP BY ALL ORDER BY ALL"
    )


def quarantined_rows(con: duckdb.DuckDBPyConnection, file: str | None = None, reason: str | None = None) -> pl.DataFrame:
    """The quarantined rows (of one file, for one reason, when given), with the time their
    file was read, by file and row."""
    return read_table(
        con,
        "SELECT q.*, f.ingested_at FROM quarantine q LEFT JOIN ingested_files f USING (source_file) "
        "WHERE ($file IS NULL OR q.source_file = $file) AND ($reason IS NULL OR q.reason = $reason) "
        "ORDER BY q.source_file, q.source_row",
        {"file": file, "reason": reason},
    )


def receipts_of_files(con: duckdb.DuckDBPyConnection, files: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(source_file, received_at) of these files' quarantined rows (as text) and of
    their accepted versions: the days their rows fall in."""
    quarantine = read_table(
        con, "SELECT source_file, received_at FROM quarantine WHERE list_contains(?, source_file)", [files]
    )
    versions = read_table(
        con, "SELECT source_file, received_at FROM dossier_versions WHERE list_contains(?, source_file)", [files]
    )
    return quarantine, versions


def replace_files(
    con: duckdb.DuckDBPyConnection,
    *,
    file_rows: list[dict],
    versions: pl.DataFrame,
    quarantine: pl.DataFrame,
    track_touched: bool = False,
) -> None:
    """Store files' outcomes in one transaction, replacing whatever earlier contents
    of the same paths contributed (a district re-sending a corrected export).

    With ``track_touched`` the dossier ids the replaced contents carried and the ids
    of the new versions, exactly the ids whose kept copy this write can change, are
    added to ``stale_dossier_ids`` for ``refresh_dossiers``."""
    sources = pl.DataFrame({"source_file": [row["source_file"] for row in file_rows]}, schema={"source_file": pl.Utf8})
    con.register("_sources", sources.to_arrow())
    in_sources = "source_file IN (SELECT source_file FROM _sources)"

    def work():
        # (files are stored in one transaction with their versions: a path that
        # ingested_files does not know has nothing to replace)
        if one(con, f"SELECT count(*) FROM ingested_files WHERE {in_sources}")[0]:
            if track_touched:
                con.execute(
                    f"INSERT INTO {TOUCHED} (dossier_id) "
                    f"SELECT DISTINCT dossier_id FROM dossier_versions WHERE {in_sources}"
                )
            for table in ("ingested_files", "dossier_versions", "quarantine"):
                con.execute(f'DELETE FROM "{table}" WHERE {in_sources}')
        insert(con, "ingested_files", pl.DataFrame(file_rows, schema=INGESTED_FILES_SCHEMA))
        with unordered(con):
            insert(con, "dossier_versions", versions)
        insert(con, "quarantine", quarantine)
        if track_touched and versions.height:
            insert(con, TOUCHED, versions.select(pl.col("dossier_id").unique()))

    try:
        _in_transaction(con, work)
    finally:
        con.unregister("_sources")


# ------------------------------------------------------------------ a changed registry

# Each table of versions with its quarantine: the stored ones, and the held files'
# (pipelines/drift.py), which are stored as they are when the office releases them.
UNIT_TABLES = (("dossier_versions", "quarantine"), ("held_versions", "held_quarantine"))
# the key a stored unit is resolved again by (transforms.units.resolve_stored)
UNIT_DAY = ("unit_code", "unit_valid_from", "day")
UNIT_DAY_SCHEMA: dict[str, pl.DataType] = {"unit_code": pl.Utf8(), "unit_valid_from": pl.Date(), "day": pl.Date()}
REMAP_SCHEMA: dict[str, pl.DataType] = {**UNIT_DAY_SCHEMA, "new_code": pl.Utf8(), "new_valid_from": pl.Date()}
ROW_KEY_SCHEMA: dict[str, pl.DataType] = {"source_file": pl.Utf8(), "source_row": pl.Int64()}
_ON_UNIT_DAY = "v.unit_code = k.unit_code AND v.unit_valid_from = k.unit_valid_from AND CAST(v.received_at AS DATE) = k.day"


def resolved_registry(con: duckdb.DuckDBPyConnection) -> str | None:
    """The digest of the registry the stored rows were resolved against (None: not
    recorded, a warehouse written before version 10 or never written)."""
    row = one(con, "SELECT registry_digest FROM registry_resolution ORDER BY resolved_at DESC LIMIT 1")
    return row[0] if row else None


def has_resolved_rows(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any versions or quarantined rows, stored or held, were resolved yet."""
    tables = [t for pair in UNIT_TABLES for t in pair]
    union = " UNION ALL ".join(f'SELECT 1 FROM "{t}"' for t in tables)
    return bool(one(con, f"SELECT count(*) FROM (SELECT 1 FROM ({union}) LIMIT 1)")[0])


def stored_unit_days(con: duckdb.DuckDBPyConnection, versions: str) -> pl.DataFrame:
    """The distinct (unit_code, unit_valid_from, received day) of a versions table."""
    assert versions in TABLES, versions
    return read_table(
        con, f'SELECT DISTINCT unit_code, unit_valid_from, CAST(received_at AS DATE) AS day FROM "{versions}"'
    )


def versions_of_unit_days(con: duckdb.DuckDBPyConnection, versions: str, keys: pl.DataFrame) -> pl.DataFrame:
    """The rows of a versions table whose unit and received day are among `keys`."""
    assert versions in TABLES, versions
    if keys.is_empty():
        return read_table(con, f'SELECT {_names(DOSSIER_SCHEMA)} FROM "{versions}" LIMIT 0')
    with _registered(con, _keys=keys.select([pl.col(c).cast(t) for c, t in UNIT_DAY_SCHEMA.items()])):
        return read_table(
            con,
            f'SELECT {", ".join(f"v.{c}" for c in _names(DOSSIER_SCHEMA).split(", "))} FROM "{versions}" v '
            f"JOIN _keys k ON {_ON_UNIT_DAY} ORDER BY v.source_file, v.source_row",
        )


def count_of_unit_days(con: duckdb.DuckDBPyConnection, versions: str, keys: pl.DataFrame) -> int:
    """How many rows of a versions table have their unit and received day among `keys`."""
    assert versions in TABLES, versions
    if keys.is_empty():
        return 0
    with _registered(con, _keys=keys.select([pl.col(c).cast(t) for c, t in UNIT_DAY_SCHEMA.items()])):
        return one(con, f'SELECT count(*) FROM "{versions}" v JOIN _keys k ON {_ON_UNIT_DAY}')[0]


def unit_quarantine(con: duckdb.DuckDBPyConnection, quarantine: str, reasons: Sequence[str]) -> pl.DataFrame:
    """The rows of a quarantine table set aside for these reasons (their unit)."""
    assert quarantine in TABLES, quarantine
    return read_table(
        con,
        f'SELECT {_names(QUARANTINE_SCHEMA)} FROM "{quarantine}" WHERE list_contains(?, reason) '
        "ORDER BY source_file, source_row",
        [list(reasons)],
    )


def apply_registry_change(
    con: duckdb.DuckDBPyConnection, *, digest: str, at: datetime, moves: dict[str, dict[str, pl.DataFrame]]
) -> None:
    """What resolving the stored rows against a new registry gave, in one transaction,
    and the registry's digest with it. `moves`, per versions table (UNIT_TABLES): `remap`
    (REMAP_SCHEMA: the versions of a unit and day now belong to another unit),
    `gone` (UNIT_DAY_SCHEMA: the versions of a unit and day no longer match a unit:
    deleted, their rows are in `to_quarantine`), `out_of_quarantine` (ROW_KEY_SCHEMA:
    quarantined rows retried, deleted), `to_quarantine` (their rows again, with their
    new reason, and the gone versions' rows), `to_versions` (retried rows that are
    dossiers now). The dossier ids whose versions change are marked stale (a stored
    table's only: held rows count once released)."""
    pair = dict(UNIT_TABLES)
    keys = {"remap": REMAP_SCHEMA, "gone": UNIT_DAY_SCHEMA, "out_of_quarantine": ROW_KEY_SCHEMA}
    registered = {
        f"_{name}_{i}": parts[name].select([pl.col(c).cast(t) for c, t in schema.items()])
        for i, parts in enumerate(moves.values())
        for name, schema in keys.items()
    }

    def work():
        for i, (versions, parts) in enumerate(moves.items()):
            quarantine, stored = pair[versions], versions == "dossier_versions"
            remap, gone, out = f"_remap_{i}", f"_gone_{i}", f"_out_of_quarantine_{i}"
            if stored:
                for table in (remap, gone):
                    con.execute(
                        f"INSERT INTO {TOUCHED} (dossier_id) SELECT DISTINCT v.dossier_id "
                        f'FROM "{versions}" v JOIN {table} k ON {_ON_UNIT_DAY}'
                    )
            con.execute(
                f'UPDATE "{versions}" v SET unit_code = k.new_code, unit_valid_from = k.new_valid_from '
                f"FROM {remap} k WHERE {_ON_UNIT_DAY}"
            )
            con.execute(
                f'DELETE FROM "{versions}" v WHERE EXISTS (SELECT 1 FROM {gone} k WHERE {_ON_UNIT_DAY})'
            )
            con.execute(
                f'DELETE FROM "{quarantine}" q WHERE EXISTS (SELECT 1 FROM {out} o '
                "WHERE o.source_file = q.source_file AND o.source_row = q.source_row)"
            )
            insert(con, quarantine, parts["to_quarantine"], QUARANTINE_SCHEMA)
            with unordered(con):
                insert(con, versions, parts["to_versions"], DOSSIER_SCHEMA)
            if stored and parts["to_versions"].height:
                insert(con, TOUCHED, parts["to_versions"].select(pl.col("dossier_id").unique()))
        con.execute("DELETE FROM registry_resolution")
        insert(con, "registry_resolution", pl.DataFrame([{"registry_digest": digest, "resolved_at": at}],
                                                         schema=REGISTRY_RESOLUTION_SCHEMA))

    with _registered(con, **registered):
        _in_transaction(con, work)


def record_registry(con: duckdb.DuckDBPyConnection, digest: str, at: datetime) -> None:
    """Note the registry the stored rows are resolved against (nothing stored yet)."""
    apply_registry_change(con, digest=digest, at=at, moves={})


# ------------------------------------------------------------------ dossiers

# The kept copy of a dossier (dossier-log.md "Duplicates and updates"), the same
# order as transforms.dedup.select_latest: latest event time, then status (none
# lowest), then the base name sorting last by code point (DuckDB compares text by
# bytes: UTF-8 byte order is code-point order), then the full path, then the row.
# select_latest's last resort, a hash of the whole record, is not needed here:
# (source_file, source_row) is unique in dossier_versions, a file replacing its rows.
KEEP_ORDER_SQL = f"""
    greatest({", ".join(EVENT_FIELDS)}) DESC NULLS LAST,
    coalesce(status, -1) DESC,
    regexp_replace(source_file, '^.*[/\\\\]', '') DESC,
    source_file DESC,
    source_row DESC"""
REFRESH_MEMORY = "1GB"
# Stale ids whose copies are chosen in one window: DuckDB 1.4's window over the ten
# million versions of a first load did not spill within REFRESH_MEMORY ("failed to
# pin block"), so larger sets are chosen in buckets of ids (by hash), one at a time.
REFRESH_BUCKET_IDS = 2_000_000


def has_dossiers(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(one(con, "SELECT count(*) FROM (SELECT 1 FROM dossiers LIMIT 1)")[0])


ChangedPeriods = Callable[[pl.DataFrame | None, pl.DataFrame], pl.DataFrame]


def refresh_dossiers(
    con: duckdb.DuckDBPyConnection, *, read_first_load: bool = True, moved: ChangedPeriods | None = None
) -> tuple[pl.DataFrame | None, pl.DataFrame] | None:
    """Re-select the kept copy of every stale dossier id, in DuckDB, and replace those
    ids' rows of ``dossiers`` (one transaction, which also clears the stale ids).
    Returns (added, removed): the rows that differ between the new and the old kept
    copies of those ids, from each side (what transforms.changes.changed_dossiers of
    the whole tables gives, split by ``side``); None when no id was stale. On a first load
    every dossier is added: with ``read_first_load=False`` added is None, not read back.

    ``moved(added, removed)``, called in the same transaction, gives the periods these
    changes move (period_type, period_key): they are stored in periods_to_score with
    the new kept copies, so that no kill between this and their scoring loses them.
    What it writes itself is part of that transaction (what the ingestion derives
    from the changes: pipelines.ingestion._refresh_kept_copies)."""
    if not one(con, f"SELECT count(*) FROM (SELECT 1 FROM {TOUCHED} LIMIT 1)")[0]:
        return None
    columns = _names(DOSSIER_SCHEMA)
    in_touched = "dossier_id IN (SELECT dossier_id FROM _ids)"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ids AS SELECT DISTINCT dossier_id FROM {TOUCHED}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _old AS SELECT {columns} FROM dossiers WHERE {in_touched}")
    limit = one(con, "SELECT current_setting('memory_limit')")[0]
    # a first load's window over every version spills rather than grows, and the
    # rows read back are not cached beside their copy in Polars
    con.execute(f"SET memory_limit = '{REFRESH_MEMORY}'")
    try:
        return _refresh(con, in_touched, columns, read_first_load, moved)
    finally:
        con.execute(f"SET memory_limit = '{limit}'")


def _refresh(
    con: duckdb.DuckDBPyConnection, in_touched: str, columns: str, read_first_load: bool,
    moved: ChangedPeriods | None,
) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    buckets = -(-one(con, "SELECT count(*) FROM _ids")[0] // REFRESH_BUCKET_IDS)
    changes: list[tuple[pl.DataFrame | None, pl.DataFrame]] = []

    def work():
        changes.clear()
        con.execute(f"DELETE FROM dossiers WHERE {in_touched}")
        for bucket in range(buckets):
            # the ids of one bucket, on both sides of the IN: its hash table holds those alone
            part = f" AND hash(dossier_id) % {buckets} = {bucket}" if buckets > 1 else ""
            with unordered(con):
                con.execute(
                    f"""INSERT INTO dossiers ({columns})
                    SELECT {columns} FROM dossier_versions
                    WHERE dossier_id IN (SELECT dossier_id FROM _ids WHERE true{part}){part}
                    QUALIFY row_number() OVER (PARTITION BY dossier_id ORDER BY {KEEP_ORDER_SQL}) = 1"""
                )
        con.execute(f"DELETE FROM {TOUCHED}")
        changes.append(_kept_copy_changes(con, in_touched, columns, read_first_load))
        if moved is not None:
            insert(con, "periods_to_score", moved(*changes[0]))

    _in_transaction(con, work)
    con.execute("DROP TABLE _ids")
    con.execute("DROP TABLE _old")
    return changes[0]


def _kept_copy_changes(
    con: duckdb.DuckDBPyConnection, in_touched: str, columns: str, read_first_load: bool
) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """(added, removed) of refresh_dossiers: the new kept copies against `_old`."""
    new = f"SELECT {columns} FROM dossiers WHERE {in_touched}"
    if one(con, "SELECT count(*) FROM (SELECT 1 FROM _old LIMIT 1)")[0]:
        return (read_batched(con, f"{new} EXCEPT ALL SELECT * FROM _old"),
                read_batched(con, f"SELECT * FROM _old EXCEPT ALL {new}"))
    # a first load: everything is new
    return (read_batched(con, new) if read_first_load else None), read_table(con, "SELECT * FROM _old")


def add_periods_to_score(con: duckdb.DuckDBPyConnection, periods: pl.DataFrame) -> None:
    """Keep these periods (PERIOD_KEY_SCHEMA) to score, until their numbers are stored."""
    if not periods.height:
        return
    key = _names(PERIOD_KEY_SCHEMA)
    with _registered(con, _to_score=periods.select(list(PERIOD_KEY_SCHEMA))):
        _in_transaction(con, lambda: con.execute(
            f"INSERT INTO periods_to_score ({key}) SELECT {key} FROM _to_score EXCEPT SELECT {key} FROM periods_to_score"))


def scored_to_score(con: duckdb.DuckDBPyConnection, period_type: str, period_keys: list[str]) -> None:
    """These periods of periods_to_score are scored: stored, or held back (their last
    good numbers stay; a change of their hold puts them back, ingestion._record_holds)."""
    con.execute(
        "DELETE FROM periods_to_score WHERE period_type = ? AND list_contains(?, period_key)",
        [period_type, period_keys],
    )


def periods_to_score(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The periods changed kept copies move that have not been scored since."""
    return read_table(con, "SELECT DISTINCT period_type, period_key FROM periods_to_score ORDER BY ALL")


def read_batched(con: duckdb.DuckDBPyConnection, sql: str, rows: int = 500_000) -> pl.DataFrame:
    """A query's result as a frame, converted a batch at a time (a whole first load of
    dossiers would otherwise be held twice, as Arrow and as Polars, while converting)."""
    relation = con.sql(sql)
    # DuckDB 1.4 (the lake's LTS) names it fetch_arrow_reader, 2.0 to_arrow_reader
    read = relation.to_arrow_reader if hasattr(relation, "to_arrow_reader") else relation.fetch_arrow_reader
    reader = read(rows)
    frames = [pl.from_arrow(batch) for batch in reader]
    if not frames:
        return read_table(con, f"SELECT * FROM ({sql}) LIMIT 0")
    return pl.concat(frames, rechunk=False)


def dossier_fields(con: duckdb.DuckDBPyConnection, fields: tuple[str, ...]) -> pl.DataFrame:
    """These fields of every kept dossier, read a batch at a time."""
    return read_batched(con, f"SELECT {_names(fields)} FROM dossiers")


def dossier_bucket(con: duckdb.DuckDBPyConnection, buckets: int, bucket: int) -> pl.DataFrame:
    """The dossiers whose id hashes to `bucket` of `buckets` (one id, one bucket)."""
    # the numbers written into the SQL, not bound: against a bound `% ? = ?` DuckDB 1.4
    # casts every hash to HUGEINT and filters after the scan, several times slower
    # (docs/benchmarks.md)
    buckets, bucket = int(buckets), int(bucket)
    return read_table(
        con, f"SELECT {_names(DOSSIER_SCHEMA)} FROM dossiers WHERE coalesce(hash(dossier_id), 0) % {buckets} = {bucket}"
    )


def replace_dossiers(con: duckdb.DuckDBPyConnection, dossiers: pl.DataFrame) -> None:
    def work():
        con.execute("DELETE FROM dossiers")
        insert(con, "dossiers", dossiers)

    _in_transaction(con, work)


def data_extent(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    """(first received_at, latest event time) of the canonical dossiers."""
    latest = ", ".join(f"max({f})" for f in EVENT_FIELDS)
    first, last = one(con, f"SELECT min(received_at), greatest({latest}) FROM dossiers")
    return first, last


def unit_latest_events(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per unit, the latest of each event time of its dossiers (for freshness)."""
    return read_table(
        con,
        """SELECT unit_code, unit_valid_from, max(received_at) AS received_at, max(finished_at) AS finished_at,
                  max(returned_at) AS returned_at, max(rejected_at) AS rejected_at
           FROM dossiers GROUP BY ALL""",
    )


# ------------------------------------------------------------------ scoring reads

# The dossier fields scoring reads (counts, rates, due dates, bottlenecks; the id for
# the evidence): not the names, lineage or submission time.
SCORING_FIELDS = (
    "dossier_id", "unit_code", "unit_valid_from", "procedure_code", "channel", "status",
    "received_at", "due_at", "finished_at", "returned_at", "rejected_at",
    "fee_required", "paid_online", "digitized", "e_result", "synced", "apology_issued",
    "rating", "complaint",
)
# A dossier can count in [start, end) when it was received before the end and is
# still open at the start, or ends (is finished, returned or rejected) after it.
_LAST_EVENT = "greatest(received_at, finished_at, returned_at, rejected_at)"
_CLOSED = f"status IN ({', '.join(str(s) for s in CLOSED_STATUSES)})"
_COUNTING = f"received_at < $end AND ({_LAST_EVENT} >= $start OR status IS NULL OR NOT {_CLOSED})"


def counting_dossiers(con: duckdb.DuckDBPyConnection, start, end) -> pl.DataFrame:
    """The scoring fields of the dossiers that can count in [start, end)."""
    return read_table(
        con, f"SELECT {_names(SCORING_FIELDS)} FROM dossiers WHERE {_COUNTING}", {"start": start, "end": end}
    )


def counting_days(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(dossiers by day of receipt, closed dossiers by day of their last event), so
    that how many can count in a window is a difference of two running sums."""
    received = read_table(
        con, "SELECT received_at::DATE AS day, count(*) AS n FROM dossiers "
        "WHERE received_at IS NOT NULL GROUP BY 1",
    )
    closed = read_table(
        con, f"SELECT {_LAST_EVENT}::DATE AS day, count(*) AS n FROM dossiers "
        f"WHERE received_at IS NOT NULL AND {_CLOSED} GROUP BY 1",
    )
    return received, closed


def procedure_names(con: duckdb.DuckDBPyConnection, start, end) -> pl.DataFrame:
    """procedure_code → the name most dossiers that can count in [start, end) give it
    (the first in byte order among ties), as transforms.insights.procedure_names."""
    return read_table(
        con,
        f"""SELECT procedure_code, procedure_name FROM (
                SELECT procedure_code, procedure_name, count(*) AS n FROM dossiers
                WHERE procedure_name IS NOT NULL AND {_COUNTING} GROUP BY ALL)
            QUALIFY row_number() OVER (PARTITION BY procedure_code ORDER BY n DESC, procedure_name) = 1""",
        {"start": start, "end": end},
    )


# ------------------------------------------------------------------ periods


def scored_periods(con: duckdb.DuckDBPyConnection, fingerprint: str) -> pl.DataFrame:
    """(period_type, period_key) of the periods scored with this configuration."""
    return read_table(
        con, "SELECT period_type, period_key FROM scored_periods WHERE config_fingerprint = ?", [fingerprint]
    )


def provisional_periods(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(period_type, period_key) of the stored periods scored while in progress."""
    return read_table(con, "SELECT DISTINCT period_type, period_key FROM scoreboard WHERE provisional ORDER BY ALL")


class _Declined(Exception):
    """A transaction whose work is done but whose commit was declined (replace_periods)."""


def replace_periods(
    con: duckdb.DuckDBPyConnection,
    period_type: str,
    period_keys: list[str],
    tables: dict[str, pl.DataFrame | Callable[[], Iterable[pl.DataFrame]]],
    profile: Profile,
    *,
    before_commit: Callable[[], bool] | None = None,
) -> bool:
    """Delete-then-insert these periods' rows of each period table, in one transaction
    (the scoreboard with the columns of `profile`, added to the table if it lacks them).
    A table's rows are a frame, or a function giving them in parts (each inserted as it
    comes, so they are never all held; called again if the transaction is retried).

    `before_commit`, when given, is called in the transaction once the rows are in: it
    may write more there (the scoreboard's holds); False rolls the whole transaction
    back, and replace_periods returns False (True when it committed)."""
    schemas = {**TABLES, "scoreboard": scoreboard_schema(profile)}

    def work():
        if "scoreboard" in tables:
            ensure_columns(con, "scoreboard", schemas["scoreboard"])
        for table, rows in tables.items():
            assert table in PERIOD_TABLES, table
            con.execute(
                f'DELETE FROM "{table}" WHERE period_type = ? AND list_contains(?, period_key)',
                [period_type, period_keys],
            )
            for part in rows() if callable(rows) else (rows,):
                insert(con, table, part, schemas[table])
            if table in DIGESTED_TABLES:
                digest_partitions(con, table, period_type, period_keys)
        if "scored_periods" in tables:  # these periods' waiting changes are now in their numbers
            con.execute(
                "UPDATE revision_pending SET scored = true WHERE period_type = ? AND list_contains(?, period_key)",
                [period_type, period_keys],
            )
            scored_to_score(con, period_type, period_keys)
        if before_commit is not None and not before_commit():
            raise _Declined

    try:
        _in_transaction(con, work)
    except _Declined:
        return False
    return True


def _added_up(sums: str, xors: str) -> str:
    """How row hashes, and the digests of parts, add up: their sum modulo 2^64 and
    their xor (the same for the same rows in any order, and for any cut into parts)."""
    return f"(sum({sums}) % {2**64})::UBIGINT, bit_xor({xors})"


def digest_partitions(
    con: duckdb.DuckDBPyConnection, table: str | None = None, period_type: str | None = None,
    period_keys: list[str] | None = None,
) -> None:
    """Write partition_digests for these periods of `table` from its stored rows
    (every period of every DIGESTED_TABLES table when not given: the upgrade)."""
    for name in (table,) if table else DIGESTED_TABLES:
        where, params = "", []
        if period_type is not None:
            where, params = " AND period_type = ? AND list_contains(?, period_key)", [period_type, period_keys]
        con.execute(f"DELETE FROM partition_digests WHERE table_name = ?{where}", [name, *params])
        con.execute(
            f"""INSERT INTO partition_digests ({_names(PARTITION_DIGEST_SCHEMA)})
                SELECT ?, period_type, period_key, unit_code, unit_valid_from, count(*), {_added_up("h", "h")}
                FROM (SELECT period_type, period_key, unit_code, unit_valid_from,
                             hash({_names(TABLES[name])}) AS h
                      FROM "{name}" WHERE true{where})
                GROUP BY ALL""",
            [name, *params],
        )


def read_scoreboard(
    con: duckdb.DuckDBPyConnection,
    profile: Profile,
    period_type: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pl.DataFrame:
    """The stored scoreboard in the columns of `profile`, sorted by period and unit:
    every period, or those of `period_type` starting in [start, end)."""
    where, params = "", []
    if period_type is not None:
        where = "WHERE period_type = ? AND period_start >= ? AND period_start < ?"
        params = [period_type, start, end]
    return read_table(
        con,
        f"SELECT {_select(con, 'scoreboard', scoreboard_schema(profile))} FROM scoreboard {where} "
        "ORDER BY period_type, period_start, level, unit_code",
        params,
    )


def scoreboard_periods(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every scored period: type, key, first day and whether it is provisional."""
    return read_table(
        con, "SELECT DISTINCT period_type, period_key, period_start, provisional FROM scoreboard ORDER BY ALL"
    )


def _of_t(columns: Sequence[str]) -> str:
    return ", ".join(f't."{c}"' for c in columns)


class StoredTable:
    """A period table that the site reads here, partition by partition, instead of whole
    (dashboards.build.Source): the digests of the partitions it asks for, computed by
    DuckDB as it scans (a count, a sum and an xor of row hashes: the same rows in any
    order give the same digest), and the rows of the partitions it makes again."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str):
        assert table in PERIOD_TABLES and table != "scoreboard", table
        self.con, self.table, self.schema = con, table, TABLES[table]

    @property
    def columns(self) -> list[str]:
        return list(self.schema)

    def _from(self, by: Sequence[str], keys: Sequence[tuple] | None, table: str | None = None) -> str:
        """`FROM` the table (or `table`), its rows cut to the partitions `keys` of `by` when given."""
        table = table or self.table
        if keys is None or not by:
            return f'FROM "{table}" t'
        wanted = pl.DataFrame(list(keys), schema={c: self.schema[c] for c in by}, orient="row")
        self.con.register("_site_keys", wanted.to_arrow())
        # equality, not IS NOT DISTINCT FROM (which DuckDB 1.4 joins row by row, far
        # slower): the columns partitions are picked by (periods, units) are never null
        on = " AND ".join(f't."{c}" = k."{c}"' for c in by)
        return f'FROM "{table}" t SEMI JOIN _site_keys k ON {on}'

    def _query(self, sql: str) -> pl.DataFrame:
        try:
            return read_table(self.con, sql)
        finally:
            if "_site_keys" in sql:
                self.con.unregister("_site_keys")

    def digests(self, columns: list[str], by: Sequence[str], keys: Sequence[tuple] | None) -> dict[tuple, str]:
        """The digests of the partitions `keys` of `by`, added up from the stored ones
        (partition_digests: of whole rows, so of `columns` among them)."""
        if keys is not None and not keys:
            return {}
        group = _of_t(by)
        sql = (
            f"SELECT {group + ',' if by else ''} sum(t.row_count), {_added_up('t.hash_sum', 't.hash_xor')} "
            f"{self._from(by, keys, 'partition_digests')} WHERE t.table_name = '{self.table}'"
            f"{' GROUP BY ' + group if by else ''}"
        )
        # the row hashes are DuckDB's: its version is part of the digest
        return {tuple(r[:-3]): f"{duckdb.__version__}:{r[-3]}:{r[-2]}:{r[-1]}" if r[-3] else "-"
                for r in self._query(sql).iter_rows()}

    def rows(self, columns: list[str], by: Sequence[str], keys: Sequence[tuple] | None) -> pl.DataFrame:
        if keys is not None and not keys:
            return pl.DataFrame(schema={c: self.schema[c] for c in columns})
        return self._query(f"SELECT {_of_t(columns)} {self._from(by, keys)}")

    def partitions(self, by: Sequence[str], keys: Sequence[tuple] | None = None) -> pl.DataFrame:
        if keys is not None and not keys:
            return pl.DataFrame(schema={c: self.schema[c] for c in by})
        return self._query(f"SELECT DISTINCT {_of_t(by)} {self._from(by, keys)}")


# ------------------------------------------------------------------ holds and warnings


def replace_batch_holds(con: duckdb.DuckDBPyConnection, holds: pl.DataFrame) -> None:
    """The holds that broken batches put on periods, recomputed whole at every ingestion."""

    def work():
        # a drifting file's holds are kept (replace_drift_holds)
        con.execute("DELETE FROM quality_holds WHERE source <> ? AND check_name = ?", [SCOREBOARD_HOLD, BATCH_QUARANTINE])
        insert(con, "quality_holds", holds)

    _in_transaction(con, work)


def write_scoreboard_holds(
    con: duckdb.DuckDBPyConnection, period_type: str, period_keys: list[str], holds: pl.DataFrame
) -> None:
    """Replace these periods' scoreboard holds by `holds`, in the caller's transaction
    (replace_periods' `before_commit`: a period's holds and its rows change together)."""
    con.execute(
        "DELETE FROM quality_holds WHERE source = ? AND period_type = ? AND list_contains(?, period_key)",
        [SCOREBOARD_HOLD, period_type, period_keys],
    )
    insert(con, "quality_holds", holds)


def batch_held_periods(con: duckdb.DuckDBPyConnection, period_type: str) -> set[str]:
    """The keys of the periods of this type that a file's hold keeps back."""
    rows = con.execute(
        "SELECT DISTINCT period_key FROM quality_holds WHERE source <> ? AND period_type = ?",
        [SCOREBOARD_HOLD, period_type],
    ).fetchall()
    return {r[0] for r in rows}


def read_holds(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(con, f"SELECT {_names(HOLD_SCHEMA)} FROM quality_holds ORDER BY ALL")


def replace_warnings(
    con: duckdb.DuckDBPyConnection, period_type: str, period_keys: list[str], warnings: pl.DataFrame
) -> None:
    """The early warnings (or bands at risk) of these periods, replacing theirs."""

    def work():
        con.execute(
            "DELETE FROM warnings WHERE period_type = ? AND list_contains(?, period_key)",
            [period_type, period_keys],
        )
        insert(con, "warnings", warnings)

    _in_transaction(con, work)


def read_warnings(
    con: duckdb.DuckDBPyConnection, period_type: str | None = None, period_keys: list[str] | None = None
) -> pl.DataFrame:
    """The stored warnings: every one, or those of these periods."""
    where, params = "", []
    if period_type is not None:
        where = "WHERE period_type = ? AND list_contains(?, period_key)"
        params = [period_type, list(period_keys or [])]
    # in the order quality.early_warning gives them: period, level, unit, indicator
    return read_table(
        con,
        f"SELECT {_names(WARNING_SCHEMA)} FROM warnings {where} ORDER BY period_type, period_key, "
        f"coalesce(list_position({list(LEVELS)}, level), {len(LEVELS) + 1}), unit_code, unit_valid_from, indicator",
        params,
    )


def read_bottlenecks(con: duckdb.DuckDBPyConnection, units: pl.DataFrame, top: int) -> pl.DataFrame:
    """The stored bottlenecks (transforms.insights) of the (period_type, period_key,
    unit_code, unit_valid_from) of `units`, positions 1 to `top`: what an alert names."""
    keys = ["period_type", "period_key", "unit_code", "unit_valid_from"]
    wanted = units.select(keys).unique().drop_nulls()
    if wanted.is_empty():
        return pl.DataFrame(schema=BOTTLENECK_SCHEMA)
    on = " AND ".join(f"t.{c} = k.{c}" for c in keys)
    with _registered(con, _alert_units=wanted):
        return read_table(
            con,
            f"SELECT {_of_t(BOTTLENECK_SCHEMA)} FROM bottlenecks t SEMI JOIN _alert_units k ON {on} "
            f"WHERE t.position <= ? ORDER BY {_of_t(keys)}, t.position",
            [top],
        )


# ------------------------------------------------------------------ held batches (quality/drift)

# A held file's tables are in TABLES above; a file it replaces keeps what it gave meanwhile.
HELD_TABLES = ("held_files", "held_versions", "held_quarantine")
_DRIFT = "check_name IN (" + ", ".join(f"'{name}'" for name in DRIFT_CHECKS) + ")"  # constants


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, **frames: pl.DataFrame) -> Iterator[None]:
    for name, frame in frames.items():
        con.register(name, frame.to_arrow())
    try:
        yield
    finally:
        for name in frames:
            con.unregister(name)


def held_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """source_file → content hash of each held file."""
    return dict(con.execute("SELECT source_file, content_hash FROM held_files").fetchall())


def store_held_files(
    con: duckdb.DuckDBPyConnection, *, file_rows: list[dict], versions: pl.DataFrame, quarantine: pl.DataFrame
) -> None:
    """Keep held files' outcomes aside, replacing what earlier held contents of the same
    paths left there, in one transaction."""
    if not file_rows:
        return
    sources = [row["source_file"] for row in file_rows]

    def work():
        for table in HELD_TABLES:
            con.execute(f'DELETE FROM "{table}" WHERE list_contains(?, source_file)', [sources])
        insert(con, "held_files", pl.DataFrame(file_rows, schema=INGESTED_FILES_SCHEMA))
        insert(con, "held_versions", versions)
        insert(con, "held_quarantine", quarantine)

    _in_transaction(con, work)


def forget_held(con: duckdb.DuckDBPyConnection, sources: list[str]) -> None:
    """Drop what these paths had waiting, and the holds it put on periods (the file was
    replaced, or released into the stored tables)."""
    if not sources:
        return

    def work():
        for table in HELD_TABLES:
            con.execute(f'DELETE FROM "{table}" WHERE list_contains(?, source_file)', [sources])
        con.execute(f"DELETE FROM quality_holds WHERE list_contains(?, source) AND {_DRIFT}", [sources])

    _in_transaction(con, work)


def replace_drift_holds(con: duckdb.DuckDBPyConnection, sources: list[str], holds: pl.DataFrame) -> None:
    """The drift holds of these files, as just decided (none for a file that passed)."""

    def work():
        con.execute(f"DELETE FROM quality_holds WHERE list_contains(?, source) AND {_DRIFT}", [sources])
        insert(con, "quality_holds", holds)

    _in_transaction(con, work)


def drift_holds(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(con, f"SELECT {_names(HOLD_SCHEMA)} FROM quality_holds WHERE {_DRIFT} ORDER BY ALL")


def file_hold_periods(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(period_type, period_key) of every period a file holds (broken or drifting)."""
    return set(con.execute(
        "SELECT DISTINCT period_type, period_key FROM quality_holds WHERE source <> ?", [SCOREBOARD_HOLD]
    ).fetchall())


def held_files(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Each held file: path, content hash, rows read, when it arrived, and its checks."""
    return read_table(
        con,
        f"""SELECT f.source_file, f.content_hash, f.rows_read, f.ingested_at,
                   (SELECT string_agg(DISTINCT check_name, ', ' ORDER BY check_name) FROM quality_holds h
                    WHERE h.source = f.source_file AND {_DRIFT}) AS checks
            FROM held_files f ORDER BY f.source_file""",
    )


def record_release(con: duckdb.DuckDBPyConnection, source: str, reason: str, at: datetime) -> dict | None:
    """Note that the office releases this held file (its present content), with its
    reason; the next ingestion stores it. None when the path is not held."""
    held = held_files(con).filter(pl.col("source_file") == source)
    if held.is_empty():
        return None
    row = held.row(0, named=True)
    insert(con, "batch_releases", pl.DataFrame(
        [{"source_file": source, "content_hash": row["content_hash"], "checks": row["checks"], "reason": reason,
          "released_at": at}], schema=RELEASE_SCHEMA,
    ))
    return row


def released_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Held files whose present content the office has released."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT f.source_file FROM held_files f JOIN batch_releases r USING (source_file, content_hash) "
        "ORDER BY 1"
    ).fetchall()]


def held_content(con: duckdb.DuckDBPyConnection, source: str) -> tuple[list[dict], pl.DataFrame, pl.DataFrame]:
    """(file row, versions, quarantine) of a held file, as replace_files takes them."""
    def held(table: str) -> pl.DataFrame:
        return read_table(
            con, f'SELECT {_names(TABLES[table])} FROM "{table}" WHERE source_file = ?', [source]
        )

    rows, versions, quarantine = (held(t) for t in HELD_TABLES)
    rows = rows.to_dicts()
    return rows, versions, quarantine


def releases(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(
        con, f"SELECT {_names(RELEASE_SCHEMA)} FROM batch_releases ORDER BY released_at, source_file"
    )


# what the drift checks compare a file with (quality.drift.DriftHistory); `_windows`:
# unit_code, unit_valid_from, lo, hi (receipts in [lo, hi)); `_replaced`: source_file
# of the paths being replaced, left out of what is stored
_IN_WINDOW = "JOIN _windows w USING (unit_code, unit_valid_from) WHERE v.received_at >= w.lo AND v.received_at < w.hi"
_NOT_REPLACED = "v.source_file NOT IN (SELECT source_file FROM _replaced)"


def recent_dossiers(con: duckdb.DuckDBPyConnection, windows: pl.DataFrame) -> pl.DataFrame:
    """The stored dossiers of each window's unit received in it."""
    with _registered(con, _windows=windows):
        return read_batched(
            con,
            "SELECT unit_code, unit_valid_from, procedure_code, status, received_at, due_at, finished_at, "
            f"returned_at, rejected_at FROM dossiers v {_IN_WINDOW}",
        )


def peer_dossiers(con: duckdb.DuckDBPyConnection, windows: pl.DataFrame, procedures: list[str]) -> pl.DataFrame:
    """The stored dossiers of these procedures of the units the windows do not name,
    received from the windows' first day to their last."""
    with _registered(con, _windows=windows, _procedures=pl.DataFrame({"procedure_code": procedures},
                                                                      schema={"procedure_code": pl.Utf8})):
        return read_batched(
            con,
            "SELECT unit_code, unit_valid_from, procedure_code, received_at, due_at FROM dossiers v "
            "WHERE procedure_code IN (SELECT procedure_code FROM _procedures) "
            "AND received_at >= (SELECT min(lo) FROM _windows) AND received_at < (SELECT max(hi) FROM _windows) "
            "AND NOT EXISTS (SELECT 1 FROM _windows w WHERE w.unit_code = v.unit_code "
            "AND w.unit_valid_from = v.unit_valid_from)",
        )


def stored_copies(con: duckdb.DuckDBPyConnection, ids: pl.DataFrame) -> pl.DataFrame:
    """The stored (kept) copies of these dossier ids."""
    with _registered(con, _ids=ids.select("dossier_id").unique()):
        return read_batched(con, f"SELECT {_names(DOSSIER_SCHEMA)} FROM dossiers WHERE dossier_id IN (SELECT dossier_id FROM _ids)")


def known_ids(con: duckdb.DuckDBPyConnection, ids: pl.DataFrame, replaced: pl.DataFrame) -> pl.DataFrame:
    """Those of these ids that a stored file other than the replaced ones has."""
    with _registered(con, _ids=ids.select("dossier_id").unique(), _replaced=replaced):
        return read_table(
            con,
            "SELECT DISTINCT dossier_id FROM dossier_versions v "
            f"WHERE dossier_id IN (SELECT dossier_id FROM _ids) AND {_NOT_REPLACED}",
        )


def month_counts(con: duckdb.DuckDBPyConnection, windows: pl.DataFrame, replaced: pl.DataFrame) -> pl.DataFrame:
    """Distinct stored dossier ids per unit and month of receipt, in the windows."""
    with _registered(con, _windows=windows, _replaced=replaced):
        return read_table(
            con,
            "SELECT unit_code, unit_valid_from, date_trunc('month', v.received_at)::DATE AS month, "
            f"count(DISTINCT dossier_id) AS n FROM dossier_versions v {_IN_WINDOW} AND {_NOT_REPLACED} GROUP BY ALL",
        )


def earlier_young_rows(
    con: duckdb.DuckDBPyConnection, windows: pl.DataFrame, replaced: pl.DataFrame, young_days: int
) -> pl.DataFrame:
    """The rows of the stored files with rows in the windows that each file received in
    its last `young_days` days before its latest event time (quality.drift.volume)."""
    latest = "greatest(received_at, finished_at, returned_at, rejected_at)"
    with _registered(con, _windows=windows, _replaced=replaced):
        return read_table(
            con,
            f"""WITH files AS (SELECT DISTINCT v.source_file FROM dossier_versions v {_IN_WINDOW} AND {_NOT_REPLACED}),
                    moments AS (SELECT source_file, max({latest}) AS moment FROM dossier_versions
                                WHERE source_file IN (SELECT source_file FROM files) GROUP BY 1)
                SELECT v.source_file, v.unit_code, v.unit_valid_from, v.status, v.received_at, v.due_at, v.finished_at,
                       v.returned_at, v.rejected_at
                FROM dossier_versions v JOIN moments m USING (source_file) {_IN_WINDOW}
                  AND v.received_at >= m.moment - to_days(?)""",
            [young_days],
        )


# ============================================================================
# Reconciliation with the national portal, and alert deliveries (issue 17).
# The named SQL that pipelines/reconciling.py and pipelines/alerting.py need (their
# tables are in TABLES above).
# ============================================================================

def replace_portal_import(
    con: duckdb.DuckDBPyConnection, period_key: str, records: pl.DataFrame, values: pl.DataFrame
) -> None:
    """A month's portal import, replacing the one before (one transaction)."""

    def work():
        for table in ("portal_records", "portal_values"):
            con.execute(f"DELETE FROM {table} WHERE period_key = ?", [period_key])
        insert(con, "portal_records", records.with_columns(period_key=pl.lit(period_key)))
        insert(con, "portal_values", values.with_columns(period_key=pl.lit(period_key)))

    _in_transaction(con, work)


def portal_imports(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    """period_key -> (records, values) of every month with an imported portal file."""
    records = read_table(con, f"SELECT {_names(TABLES['portal_records'])} FROM portal_records ORDER BY period_key, record")
    values = read_table(con, f"SELECT {_names(TABLES['portal_values'])} FROM portal_values ORDER BY period_key, record, item")
    return {
        key: (part, values.filter(pl.col("period_key") == key))
        for (key,), part in records.partition_by("period_key", as_dict=True, maintain_order=True).items()
    }


def outbox_add(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> int:
    """Queue the digests not queued before (by ALERT_OUTBOX_KEY); how many were new."""
    if rows.height == 0:
        return 0
    schema = TABLES["alert_outbox"]
    con.register("_queued", rows.select([pl.col(c).cast(t) for c, t in schema.items()]).to_arrow())
    same = " AND ".join(f"o.{c} = q.{c}" for c in ALERT_OUTBOX_KEY)
    fresh = f"FROM _queued q WHERE NOT EXISTS (SELECT 1 FROM alert_outbox o WHERE {same})"
    counted: list[int] = []

    def work():
        counted.append(one(con, f"SELECT count(*) {fresh}")[0])
        con.execute(f"INSERT INTO alert_outbox ({_names(schema)}) SELECT {_names(schema)} {fresh}")

    try:
        _in_transaction(con, work)
    finally:
        con.unregister("_queued")
    return int(counted[-1])  # the attempt that committed


def outbox_due(con: duckdb.DuckDBPyConnection, max_attempts: int) -> pl.DataFrame:
    """Digests not yet sent that may be tried again, oldest first."""
    return read_table(
        con,
        f"SELECT {_names(TABLES['alert_outbox'])} FROM alert_outbox WHERE status <> 'sent' AND attempts < ? "
        "ORDER BY created_at, period_type, period_key, channel, recipient_sha",
        [max_attempts],
    )


def outbox_mark(
    con: duckdb.DuckDBPyConnection, key: tuple, *, sent: bool, error: str | None, at: datetime
) -> None:
    """Record one delivery attempt of the digest `key` (ALERT_OUTBOX_KEY values)."""
    where = " AND ".join(f"{c} = ?" for c in ALERT_OUTBOX_KEY)
    con.execute(
        f"UPDATE alert_outbox SET status = ?, attempts = attempts + 1, last_error = ?, "
        f"sent_at = CASE WHEN ? THEN ?::TIMESTAMP ELSE sent_at END WHERE {where}",
        ["sent" if sent else "failed", error, sent, at, *key],
    )


# ============================================================================
# Revisions, sign-offs and retention (issue 16): the named SQL that
# pipelines/revisions.py, pipelines/approval.py and pipelines/retention.py need
# (their tables are in TABLES above).
# ============================================================================

_VERSION_KEY = ("period_type", "period_key", "version")
_IN_VERSIONS = "(period_type, period_key, version) IN (SELECT period_type, period_key, version FROM _versions)"


def published_versions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every version of a final period made public (PUBLISHED_PERIODS_SCHEMA)."""
    return read_table(
        con, f"SELECT {_names(PUBLISHED_PERIODS_SCHEMA)} FROM published_periods ORDER BY period_type, period_key, version"
    )


def published_rows(con: duckdb.DuckDBPyConnection, versions: pl.DataFrame) -> pl.DataFrame:
    """The stored rows of these versions (period_type, period_key, version): `version`
    and every scoreboard column the table has (each version's groups say which apply)."""
    if versions.height == 0:
        return read_table(con, "SELECT * FROM published_scoreboard LIMIT 0")
    with _registered(con, _versions=versions.select(_VERSION_KEY).unique()):
        return read_table(
            con, f"SELECT * FROM published_scoreboard WHERE {_IN_VERSIONS} "
            "ORDER BY period_type, period_key, version, level, unit_code, unit_valid_from",
        )


def scored_fingerprints(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(period_type, period_key, config_fingerprint) of every scored period."""
    return read_table(con, f"SELECT {_names(SCORED_PERIODS_SCHEMA)} FROM scored_periods")


def note_pending_changes(con: duckdb.DuckDBPyConnection, touched: pl.DataFrame) -> int:
    """Keep the changed dossiers (transforms.revisions.touched_periods) that fall in a
    period whose final numbers are public, as not yet scored; how many were kept."""
    if touched.height == 0:
        return 0
    key = ", ".join(TOUCH_SCHEMA)
    counted: list[int] = []

    def work():
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT {key} FROM _incoming_touched
                WHERE (period_type, period_key) IN (SELECT period_type, period_key FROM published_periods)"""
        )
        con.execute(f"DELETE FROM revision_pending WHERE ({key}) IN (SELECT {key} FROM _touched)")
        con.execute(f"INSERT INTO revision_pending ({key}, scored) SELECT {key}, false FROM _touched")
        counted.append(one(con, "SELECT count(*) FROM _touched")[0])
        con.execute("DROP TABLE _touched")

    with _registered(con, _incoming_touched=touched.select(list(TOUCH_SCHEMA))):
        _in_transaction(con, work)
    return counted[0]


def scored_causes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per period and file: how many of its changed dossiers fall in the period, among
    the changes already scored and not yet published."""
    return read_table(
        con,
        "SELECT period_type, period_key, source_file, count(DISTINCT dossier_id) AS dossiers "
        "FROM revision_pending WHERE scored GROUP BY ALL ORDER BY ALL",
    )


def commit_publication(
    con: duckdb.DuckDBPyConnection,
    *,
    versions: pl.DataFrame,
    rows: pl.DataFrame,
    revisions: pl.DataFrame,
    causes: pl.DataFrame,
    consumed: pl.DataFrame,
    schema: dict[str, pl.DataType],
    sign_off: dict | None = None,
) -> None:
    """Record a publication in one transaction: the versions it made public (replacing
    a version of the same number: a period re-published under a new configuration)
    with their rows (`schema`: the scoreboard columns of the profile), the revisions and
    their causes, the office's sign-off of the draft it was, and drop the scored
    changes of the `consumed` periods."""
    table_schema = {"version": pl.Int64(), **schema}

    def work():
        ensure_columns(con, "published_scoreboard", table_schema)
        with _registered(con, _versions=versions.select(_VERSION_KEY), _consumed=consumed):
            for table in ("published_periods", "published_scoreboard"):
                con.execute(f'DELETE FROM "{table}" WHERE {_IN_VERSIONS}')
            con.execute(
                "DELETE FROM revision_pending WHERE scored AND "
                "(period_type, period_key) IN (SELECT period_type, period_key FROM _consumed)"
            )
        insert(con, "published_periods", versions)
        insert(con, "published_scoreboard", rows, table_schema)
        insert(con, "revisions", revisions)
        insert(con, "revision_causes", causes)
        if sign_off is not None:
            insert(con, "sign_offs", pl.DataFrame([sign_off], schema=SIGN_OFF_SCHEMA))

    _in_transaction(con, work)


def read_revisions(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(every unit's revisions, every revision's causes)."""
    return (
        read_table(con, f"SELECT {_names(REVISION_SCHEMA)} FROM revisions ORDER BY period_type, period_key, version"),
        read_table(con, f"SELECT {_names(CAUSE_SCHEMA)} FROM revision_causes ORDER BY ALL"),
    )


def sign_offs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(con, f"SELECT {_names(SIGN_OFF_SCHEMA)} FROM sign_offs ORDER BY signed_at, draft_sha256")


def record_archived(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> None:
    """Raw files moved to the archive (one record per archived copy: a file dropped and
    archived again is a second copy, deleted in its own time)."""
    if rows.height == 0:
        return

    def work():
        with _registered(con, _archived=rows.select("archive_path")):
            con.execute("DELETE FROM archived_files WHERE archive_path IN (SELECT archive_path FROM _archived)")
        insert(con, "archived_files", rows)

    _in_transaction(con, work)


def archived_files(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(
        con, f"SELECT {_names(ARCHIVED_FILES_SCHEMA)} FROM archived_files ORDER BY archived_at, source_file"
    )


def rejected_before(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> list[str]:
    """The files set aside (status rejected) at or before `cutoff`."""
    return [r[0] for r in con.execute(
        "SELECT source_file FROM ingested_files WHERE status = 'rejected' AND ingested_at <= ? ORDER BY 1", [cutoff]
    ).fetchall()]


def mark_deleted(con: duckdb.DuckDBPyConnection, archive_paths: list[str], at: datetime) -> None:
    """The archived copies at these paths were deleted (their retention ran out)."""
    if archive_paths:
        con.execute(
            "UPDATE archived_files SET deleted_at = ? WHERE list_contains(?, archive_path) AND deleted_at IS NULL",
            [at, archive_paths],
        )


# ============================================================================
# The national roll-up of the lake (pipelines/provinces.py): read through the lake's
# national views, which carry every province's rows and a `province` column.
# ============================================================================

def national_summary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per province: kept dossiers, scored weeks and months, the latest month and its
    ranked units."""
    return read_table(con, """
        WITH d AS (SELECT province, count(*) AS dossiers FROM dossiers GROUP BY 1),
             s AS (SELECT province, count(DISTINCT period_key) FILTER (WHERE period_type = 'week') AS weeks,
                          count(DISTINCT period_key) FILTER (WHERE period_type = 'month') AS months,
                          max(period_key) FILTER (WHERE period_type = 'month') AS latest_month
                   FROM scoreboard GROUP BY 1),
             r AS (SELECT province, period_key AS latest_month, count(*) FILTER (WHERE ranked) AS ranked_units
                   FROM scoreboard WHERE period_type = 'month' GROUP BY 1, 2)
        SELECT d.province, d.dossiers, s.weeks, s.months, s.latest_month, r.ranked_units
        FROM d LEFT JOIN s USING (province) LEFT JOIN r USING (province, latest_month)""")


def national_scoreboard(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every province's stored scoreboard, its province first."""
    return read_table(con, "SELECT * FROM scoreboard ORDER BY province, period_type, period_key, level, unit_code")

