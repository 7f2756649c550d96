"""The batch drift checks (quality/drift) on frames built by hand, and the quality
settings they read: each check finds what it is for, with the figures worked out
by hand, and stays quiet on the legitimate changes next to it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
import yaml

from config import config_path
from quality.drift import DriftHistory, drift_findings
from quality.drift.clock import clock_shift
from quality.drift.duration import promised_duration
from quality.drift.rewrite import history_rewrite
from quality.drift.volume import status_mix, volume
from quality.holds import batch_holds
from quality.settings import load_quality_config
from transforms.calendar import working_calendar
from transforms.schema import DOSSIER_SCHEMA

CONFIG = load_quality_config()  # config/quality.yaml
UNIT = {"unit_code": "268", "unit_valid_from": date(2008, 8, 1)}
CALENDAR = working_calendar(date(2025, 1, 1), date(2027, 12, 31))
# Mondays of March 2025 (no holiday in March): Monday to the next Monday is 5 working days
MARCH_MONDAYS = [datetime(2025, 3, d, 9, 0) for d in (3, 10, 17, 24)]
APRIL_MONDAYS = [datetime(2025, 4, d, 9, 0) for d in (7, 14, 21)]


def rows(n: int, **columns) -> pl.DataFrame:
    """n dossiers of unit 268 in DOSSIER_SCHEMA; `columns` are values or lists of n values."""
    data = {"dossier_id": [f"D{i:04d}" for i in range(n)], **{k: [v] * n for k, v in UNIT.items()},
            "procedure_code": ["1.001"] * n, "source_file": ["f.csv"] * n, "source_row": list(range(1, n + 1))}
    for name, value in columns.items():
        data[name] = value if isinstance(value, list) else [value] * n
    frame = pl.DataFrame(data)
    return frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t).alias(c) for c, t in DOSSIER_SCHEMA.items()
    )


def five_day_history(n: int = 12) -> pl.DataFrame:
    received = [MARCH_MONDAYS[i % 4] for i in range(n)]
    return rows(n, received_at=received, due_at=[r + timedelta(days=7) for r in received])


def april_batch(due_after: list[timedelta], n: int = 25) -> pl.DataFrame:
    received = [APRIL_MONDAYS[i % 3] for i in range(n)]
    return rows(n, received_at=received, due_at=[r + due_after[i % len(due_after)] for i, r in enumerate(received)],
                dossier_id=[f"N{i:04d}" for i in range(n)])


# --------------------------------------------------------------------------- promised duration


def test_due_dates_moved_to_the_day_of_receipt_drift_from_the_usual_five_days():
    found = promised_duration(april_batch([timedelta(0)]), five_day_history(), CALENDAR, None, CONFIG)
    [finding] = found.to_dicts()
    assert (finding["check_name"], finding["usual"], finding["observed"], finding["rows"]) == (
        "batch_promised_duration", 5.0, 0.0, 25)
    assert "ở 100 % số hồ sơ (25/25): thường lệ 5 ngày, lô này 0 ngày (trung vị)" in finding["message_vi"]
    assert "for 100 % of the dossiers (25/25): usually 5 days, this batch 0 days (median)" in finding["message_en"]


def test_a_year_shift_drifts_and_a_day_earlier_or_a_supplement_request_does_not():
    year = promised_duration(april_batch([timedelta(days=7 + 365)]), five_day_history(), CALENDAR, None, CONFIG)
    assert year["usual"].to_list() == [5.0] and year["observed"][0] > 240
    # due one working day earlier (Friday) for 2 dossiers in 5, a week later for 1 in 5:
    # the promise moved for a supplement request or an extension, as offices do
    legit = april_batch([timedelta(days=7), timedelta(days=4), timedelta(days=7), timedelta(days=4),
                         timedelta(days=14)])
    assert promised_duration(legit, five_day_history(), CALENDAR, None, CONFIG).is_empty()


def test_without_history_only_a_promise_far_beyond_the_legal_days_drifts():
    catalogue = pl.DataFrame({"procedure_code": ["1.001"], "processing_days": [3]})
    empty = five_day_history().clear()
    year = promised_duration(april_batch([timedelta(days=365)]), empty, CALENDAR, catalogue, CONFIG)
    assert year["usual"].to_list() == [3.0]
    # 5 working days for a 3-day procedure: within 2 × 3 + 2 days, and offices promise their own times
    week = promised_duration(april_batch([timedelta(days=7)]), empty, CALENDAR, catalogue, CONFIG)
    assert week.is_empty()
    assert promised_duration(april_batch([timedelta(days=365)]), empty, CALENDAR, None, CONFIG).is_empty()


def other_units(codes: str, due_after: timedelta = timedelta(days=7)) -> pl.DataFrame:
    """April exports of other units (one file each), each promising `due_after`."""
    return pl.concat([april_batch([due_after], n=10).with_columns(
        unit_code=pl.lit(code), source_file=pl.lit(f"{code}.csv"), dossier_id=pl.lit(code) + pl.col("dossier_id"))
        for code in codes.split()])


def test_without_history_or_catalogue_a_year_shift_drifts_from_the_other_units_usual():
    # a first load: nothing stored; 268's file a year late, three other units 5 working days
    batch = pl.concat([april_batch([timedelta(days=365)]), other_units("301 302 303")])
    empty = five_day_history().clear()
    [finding] = promised_duration(batch, empty, CALENDAR, None, CONFIG).to_dicts()
    assert (finding["source_file"], finding["unit_code"], finding["usual"], finding["rows"]) == ("f.csv", "268", 5.0, 25)
    assert "vượt xa mức thường lệ của các đơn vị khác cho cùng thủ tục ở 100 % số hồ sơ (25/25): " \
           "các đơn vị khác thường 5 ngày, lô này " in finding["message_vi"]
    assert "far beyond other units' usual for the same procedures for 100 % of the dossiers (25/25): " \
           "other units usually 5 days, this batch " in finding["message_en"]
    # the same from the stored dossiers of the other units (a unit's first file)
    stored = other_units("301 302 303").drop("source_file")
    assert promised_duration(april_batch([timedelta(days=365)]), empty, CALENDAR, None, CONFIG,
                             peers=stored)["unit_code"].to_list() == ["268"]
    # 12 working days for what the others promise in 5: within 2 × 5 + 2, offices differ
    fortnight = pl.concat([april_batch([timedelta(days=16)]), other_units("301 302 303")])
    assert promised_duration(fortnight, empty, CALENDAR, None, CONFIG).is_empty()
    # two other units are not enough to say what is usual; nor is none but a null setting
    assert promised_duration(pl.concat([april_batch([timedelta(days=365)]), other_units("301 302")]),
                             empty, CALENDAR, None, CONFIG).is_empty()
    off = load_quality_config({"drift": {"promised_duration": {"peer_min_units": None}}})
    assert promised_duration(batch, empty, CALENDAR, None, off).is_empty()


def test_the_units_own_history_then_the_catalogue_come_before_the_other_units():
    # 268 has always promised a year (its own practice); the other units a week
    year_history = five_day_history().with_columns(due_at=pl.col("received_at") + timedelta(days=365))
    batch = pl.concat([april_batch([timedelta(days=365)]), other_units("301 302 303")])
    assert promised_duration(batch, year_history, CALENDAR, None, CONFIG).is_empty()
    # and judged by its own history, due dates moved to the day of receipt drift from it
    [finding] = promised_duration(pl.concat([april_batch([timedelta(0)]), other_units("301 302 303")]),
                                  year_history, CALENDAR, None, CONFIG).to_dicts()
    assert finding["observed"] == 0.0 and "thường lệ " in finding["message_vi"] and "usually " in finding["message_en"]
    # the catalogue's 200 legal days allow 6 months where the other units promise a week
    catalogue = pl.DataFrame({"procedure_code": ["1.001"], "processing_days": [200]})
    half_year = pl.concat([april_batch([timedelta(days=182)]), other_units("301 302 303")])
    empty = five_day_history().clear()
    assert promised_duration(half_year, empty, CALENDAR, catalogue, CONFIG).is_empty()
    assert promised_duration(half_year, empty, CALENDAR, None, CONFIG)["unit_code"].to_list() == ["268"]
    [legal] = promised_duration(april_batch([timedelta(days=365 * 2)]), empty, CALENDAR, catalogue, CONFIG).to_dicts()
    assert "vượt xa thời hạn giải quyết theo quy định" in legal["message_vi"] and "theo quy định 200 ngày" in legal[
        "message_vi"]
    assert "far beyond the legal processing time" in legal["message_en"]


# --------------------------------------------------------------------------- clock shift


def office_hours(n: int, shift_hours: int = 0) -> pl.DataFrame:
    """n receipts at 08:15, 09:15 … 16:15 in turn (9 office hours), moved by `shift_hours`."""
    received = [datetime(2025, 4, 1 + i // 9, 8 + i % 9, 15) + timedelta(hours=shift_hours) for i in range(n)]
    return rows(n, received_at=received)


def test_a_seven_hour_shift_is_found_with_its_figures():
    [finding] = clock_shift(office_hours(27, -7), office_hours(90), CONFIG).to_dicts()
    # 01:15 … 09:15: only the 08:15 and 09:15 receipts (2 in 9) fall in 08:00–16:59
    assert (finding["usual"], round(finding["observed"], 4), finding["rows"]) == (1.0, round(2 / 9, 4), 27)
    assert "chỉ 22 % mốc của lô này rơi vào giờ làm việc thường lệ của đơn vị (08:00–16:59" in finding["message_vi"]
    assert "dịch +7 giờ thì 100 % khớp" in finding["message_vi"]
    assert "every time looks shifted by −7 h" in finding["message_en"]


def test_an_hour_later_or_dates_without_times_are_not_a_clock_shift():
    assert clock_shift(office_hours(27, 1), office_hours(90), CONFIG).is_empty()
    midnight = rows(27, received_at=[datetime(2025, 4, 1 + i % 20) for i in range(27)])
    assert clock_shift(midnight, office_hours(90), CONFIG).is_empty()


# --------------------------------------------------------------------------- volume


def month_counts(counts: dict[date, int]) -> pl.DataFrame:
    return pl.DataFrame(
        [{**UNIT, "month": m, "n": n} for m, n in counts.items()],
        schema={"unit_code": pl.Utf8, "unit_valid_from": pl.Date, "month": pl.Date, "n": pl.Int64},
    )


def may_file(name: str, first: int, n: int = 100) -> pl.DataFrame:
    return rows(n, dossier_id=[f"M{first + i:05d}" for i in range(n)], source_file=name,
                received_at=[datetime(2025, 5, 2 + i % 28, 9) for i in range(n)])


# 5 dossiers a working day: January 2025 has 17 (Tết), February 20, March and April 21, May 20
STORED = {date(2025, m, 1): 5 * days for m, days in zip((1, 2, 3, 4, 5), (17, 20, 21, 21, 20))}
NO_IDS = pl.DataFrame({"dossier_id": []}, schema={"dossier_id": pl.Utf8})


def test_a_month_sent_again_under_new_numbers_doubles_the_month_and_drifts():
    [finding] = volume(may_file("repeat.csv", 50_000), NO_IDS, month_counts(STORED), CALENDAR, CONFIG).to_dicts()
    assert (finding["usual"], finding["observed"], finding["rows"]) == (100.0, 200.0, 100)
    assert finding["message_en"] == (
        "Dossiers received in 05/2025 would be 200, 2,0 times the unit's usual (100 for the month's 20 working days, "
        "at the median daily rate of 4 nearby months): the file adds 100 new dossiers to that month."
    )


def test_months_are_compared_per_working_day():
    # 20 dossiers a working day: January (Tết, 17 days) 340, February 400, March 420
    stored = {date(2025, 1, 1): 340, date(2025, 2, 1): 400, date(2025, 3, 1): 420}
    april = rows(660, dossier_id=[f"A{i:04d}" for i in range(660)],
                 received_at=[datetime(2025, 4, 1 + i % 29, 9) for i in range(660)])
    # 660 is 1.65 times the monthly median of 400, but 1.57 times April's usual 20 × 21 = 420
    assert volume(april, NO_IDS, month_counts(stored), CALENDAR, CONFIG).is_empty()
    more = rows(700, dossier_id=[f"A{i:04d}" for i in range(700)],
                received_at=[datetime(2025, 4, 1 + i % 29, 9) for i in range(700)])
    assert volume(more, NO_IDS, month_counts(stored), CALENDAR, CONFIG)["usual"].to_list() == [420.0]


def test_the_same_dossiers_again_add_nothing_and_two_files_of_a_run_count_together():
    again = may_file("again.csv", 0)
    assert volume(again, again.select("dossier_id"), month_counts(STORED), CALENDAR, CONFIG).is_empty()
    # May not stored yet: one file of May is the usual month, a second one under other numbers doubles it;
    # a third carrying the first one's dossiers adds nothing
    stored = {m: n for m, n in STORED.items() if m.month < 5}
    batch = pl.concat([may_file("a.csv", 0), may_file("b.csv", 1000), may_file("c.csv", 0)])
    found = volume(batch, NO_IDS, month_counts(stored), CALENDAR, CONFIG)
    assert found.select("source_file", "observed").rows() == [("b.csv", 200.0)]


# --------------------------------------------------------------------------- status mix


def exported(name: str, closed: int, open_: int, received: datetime) -> pl.DataFrame:
    """A file of `closed` finished and `open_` pending dossiers received the day before it was made."""
    n = closed + open_
    return rows(
        n, source_file=name, dossier_id=[f"{name}-{i}" for i in range(n)], received_at=received,
        status=[10] * closed + [4] * open_,
        finished_at=[received + timedelta(hours=2)] * closed + [None] * open_,
        returned_at=[received + timedelta(hours=3)] * closed + [None] * open_,
    )


def test_a_file_that_marks_everything_finished_drifts_from_the_units_earlier_files():
    earlier = pl.concat([exported(f"m{m}.csv", 5, 5, datetime(2025, m, 27, 9)) for m in (1, 2, 3, 4)])
    [finding] = status_mix(exported("may.csv", 25, 0, datetime(2025, 5, 28, 9)), earlier, CONFIG).to_dicts()
    assert (finding["usual"], finding["observed"], finding["rows"]) == (0.5, 1.0, 25)
    assert "100 % of the 25 dossiers received in the file's last 7 days are already closed, usually 50 %" in (
        finding["message_en"])
    assert status_mix(exported("may.csv", 15, 10, datetime(2025, 5, 28, 9)), earlier, CONFIG).is_empty()


# --------------------------------------------------------------------------- history rewrite


def final_january(n: int = 30) -> pl.DataFrame:
    received = [datetime(2025, 1, 6 + i % 20, 9) for i in range(n)]
    return rows(n, received_at=received, due_at=[r + timedelta(days=7) for r in received], status=9,
                finished_at=[r + timedelta(days=2) for r in received])


NOW = datetime(2025, 6, 10, 9)


def test_a_re_export_that_moves_every_receipt_rewrites_history():
    stored = final_january()
    moved = stored.with_columns(received_at=pl.col("received_at") + timedelta(days=1), source_file=pl.lit("x.csv"))
    [finding] = history_rewrite(moved, stored, NOW, CONFIG).to_dicts()
    assert (finding["usual"], finding["observed"]) == (30.0, 30.0)
    assert finding["message_en"] == (
        "The file rewrites 30 dossiers already final in closed periods (100 % of the 30 such dossiers it carries; "
        "an update usually leaves final dossiers alone); changed: receipt 30."
    )


def test_results_handed_over_due_dates_moved_a_day_and_a_few_corrections_are_not_a_rewrite():
    stored = final_january()
    returned = stored.with_columns(status=pl.lit(10, pl.Int8), returned_at=pl.col("finished_at") + timedelta(hours=1),
                                   due_at=pl.col("due_at") - timedelta(days=1))
    assert history_rewrite(returned, stored, NOW, CONFIG).is_empty()
    few = stored.with_columns(received_at=pl.when(pl.col("source_row") <= 10).then(
        pl.col("received_at") + timedelta(days=1)).otherwise("received_at"))
    assert history_rewrite(few, stored, NOW, CONFIG).is_empty()
    # on 30 January, January is not closed yet: its dossiers may still change
    moved = stored.with_columns(received_at=pl.col("received_at") + timedelta(days=1))
    assert history_rewrite(moved, stored, datetime(2025, 1, 30), CONFIG).is_empty()


def test_an_older_copy_arriving_late_rewrites_nothing_a_corrected_file_does():
    """Only copies that would be kept count: the stored copies are final (finished on
    their day); older ones still in progress lose the choice of the kept copy whatever
    the file is called, and rewrite nothing. The same older copies from the stored
    copies' own file (a corrected export of that path) replace them, and do."""
    stored = final_january().with_columns(source_file=pl.lit("a.csv"))
    older = stored.with_columns(status=pl.lit(4, pl.Int8), finished_at=pl.lit(None, pl.Datetime("us")))
    for name in ("0.csv", "z.csv"):
        assert history_rewrite(older.with_columns(source_file=pl.lit(name)), stored, NOW, CONFIG).is_empty(), name
    [finding] = history_rewrite(older, stored, NOW, CONFIG).to_dicts()
    assert finding["observed"] == 30.0


def test_drift_findings_bring_the_checks_together():
    history = DriftHistory(recent=five_day_history(), stored=rows(0), known_ids=NO_IDS,
                           months=month_counts({}), earlier=rows(0))
    found = drift_findings(april_batch([timedelta(0)]), history, calendar=CALENDAR, catalogue=None, now=NOW,
                           config=CONFIG)
    assert found.select("source_file", "unit_code", "check_name").rows() == [
        ("f.csv", "268", "batch_promised_duration")]


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("settings, message", [
    ({"drift": {"volume": {"max_ratio": 0.5}}},
     "quality settings: drift.volume.max_ratio must be a number of at least 1, not 0.5"),
    ({"drift": {"min_rows": "many"}}, "quality settings: drift.min_rows must be a whole number of at least 1, not 'many'"),
    ({"batch": {"max_quarantine_share": 1.5}},
     "quality settings: batch.max_quarantine_share must be a number from 0 to 1, not 1.5"),
    ({"drift": {"volume": {"spikez": 5}}}, "quality settings: drift.volume.spikez is not a setting any quality rule reads"),
    ({"early_warning": {"include_provisional": "yes"}},
     "quality settings: early_warning.include_provisional must be true or false, not 'yes'"),
    ({"drift": 3}, "quality settings: drift must be a mapping of settings, not 3"),
])
def test_a_wrong_setting_is_one_sentence(settings, message):
    with pytest.raises(ValueError) as err:
        load_quality_config(settings)
    assert str(err.value) == message


def shipped_yaml() -> dict:
    """config/quality.yaml as written: every threshold's default."""
    return yaml.safe_load(config_path("quality.yaml").read_text(encoding="utf-8"))


def test_a_quality_file_without_the_batch_section_uses_the_defaults(tmp_path):
    path = tmp_path / "quality.yaml"
    path.write_text("early_warning:\n  lookback_weeks: 6\n", encoding="utf-8")
    cfg = load_quality_config(path)
    assert cfg["early_warning"]["lookback_weeks"] == 6 and cfg["batch"] == {"max_quarantine_share": 0.2, "min_rows": 20}
    assert cfg["drift"] == shipped_yaml()["drift"]
    accounting = pl.DataFrame({"source_file": ["f.csv"], "status": ["loaded"], "rows_read": [10],
                               "rows_quarantined": [9]})
    empty = pl.DataFrame({"source_file": [], "received_at": []}, schema={"source_file": pl.Utf8, "received_at": pl.Utf8})
    # 10 rows read is under min_rows: not a broken batch, and no KeyError on the missing section
    assert batch_holds(accounting, empty, empty, config=path).is_empty()
    path.write_text("drift:\n  volume:\n    max_ratio: [2]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"quality.yaml: drift.volume.max_ratio must be a number of at least 1, not \[2\]$"):
        load_quality_config(path)


def test_a_held_file_holds_the_weeks_and_months_of_its_rows_and_says_so_once_per_period():
    from quality.holds import drift_holds, held_batches, page_holds

    batch = april_batch([timedelta(0)])
    findings = promised_duration(batch, five_day_history(), CALENDAR, None, CONFIG)
    units = pl.DataFrame({"unit_code": ["268"], "valid_from": [date(2008, 8, 1)], "unit_name": ["Quận Hà Đông"]})
    holds = drift_holds(findings, batch, units)
    # received on 7, 14 and 21 April 2025: weeks 15 to 17 and the month
    assert holds.select("period_type", "period_key", "unit_name", "usual", "observed").rows() == [
        ("month", "2025-04", "Quận Hà Đông", 5.0, 0.0),
        ("week", "2025-W15", "Quận Hà Đông", 5.0, 0.0),
        ("week", "2025-W16", "Quận Hà Đông", 5.0, 0.0),
        ("week", "2025-W17", "Quận Hà Đông", 5.0, 0.0),
    ]
    pages = page_holds(holds)
    assert pages["check_name"].unique().to_list() == ["batch_drift"] and pages.height == 4
    assert pages["message_vi"][0] == (
        "Tệp f.csv lệch so với dữ liệu thường lệ của đơn vị (Quận Hà Đông: thời hạn hẹn trả so với thường lệ) "
        "nên đang được giữ lại, chưa tính vào số liệu."
    )
    [held] = held_batches(holds).to_dicts()
    assert (held["source_file"], held["unit_name"], held["check_name"], held["periods"], held["first_period"]) == (
        "f.csv", "Quận Hà Đông", "batch_promised_duration", 4, "2025-04")
    assert held["message_en"].endswith("usually 5 days, this batch 0 days (median).")


def test_a_period_held_by_a_file_of_many_units_names_three_and_counts_the_rest():
    from quality.holds import HOLD_SCHEMA, page_holds

    holds = pl.DataFrame(
        [{"source": "x.csv", "period_type": "month", "period_key": "2025-04", "check_name": check,
          "message_vi": "…", "message_en": "…", "unit_code": f"0000{i}", "unit_name": f"Phường {name}"}
         for i, name in enumerate("ABCDE") for check in ("batch_clock_shift", "batch_promised_duration")],
    ).select(pl.col(c).cast(t) if c in ("source", "period_type", "period_key", "check_name", "message_vi",
                                         "message_en", "unit_code", "unit_name") else pl.lit(None, dtype=t).alias(c)
             for c, t in HOLD_SCHEMA.items())
    [row] = page_holds(holds).to_dicts()
    assert row["message_en"] == (
        "File x.csv drifts from its units' usual data (Phường A, Phường B, Phường C +2: promised duration against "
        "the unit's usual; times of day against the unit's usual) and is held, not counted yet."
    )
