from datetime import date, datetime

import polars as pl

from tests.helpers import read_example_dossiers
from transforms.changes import affected_periods, changed_dossiers, contiguous_runs
from transforms.periods import index_of

LAST = {"week": index_of("week", date(2024, 2, 26)), "month": index_of("month", date(2024, 2, 1))}


def keys(period_type, indices):
    from transforms.periods import key_of

    return [key_of(period_type, i) for i in indices]


def test_an_identical_table_changes_nothing():
    d = read_example_dossiers()
    assert changed_dossiers(d, d.sample(fraction=1.0, shuffle=True, seed=1)).is_empty()
    assert affected_periods(changed_dossiers(d, d), LAST) == {"week": [], "month": []}


def test_a_status_update_touches_receipt_to_end_and_the_period_after():
    old = read_example_dossiers()
    # WX-007 (received 26/01, due 02/02, processing) finishes on 14/02
    new = old.with_columns(
        status=pl.when(pl.col("dossier_id") == "WX-007").then(10).otherwise("status").cast(pl.Int8),
        finished_at=pl.when(pl.col("dossier_id") == "WX-007").then(datetime(2024, 2, 14, 9)).otherwise("finished_at"),
    )
    changed = changed_dossiers(old, new)
    assert sorted(changed["dossier_id"].to_list()) == ["WX-007", "WX-007"]  # old and new copy
    got = affected_periods(changed, LAST)
    # the old copy was open (to the last period), so everything from its receipt on
    assert keys("week", got["week"]) == ["2024-W04", "2024-W05", "2024-W06", "2024-W07", "2024-W08", "2024-W09"]
    assert keys("month", got["month"]) == ["2024-01", "2024-02"]


def test_a_new_closed_dossier_touches_only_its_own_weeks():
    old = read_example_dossiers()
    extra = old.filter(pl.col("dossier_id") == "WX-013").with_columns(dossier_id=pl.lit("WX-999"))
    got = affected_periods(changed_dossiers(old, pl.concat([old, extra])), LAST)
    # received Mon 08/01 (W02), finished Sun 14/01 (W02): W02 and W03 (rank_change)
    assert keys("week", got["week"]) == ["2024-W02", "2024-W03"]
    assert keys("month", got["month"]) == ["2024-01", "2024-02"]


def test_contiguous_runs():
    assert contiguous_runs([9, 3, 4, 5, 10]) == [(3, 5), (9, 10)]
    assert contiguous_runs([]) == []
