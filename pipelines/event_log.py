"""How the CLI's runs record a range of periods in Dagster: a scoring run of a range
(a first load, a backfill: 262 weeks at 1 M dossiers over 5 years) writes an event for
each of its periods, and in `dagster_home/` Dagster's SQLite event log stores each one
with two connections and two commits (the run's file and the index). A first load's
weeks spent 4.4 s more there than in memory (docs/benchmarks.md).

- Dagster's switch for single-run backfills: the range is planned in one event, not one
  per period. What it gives up: the periods of a run that fails are not shown as failed
  in the UI; they keep what they showed, as the warehouse keeps their last good rows.
- Dagster hands over the materialisations of one output together (a batch, when
  DAGSTER_EVENT_BATCH_SIZE is set), and `RangeAtOnce` stores such a batch in one
  transaction per file, where Dagster's SQLite storage stores a batch one event at a
  time (its PostgreSQL storage batches them likewise). The rows are those it would
  have written, one event after the other.
"""

from __future__ import annotations

from typing import Sequence

import dagster as dg
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result

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


def store_ranges_at_once(instance: dg.DagsterInstance) -> None:
    """Give an instance of Dagster's SQLite event log (`dagster_home/`'s default) the
    batch of `RangeAtOnce`: its class becomes that subclass, which adds no state. Any
    other storage (PostgreSQL's, memory's) is left as it is."""
    storage = instance.event_log_storage
    if type(storage) is SqliteEventLogStorage:
        storage.__class__ = RangeAtOnce
