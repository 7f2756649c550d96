"""Rules of scoreboard.md on small frames whose answers are worked out by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from transforms.calendar import working_calendar
from transforms.periods import index_of, make_periods
from transforms.profile import load_profile
from tests.helpers import DEFAULT_PROFILE_PATH
from transforms.schema import DOSSIER_SCHEMA, UNIT_SCHEMA
from transforms.score import ranked_score, round_score, score_periods

OLD = date(2008, 8, 1)


def units(*rows) -> pl.DataFrame:
    """(code, name, level, parent, peer, valid_from, valid_to)"""
    return pl.DataFrame([dict(zip(UNIT_SCHEMA, r)) for r in rows], schema=UNIT_SCHEMA)


def dossiers(*rows: dict) -> pl.DataFrame:
    base = {"unit_valid_from": OLD, "procedure_code": "1.000001", "source_file": "t.csv"}
    filled = [{**base, "dossier_id": f"D{i}", "source_row": i, **r} for i, r in enumerate(rows, 1)]
    return pl.DataFrame(filled, schema=DOSSIER_SCHEMA)


def finished(unit: str, received: datetime, end: datetime, due: datetime | None, **kw) -> dict:
    return {"unit_code": unit, "status": 10, "received_at": received, "finished_at": end, "due_at": due, **kw}


def score(ds, us, kind="month", first=date(2024, 3, 1), last=None, *, now=datetime(2026, 1, 1), latest=None):
    last = last or first
    latest = latest or max(
        v for c in ("received_at", "finished_at", "returned_at", "rejected_at") for v in ds[c].to_list() if v
    )
    periods = make_periods(kind, index_of(kind, first), index_of(kind, last), latest_event=latest, now=now)
    cal = working_calendar(date(2023, 1, 1), date(2026, 12, 31))
    return score_periods(ds, us, load_profile(DEFAULT_PROFILE_PATH), kind, periods, cal)


def row(frame, unit, key=None):
    f = frame.filter(pl.col("unit_code") == unit)
    if key:
        f = f.filter(pl.col("period_key") == key)
    assert f.height == 1, f
    return f.row(0, named=True)


MARCH = datetime(2024, 3, 4, 8)
COMMUNES = units(
    ("00001", "Phường A", "commune", None, "urban", OLD, None),
    ("00002", "Phường B", "commune", None, "urban", OLD, None),
    ("00003", "Xã C", "commune", None, "rural", OLD, None),
    ("00004", "Xã D", "commune", None, "rural", OLD, None),
)


def ten(unit: str, late: int) -> list[dict]:
    """Ten dossiers received and finished in March 2024, `late` of them overdue."""
    due = datetime(2024, 3, 10)
    out = []
    for i in range(10):
        end = datetime(2024, 3, 12, 9) if i < late else datetime(2024, 3, 8, 9)
        out.append(finished(unit, MARCH + timedelta(minutes=i), end, due))
    return out


def test_equal_rounded_scores_share_a_rank_and_the_next_rank_skips():
    ds = dossiers(*ten("00001", 0), *ten("00002", 1), *ten("00003", 1), *ten("00004", 2))
    out = score(ds, COMMUNES)
    # only on_time_rate applies (every other field is unknown): score = 100 × rate
    assert [row(out, u)["score"] for u in ("00001", "00002", "00003", "00004")] == [100.0, 90.0, 90.0, 80.0]
    assert [row(out, u)["rank"] for u in ("00001", "00002", "00003", "00004")] == [1, 2, 2, 4]
    assert [row(out, u)["rank_in_peer"] for u in ("00001", "00002", "00003", "00004")] == [1, 2, 1, 2]
    assert [row(out, u)["band"] for u in ("00001", "00002", "00004")] == ["Xuất sắc", "Xuất sắc", "Tốt"]
    # received 10 + timeliness base 10 = 20: all ranked; nothing else applies
    r = row(out, "00001")
    assert (r["received"], r["timeliness_base"], r["online_rate"], r["points_online"]) == (10, 10, None, None)


def test_below_minimum_volume_is_scored_but_not_ranked():
    ds = dossiers(*ten("00001", 0)[:4])  # received 4 + base 4 = 8 < 10
    out = score(ds, COMMUNES)
    r = row(out, "00001")
    assert r["score"] == 100.0 and r["band"] == "Xuất sắc"
    assert r["ranked"] is False and r["rank"] is None
    # units that sent nothing are listed with zeros and null rates
    empty = row(out, "00002")
    assert (empty["received"], empty["timeliness_base"], empty["on_time_rate"], empty["score"]) == (0, 0, None, None)
    assert empty["ranked"] is False


def test_district_figures_include_communes_and_a_silent_commune_is_listed():
    us = units(
        ("001", "Quận X", "district", None, "urban", OLD, None),
        ("00001", "Phường A", "commune", "001", "urban", OLD, None),
        ("00002", "Phường B", "commune", "001", "urban", OLD, None),
    )
    ds = dossiers(*ten("001", 1), *ten("00001", 3))
    out = score(ds, us)
    district = row(out, "001")
    assert (district["received"], district["early"], district["overdue"]) == (20, 16, 4)
    assert district["on_time_rate"] == pytest.approx(16 / 20)
    assert district["rank"] == 1
    assert row(out, "00001")["on_time_rate"] == pytest.approx(0.7)
    silent = row(out, "00002")
    assert silent["received"] == 0 and silent["score"] is None


def test_an_end_at_exactly_monday_midnight_belongs_to_the_new_week():
    us = COMMUNES.head(1)
    # due Friday 08/03 (date only), finished Monday 11/03 00:00:00 exactly
    ds = dossiers(finished("00001", datetime(2024, 3, 4, 8), datetime(2024, 3, 11, 0, 0), datetime(2024, 3, 8)))
    out = score(ds, us, "week", date(2024, 3, 4), date(2024, 3, 11))
    w10, w11 = row(out, "00001", "2024-W10"), row(out, "00001", "2024-W11")
    assert (w10["pending_overdue"], w10["overdue"]) == (1, 0)
    assert (w11["pending_overdue"], w11["overdue"]) == (0, 1)


def test_a_refusal_after_the_due_date_is_pending_overdue_until_it_ends():
    us = COMMUNES.head(1)
    ds = dossiers({"unit_code": "00001", "status": 8, "received_at": datetime(2024, 3, 4, 8),
                   "due_at": datetime(2024, 3, 8), "rejected_at": datetime(2024, 3, 20, 10)})
    out = score(ds, us, "week", date(2024, 3, 4), date(2024, 3, 18))
    got = [(r["period_key"], r["pending_overdue"], r["rejected"]) for r in out.iter_rows(named=True)]
    assert got == [("2024-W10", 1, 0), ("2024-W11", 1, 0), ("2024-W12", 0, 1)]


def test_the_period_in_progress_is_cut_at_the_latest_event():
    us = COMMUNES.head(1)
    ds = dossiers(
        # due yesterday: overdue already at the latest event
        {"unit_code": "00001", "status": 4, "received_at": datetime(2026, 10, 1, 8), "due_at": datetime(2026, 11, 18)},
        # due tomorrow: not overdue yet, though the week will have ended by then
        {"unit_code": "00001", "status": 4, "received_at": datetime(2026, 11, 2, 8), "due_at": datetime(2026, 11, 20)},
        finished("00001", datetime(2026, 11, 16, 8), datetime(2026, 11, 19, 15), datetime(2026, 11, 25)),
    )
    out = score(ds, us, "week", date(2026, 11, 16), now=datetime(2026, 11, 22, 9), latest=datetime(2026, 11, 19, 15))
    r = row(out, "00001", "2026-W47")
    assert r["provisional"] is True
    assert (r["pending_overdue"], r["early"], r["received"]) == (1, 1, 1)


def test_a_reused_code_is_a_new_unit_and_rank_change_does_not_chain():
    reform = date(2025, 7, 1)
    us = units(
        ("00010", "Phường Cũ", "commune", None, "urban", OLD, reform - timedelta(days=1)),
        ("00010", "Phường Mới", "commune", None, "urban", reform, None),
    )
    june = [finished("00010", datetime(2025, 6, 2, 8) + timedelta(hours=i), datetime(2025, 6, 5, 9),
                     datetime(2025, 6, 10)) for i in range(10)]
    july = [{**finished("00010", datetime(2025, 7, 1, 8) + timedelta(hours=i), datetime(2025, 7, 4, 9),
                        datetime(2025, 7, 10)), "unit_valid_from": reform} for i in range(10)]
    out = score(dossiers(*june, *july), us, "month", date(2025, 6, 1), date(2025, 7, 1))
    june_rows = out.filter(pl.col("period_key") == "2025-06")
    july_rows = out.filter(pl.col("period_key") == "2025-07")
    assert june_rows["unit_name"].to_list() == ["Phường Cũ"]
    assert july_rows["unit_name"].to_list() == ["Phường Mới"]
    assert july_rows["rank"].to_list() == [1] and july_rows["rank_change"].to_list() == [None]


def test_a_unit_that_ended_but_still_has_late_dossiers_is_listed_not_ranked():
    us = units(("00010", "Phường Cũ", "commune", None, "urban", OLD, date(2025, 6, 30)))
    ds = dossiers({"unit_code": "00010", "status": 4, "received_at": datetime(2025, 6, 2, 8),
                   "due_at": datetime(2025, 6, 10)}, *[
        finished("00010", datetime(2025, 6, 2, 9) + timedelta(hours=i), datetime(2025, 6, 5, 9), datetime(2025, 6, 10))
        for i in range(10)])
    out = score(ds, us, "month", date(2025, 6, 1), date(2025, 7, 1))
    july = row(out, "00010", "2025-07")
    assert july["pending_overdue"] == 1 and july["ranked"] is False and july["rank"] is None


def test_round_score_is_half_away_from_zero_like_duckdb():
    import duckdb

    values = [89.99999999999999, 0.125, 2.675, 1.005, 89.995, 69.99499999999999, 49.995, 81.32499999999999, 81.325]
    ours = pl.DataFrame({"s": values}).select(round_score(pl.col("s")))["s"].to_list()
    theirs = [duckdb.sql(f"SELECT round(round({v!r}::DOUBLE, 9), 2)").fetchall()[0][0] for v in values]
    assert ours == theirs


def test_one_score_rounds_as_a_column_of_scores_and_as_duckdb():
    """ranked_score (a sentence's or a chart point's score) is round_score for one value:
    on every tie of a 3-decimal grid, on means of two 2-decimal scores (where halves
    are common) and on their float neighbours, where a decimal rounding would differ."""
    import math
    import random

    import duckdb

    rnd = random.Random(14)
    values = [k / 1000 for k in range(100_001)] + [-77.475, 0.0, -0.0, 100.0, 1e300, -1e300, 1e-300]
    values += [(rnd.randint(0, 10_000) + rnd.randint(0, 10_000)) / 200 for _ in range(20_000)]
    values += [math.nextafter(v, 200.0) for v in values[::7]] + [math.nextafter(v, -200.0) for v in values[::7]]
    column = pl.DataFrame({"s": values}).select(round_score(pl.col("s")))["s"].to_list()
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest(?::DOUBLE[]) AS s", [values])
    duck = [r[0] for r in con.execute("SELECT round(round(s, 9), 2) FROM t").fetchall()]
    ours = [ranked_score(v) for v in values]
    assert ours == column == duck
    assert ranked_score(77.475) == 77.47 and ranked_score(81.32499999999999) == 81.33
    assert ranked_score(None) is None and math.isnan(ranked_score(float("nan")))


def test_scores_equal_but_for_float_error_round_and_rank_alike():
    # scoreboard.md: 81.32499999999999 and 81.325 are one exact value; both round to 81.33
    # (a single rounding gave 81.32 and 81.33, and two different ranks).
    rounded = pl.DataFrame({"s": [81.32499999999999, 81.325, 69.99499999999999]}).select(round_score(pl.col("s")))["s"]
    assert rounded.to_list() == [81.33, 81.33, 70.0]


def test_ranks_and_bands_ignore_float_error_in_scores():
    from transforms.score import add_ranks

    frame = pl.DataFrame(
        {
            "period_type": ["month"] * 3,
            "period_idx": [0, 0, 0],
            "level": ["commune"] * 3,
            "peer_group": ["urban"] * 3,
            "unit_code": ["00001", "00002", "00003"],
            "unit_valid_from": [date(2020, 1, 1)] * 3,
            "valid_in_period": [True] * 3,
            "received": [20, 20, 20],
            "timeliness_base": [20, 20, 20],
            "score": [81.32499999999999, 81.325, 69.99499999999999],
        }
    )
    out = add_ranks(frame, load_profile(DEFAULT_PROFILE_PATH)).sort("unit_code")
    assert out["rank"].to_list() == [1, 1, 3]
    assert out["band"].to_list() == ["Tốt", "Tốt", "Khá"]
    assert out["score"].to_list()[0] == 81.32499999999999  # published at full precision
