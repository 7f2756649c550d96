"""A long range scored in chunks gives exactly what scoring it in one go gives."""

from __future__ import annotations

import logging
import shutil
from datetime import date

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines import warehouse as wh
from pipelines.assets import ASSETS, dossiers
from pipelines.resources import ScoreboardSettings, Warehouse
from pipelines.scoring import score_partitions
from transforms.periods import plan_chunks
from quality.holds import check_holds
from demo.generate import generate_exports
from transforms.periods import covered_range, partition_key, start_of
from tests.test_quality_pipeline import holds

HELD = [("week", "2024-W20"), ("month", "2024-05")]
TABLES = ("scoreboard", "bottlenecks", "what_if", "warnings", "scored_periods", "quality_holds")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """Eight months of generated Hà Nội exports (bad rows, pending dossiers and all),
    ingested, and a broken batch holding one week and one month."""
    root = tmp_path_factory.mktemp("chunks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCOREBOARD_NOW", "2024-09-10T12:00:00")
        generate_exports(root / "landing", date(2024, 1, 1), date(2024, 8, 31), scale=0.004)
        settings = ScoreboardSettings.from_env(landing_dir=str(root / "landing"), site_dir=str(root / "site"))
        dg.materialize(
            ASSETS, selection=[dossiers], raise_on_error=True,
            resources={"settings": settings, "warehouse": Warehouse(path=str(root / "ingested.duckdb"))},
        )
    with wh.connect(root / "ingested.duckdb") as con:
        wh.replace_batch_holds(con, check_holds("broken.csv", HELD, "batch_quarantine_share", "giữ", "held"))
    return root, settings


def _copy(root, name: str) -> Warehouse:
    shutil.copy(root / "ingested.duckdb", root / name)
    return Warehouse(path=str(root / name))


def _tables(warehouse: Warehouse) -> dict[str, list[tuple]]:
    with duckdb.connect(warehouse.path, read_only=True) as con:
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in TABLES}


def _keys(warehouse: Warehouse, period_type: str) -> list[str]:
    with warehouse.connect() as con:
        first, latest = wh.data_extent(con)
    lo, hi = covered_range(period_type, first.date(), latest.date())
    return [partition_key(period_type, i) for i in range(lo, hi + 1)]


TOUCHY = """
early_warning:
  min_history_weeks: 2
  indicators:
    received: {drop_z: -0.5, spike_z: 0.5, mad_floor: 0.5, mad_floor_relative: 0}
band_at_risk: {margin_points: 50}
batch: {max_quarantine_share: 0.2, min_rows: 20}
"""


@pytest.mark.parametrize("period_type", ["week", "month"])
def test_tiny_chunks_give_the_same_tables_as_one_go(ingested, period_type, monkeypatch, caplog):
    root, settings = ingested
    # the last week and month are still in progress
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-08-29T12:00:00")
    # thresholds that flag many units, so that the warnings stored are compared too
    touchy = root / f"touchy-{period_type}.yaml"
    touchy.write_text(TOUCHY, encoding="utf-8")
    settings = ScoreboardSettings.from_env(
        landing_dir=settings.landing_dir, site_dir=settings.site_dir, quality_path=str(touchy)
    )
    whole, chunked = _copy(root, f"whole-{period_type}.duckdb"), _copy(root, f"chunked-{period_type}.duckdb")
    keys = _keys(whole, period_type)

    with caplog.at_level(logging.INFO, logger="scoreboard"):
        one_go = score_partitions(period_type, keys, settings, whole)
    assert "(chunk 1 of 1)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="scoreboard"):
        in_chunks = score_partitions(period_type, keys, settings, chunked, chunk_dossiers=1_500)
    chunks = [r.getMessage() for r in caplog.records if "(chunk " in r.getMessage()]
    assert len(chunks) >= 3, chunks

    before = _tables(whole)
    assert len(before["scoreboard"]) > 1_000 and before["bottlenecks"] and before["what_if"] and before["warnings"]
    assert one_go.rows["provisional"].any(), "the period in progress is scored provisionally"
    assert _tables(chunked) == before
    assert in_chunks.rows.sort("period_key", "unit_code").equals(one_go.rows.sort("period_key", "unit_code"))
    assert in_chunks.quality.success and one_go.quality.success
    assert in_chunks.held == one_go.held == [k for t, k in HELD if t == period_type]
    assert not any(row[1] in one_go.held for row in before["scoreboard"])


def test_each_chunk_reads_what_its_plan_counted(ingested):
    root, _ = ingested
    warehouse = _copy(root, "plan.duckdb")
    lo, hi = covered_range("week", date(2024, 1, 1), date(2024, 8, 31))
    with warehouse.connect() as con:
        chunks = plan_chunks("week", lo, hi, *wh.counting_days(con), 1_500)
        assert [c[0] for c in chunks] == [lo] + [c[1] + 1 for c in chunks[:-1]] and chunks[-1][1] == hi
        for first, last, counted in chunks:
            read = wh.counting_dossiers(con, start_of("week", first - 1), start_of("week", last + 1))
            assert read.height == counted
            assert counted <= 1_500 or first == last


def test_a_period_the_suite_fails_keeps_its_last_rows_and_the_others_are_stored(ingested, monkeypatch):
    """The periods are stored while the suite checks them: when it fails one, that
    transaction is undone and the others are stored without it; the failed period keeps
    the rows it had, and its hold is stored with them. Once it passes, its rows are
    replaced and its hold lifted, in the same transaction."""
    from pipelines import scoring
    from quality.holds import SCOREBOARD_HOLD

    root, settings = ingested
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-08-29T12:00:00")
    warehouse, clean = _copy(root, "suite.duckdb"), _copy(root, "suite-clean.duckdb")
    keys = _keys(warehouse, "week")
    score_partitions("week", keys, settings, warehouse)
    score_partitions("week", keys, settings, clean)
    bad, other = "2024-W10", "2024-W11"
    with wh.connect(warehouse.path) as con:  # marks: what a failed period keeps, what the others lose
        con.execute("UPDATE scoreboard SET score = -1 WHERE period_type = 'week' AND list_contains(?, period_key)",
                    [[bad, other]])
    real = scoring.validate_scoreboard

    def strict(rows, profile):  # the suite sees an impossible rate in one week
        rate = pl.when(pl.col("period_key") == bad).then(1.5).otherwise(pl.col("on_time_rate"))
        return real(rows.with_columns(rate.alias("on_time_rate")), profile)

    monkeypatch.setattr(scoring, "validate_scoreboard", strict)
    failed = score_partitions("week", keys, settings, warehouse)
    assert failed.held == sorted([bad, *(k for t, k in HELD if t == "week")])
    assert not failed.quality.success and bad not in set(failed.rows["period_key"])
    scores = _scores(warehouse)
    assert set(scores[bad]) == {-1} and -1 not in scores[other]
    assert (SCOREBOARD_HOLD, "week", bad, "scoreboard_valid") in holds(warehouse)
    after, expected = _tables(warehouse), _tables(clean)
    for table in ("scoreboard", "bottlenecks", "what_if", "scored_periods"):
        assert [r for r in after[table] if bad not in r] == [r for r in expected[table] if bad not in r], table

    monkeypatch.setattr(scoring, "validate_scoreboard", real)
    passed = score_partitions("week", keys, settings, warehouse)
    assert passed.held == [k for t, k in HELD if t == "week"] and passed.quality.success
    assert _tables(warehouse) == _tables(clean)
    assert not any(h[0] == SCOREBOARD_HOLD for h in holds(warehouse))


def _scores(warehouse: Warehouse) -> dict[str, list[float]]:
    with duckdb.connect(warehouse.path, read_only=True) as con:
        rows = con.execute("SELECT period_key, list(score) FROM scoreboard WHERE period_type = 'week' GROUP BY 1")
        return dict(rows.fetchall())
