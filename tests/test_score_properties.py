"""Properties of the engine on random dossiers (Hypothesis)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.calendar import working_calendar
from transforms.periods import index_of, make_periods
from transforms.profile import load_profile
from tests.helpers import DEFAULT_PROFILE_PATH
from transforms.schema import DOSSIER_SCHEMA, UNIT_SCHEMA
from transforms.score import score_periods

OLD = date(2008, 8, 1)
UNITS = pl.DataFrame(
    [
        ("001", "Quận A", "district", None, "urban", OLD, None),
        ("002", "Huyện B", "district", None, "rural", OLD, None),
        ("00001", "Phường A1", "commune", "001", "urban", OLD, None),
        ("00002", "Phường A2", "commune", "001", "urban", OLD, None),
        ("00003", "Xã B1", "commune", "002", "rural", OLD, None),
    ],
    schema=UNIT_SCHEMA,
    orient="row",
)
CALENDAR = working_calendar(date(2023, 12, 1), date(2025, 12, 31))
PROFILE = load_profile(DEFAULT_PROFILE_PATH)
START = datetime(2024, 3, 1)

maybe_bool = st.sampled_from([True, False, None])


@st.composite
def dossier(draw, closed: bool = False):
    received = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 80)))
    kind = draw(st.sampled_from(["finished", "rejected"] if closed else ["finished", "rejected", "pending"]))
    status = {
        "finished": draw(st.sampled_from([9, 10, None])),
        "rejected": draw(st.sampled_from([3, 7, 8, None])),
        "pending": draw(st.sampled_from([1, 2, 4, 5, 6])),
    }[kind]
    end = received + timedelta(minutes=draw(st.integers(0, 60 * 24 * 40)))
    due = draw(st.one_of(st.none(), st.integers(0, 30)))
    due_at = None if due is None else (received + timedelta(days=due)).replace(
        hour=draw(st.sampled_from([0, 17])), minute=0, second=0, microsecond=0)
    if due_at is not None and due_at.hour == 0 and due_at.date() < received.date():
        due_at = None
    return {
        "unit_code": draw(st.sampled_from(["001", "002", "00001", "00002", "00003"])),
        "procedure_code": draw(st.sampled_from(["1.000001", "1.000002"])),
        "channel": draw(st.sampled_from([1, 2, 3, None])),
        "status": status,
        "received_at": received,
        "due_at": due_at if due_at is None or due_at >= received.replace(hour=0, minute=0) else None,
        "finished_at": end if kind == "finished" else None,
        "rejected_at": end if kind == "rejected" and status != 3 else None,
        "fee_required": draw(maybe_bool), "paid_online": draw(maybe_bool), "digitized": draw(maybe_bool),
        "e_result": draw(maybe_bool), "synced": draw(maybe_bool), "apology_issued": draw(maybe_bool),
        "complaint": draw(maybe_bool),
        "rating": draw(st.sampled_from(["satisfied", "neutral", "dissatisfied", None])),
    }


def frame(rows: list[dict]) -> pl.DataFrame:
    base = {"unit_valid_from": OLD, "source_file": "h.csv"}
    return pl.DataFrame(
        [{**base, "dossier_id": f"H{i}", "source_row": i, **r} for i, r in enumerate(rows)], schema=DOSSIER_SCHEMA
    )


def score(dossiers: pl.DataFrame, kind: str, last: date = date(2024, 8, 1)) -> pl.DataFrame:
    periods = make_periods(kind, index_of(kind, date(2024, 3, 1)), index_of(kind, last),
                           latest_event=datetime(2024, 8, 1), now=datetime(2026, 1, 1))
    return score_periods(dossiers, UNITS, PROFILE, kind, periods, CALENDAR)


RATES = ["on_time_rate", "online_rate", "paid_online_rate", "digitized_rate", "e_result_rate", "synced_rate",
         "complaint_rate", "satisfaction_rate", "apology_rate"]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(dossier(), min_size=1, max_size=60), st.sampled_from(["week", "month"]))
def test_scores_rates_and_points_stay_in_range(rows, kind):
    out = score(frame(rows), kind)
    for rate in RATES:
        values = out[rate].drop_nulls()
        assert values.is_empty() or (values.min() >= 0 and values.max() <= 1), rate
    scores = out["score"].drop_nulls()
    assert scores.is_empty() or (scores.min() >= 0 and scores.max() <= 100 + 1e-9)
    assert (out["finished"] == out["early"] + out["on_time"] + out["overdue"] + out["no_deadline"]).all()
    assert (out["timeliness_base"] == out["early"] + out["on_time"] + out["overdue"] + out["pending_overdue"]).all()
    ranked = out.filter(pl.col("ranked"))
    assert (ranked["received"] + ranked["timeliness_base"] >= PROFILE.min_volume).all()


@SETTINGS
@given(st.lists(dossier(closed=True), min_size=1, max_size=60), st.sampled_from(["week", "month"]))
def test_over_a_whole_history_every_dossier_lands_in_one_class(rows, kind):
    out = score(frame(rows), kind, last=date(2024, 9, 30)).filter(pl.col("level") == "commune")
    classes = out.select(pl.sum_horizontal("early", "on_time", "overdue", "no_deadline", "rejected")).sum().item()
    on_communes = sum(1 for r in rows if r["unit_code"].startswith("000"))
    assert out["received"].sum() == on_communes == classes


@SETTINGS
@given(st.lists(dossier(), min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_ranks_do_not_depend_on_row_order(rows, rnd):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    a = score(frame(rows), "month")
    # the same dossiers in another order, under other row numbers
    b = score(frame(shuffled), "month")
    key = ["period_key", "unit_code"]
    cols = ["rank", "rank_in_peer", "rank_change", "band", "score", "pending_overdue", "received"]
    assert a.sort(key).select(key + cols).equals(b.sort(key).select(key + cols))
