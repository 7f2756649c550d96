"""Batch drift checks: a file whose rows are valid one by one but wrong as a whole.

Each new file is compared, per unit, with that unit's own recent history in the
warehouse before any of its rows may change a publication (config/quality.yaml,
`drift`):

* batch_promised_duration — due_at − received_at in working days far from the
  unit's usual per procedure (without its history: far beyond the catalogue's legal
  days, or the other units' usual; duration.py);
* batch_clock_shift — every event time moved by a whole number of hours (clock.py);
* batch_volume — the month's received volume far above the unit's usual (volume.py);
* batch_status_mix — its recent dossiers all closed where the unit's files usually
  show many open (volume.py);
* batch_history_rewrite — many dossiers already final in closed periods changed at
  once (rewrite.py).

The functions are pure (Polars in, Polars out): pipelines/drift.py reads the
history from DuckDB and acts on the findings (a file with any finding is held)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from quality.drift.clock import CHECK as CLOCK_SHIFT, clock_shift
from quality.drift.common import FILE_UNIT, FINDING_SCHEMA, UNIT_KEY, no_findings
from quality.drift.duration import CHECK as PROMISED_DURATION, promised_duration
from quality.drift.rewrite import CHECK as HISTORY_REWRITE, history_rewrite
from quality.drift.volume import STATUS_MIX, VOLUME, status_mix, volume
from quality.settings import load_quality_config

# check name → what it compares (Vietnamese, English): the quality page and Dagster
DRIFT_CHECKS: dict[str, tuple[str, str]] = {
    PROMISED_DURATION: ("Thời hạn hẹn trả so với thường lệ", "Promised duration against the unit's usual"),
    CLOCK_SHIFT: ("Giờ của các mốc thời gian so với thường lệ", "Times of day against the unit's usual"),
    VOLUME: ("Số hồ sơ tiếp nhận so với thường lệ", "Received volume against the unit's usual"),
    STATUS_MIX: ("Cơ cấu trạng thái so với thường lệ", "Status mix against the unit's usual"),
    HISTORY_REWRITE: ("Hồ sơ đã kết thúc của kỳ đã đóng không bị viết lại",
                      "Final dossiers of closed periods are not rewritten"),
}


@dataclass
class DriftHistory:
    """What the warehouse holds that the files are compared with.

    `recent`: the stored dossiers of the files' units received around the files'
    receipts (unit, procedure_code, status, received_at, due_at and the ends);
    `stored`: the stored copies of the files' dossier ids; `known_ids`: the ids any
    stored file has; `months`: volume.MONTH_COUNTS of those ids around the files'
    months; `earlier`: the rows the units' earlier files received in their last days
    (volume.young_dossiers); `peers`: the stored dossiers of other units received
    around the files' receipts, of the procedures duration.peer_procedures names
    (unit, procedure_code, received_at, due_at; None: none). Files this run replaces
    are left out of all but `stored`."""

    recent: pl.DataFrame
    stored: pl.DataFrame
    known_ids: pl.DataFrame
    months: pl.DataFrame
    earlier: pl.DataFrame
    peers: pl.DataFrame | None = None


def drift_findings(
    batch: pl.DataFrame,
    history: DriftHistory,
    *,
    calendar: pl.DataFrame,
    catalogue: pl.DataFrame | None,
    now: datetime,
    config: dict | None = None,
) -> pl.DataFrame:
    """FINDING_SCHEMA rows, one per (file, unit, check) that drifts, sorted. `batch`:
    the accepted rows of the new files (transforms.schema.DOSSIER_SCHEMA, with
    source_file); `calendar`: transforms.calendar.working_calendar over their dates
    and the history's months."""
    cfg = load_quality_config(config)
    if batch.is_empty():
        return no_findings()
    parts = [
        promised_duration(batch, history.recent, calendar, catalogue, cfg, history.peers),
        clock_shift(batch, history.recent, cfg),
        volume(batch, history.known_ids, history.months, calendar, cfg),
        status_mix(batch, history.earlier, cfg),
        history_rewrite(batch, history.stored, now, cfg),
    ]
    return pl.concat(parts).sort(*FILE_UNIT, "check_name")


__all__ = [
    "CLOCK_SHIFT", "DRIFT_CHECKS", "DriftHistory", "FINDING_SCHEMA", "HISTORY_REWRITE", "PROMISED_DURATION",
    "STATUS_MIX", "UNIT_KEY", "VOLUME", "drift_findings",
]
