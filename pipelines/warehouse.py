"""The DuckDB warehouse: table layout and the few writes the assets make.

Every write replaces a well-defined slice (a file's rows, a period's rows) inside
one transaction, so any step can be re-run or interrupted and re-run safely.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

import duckdb
import polars as pl

from quality.drift import DRIFT_CHECKS
from quality.holds import BATCH_QUARANTINE, HOLD_SCHEMA
from transforms.insights import BOTTLENECK_SCHEMA, WEAK_POINT_SCHEMA, WHAT_IF_SCHEMA
from transforms.schema import (
    CANONICAL_FIELDS,
    DOSSIER_SCHEMA,
    EVENT_FIELDS,
    SCOREBOARD_COLUMNS,
    UNIT_SCHEMA,
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
}


def _columns_sql(schema: dict[str, pl.DataType]) -> str:
    return ", ".join(f'"{name}" {_SQL_TYPES[dtype]}' for name, dtype in schema.items())


QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.Utf8(),
    "source_row": pl.Int64(),
    "reason": pl.Utf8(),
    **{name: pl.Utf8() for name in CANONICAL_FIELDS},
}

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

TABLES = {
    "units": UNIT_SCHEMA,
    "ingested_files": INGESTED_FILES_SCHEMA,
    "dossier_versions": DOSSIER_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
    "dossiers": DOSSIER_SCHEMA,
    "scoreboard": SCOREBOARD_COLUMNS,
    "weak_points": WEAK_POINT_SCHEMA,
    "bottlenecks": BOTTLENECK_SCHEMA,
    "what_if": WHAT_IF_SCHEMA,
}
SCORED_PERIODS_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "config_fingerprint": pl.Utf8(),
}
TABLES["scored_periods"] = SCORED_PERIODS_SCHEMA
# Dossier ids whose kept copy a file write may have changed and that `dossiers` has
# not caught up with yet: written with the files, cleared with the refresh, so an
# interrupted run is completed by the next one.
TABLES["stale_dossier_ids"] = {"dossier_id": pl.Utf8()}
TABLES["quality_holds"] = {k: v() for k, v in HOLD_SCHEMA.items()}
SCOREBOARD_HOLD = "(scoreboard)"
PERIOD_TABLES = ("scored_periods", "scoreboard", "weak_points", "bottlenecks", "what_if")

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


@contextmanager
def connect(path: Path | str, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    # DuckDB's buffer pool would otherwise grow to 80 % of RAM while a first load of
    # millions of dossiers is inserted; beyond this it writes to the file and spills
    con = duckdb.connect(str(path), read_only=read_only,
                         config={"memory_limit": os.environ.get("SCOREBOARD_DUCKDB_MEMORY", "2GB")})
    try:
        if not read_only:
            ensure_schema(con)
        yield con
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for table, schema in TABLES.items():
        con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({_columns_sql(schema)})')
    add_new_columns(con)
    con.execute(FILE_ACCOUNTING_SQL)


def read_table(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params or None).pl()


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    """The first row of a query. (DuckDB 2 keeps a half-fetched result open and refuses
    the next statement, so always fetch to the end.)"""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else ()


def insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    schema = TABLES[table]
    arrow = frame.select([pl.col(c).cast(t) for c, t in schema.items()]).to_arrow()
    con.register("_incoming", arrow)
    try:
        con.execute(f'INSERT INTO "{table}" SELECT * FROM _incoming')
    finally:
        con.unregister("_incoming")


def replace_units(con: duckdb.DuckDBPyConnection, units: pl.DataFrame) -> None:
    con.execute("BEGIN")
    con.execute("DELETE FROM units")
    insert(con, "units", units)
    con.execute("COMMIT")


def known_files(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """source_file → content hash of what was ingested from it."""
    return dict(con.execute("SELECT source_file, content_hash FROM ingested_files").fetchall())


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
    con.execute("BEGIN")
    try:
        # (files are stored in one transaction with their versions: a path that
        # ingested_files does not know has nothing to replace)
        if one(con, f"SELECT count(*) FROM ingested_files WHERE {in_sources}")[0]:
            if track_touched:
                con.execute(f"INSERT INTO {TOUCHED} SELECT DISTINCT dossier_id FROM dossier_versions WHERE {in_sources}")
            for table in ("ingested_files", "dossier_versions", "quarantine"):
                con.execute(f'DELETE FROM "{table}" WHERE {in_sources}')
        insert(con, "ingested_files", pl.DataFrame(file_rows, schema=INGESTED_FILES_SCHEMA))
        insert(con, "dossier_versions", versions)
        insert(con, "quarantine", quarantine)
        if track_touched and versions.height:
            con.register("_new_ids", versions.select(pl.col("dossier_id").unique()).to_arrow())
            try:
                con.execute(f"INSERT INTO {TOUCHED} SELECT dossier_id FROM _new_ids")
            finally:
                con.unregister("_new_ids")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_sources")


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
TOUCHED = "stale_dossier_ids"
REFRESH_MEMORY = "1GB"


def refresh_dossiers(
    con: duckdb.DuckDBPyConnection, *, read_first_load: bool = True
) -> tuple[pl.DataFrame | None, pl.DataFrame] | None:
    """Re-select the kept copy of every stale dossier id, in DuckDB, and replace those
    ids' rows of ``dossiers`` (one transaction, which also clears the stale ids).
    Returns (added, removed): the rows that differ between the new and the old kept
    copies of those ids, from each side (what transforms.changes.changed_dossiers of
    the whole tables gives, split by ``side``); None when no id was stale. On a first load
    every dossier is added: with ``read_first_load=False`` added is None, not read back."""
    if not one(con, f"SELECT count(*) FROM (SELECT 1 FROM {TOUCHED} LIMIT 1)")[0]:
        return None
    columns = ", ".join(f'"{c}"' for c in DOSSIER_SCHEMA)
    in_touched = "dossier_id IN (SELECT dossier_id FROM _ids)"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ids AS SELECT DISTINCT dossier_id FROM {TOUCHED}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _old AS SELECT {columns} FROM dossiers WHERE {in_touched}")
    limit = one(con, "SELECT current_setting('memory_limit')")[0]
    # a first load's window over every version spills rather than grows, and the
    # rows read back are not cached beside their copy in Polars
    con.execute(f"SET memory_limit = '{REFRESH_MEMORY}'")
    try:
        return _refresh(con, in_touched, columns, read_first_load)
    finally:
        con.execute(f"SET memory_limit = '{limit}'")


def _refresh(
    con: duckdb.DuckDBPyConnection, in_touched: str, columns: str, read_first_load: bool
) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM dossiers WHERE {in_touched}")
        con.execute(
            f"""INSERT INTO dossiers
            SELECT {columns} FROM dossier_versions WHERE {in_touched}
            QUALIFY row_number() OVER (PARTITION BY dossier_id ORDER BY {KEEP_ORDER_SQL}) = 1"""
        )
        con.execute(f"DELETE FROM {TOUCHED}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    new = f"SELECT {columns} FROM dossiers WHERE {in_touched}"
    if one(con, "SELECT count(*) FROM (SELECT 1 FROM _old LIMIT 1)")[0]:
        added = read_batched(con, f"{new} EXCEPT ALL SELECT * FROM _old")
        removed = read_batched(con, f"SELECT * FROM _old EXCEPT ALL {new}")
    else:  # a first load: everything is new
        added = read_batched(con, new) if read_first_load else None
        removed = read_table(con, "SELECT * FROM _old")
    con.execute("DROP TABLE _ids")
    con.execute("DROP TABLE _old")
    return added, removed


def read_batched(con: duckdb.DuckDBPyConnection, sql: str, rows: int = 500_000) -> pl.DataFrame:
    """A query's result as a frame, converted a batch at a time (a whole first load of
    dossiers would otherwise be held twice, as Arrow and as Polars, while converting)."""
    reader = con.sql(sql).to_arrow_reader(rows)
    frames = [pl.from_arrow(batch) for batch in reader]
    if not frames:
        return read_table(con, f"SELECT * FROM ({sql}) LIMIT 0")
    return pl.concat(frames, rechunk=False)


def replace_dossiers(con: duckdb.DuckDBPyConnection, dossiers: pl.DataFrame) -> None:
    con.execute("BEGIN")
    con.execute("DELETE FROM dossiers")
    insert(con, "dossiers", dossiers)
    con.execute("COMMIT")


def replace_periods(
    con: duckdb.DuckDBPyConnection,
    period_type: str,
    period_keys: list[str],
    tables: dict[str, pl.DataFrame],
) -> None:
    """Delete-then-insert these periods' rows of each period table, in one transaction."""
    con.execute("BEGIN")
    try:
        for table, rows in tables.items():
            assert table in PERIOD_TABLES, table
            con.execute(
                f'DELETE FROM "{table}" WHERE period_type = ? AND list_contains(?, period_key)',
                [period_type, period_keys],
            )
            insert(con, table, rows)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def replace_batch_holds(con: duckdb.DuckDBPyConnection, holds: pl.DataFrame) -> None:
    """The holds that broken batches put on periods, recomputed whole at every ingestion
    (a drifting file's holds are kept: replace_drift_holds)."""
    con.execute("BEGIN")
    con.execute("DELETE FROM quality_holds WHERE source <> ? AND check_name = ?", [SCOREBOARD_HOLD, BATCH_QUARANTINE])
    insert(con, "quality_holds", holds)
    con.execute("COMMIT")


def replace_scoreboard_holds(
    con: duckdb.DuckDBPyConnection, period_type: str, period_keys: list[str], holds: pl.DataFrame
) -> None:
    con.execute("BEGIN")
    con.execute(
        "DELETE FROM quality_holds WHERE source = ? AND period_type = ? AND list_contains(?, period_key)",
        [SCOREBOARD_HOLD, period_type, period_keys],
    )
    insert(con, "quality_holds", holds)
    con.execute("COMMIT")


def data_extent(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    """(first received_at, latest event time) of the canonical dossiers."""
    latest = ", ".join(f"max({f})" for f in EVENT_FIELDS)
    first, last = one(con, f"SELECT min(received_at), greatest({latest}) FROM dossiers")
    return first, last


# ------------------------------------------------------------------ scoring reads

# The dossier fields scoring reads (counts, rates, due dates, bottlenecks): not the
# id, names, lineage or submission time.
SCORING_FIELDS = (
    "unit_code", "unit_valid_from", "procedure_code", "channel", "status",
    "received_at", "due_at", "finished_at", "returned_at", "rejected_at",
    "fee_required", "paid_online", "digitized", "e_result", "synced", "apology_issued",
    "rating", "complaint",
)
# A dossier can count in [start, end) when it was received before the end and is
# still open at the start, or ends (is finished, returned or rejected) after it.
_LAST_EVENT = "greatest(received_at, finished_at, returned_at, rejected_at)"
_CLOSED = "status IN (3, 7, 8, 9, 10)"
_COUNTING = f"received_at < $end AND ({_LAST_EVENT} >= $start OR status IS NULL OR NOT {_CLOSED})"


def counting_dossiers(con: duckdb.DuckDBPyConnection, start, end) -> pl.DataFrame:
    """The scoring fields of the dossiers that can count in [start, end)."""
    columns = ", ".join(f'"{c}"' for c in SCORING_FIELDS)
    return con.sql(
        f"SELECT {columns} FROM dossiers WHERE {_COUNTING}", params={"start": start, "end": end}
    ).pl()


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
    return con.sql(
        f"""SELECT procedure_code, procedure_name FROM (
                SELECT procedure_code, procedure_name, count(*) AS n FROM dossiers
                WHERE procedure_name IS NOT NULL AND {_COUNTING} GROUP BY ALL)
            QUALIFY row_number() OVER (PARTITION BY procedure_code ORDER BY n DESC, procedure_name) = 1""",
        params={"start": start, "end": end},
    ).pl()


# ------------------------------------------------------------------ held batches (quality/drift)

# A file that drifts from its units' own history (quality/drift) is held: what it gave
# waits in these tables, with the columns of ingested_files / dossier_versions /
# quarantine, and changes nothing scored until a corrected file replaces it or the
# office releases it (batch_releases, listed in the site's manifest). A file it
# replaces keeps what it gave meanwhile.
TABLES["held_files"] = INGESTED_FILES_SCHEMA
TABLES["held_versions"] = DOSSIER_SCHEMA
TABLES["held_quarantine"] = QUARANTINE_SCHEMA
HELD_TABLES = ("held_files", "held_versions", "held_quarantine")
RELEASE_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.Utf8(),
    "content_hash": pl.Utf8(),
    "checks": pl.Utf8(),
    "reason": pl.Utf8(),
    "released_at": pl.Datetime("us"),
}
TABLES["batch_releases"] = RELEASE_SCHEMA
_DRIFT = "check_name IN (" + ", ".join(f"'{name}'" for name in DRIFT_CHECKS) + ")"  # constants


def add_new_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Add the columns a table gained since the warehouse was created (ALTER puts them
    last, where `insert` expects them)."""
    have: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall():
        have.setdefault(table, set()).add(column)
    for table, schema in TABLES.items():
        for name, dtype in schema.items():
            if name not in have.get(table, {name}):
                con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {_SQL_TYPES[dtype]}')


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
    con.execute("BEGIN")
    try:
        for table in HELD_TABLES:
            con.execute(f'DELETE FROM "{table}" WHERE list_contains(?, source_file)', [sources])
        insert(con, "held_files", pl.DataFrame(file_rows, schema=INGESTED_FILES_SCHEMA))
        insert(con, "held_versions", versions)
        insert(con, "held_quarantine", quarantine)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def forget_held(con: duckdb.DuckDBPyConnection, sources: list[str]) -> None:
    """Drop what these paths had waiting, and the holds it put on periods (the file was
    replaced, or released into the stored tables)."""
    if not sources:
        return
    con.execute("BEGIN")
    for table in HELD_TABLES:
        con.execute(f'DELETE FROM "{table}" WHERE list_contains(?, source_file)', [sources])
    con.execute(f"DELETE FROM quality_holds WHERE list_contains(?, source) AND {_DRIFT}", [sources])
    con.execute("COMMIT")


def replace_drift_holds(con: duckdb.DuckDBPyConnection, sources: list[str], holds: pl.DataFrame) -> None:
    """The drift holds of these files, as just decided (none for a file that passed)."""
    con.execute("BEGIN")
    con.execute(f"DELETE FROM quality_holds WHERE list_contains(?, source) AND {_DRIFT}", [sources])
    insert(con, "quality_holds", holds)
    con.execute("COMMIT")


def drift_holds(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(con, f"SELECT * FROM quality_holds WHERE {_DRIFT} ORDER BY ALL")


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
    rows = read_table(con, "SELECT * FROM held_files WHERE source_file = ?", [source]).to_dicts()
    versions = read_table(con, "SELECT * FROM held_versions WHERE source_file = ?", [source])
    quarantine = read_table(con, "SELECT * FROM held_quarantine WHERE source_file = ?", [source])
    return rows, versions, quarantine


def releases(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(con, "SELECT * FROM batch_releases ORDER BY released_at, source_file")


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


def stored_copies(con: duckdb.DuckDBPyConnection, ids: pl.DataFrame) -> pl.DataFrame:
    """The stored (kept) copies of these dossier ids."""
    with _registered(con, _ids=ids.select("dossier_id").unique()):
        return read_batched(con, "SELECT * FROM dossiers WHERE dossier_id IN (SELECT dossier_id FROM _ids)")


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
