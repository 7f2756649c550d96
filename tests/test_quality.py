"""Data quality that guards every publication: suites, completeness, early warnings."""

from __future__ import annotations

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import json  # noqa: E402
import re  # noqa: E402
from datetime import date, datetime  # noqa: E402

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import pytest  # noqa: E402

from bench.quality import shift_due_dates, synthetic_dossiers  # noqa: E402
from quality import gx_engine, suites  # noqa: E402
from quality.completeness import completeness, freshness  # noqa: E402
from quality.early_warning import WARNING_SCHEMA, band_at_risk, early_warnings  # noqa: E402
from config import config_path  # noqa: E402
from quality.settings import load_quality_config  # noqa: E402
from quality.suites import (  # noqa: E402
    validate_dossiers,
    validate_file_accounting,
    validate_scoreboard,
)
from tests.helpers import (  # noqa: E402
    DEFAULT_PROFILE,
    DEFAULT_PROFILE_PATH,
    EXAMPLE,
    SCOREBOARD_COLUMNS,
    read_example_dossiers,
    read_expected_scoreboard,
)
from transforms.periods import key_of, start_of  # noqa: E402
from transforms.profile import load_profile  # noqa: E402
from transforms.schema import DOSSIER_SCHEMA  # noqa: E402
from transforms.units import load_registry  # noqa: E402


@pytest.fixture(scope="module")
def profile():
    return load_profile(DEFAULT_PROFILE_PATH)


@pytest.fixture(scope="module")
def dossiers() -> pl.DataFrame:
    return read_example_dossiers()


@pytest.fixture(scope="module")
def scoreboard() -> pl.DataFrame:
    return read_expected_scoreboard()


def failed(result) -> set[str]:
    return {c.name for c in result.failed_checks}


def check(result, name):
    return next(c for c in result.checks if c.name == name)


def set_where(frame: pl.DataFrame, cond: pl.Expr, **values) -> pl.DataFrame:
    schema = frame.schema
    return frame.with_columns(
        [
            pl.when(cond).then(pl.lit(v, dtype=schema[c])).otherwise(pl.col(c)).alias(c)
            for c, v in values.items()
        ]
    )


# --------------------------------------------------------------------------- dossiers


def test_example_dossiers_pass(dossiers):
    result = validate_dossiers(dossiers)
    assert result.success, failed(result)
    assert result.rows == dossiers.height
    assert not result.failed_periods
    assert {c.name for c in result.checks} == set(suites.dossier_rule_names())
    json.dumps(result.to_metadata())


def test_date_only_due_on_the_day_of_receipt_is_not_a_chronology_error(dossiers):
    # received 2024-01-02 08:00, due the same day as a date: its due end is 23:59:59.999999
    frame = set_where(dossiers, pl.col("dossier_id") == "WX-001", due_at=datetime(2024, 1, 2))
    assert validate_dossiers(frame).success


def test_submitted_after_received_is_not_a_rule(dossiers):
    frame = set_where(dossiers, pl.col("dossier_id") == "WX-001", submitted_at=datetime(2024, 1, 5))
    assert validate_dossiers(frame).success


WX1 = pl.col("dossier_id") == "WX-001"

DOSSIER_CASES = {
    "dossier_id_not_null": lambda d: set_where(d, WX1, dossier_id=None),
    "dossier_id_unique": lambda d: set_where(d, pl.col("dossier_id") == "WX-002", dossier_id="WX-001"),
    "procedure_code_not_null": lambda d: set_where(d, WX1, procedure_code=None),
    "received_at_not_null": lambda d: set_where(d, WX1, received_at=None),
    "unit_code_not_null": lambda d: set_where(d, WX1, unit_code=None),
    "unit_valid_from_not_null": lambda d: set_where(d, WX1, unit_valid_from=None),
    "channel_in_set": lambda d: set_where(d, WX1, channel=4),
    "status_in_range": lambda d: set_where(d, WX1, status=11),
    "rating_in_set": lambda d: set_where(d, WX1, rating="excellent"),
    "finished_at_not_before_received": lambda d: set_where(d, WX1, finished_at=datetime(2024, 1, 2, 7, 0)),
    "returned_at_not_before_received": lambda d: set_where(d, WX1, returned_at=datetime(2024, 1, 1, 9, 0)),
    "rejected_at_not_before_received": lambda d: set_where(
        d, pl.col("dossier_id") == "WX-011", rejected_at=datetime(2024, 1, 11, 10, 0)
    ),
    "due_end_not_before_received": lambda d: set_where(d, WX1, due_at=datetime(2024, 1, 1)),
    "finished_has_end": lambda d: set_where(d, WX1, finished_at=None),
    "columns_present": lambda d: d.drop("rating"),
}


@pytest.mark.parametrize("name", list(DOSSIER_CASES))
def test_dossiers_validated_in_buckets_give_the_same_result(dossiers, name):
    frame = DOSSIER_CASES[name](dossiers)
    whole = validate_dossiers(frame)
    buckets = validate_dossiers(frame, bucket_rows=5)  # 38 rows: 8 buckets of dossier ids
    assert buckets.rows == whole.rows == frame.height
    assert buckets.success == whole.success
    assert failed(buckets) == failed(whole)
    assert {c.name: c.unexpected_count for c in buckets.checks} == {c.name: c.unexpected_count for c in whole.checks}
    assert buckets.failed_periods == whole.failed_periods
    assert buckets.failed_periods or name == "columns_present"  # a missing column fails the table, no period
    assert sorted(check(buckets, name).examples) == sorted(check(whole, name).examples)


def test_every_dossier_check_has_a_failing_case():
    assert set(DOSSIER_CASES) == set(suites.dossier_rule_names())


@pytest.mark.parametrize("name", list(DOSSIER_CASES))
def test_each_dossier_expectation_fails_on_a_bad_frame(dossiers, name):
    result = validate_dossiers(DOSSIER_CASES[name](dossiers))
    assert not result.success
    assert failed(result) == {name}
    outcome = check(result, name)
    if name != "columns_present":
        assert outcome.unexpected_count == (2 if name == "dossier_id_unique" else 1)  # both copies
    # examples are dossier ids only, never other values
    ids = set(dossiers["dossier_id"].to_list())
    assert set(outcome.examples) <= ids
    if name not in ("dossier_id_not_null", "columns_present"):
        assert outcome.examples in (["WX-001"], ["WX-011"])
    json.dumps(result.to_metadata())


def test_status_zero_is_out_of_range(dossiers):
    result = validate_dossiers(set_where(dossiers, WX1, status=0))
    assert failed(result) == {"status_in_range"}


def test_shifted_due_dates_are_caught_and_block_only_their_periods(dossiers):
    # a district re-sends the export of Phường Phúc Xá with every due date a year early:
    # received 8-12 Jan 2024 (week 2), finished 14-18 Jan (weeks 2 and 3)
    batch = dossiers.filter(pl.col("unit_code") == "00001").with_columns(
        due_at=pl.col("due_at") - pl.duration(days=365)
    )
    result = validate_dossiers(batch)
    assert not result.success
    assert failed(result) == {"due_end_not_before_received"}
    outcome = check(result, "due_end_not_before_received")
    assert outcome.unexpected_count == 5
    assert sorted(outcome.examples) == ["WX-013", "WX-014", "WX-015", "WX-016", "WX-017"]
    assert result.failed_periods == {("month", "2024-01"), ("week", "2024-W02"), ("week", "2024-W03")}
    assert result.unplaced_failures == 0

    # the same rows among the others: still only their periods are blocked
    rest = dossiers.filter(pl.col("unit_code") != "00001")
    result = validate_dossiers(pl.concat([rest, batch]))
    assert result.failed_periods == {("month", "2024-01"), ("week", "2024-W02"), ("week", "2024-W03")}


def test_a_pending_bad_dossier_blocks_every_period_up_to_the_horizon(dossiers):
    # WX-007: received 26 Jan, still processing; its due date a year early
    frame = set_where(dossiers, pl.col("dossier_id") == "WX-007", due_at=datetime(2023, 2, 2))
    result = validate_dossiers(frame)  # horizon: the latest event in the frame, 7 Feb 15:00
    assert result.failed_periods == {
        ("month", "2024-01"), ("month", "2024-02"),
        ("week", "2024-W04"), ("week", "2024-W05"), ("week", "2024-W06"),
    }
    result = validate_dossiers(frame, as_of=datetime(2024, 2, 20))
    assert ("week", "2024-W08") in result.failed_periods


def test_dossiers_read_back_from_a_duckdb_warehouse(tmp_path, dossiers):
    from pipelines.warehouse import connect, insert, read_table

    with connect(tmp_path / "warehouse.duckdb") as con:
        insert(con, "dossiers", dossiers)
        stored = read_table(con, "SELECT * FROM dossiers")
        assert validate_dossiers(stored).success
        con.execute(
            "UPDATE dossiers SET due_at = due_at - INTERVAL 1 YEAR WHERE dossier_id IN ('WX-018', 'WX-019')"
        )
        stored = read_table(con, "SELECT * FROM dossiers")
    result = validate_dossiers(stored)
    assert failed(result) == {"due_end_not_before_received"}
    assert sorted(check(result, "due_end_not_before_received").examples) == ["WX-018", "WX-019"]
    assert result.failed_periods == {("month", "2024-01"), ("week", "2024-W01"), ("week", "2024-W02")}


def test_empty_frames_pass(profile):
    assert validate_dossiers(pl.DataFrame(schema=DOSSIER_SCHEMA)).success
    assert validate_scoreboard(pl.DataFrame(schema=SCOREBOARD_COLUMNS), profile).success


# --------------------------------------------------------------------------- scoreboard


def row(period_key: str, unit_code: str) -> pl.Expr:
    return (pl.col("period_key") == period_key) & (pl.col("unit_code") == unit_code)


EMPTY_ROW = row("2024-W04", "00001")  # listed, nothing received, nothing scored
BA_DINH_JAN = row("2024-01", "001")  # ranked 2nd, Khá
SOC_SON_JAN = row("2024-01", "002")  # ranked 1st, every rate applicable
BAC_SON_W01 = row("2024-W01", "00004")  # scored 71.43, not ranked (volume 6 + 6 < 10)
PHUC_XA_W03 = row("2024-W03", "00001")  # scored 100, not ranked


def _negative_count(col: str):
    def mutate(s: pl.DataFrame) -> pl.DataFrame:
        s = set_where(s, EMPTY_ROW, **{col: -1})
        return s.with_columns(
            finished=pl.when(EMPTY_ROW & pl.lit(col != "finished"))
            .then(pl.col("early") + pl.col("on_time") + pl.col("overdue") + pl.col("no_deadline"))
            .otherwise(pl.col("finished")),
            timeliness_base=pl.when(EMPTY_ROW & pl.lit(col != "timeliness_base"))
            .then(pl.col("early") + pl.col("on_time") + pl.col("overdue") + pl.col("pending_overdue"))
            .otherwise(pl.col("timeliness_base")),
        )

    return mutate


def _swap_district_ranks(s: pl.DataFrame) -> pl.DataFrame:
    s = set_where(s, BA_DINH_JAN, rank=99)
    s = set_where(s, SOC_SON_JAN, rank=2)
    return set_where(s, BA_DINH_JAN, rank=1)


POINT_COLUMNS = [g.points_column for g in DEFAULT_PROFILE.groups]
# name -> (mutation, other checks the same mutation may also trip)
SCOREBOARD_CASES = {
    "columns_present": (lambda s: s.drop("apology_rate"), set()),
    "key_unique": (lambda s: pl.concat([s, s.filter(EMPTY_ROW)]), set()),
    "period_type_in_set": (lambda s: set_where(s, EMPTY_ROW, period_type="year"), set()),
    "period_key_not_null": (lambda s: set_where(s, EMPTY_ROW, period_key=None), set()),
    "unit_code_not_null": (lambda s: set_where(s, EMPTY_ROW, unit_code=None), set()),
    "level_in_set": (lambda s: set_where(s, EMPTY_ROW, level="province"), set()),
    **{
        f"{c}_non_negative": (
            _negative_count(c),
            {"finished_non_negative", "timeliness_base_non_negative", "finished_adds_up",
             "timeliness_base_adds_up"},
        )
        for c in suites.COUNT_COLUMNS
    },
    "finished_adds_up": (lambda s: s.with_columns(finished=pl.col("finished") + EMPTY_ROW.cast(pl.Int64)), set()),
    "timeliness_base_adds_up": (
        lambda s: s.with_columns(timeliness_base=pl.col("timeliness_base") + EMPTY_ROW.cast(pl.Int64)),
        set(),
    ),
    **{f"{c}_in_unit_interval": (lambda s, c=c: set_where(s, SOC_SON_JAN, **{c: 1.5}), set())
       for c in suites.RATE_COLUMNS},
    "avg_working_days_non_negative": (lambda s: set_where(s, SOC_SON_JAN, avg_working_days=-1.0), set()),
    **{f"{c}_non_negative": (lambda s, c=c: set_where(s, SOC_SON_JAN, **{c: -1.0}), {"score_matches_points"})
       for c in POINT_COLUMNS},
    # a stored applicable maximum that is not the sum of the applicable indicators' maxima
    **{f"max_points_{g.key}_matches": (
        lambda s, g=g: s.with_columns(
            pl.when(SOC_SON_JAN).then(pl.col(g.max_points_column) + 1).otherwise(pl.col(g.max_points_column))
            .alias(g.max_points_column)
        ),
        set(),
    ) for g in DEFAULT_PROFILE.groups},
    "score_in_range": (lambda s: set_where(s, PHUC_XA_W03, score=100.5), {"score_matches_points"}),
    "score_matches_points": (
        lambda s: s.with_columns(score=pl.when(BAC_SON_W01).then(pl.col("score") + 0.001).otherwise(pl.col("score"))),
        set(),
    ),
    "band_in_profile": (lambda s: set_where(s, BA_DINH_JAN, band="Siêu"), {"band_matches_score"}),
    "band_matches_score": (lambda s: set_where(s, BA_DINH_JAN, band="Yếu"), set()),
    "rank_at_least_one": (lambda s: set_where(s, SOC_SON_JAN, rank=0), {"rank_consistent_with_score"}),
    "rank_in_peer_at_least_one": (
        lambda s: set_where(s, SOC_SON_JAN, rank_in_peer=0), {"rank_in_peer_consistent_with_score"}
    ),
    "rank_only_where_ranked": (lambda s: set_where(s, EMPTY_ROW, rank=3), set()),
    "ranked_is_eligible": (lambda s: set_where(s, BAC_SON_W01, ranked=True, rank=1, rank_in_peer=1), set()),
    "rank_consistent_with_score": (_swap_district_ranks, set()),
    "rank_in_peer_consistent_with_score": (lambda s: set_where(s, SOC_SON_JAN, rank_in_peer=2), set()),
}


def test_expected_scoreboard_passes(scoreboard, profile):
    result = validate_scoreboard(scoreboard, profile)
    assert result.success, [(c.name, c.examples) for c in result.failed_checks]
    assert not result.failed_periods
    assert {c.name for c in result.checks} == set(suites.scoreboard_rule_names(profile))
    json.dumps(result.to_metadata())


def test_every_scoreboard_check_has_a_failing_case(profile):
    assert set(SCOREBOARD_CASES) == set(suites.scoreboard_rule_names(profile))


@pytest.mark.parametrize("name", list(SCOREBOARD_CASES))
def test_each_scoreboard_expectation_fails_on_a_bad_frame(scoreboard, profile, name):
    mutate, may_also_fail = SCOREBOARD_CASES[name]
    result = validate_scoreboard(mutate(scoreboard), profile)
    assert not result.success
    assert name in failed(result)
    assert failed(result) <= {name} | may_also_fail
    for outcome in result.failed_checks:
        # examples name the period and the unit, nothing else
        assert all(re.fullmatch(r"\d{4}-(W\d{2}|\d{2})/\d{3,5}", e) for e in outcome.examples), outcome.examples
    json.dumps(result.to_metadata())


def test_negative_rate_fails(scoreboard, profile):
    result = validate_scoreboard(set_where(scoreboard, SOC_SON_JAN, online_rate=-0.1), profile)
    assert failed(result) == {"online_rate_in_unit_interval"}


def test_failed_periods_name_only_the_failing_rows_periods(scoreboard, profile):
    bad = scoreboard.with_columns(
        finished=pl.col("finished")
        + (row("2024-W03", "001") | row("2024-02", "00004")).cast(pl.Int64)
    )
    result = validate_scoreboard(bad, profile)
    assert failed(result) == {"finished_adds_up"}
    assert result.failed_periods == {("week", "2024-W03"), ("month", "2024-02")}
    assert sorted(check(result, "finished_adds_up").examples) == ["2024-02/00004", "2024-W03/001"]
    meta = result.to_metadata()
    assert meta["failed_periods"] == ["month:2024-02", "week:2024-W03"]
    assert meta["failed_checks"] == ["finished_adds_up"]


def test_ties_share_a_rank_and_the_next_skips(scoreboard, profile):
    # Ba Đình's January score is set to Sóc Sơn's 89.99999999999999 (rounds to 90.00):
    # both must rank 1 and share it; rank 2 for Ba Đình would be inconsistent.
    soc_son = scoreboard.filter(SOC_SON_JAN)
    tied = scoreboard.with_columns(
        [
            pl.when(BA_DINH_JAN).then(pl.lit(soc_son[c][0], dtype=scoreboard.schema[c])).otherwise(pl.col(c)).alias(c)
            for c in [*suites.RATE_COLUMNS, *POINT_COLUMNS, "score", "band"]
        ]
    )
    assert failed(validate_scoreboard(tied, profile)) == {"rank_consistent_with_score"}
    assert validate_scoreboard(set_where(tied, BA_DINH_JAN, rank=1), profile).success


def test_context_and_suites_are_built_once(scoreboard, profile, dossiers):
    validate_scoreboard(scoreboard, profile)
    validate_dossiers(dossiers)
    engine = gx_engine._engine()
    built = dict(engine.suites)
    validate_scoreboard(scoreboard, profile)
    validate_dossiers(dossiers)
    assert gx_engine._engine() is engine
    assert engine.suites == built


# --------------------------------------------------------------------------- files


def _warehouse_with_files(path):
    from pipelines.warehouse import QUARANTINE_SCHEMA, connect, read_table, replace_dossiers, replace_files

    d = read_example_dossiers()
    a = d.filter(pl.col("unit_code").is_in(["001", "00001"])).with_columns(source_file=pl.lit("a.csv"))
    b = d.filter(pl.col("unit_code").is_in(["002", "00004"])).with_columns(source_file=pl.lit("b.xlsx"))
    # b.xlsx re-sends two of a.csv's dossiers, newer: a.csv's copies are superseded
    resent = a.filter(pl.col("dossier_id").is_in(["WX-001", "WX-002"])).with_columns(source_file=pl.lit("b.xlsx"))
    quarantine = pl.DataFrame(
        {"source_file": ["a.csv"], "source_row": [14], "reason": ["missing_id"]}
    ).with_columns([pl.lit(None, dtype=t).alias(c) for c, t in QUARANTINE_SCHEMA.items() if c not in ("source_file", "source_row", "reason")])
    no_quarantine = pl.DataFrame(schema=QUARANTINE_SCHEMA)
    now = datetime(2024, 3, 1, 9, 0)

    def file_row(name, rows_read, status="loaded"):
        return {
            "source_file": name, "content_hash": "x", "format": name.rsplit(".", 1)[1], "status": status,
            "message": None, "rows_read": rows_read, "dropped_columns": "", "unreadable": "", "ingested_at": now,
        }

    with connect(path) as con:
        replace_files(con, file_rows=[file_row("a.csv", a.height + 1)], versions=a, quarantine=quarantine)
        replace_files(con, file_rows=[file_row("b.xlsx", b.height + 2), file_row("c.pdf", 0, "rejected")],
                      versions=pl.concat([b, resent]), quarantine=no_quarantine)
        canonical = pl.concat([a.filter(~pl.col("dossier_id").is_in(["WX-001", "WX-002"])), b, resent])
        replace_dossiers(con, canonical)
        return read_table(con, "SELECT * FROM file_accounting ORDER BY source_file")


@pytest.fixture()
def accounting(tmp_path):
    return _warehouse_with_files(tmp_path / "warehouse.duckdb")


def test_file_accounting_from_the_warehouse_view_passes(accounting):
    assert accounting.filter(pl.col("source_file") == "a.csv")["rows_superseded"].item() == 2
    result = validate_file_accounting(accounting)
    assert result.success, failed(result)
    assert result.rows == 2  # the rejected file is not checked
    assert {c.name for c in result.checks} == set(suites.file_rule_names())


FILE_CASES = {
    "columns_present": (lambda f: f.drop("rows_superseded"), {"rows_add_up"}),
    "source_file_unique": (lambda f: pl.concat([f, f.filter(pl.col("source_file") == "a.csv")]), set()),
    "rows_read_non_negative": (
        lambda f: set_where(f, pl.col("source_file") == "a.csv", rows_read=-1), {"rows_add_up"}
    ),
    "rows_accepted_non_negative": (
        lambda f: set_where(f, pl.col("source_file") == "a.csv", rows_accepted=-1), {"rows_add_up"}
    ),
    "rows_quarantined_non_negative": (
        lambda f: set_where(f, pl.col("source_file") == "a.csv", rows_quarantined=-1), {"rows_add_up"}
    ),
    "rows_superseded_non_negative": (
        lambda f: set_where(f, pl.col("source_file") == "a.csv", rows_superseded=-1), {"rows_add_up"}
    ),
    "rows_add_up": (
        lambda f: f.with_columns(rows_read=pl.col("rows_read") + (pl.col("source_file") == "b.xlsx").cast(pl.Int64)),
        set(),
    ),
}


def test_every_file_check_has_a_failing_case():
    assert set(FILE_CASES) == set(suites.file_rule_names())


@pytest.mark.parametrize("name", list(FILE_CASES))
def test_each_file_expectation_fails_on_a_bad_frame(accounting, name):
    mutate, may_also_fail = FILE_CASES[name]
    result = validate_file_accounting(mutate(accounting))
    assert not result.success
    assert name in failed(result)
    assert failed(result) <= {name} | may_also_fail
    for outcome in result.failed_checks:
        assert set(outcome.examples) <= {"a.csv", "b.xlsx"}
    if name == "rows_add_up":
        assert check(result, name).examples == ["b.xlsx"]


def test_a_check_that_cannot_be_evaluated_counts_as_failed(accounting):
    table = accounting.filter(pl.col("status") == "loaded").select("source_file", "rows_read")
    runs = gx_engine._engine().run("file_accounting", suites.FILE_RULES, table)
    by_name = {rule.name: (success, error) for rule, success, _, _, error in runs}
    assert by_name["source_file_unique"] == (True, False)
    assert by_name["rows_add_up"] == (False, True)  # its columns are not there


def test_a_rejected_file_is_not_held_to_the_sum(accounting):
    frame = set_where(accounting, pl.col("source_file") == "c.pdf", rows_read=7)
    assert validate_file_accounting(frame).success


# --------------------------------------------------------------------------- completeness


def test_completeness_lists_silent_units(scoreboard):
    table = completeness(scoreboard, load_registry(EXAMPLE / "units.csv"))
    assert table.height == scoreboard.select("period_type", "period_key").unique().height
    w01 = table.filter(pl.col("period_key") == "2024-W01").row(0, named=True)
    assert (w01["expected_units"], w01["reporting_units"], w01["silent_count"]) == (4, 3, 1)
    assert w01["silent_units"] == ["00001"]
    assert w01["silent_unit_names"] == ["Phường Phúc Xá"]
    feb = table.filter(pl.col("period_key") == "2024-02").row(0, named=True)
    assert feb["silent_units"] == ["002", "00001", "00004"]  # districts first, then communes
    assert feb["reporting_share"] == pytest.approx(0.25)
    jan = table.filter(pl.col("period_key") == "2024-01").row(0, named=True)
    assert jan["silent_units"] == [] and jan["reporting_units"] == 4


def test_freshness_per_unit(dossiers):
    units = load_registry(EXAMPLE / "units.csv")
    extra = pl.DataFrame(
        {
            "unit_code": ["00007", "00009"], "unit_name": ["Phường Mới", "Xã Cũ"], "level": ["commune", "commune"],
            "parent_code": ["001", "002"], "peer_group": ["urban", "rural"],
            "valid_from": [date(2020, 1, 1), date(2008, 8, 1)], "valid_to": [None, date(2019, 12, 31)],
        },
        schema=units.schema,
    )
    table = freshness(dossiers, pl.concat([units, extra]), datetime(2024, 2, 10, 12, 0))
    got = {r["unit_code"]: (r["latest_date"], r["days_since"]) for r in table.iter_rows(named=True)}
    assert got == {
        "00007": (None, None),  # never sent anything
        "001": (date(2024, 2, 7), 3),  # WX-012 returned 7 Feb
        "002": (date(2024, 1, 18), 23),  # its commune 00004 is fresher than its own 17 Jan
        "00001": (date(2024, 1, 18), 23),
        "00004": (date(2024, 1, 18), 23),
    }  # 00009 ended in 2019: not expected any more
    assert table["unit_code"].to_list()[:2] == ["00007", "002"]  # stalest first


# --------------------------------------------------------------------------- early warnings


def weekly_frame(n_units: int = 30, n_weeks: int = 20, seed: int = 7, mean: float = 100.0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    first = 2817  # 2024-W01
    rows = []
    for u in range(n_units):
        for w in range(n_weeks):
            received = int(rng.poisson(mean))
            base = int(rng.poisson(mean))
            on_time = int(rng.binomial(base, 0.9))
            rows.append(
                {
                    "period_type": "week", "period_key": key_of("week", first + w),
                    "period_start": start_of("week", first + w), "level": "commune",
                    "unit_code": f"{u + 1:05d}", "unit_name": f"Xã {u + 1}", "unit_valid_from": date(2008, 8, 1),
                    "received": received, "timeliness_base": base,
                    "on_time_rate": on_time / base if base else None, "provisional": False,
                }
            )
    return pl.DataFrame(rows)


def test_early_warning_is_quiet_on_poisson_noise():
    weekly = weekly_frame()
    warnings = early_warnings(weekly)
    assert warnings.height == 0, warnings.select("period_key", "unit_code", "indicator", "value", "baseline", "z")
    assert warnings.schema == pl.Schema(WARNING_SCHEMA)


def test_early_warning_fires_on_a_planted_drop():
    weekly = weekly_frame()
    planted = (pl.col("unit_code") == "00005") & (pl.col("period_key") == "2024-W15")
    weekly = weekly.with_columns(received=pl.when(planted).then(20).otherwise(pl.col("received")))
    warnings = early_warnings(weekly)
    assert warnings.height == 1
    w = warnings.row(0, named=True)
    assert (w["unit_code"], w["period_key"], w["indicator"], w["kind"], w["value"]) == (
        "00005", "2024-W15", "received", "drop", 20.0
    )
    assert 85 <= w["baseline"] <= 115 and w["z"] <= -3
    assert "tuần 15/2024 (08/04–14/04/2024) giảm" in w["message_vi"] and "giảm" in w["message_vi"]
    assert "in week 15/2024 (08/04–14/04/2024) dropped" in w["message_en"]
    # every one of the 8 weeks before it has data
    assert "so với trung vị 98 của 8 tuần trước đó (z = -5,4)." in w["message_vi"]
    assert "against a median of 98 over the previous 8 weeks (z = -5,4)." in w["message_en"]
    assert list(warnings.columns) == list(WARNING_SCHEMA)


def test_the_median_is_said_to_be_of_the_weeks_with_enough_data_of_the_lookback():
    """W05–W08 have too few dossiers for a rate: the median W10 is compared with is of
    the 4 other weeks of the 8 before it, and the sentences say so."""
    weekly = weekly_frame(n_units=1, n_weeks=12).with_columns(
        received=pl.lit(100), timeliness_base=pl.lit(100), on_time_rate=pl.lit(0.9))
    few = pl.col("period_key").is_in(["2024-W05", "2024-W06", "2024-W07", "2024-W08"])
    weekly = weekly.with_columns(
        timeliness_base=pl.when(few).then(3).otherwise("timeliness_base"),
        on_time_rate=pl.when(pl.col("period_key") == "2024-W10").then(0.4).otherwise("on_time_rate"),
    )
    [w] = early_warnings(weekly).iter_rows(named=True)
    assert (w["period_key"], w["indicator"], w["kind"], w["baseline"]) == ("2024-W10", "on_time_rate", "drop", 0.9)
    assert ("giảm bất thường: 40,0 %, so với trung vị 90,0 % của 4 tuần có đủ dữ liệu trong 8 tuần trước đó "
            "(z = -6,7).") in w["message_vi"]
    assert ("dropped sharply: 40,0 % against a median of 90,0 % over the 4 weeks with enough data among the "
            "previous 8 weeks (z = -6,7).") in w["message_en"]
    one = early_warnings(weekly, {"early_warning": {"lookback_weeks": 1, "min_history_weeks": 1}})
    assert "so với trung vị 90,0 % của 1 tuần trước đó" in one.row(0, named=True)["message_vi"]
    assert "against a median of 90,0 % over the previous 1 week (z = " in one.row(0, named=True)["message_en"]


def test_early_warning_flags_spikes_and_on_time_drops():
    weekly = weekly_frame()
    spike = (pl.col("unit_code") == "00003") & (pl.col("period_key") == "2024-W12")
    late = (pl.col("unit_code") == "00009") & (pl.col("period_key") == "2024-W18")
    weekly = weekly.with_columns(
        received=pl.when(spike).then(300).otherwise(pl.col("received")),
        on_time_rate=pl.when(late).then(0.4).otherwise(pl.col("on_time_rate")),
    )
    got = {
        (r["unit_code"], r["period_key"], r["indicator"], r["kind"])
        for r in early_warnings(weekly).iter_rows(named=True)
    }
    assert got == {
        ("00003", "2024-W12", "received", "spike"),
        ("00009", "2024-W18", "on_time_rate", "drop"),
    }


def test_early_warning_needs_enough_history_and_ignores_the_week_in_progress():
    weekly = weekly_frame(n_units=2, n_weeks=12)
    # unit 00001 drops in week 4: only 3 weeks of history before it -> no warning
    early = (pl.col("unit_code") == "00001") & (pl.col("period_key") == "2024-W04")
    # unit 00002 drops in its last week, which is still in progress -> no warning
    last = (pl.col("unit_code") == "00002") & (pl.col("period_key") == "2024-W12")
    weekly = weekly.with_columns(
        received=pl.when(early | last).then(5).otherwise(pl.col("received")),
        provisional=pl.col("period_key") == "2024-W12",
    )
    assert early_warnings(weekly).height == 0
    got = early_warnings(weekly, {"early_warning": {"include_provisional": True}})
    assert got.select("unit_code", "period_key").rows() == [("00002", "2024-W12")]
    got = early_warnings(weekly, {"early_warning": {"min_history_weeks": 3}})
    assert got.select("unit_code", "period_key").rows() == [("00001", "2024-W04")]


def test_a_week_the_data_do_not_reach_to_its_friday_is_not_tested():
    """History loaded up to a Wednesday (or an export cut mid-week): the last week has
    ended, so it is final, but its few days read as a drop for every unit. It is
    neither tested nor history, like the week in progress, until the data reach its
    Friday; then a real drop is flagged."""
    weekly = weekly_frame(n_units=3, n_weeks=12)
    last = pl.col("period_key") == "2024-W12"  # Monday 18/03/2024
    weekly = weekly.with_columns(received=pl.when(last).then(40).otherwise(pl.col("received")))
    assert early_warnings(weekly).select("period_key", "kind").unique().rows() == [("2024-W12", "drop")]
    wednesday, friday = datetime(2024, 3, 20, 16, 30), datetime(2024, 3, 22, 9, 0)
    assert early_warnings(weekly, cutoff=wednesday).height == 0
    assert early_warnings(weekly, cutoff=friday).height == 3
    # include_provisional tests the partial weeks too
    assert early_warnings(weekly, {"early_warning": {"include_provisional": True}}, cutoff=wednesday).height == 3


def test_mad_floor_keeps_flat_histories_calm():
    weekly = weekly_frame(n_units=1, n_weeks=10).with_columns(received=pl.lit(100), on_time_rate=pl.lit(1.0))
    weekly = weekly.with_columns(
        received=pl.when(pl.col("period_key") == "2024-W10").then(104).otherwise(pl.col("received")),
        on_time_rate=pl.when(pl.col("period_key") == "2024-W10").then(0.95).otherwise(pl.col("on_time_rate")),
    )
    assert early_warnings(weekly).height == 0
    # without a floor the same 4-dossier change would be an infinite z: silenced as null
    no_floor = {"early_warning": {"indicators": {"received": {"mad_floor": 0, "mad_floor_relative": 0}}}}
    assert early_warnings(weekly, no_floor).height == 0


def test_quality_config_file_has_the_thresholds():
    cfg = load_quality_config(config_path("quality.yaml"))
    ew = cfg["early_warning"]
    assert ew["lookback_weeks"] == 8 and ew["min_history_weeks"] == 4
    assert ew["indicators"]["received"]["drop_z"] == -3.0
    assert ew["indicators"]["received"]["spike_z"] == 4.0
    assert ew["indicators"]["on_time_rate"]["mad_floor"] == 0.05
    assert cfg["band_at_risk"]["margin_points"] == 2.0


def _month_rows(period_key: str, scores: dict[str, float | None], band_of, volume: dict[str, int] | None = None):
    rows = []
    for code, score in scores.items():
        rounded = None if score is None else round(score, 2)
        rows.append(
            {
                "period_type": "month", "period_key": period_key, "level": "district", "unit_code": code,
                "unit_name": f"Quận {code}", "unit_valid_from": date(2008, 8, 1), "score": score,
                "band": band_of(rounded), "received": (volume or {}).get(code, 50), "timeliness_base": 40,
                "ranked": (volume or {}).get(code, 50) >= 10,
            }
        )
    return pl.DataFrame(rows)


def test_band_at_risk(profile):
    previous = _month_rows("2024-02", {"A": 85.0, "B": 75.0, "C": 95.0, "D": 30.0, "E": 85.0, "F": 85.0},
                           profile.band_of, volume={"F": 4})
    partial = _month_rows(
        "2024-03", {"A": 78.0, "B": 71.5, "C": 95.0, "D": 10.0, "E": 60.0, "F": 60.0}, profile.band_of,
        volume={"E": 0},
    ).with_columns(timeliness_base=pl.when(pl.col("unit_code") == "E").then(3).otherwise(40))
    risk = band_at_risk(partial, previous, profile)
    got = {r["unit_code"]: (r["value"], r["baseline"], r["kind"]) for r in risk.iter_rows(named=True)}
    # A fell below Tốt's 80; B is 1.5 points above Khá's 70; C is safe; D is in the lowest
    # band (no floor); E has too few dossiers so far to judge; F was not ranked in
    # February (4 dossiers): it held no band to lose.
    assert got == {"A": (78.0, 80.0, "band_at_risk"), "B": (71.5, 70.0, "band_at_risk")}
    a = risk.filter(pl.col("unit_code") == "A").row(0, named=True)
    assert "dưới ngưỡng 80" in a["message_vi"] and "Tốt" in a["message_vi"]
    assert "below the 80 floor" in a["message_en"]
    assert a["indicator"] == "score" and a["z"] is None and a["period_type"] == "month"
    b = risk.filter(pl.col("unit_code") == "B").row(0, named=True)
    assert "1,50 điểm" in b["message_vi"]
    assert list(risk.columns) == list(WARNING_SCHEMA)
    assert band_at_risk(partial, previous, profile, {"band_at_risk": {"margin_points": 0}}).height == 1


# --------------------------------------------------------------------------- many rows
# (what the suites cost at a million rows is measured by `python -m bench.quality`)


def test_every_shifted_due_date_in_many_rows_is_caught():
    frame = synthetic_dossiers(20_000)
    assert validate_dossiers(frame).success
    result = validate_dossiers(shift_due_dates(frame, every=100))
    assert failed(result) == {"due_end_not_before_received"}
    assert check(result, "due_end_not_before_received").unexpected_count == 200
    assert result.failed_periods and {t for t, _ in result.failed_periods} == {"week", "month"}


def test_many_periods_of_scoreboard_rows_validate_at_once(scoreboard, profile):
    copies = [scoreboard.with_columns(period_key=pl.lit(f"R{i:02d}-") + pl.col("period_key")) for i in range(30)]
    big = pl.concat(copies)
    result = validate_scoreboard(big, profile)
    assert result.success and result.rows == 30 * scoreboard.height
    bad = big.with_columns(
        finished=pl.col("finished") + (pl.col("period_key") == "R07-2024-01").cast(pl.Int64)
    )
    result = validate_scoreboard(bad, profile)
    assert failed(result) == {"finished_adds_up"}
    assert result.failed_periods == {("month", "R07-2024-01")}


def test_a_first_load_is_validated_from_the_warehouse_in_buckets(tmp_path):
    """A first load is not held in memory: validate_stored_dossiers reads the stored
    dossiers a bucket of ids at a time and gives what the whole table gives."""
    import shutil
    from datetime import datetime as _dt

    from pipelines import warehouse as wh
    from pipelines.ingestion import ingest_landing, validate_stored_dossiers
    from tests.helpers import EXAMPLE

    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
    with wh.connect(tmp_path / "w.duckdb") as con:
        report = ingest_landing(con, landing=landing, registry_path=EXAMPLE / "units.csv",
                                now=_dt(2024, 3, 1), log=lambda _m: None)
        assert report.changed_all and report.changed is None and report.dossiers == 38
        assert report.affected["month"] and report.affected["week"]
        good = validate_stored_dossiers(con, bucket_rows=5)
        assert good.success and good.rows == 38
        # a second copy of an id and a finish before receipt, planted in the table
        con.execute("INSERT INTO dossiers SELECT * FROM dossiers WHERE dossier_id = 'WX-001'")
        con.execute("UPDATE dossiers SET finished_at = received_at - INTERVAL 1 DAY WHERE dossier_id = 'WX-002'")
        whole = validate_dossiers(wh.read_table(con, "SELECT * FROM dossiers"))
        buckets = validate_stored_dossiers(con, bucket_rows=5)
    assert failed(buckets) == failed(whole) == {"dossier_id_unique", "finished_at_not_before_received"}
    assert {c.name: c.unexpected_count for c in buckets.checks} == {c.name: c.unexpected_count for c in whole.checks}
    assert buckets.failed_periods == whole.failed_periods
