"""The weak points derived period by period as a build asks (dashboards.derived): the
rows of any cut are those of the whole derivation, and a partition's digest moves
with what its rows are made from, and only with that."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest

from dashboards.derived import derived_weak_points
from tests.helpers import DEFAULT_PROFILE_PATH, read_expected_scoreboard
from transforms.insights import weak_points
from transforms.profile import load_profile

PROFILE = load_profile(DEFAULT_PROFILE_PATH)
DETAIL = ("unit_code", "unit_valid_from", "period_key")


@pytest.fixture(scope="module")
def scoreboard():
    return read_expected_scoreboard()


def test_every_cut_a_build_makes_is_that_cut_of_the_whole(scoreboard):
    whole = weak_points(scoreboard, PROFILE)
    source = derived_weak_points(scoreboard, PROFILE)
    assert source.rows(source.columns, (), None).equals(whole)
    periods = sorted(set(whole["period_key"]))
    assert len(periods) > 3
    some = [(k,) for k in periods[::2]]
    assert source.rows(source.columns, ("period_key",), some).equals(
        whole.filter(pl.col("period_key").is_in([k for (k,) in some])))
    units = whole.select(DETAIL).unique(maintain_order=True).rows()[::3]
    wanted = pl.DataFrame(units, schema={c: whole.schema[c] for c in DETAIL}, orient="row")
    assert source.rows(["indicator", "position", *DETAIL], DETAIL, units).equals(
        whole.join(wanted, on=list(DETAIL), how="semi").select("indicator", "position", *DETAIL))
    assert source.rows(source.columns, DETAIL, []).is_empty()
    assert sorted(source.partitions(("period_key",))["period_key"]) == periods


def _digests(scoreboard, profile=PROFILE):
    source = derived_weak_points(scoreboard, profile)
    keys = scoreboard.select(DETAIL).unique().sort(DETAIL).rows()
    return source.digests(source.columns, DETAIL, keys), source.digests(source.columns, (), None)[()]


def test_a_digest_moves_with_its_period_numbers_and_the_indicators_only(scoreboard):
    before, everything = _digests(scoreboard)
    assert len(set(before.values())) == scoreboard["period_key"].n_unique()

    # one unit's rate in one period: every partition of that period, and no other
    period = scoreboard["period_key"][0]
    moved = scoreboard.with_columns(
        online_rate=pl.when((pl.col("period_key") == period) & (pl.col("unit_code") == scoreboard["unit_code"][0]))
        .then(pl.col("online_rate") * 0.5).otherwise(pl.col("online_rate")))
    after, everything_after = _digests(moved)
    assert {k[2] for k in before if before[k] != after[k]} == {period}
    assert {k for k in before if before[k] != after[k]} == {k for k in before if k[2] == period}
    assert everything_after != everything

    # a renamed unit, rows in another order, an indicator relabelled: nothing moves
    renamed = scoreboard.with_columns(unit_name=pl.col("unit_name") + " mới").reverse()
    relabelled = replace(PROFILE, groups=tuple(
        replace(g, indicators=tuple(replace(i, label_vi=i.label_vi + "!") for i in g.indicators))
        for g in PROFILE.groups))
    assert _digests(renamed) == (before, everything)
    assert _digests(scoreboard, relabelled) == (before, everything)

    # an indicator's maximum: every partition
    heavier = replace(PROFILE, groups=tuple(
        replace(g, indicators=tuple(replace(i, max_points=i.max_points + 1) for i in g.indicators))
        if g is PROFILE.groups[0] else g for g in PROFILE.groups))
    changed, _ = _digests(scoreboard, heavier)
    assert all(changed[k] != before[k] for k in before)
