"""The lake: the warehouse on DuckLake, for many provinces writing at once (docs/scaling.md).

`SCOREBOARD_WAREHOUSE=ducklake:<catalog>` selects it instead of a DuckDB file, for
example ``ducklake:postgres:dbname=scoreboard host=10.0.0.5 user=scoreboard`` (a
PostgreSQL catalog: many processes on many machines; the password from PGPASSWORD or
~/.pgpass, as libpq reads them). `SCOREBOARD_LAKE_DATA` is where the Parquet data files
go: a folder every writer mounts at the same path, or ``s3://bucket/prefix/``.
`SCOREBOARD_PROVINCE` names the province a run writes.

Layout. Each province is a schema of the lake holding the tables of the one warehouse
module (pipelines/warehouse.py), created and upgraded by the same code as a DuckDB file,
and read and written by the same SQL: the connection's default schema is the
province's. Inside a province's tables, DuckLake partitions the data files by period
(the warehouse's `PARTITION_KEYS`). Provinces never share a table, so their writers never conflict;
two writers of one province would (DuckLake aborts one commit), so a province has one
writer at a time: a PostgreSQL advisory lock per province, held while a connection
writes, makes a second writer wait rather than fail. The schema `national` holds one
view per table over every province, with a `province` column: the national roll-up.

The `ducklake` and `postgres` extensions come as Python packages (duckdb-ext-ducklake,
duckdb-ext-postgres) and are loaded from there: nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb

LAKE_PREFIX = "ducklake:"
ALIAS = "lake"
NATIONAL = "national"
_PROVINCE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class LakeError(RuntimeError):
    """A lake that cannot be used as configured, said in one sentence."""


def is_lake(target: str | os.PathLike) -> bool:
    return str(target).startswith(LAKE_PREFIX)


def province_schema(province: str) -> str:
    """The schema of a province's tables: its slug (hanoi, caobang)."""
    if not province:
        raise LakeError(
            "a lake warehouse needs the province it writes: set SCOREBOARD_PROVINCE "
            "(or --province), e.g. hanoi"
        )
    if not _PROVINCE.match(province) or province == NATIONAL:
        raise LakeError(
            f"{province!r} cannot name a province in the lake: use lower-case letters, digits and _ "
            f"(the registry's file name, e.g. caobang), not {NATIONAL!r}"
        )
    return province


def extension_directory() -> Path:
    """Where the duckdb-ext-* packages put the extensions (site-packages/duckdb_ext/extensions)."""
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        raise LakeError(
            f"the DuckLake extensions are not installed: pip install duckdb-ext-ducklake=={duckdb.__version__}.* "
            f"duckdb-ext-postgres=={duckdb.__version__}.* (DuckDB {duckdb.__version__})"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "extensions"


def data_path(configured: str) -> str:
    """The lake's data folder as DuckLake stores it: an absolute folder ending in /, or a URL."""
    if not configured:
        return ""
    if "://" in configured:
        return configured.rstrip("/") + "/"
    folder = Path(configured).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    return folder.as_posix() + "/"


def retryable(exc: BaseException) -> bool:
    """A DuckLake commit that failed against another process's commit: run it again."""
    return isinstance(exc, duckdb.TransactionException) and "Failed to commit DuckLake transaction" in str(exc)


# How often a commit DuckLake could not settle is run again, and how long to wait
# before each new attempt: another province's catalog changes (its first run creating
# its tables and replacing the national views) fail every commit made meanwhile, so
# attempts made at once all met the same changes (3 of 12 first runs failed so).
COMMIT_ATTEMPTS = 6
COMMIT_BACKOFF_SECONDS = 0.5  # doubled at each attempt: 0.5 + 1 + 2 + 4 + 8 s at most


def retry_pause(attempt: int) -> None:
    """Wait before attempt `attempt + 1` of a commit (with jitter: two writers that
    failed together do not retry together)."""
    time.sleep(COMMIT_BACKOFF_SECONDS * 2 ** (attempt - 1) * random.uniform(0.75, 1.25))


def retrying(work: Callable[[], None]) -> None:
    """Run `work` (whole transactions of its own) again after a pause while DuckLake
    could not settle its commit against another process's (COMMIT_ATTEMPTS in all)."""
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            work()
            return
        except duckdb.TransactionException as exc:
            if attempt == COMMIT_ATTEMPTS or not retryable(exc):
                raise
        retry_pause(attempt)


# ------------------------------------------------------------------ one writer per province


def _postgres_dsn(catalog: str) -> str | None:
    """The libpq connection string of a PostgreSQL catalog (None for another catalog)."""
    for prefix in ("postgres:", "postgresql:"):
        if catalog.startswith(prefix):
            return catalog[len(prefix):]
    return None


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"scoreboard/{name}".encode()).digest()[:8], "big", signed=True)


_held: dict[tuple[str, str], list] = {}  # (dsn, name) -> [PostgreSQL session, depth]
_held_guard = threading.Lock()


@contextmanager
def advisory_lock(dsn: str | None, name: str) -> Iterator[None]:
    """Hold PostgreSQL's session advisory lock `name` on the catalog's server, waiting
    for it if another process holds it. Re-entrant within a process (a writer that opens
    a second connection of its own province does not wait for itself). No catalog
    server, no lock: a DuckDB-file or SQLite catalog has one writer process anyway."""
    if dsn is None:
        yield
        return
    import psycopg2

    key = (dsn, name)
    with _held_guard:
        entry = _held.get(key)
        if entry is None:
            session = psycopg2.connect(dsn, application_name=f"scoreboard lock {name}")
            session.autocommit = True
            entry = _held[key] = [session, 0]
        entry[1] += 1
        first = entry[1] == 1
    try:
        if first:
            with entry[0].cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(%s)", [_lock_key(name)])
        yield
    finally:
        with _held_guard:
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                entry[0].close()  # ends the session: the lock goes with it


def hold_lock_for_life(dsn: str, name: str) -> object:
    """Take PostgreSQL's session advisory lock `name` and keep it until this process
    ends (the session, returned, must be kept referenced): a process that dies loses
    it with its session. A machine that vanishes without closing the session: the
    server ends it after about 90 s without an answer (not the system's 2 hours)."""
    import psycopg2

    session = psycopg2.connect(dsn, application_name=f"scoreboard lock {name}")
    session.autocommit = True
    with session.cursor() as cur:
        cur.execute("SET tcp_keepalives_idle = 60; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3")
        cur.execute("SELECT pg_advisory_lock(%s)", [_lock_key(name)])
    return session


def free_locks(dsn: str, names: Iterable[str]) -> set[str]:
    """Which of these session advisory locks no session holds now."""
    import psycopg2

    free = set()
    session = psycopg2.connect(dsn, application_name="scoreboard lock check")
    try:
        session.autocommit = True
        with session.cursor() as cur:
            for name in names:
                cur.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(name)])
                if cur.fetchone()[0]:
                    cur.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(name)])
                    free.add(name)
    finally:
        session.close()
    return free


# ------------------------------------------------------------------ connection


def _load_extensions(con: duckdb.DuckDBPyConnection, catalog: str, data: str) -> None:
    con.execute("LOAD ducklake")
    if _postgres_dsn(catalog) is not None:
        con.execute("LOAD postgres")
    if data.startswith("s3://"):
        # S3-compatible storage: duckdb-ext-httpfs, and the key from the environment
        con.execute("LOAD httpfs")
        options = {
            "KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID"),
            "SECRET": os.environ.get("AWS_SECRET_ACCESS_KEY"),
            "REGION": os.environ.get("AWS_REGION"),
            "ENDPOINT": os.environ.get("SCOREBOARD_S3_ENDPOINT"),
        }
        given = ", ".join(f"{k} {_quote(v)}" for k, v in options.items() if v)
        style = ", URL_STYLE 'path'" if options["ENDPOINT"] else ""
        con.execute(f"CREATE OR REPLACE SECRET scoreboard_lake (TYPE s3{', ' + given if given else ''}{style})")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _open(target: str, data: str, read_only: bool, config: dict | None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake `target` attached as `lake` (created by the first
    writer, one at a time)."""
    catalog = target[len(LAKE_PREFIX):]
    data = data_path(data)
    con = duckdb.connect(config={**(config or {}), "extension_directory": str(extension_directory())})
    try:
        _load_extensions(con, catalog, data)
        options = ["READ_ONLY"] if read_only else []
        if data and not read_only:
            options.append(f"DATA_PATH {_quote(data)}")
        attach = f"ATTACH {_quote(LAKE_PREFIX + catalog)} AS {ALIAS}" + (f" ({', '.join(options)})" if options else "")
        with advisory_lock(None if read_only else _postgres_dsn(catalog), "lake"):
            con.execute(attach)
    except Exception:
        con.close()
        raise
    return con


@contextmanager
def connect(
    target: str, *, province: str, data: str = "", read_only: bool = False, config: dict | None = None,
    layout=None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection to the lake `target` (``ducklake:<catalog>``) whose default
    schema is `province`'s. Writing, the province's advisory lock is held until the
    connection closes, and its tables are created or upgraded if they are not current
    (`layout`: the warehouse module's, see `Layout`)."""
    schema = province_schema(province)
    con = _open(target, data, read_only, config)
    dsn = None if read_only else _postgres_dsn_of(con)
    try:
        if read_only and schema not in _schemas(con):
            raise LakeError(f"the lake has no province {schema!r} yet: run it once to create its tables")
        with advisory_lock(dsn, f"province/{schema}"):
            if not read_only and layout is not None:
                _prepare(con, dsn, [schema], layout)
            con.execute(f"USE {ALIAS}.{schema}")
            yield con
    finally:
        con.close()


@dataclass(frozen=True)
class Layout:
    """What the lake needs of the warehouse module: its tables, whether a province's
    tables are in the current layout, and the function creating or upgrading them."""

    tables: Iterable[str]
    partitions: Mapping[str, str]  # table -> its partition keys, as DuckLake's ALTER TABLE takes them
    is_current: Callable[[duckdb.DuckDBPyConnection], bool]
    ensure: Callable[[duckdb.DuckDBPyConnection], None]


def _prepare(con: duckdb.DuckDBPyConnection, dsn: str | None, schemas: list[str], layout: Layout) -> None:
    """Create or upgrade these provinces' tables where they are not current, then the
    national views. Catalog changes (tables created, altered, partitioned; views
    replaced) are made one process at a time, and best while no province writes: a
    DuckLake 1.4 commit made while another process alters a table or replaces a view
    fails ("Failed to parse catalog entry"), and is retried (pipelines/warehouse.py).
    `setup` makes them all before the provinces run."""
    for schema in schemas:
        # the partitioning is checked too: the layout's version is committed before the
        # tables are partitioned, and a process killed in between left them unpartitioned
        if schema in _schemas(con):
            con.execute(f"USE {ALIAS}.{schema}")
            if layout.is_current(con) and not _to_partition(con, layout.partitions):
                continue
        with advisory_lock(dsn, "lake"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {ALIAS}.{schema}")
            con.execute(f"USE {ALIAS}.{schema}")
            retrying(lambda: layout.ensure(con))
            retrying(lambda: _partition(con, layout.partitions))
    refresh_national_views(con, layout.tables)


def setup(target: str, provinces: Iterable[str], layout: Layout, *, data: str = "", config: dict | None = None) -> None:
    """Create or upgrade every province's tables and the national views, before the
    provinces run (a new deployment, a new province, a new layout)."""
    schemas = [province_schema(p) for p in provinces]
    con = _open(target, data, False, config)
    try:
        _prepare(con, _postgres_dsn_of(con), schemas, layout)
    finally:
        con.close()


@contextmanager
def national(target: str, *, data: str = "", tables, config: dict | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose default schema is `national`: a view per table over every
    province's (with a `province` column), refreshed first."""
    con = _open(target, data, False, config)
    try:
        if not refresh_national_views(con, tables):
            raise LakeError(f"the lake {target} holds no province yet")
        con.execute(f"USE {ALIAS}.{NATIONAL}")
        yield con
    finally:
        con.close()


def _schemas(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ?", [ALIAS]).fetchall()}


def _tables(con: duckdb.DuckDBPyConnection, schema: str | None = None) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = coalesce(?, current_schema())",
        [ALIAS, schema],
    ).fetchall()
    return {r[0] for r in rows}


def _to_partition(con: duckdb.DuckDBPyConnection, partitions: Mapping[str, str]) -> list[str]:
    """The current province's tables whose partition keys DuckLake records are not
    those `partitions` says (none, or other keys)."""
    recorded = _partition_keys(con)
    return [table for table in sorted(_tables(con) & partitions.keys())
            if recorded.get(table, []) != [key.strip() for key in partitions[table].split(",")]]


def _partition(con: duckdb.DuckDBPyConnection, partitions: Mapping[str, str]) -> None:
    """Partition the province's tables as `partitions` says where DuckLake records other
    keys: a new table before any row is in it, an upgraded one from its next files on.
    One transaction: one catalog change for the other provinces' writers to meet."""
    tables = _to_partition(con, partitions)
    if not tables:
        return
    con.execute("BEGIN")
    try:
        for table in tables:
            con.execute(f'ALTER TABLE "{table}" SET PARTITIONED BY ({partitions[table]})')
        con.execute("COMMIT")
    except Exception:
        _rollback(con)
        raise


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:  # a failed COMMIT has ended the transaction already
        pass


def _partition_keys(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The partition columns of the current province's partitioned tables, as DuckLake records them."""
    meta = f"__ducklake_metadata_{ALIAS}"
    rows = con.execute(
        f"""SELECT t.table_name, c.column_name, p.transform FROM {meta}.ducklake_partition_column p
            JOIN {meta}.ducklake_partition_info i USING (partition_id, table_id)
            JOIN {meta}.ducklake_table t USING (table_id)
            JOIN {meta}.ducklake_schema s USING (schema_id)
            JOIN {meta}.ducklake_column c ON c.table_id = p.table_id AND c.column_id = p.column_id
            WHERE s.schema_name = current_schema()
              AND i.end_snapshot IS NULL AND t.end_snapshot IS NULL AND c.end_snapshot IS NULL
              AND s.end_snapshot IS NULL
            ORDER BY t.table_name, p.partition_key_index""",
    ).fetchall()
    keys: dict[str, list[str]] = {}
    for table, name, transform in rows:
        keys.setdefault(table, []).append(name if transform == "identity" else f"{transform}({name})")
    return keys


def partition_keys(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The partition columns of a table of the current province, as DuckLake records them."""
    return _partition_keys(con).get(table, [])


# ------------------------------------------------------------------ the national roll-up


def provinces(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The provinces the lake holds (schemas with a warehouse in them)."""
    return sorted(s for s in _schemas(con) - {NATIONAL, "main"} if "schema_version" in _tables(con, s))


def refresh_national_views(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> list[str]:
    """(Re)create `national.<table>` for each table: every province's rows with a
    `province` column; `national.provinces` lists the provinces they cover. Views hold
    no data (a province's writes show in them at once): they change only when a
    province or a table is added."""
    names, tables = provinces(con), sorted(tables)
    if not names:
        return []
    listed = f"SELECT * FROM (VALUES {', '.join(f'({_quote(p)})' for p in names)}) AS p(province)"
    have = _views(con, NATIONAL)
    if have >= {*tables, "provinces"} and [r[0] for r in con.execute(
            f"SELECT province FROM {ALIAS}.{NATIONAL}.provinces ORDER BY 1").fetchall()] == names:
        return names
    def replace() -> None:  # one transaction: one catalog change for the other writers to meet
        con.execute("BEGIN")
        try:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {ALIAS}.{NATIONAL}")
            for table in tables:
                parts = " UNION ALL BY NAME ".join(
                    f"SELECT {_quote(p)} AS province, * FROM {ALIAS}.{p}.\"{table}\"" for p in names
                )
                con.execute(f'CREATE OR REPLACE VIEW {ALIAS}.{NATIONAL}."{table}" AS {parts}')
            con.execute(f"CREATE OR REPLACE VIEW {ALIAS}.{NATIONAL}.provinces AS {listed}")
            con.execute("COMMIT")
        except Exception:
            _rollback(con)
            raise

    with advisory_lock(_postgres_dsn_of(con), "lake"):
        retrying(replace)
    return names


def _views(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = ? AND schema_name = ?", [ALIAS, schema]).fetchall()}


def _postgres_dsn_of(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = ?", [ALIAS]).fetchall()
    path = rows[0][0] if rows else ""
    return _postgres_dsn(path[len(LAKE_PREFIX):] if path.startswith(LAKE_PREFIX) else path)
