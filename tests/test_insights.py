"""Weak points, bottleneck procedures and what-if on the worked example, by hand."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from tests.helpers import DEFAULT_PROFILE_PATH, EXAMPLE, read_example_dossiers, read_expected_scoreboard
from transforms.calendar import working_calendar
from transforms.insights import PERIOD_UNIT, WEAK_POINT_SCHEMA, bottlenecks, indicator_points, weak_points, what_if
from transforms.periods import index_of, make_periods
from transforms.profile import load_profile
from transforms.units import load_registry

PROFILE = load_profile(DEFAULT_PROFILE_PATH)


@pytest.fixture(scope="module")
def january():
    return read_expected_scoreboard().filter(pl.col("period_key") == "2024-01")


def test_weak_points_order_indicators_by_points_lost(january):
    wp = weak_points(january, PROFILE).filter(pl.col("unit_code") == "001")
    assert wp["indicator"].to_list() == [
        "satisfaction_rate", "on_time_rate", "paid_online_rate", "online_rate",
        "digitized_rate", "synced_rate", "e_result_rate",
    ]
    first = wp.row(0, named=True)
    assert first["position"] == 1
    assert first["points_lost"] == pytest.approx(18 - 10.545454545454547)
    # Ba Đình is the only ranked urban district: the peer median is itself
    assert first["gap_to_peer_median"] == pytest.approx(0.0)
    # the district leader is Sóc Sơn (rank 1): satisfaction 17.142857…
    assert first["leader_points"] == pytest.approx(17.142857142857142)
    assert first["gap_to_leader"] == pytest.approx(17.142857142857142 - 10.545454545454547)


def test_weak_points_skip_indicators_that_do_not_apply(january):
    wp = weak_points(january, PROFILE).filter(pl.col("unit_code") == "00001")
    assert "paid_online_rate" not in wp["indicator"].to_list()  # no fee-charging dossier
    assert wp.row(0, named=True)["indicator"] == "online_rate"  # 0 % online: all 12 points lost


def _weak_points_on_text(scoreboard: pl.DataFrame) -> pl.DataFrame:
    """The weak points as first written: sorted and grouped on the text of the keys."""
    points = indicator_points(scoreboard, PROFILE)
    level = ["period_type", "period_key", "level"]
    medians = points.filter(pl.col("ranked")).group_by(*level, "peer_group", "indicator").agg(
        peer_median_points=pl.col("points_earned").median())
    leaders = points.filter(pl.col("rank") == 1).sort("unit_code").group_by(
        *level, "indicator", maintain_order=True).agg(leader_points=pl.col("points_earned").first())
    return (
        points.join(medians, on=[*level, "peer_group", "indicator"], how="left")
        .join(leaders, on=[*level, "indicator"], how="left")
        .with_columns(gap_to_peer_median=pl.col("peer_median_points") - pl.col("points_earned"),
                      gap_to_leader=pl.col("leader_points") - pl.col("points_earned"))
        .sort([*PERIOD_UNIT, "points_lost", "indicator"], descending=[False] * 5 + [True, False])
        .with_columns(position=pl.int_range(1, pl.len() + 1).over(PERIOD_UNIT))
        .select([pl.col(c).cast(t) for c, t in WEAK_POINT_SCHEMA.items()])
    )


def test_weak_points_of_every_period_at_once_are_those_keyed_on_text():
    """The site derives the weak points of every period in one go, on numbered keys:
    the same rows as sorting and grouping on the text, whatever the input's order,
    with a unit of no peer group and one of no validity date among them."""
    every = read_expected_scoreboard()
    odd = every.with_columns(
        peer_group=pl.when(pl.col("unit_code") == "00004").then(None).otherwise(pl.col("peer_group")),
        unit_valid_from=pl.when(pl.col("unit_code") == "002").then(None).otherwise(pl.col("unit_valid_from")),
    )
    for frame in (every, odd, odd.sample(fraction=1.0, shuffle=True, seed=3)):
        found = weak_points(frame, PROFILE)
        assert found["period_key"].n_unique() == every["period_key"].n_unique() > 2
        assert found.equals(_weak_points_on_text(frame))
    assert weak_points(odd, PROFILE).filter(pl.col("unit_code") == "00004")["peer_median_points"].is_null().all()


def test_what_if_counts_the_dossiers_that_would_lift_a_unit(january):
    wi = what_if(january, PROFILE)
    ba_dinh = wi.filter(pl.col("unit_code") == "001").row(0, named=True)
    # even all 3 late dossiers on time give 85.43 < Sóc Sơn's 90.00
    assert (ba_dinh["late_dossiers"], ba_dinh["target_rank"], ba_dinh["dossiers_for_rank"]) == (3, 1, None)
    # 2 of them give 81.79 ≥ 80: from Khá to Tốt (1 gives 78.16)
    assert (ba_dinh["target_band"], ba_dinh["dossiers_for_band"]) == ("Tốt", 2)


def test_what_if_needs_strictly_above_not_a_tie(january):
    bac_son = what_if(january, PROFILE).filter(pl.col("unit_code") == "00004").row(0, named=True)
    # all 3 late on time: 78/90 = 86.67, exactly Phúc Xá's rounded score: not above it
    assert bac_son["dossiers_for_rank"] is None
    assert (bac_son["target_band"], bac_son["dossiers_for_band"]) == ("Tốt", 1)


def test_the_leader_has_no_rank_to_gain_and_the_top_band_no_band(january):
    soc_son = what_if(january, PROFILE).filter(pl.col("unit_code") == "002").row(0, named=True)
    assert soc_son["target_rank"] is None and soc_son["dossiers_for_rank"] is None
    assert soc_son["target_band"] is None and soc_son["dossiers_for_band"] is None


def test_bottlenecks_count_overdue_and_pending_overdue_by_procedure():
    dossiers = read_example_dossiers().with_columns(
        procedure_code=pl.when(pl.col("dossier_id") == "WX-005").then(pl.lit("2.000001")).otherwise("procedure_code")
    )
    units = load_registry(EXAMPLE / "units.csv")
    periods = make_periods("month", index_of("month", date(2024, 1, 1)), index_of("month", date(2024, 2, 1)),
                           latest_event=datetime(2024, 2, 7, 15), now=datetime(2026, 1, 1))
    cal = working_calendar(date(2023, 1, 1), date(2025, 1, 1))
    b = bottlenecks(dossiers, units, cal, "month", periods)
    jan = b.filter((pl.col("period_key") == "2024-01") & (pl.col("unit_code") == "001"))
    # WX-004 overdue and WX-006 pending overdue on 1.001776; WX-005 overdue on 2.000001
    assert jan.select("position", "procedure_code", "overdue", "pending_overdue", "late").rows() == [
        (1, "1.001776", 1, 1, 2), (2, "2.000001", 1, 0, 1)]
    assert jan["share_of_late"].to_list() == pytest.approx([2 / 3, 1 / 3])
    feb = b.filter((pl.col("period_key") == "2024-02") & (pl.col("unit_code") == "001"))
    assert feb.select("procedure_code", "overdue", "pending_overdue").rows() == [("1.001776", 1, 1)]
    # Sóc Sơn's 3 overdue in January come from Xã Bắc Sơn
    soc_son = b.filter((pl.col("period_key") == "2024-01") & (pl.col("unit_code") == "002"))
    assert soc_son.select("late", "share_of_late").rows() == [(3, 1.0)]
