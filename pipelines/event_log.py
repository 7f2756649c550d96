"""How the CLI's runs are recorded in Dagster's SQLite event log. A scoring run of a range
(a first load, a backfill: hundreds of weeks) writes an event for each of its periods,
and in `dagster_home/` Dagster's SQLite event log stores each one with two connections
and two commits (the run's file and the index): a first load's weeks spent seconds more
there than in memory (docs/benchmarks.md).

- Dagster's switch for single-run backfills: the range is planned in one event, not one
  per period. What it gives up: the periods of a run that fails are not shown as failed
  in the UI; they keep what they showed, as the warehouse keeps their last good rows.
- Dagster hands over the materialisations of one output together (a batch, when
  DAGSTER_EVENT_BATCH_SIZE is set), and `RangeAtOnce` stores such a batch in one
  transaction per file, where Dagster's SQLite storage stores a batch one event at a
  time (its PostgreSQL storage batches them likewise). The rows are those it would
  have written, one event after the other.
- Dagster's SQLite storage makes a new engine, and opens the file again, for every
  event it stores: a run's dozens of events (its steps, checks, outputs and log lines)
  each pay for it. `OpenFiles` keeps one engine, with its connection, for the index and
  one for the run being recorded (docs/benchmarks.md, "A run's events through open files").
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import dagster as dg
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME, SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage,
)
from dagster._core.storage.sqlalchemy_compat import db_result
from sqlalchemy import Connection, Engine, create_engine

# read by Dagster when a run is created (the first) and when its events are handled
RANGE_SWITCHES = {
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",
    # the events of one batch are held until its last: a range of up to this many periods
    # is stored at once
    "DAGSTER_EVENT_BATCH_SIZE": "1000",
}


class RangeAtOnce(SqliteEventLogStorage):
    """Dagster's SQLite event log, storing a batch of asset events of one run (the
    materialisations of a range's periods) in one transaction on the run's file and one
    on the index, each event as `SqliteEventLogStorage.store_event` stores it. Any other
    batch is stored one event at a time, as Dagster does."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if len(events) < 2 or len({e.run_id for e in events}) > 1 or not all(
            e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS for e in events
        ):
            super().store_event_batch(events)
            return
        statements = [self.prepare_insert_event(e) for e in events]
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        # mirrored in the index, where the UI's cross-run asset queries read them
        with self.index_transaction() as conn:
            ids = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    ids.append(result.inserted_primary_key[0])
            if None in ids:
                raise dg.DagsterInvariantViolationError("Cannot store asset event tags for null event id.")
            self._store_asset_event_tags(conn, list(events), ids)
            for event, event_id in zip(events, ids):
                self._store_asset_event(conn, event, event_id)


class OpenFiles(RangeAtOnce):
    """`RangeAtOnce`, which also keeps its files open: one engine (and its pooled
    connection) for the index, one for the run being recorded, where Dagster's storage
    makes and disposes of an engine for every event. A run's file is let go when another
    run's is asked for, every file when the storage is disposed of or wiped (which
    deletes the runs' files). Each use is a transaction under the storage's lock, as in
    Dagster's `_connect`: between two uses nothing holds the file, so the webserver and
    the daemon read and write it as before."""

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            with self._engine(shard).connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> Engine:
        # (the class is given to a storage already made: its state is added here, once)
        kept: dict[str, tuple[str, Engine]] = self.__dict__.setdefault("_open_files", {})
        slot = "index" if shard == INDEX_SHARD_NAME else "run"
        held = kept.get(slot)
        if held is not None and held[0] == shard:
            return held[1]
        if held is not None:
            held[1].dispose()
        engine = create_engine(self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        kept[slot] = (shard, engine)
        return engine

    def _let_go(self) -> None:
        with self._db_lock:
            for _, engine in self.__dict__.pop("_open_files", {}).values():
                engine.dispose()

    def wipe(self) -> None:
        self._let_go()
        super().wipe()

    def dispose(self) -> None:
        self._let_go()
        super().dispose()


def quicker_records(instance: dg.DagsterInstance) -> None:
    """Give an instance of Dagster's SQLite event log (`dagster_home/`'s default) the
    batch of `RangeAtOnce` and the open files of `OpenFiles`: its class becomes that
    subclass. Any other storage (PostgreSQL's, memory's) is left as it is."""
    storage = instance.event_log_storage
    if type(storage) is SqliteEventLogStorage:
        storage.__class__ = OpenFiles
