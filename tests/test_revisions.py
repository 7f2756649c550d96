"""transforms/revisions.py and the revision notes, on frames worked out by hand."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from dashboards.i18n import site_bands
from dashboards.pages.revisions import causes_label, sentence
from tests.helpers import DEFAULT_PROFILE, EXAMPLE, read_expected_scoreboard
from transforms.revisions import own_changes, period_digests, touched_periods, unit_changes

JAN = pl.col("period_key") == "2024-01"
AT = datetime(2026, 11, 23, 9, 0)


def example() -> pl.DataFrame:
    return read_expected_scoreboard(EXAMPLE / "expected_scoreboard.csv")


def test_a_period_digest_ignores_row_order_rank_change_and_float_noise():
    rows = example()
    digests = dict(period_digests(rows).select("period_key", "digest").iter_rows())
    assert len(digests) == 11
    shuffled = rows.sample(fraction=1.0, shuffle=True, seed=3).with_columns(
        rank_change=pl.lit(7, dtype=pl.Int64),  # the period before moved: not this period's numbers
        score=pl.col("score") + 1e-12,
    )
    assert dict(period_digests(shuffled).select("period_key", "digest").iter_rows()) == digests
    moved = rows.with_columns(score=pl.when(JAN & (pl.col("unit_code") == "002")).then(89.99).otherwise("score"))
    again = dict(period_digests(moved).select("period_key", "digest").iter_rows())
    assert [k for k in digests if again[k] != digests[k]] == ["2024-01"]


def _digests_one_period_at_a_time(final: pl.DataFrame) -> dict[str, str]:
    """The digest as first defined (stored in published_periods: it must not drift):
    each period's CSV written on its own."""
    import hashlib

    from transforms.revisions import DIGITS, compared_columns

    ordered = final.sort(["period_type", "period_key", "level", "unit_code", "unit_valid_from"], nulls_last=True)
    out = {}
    for (_, key), part in ordered.partition_by(["period_type", "period_key"], as_dict=True, maintain_order=True).items():
        text = part.select(compared_columns(final.columns)).write_csv(
            float_precision=DIGITS, date_format="%Y-%m-%d", null_value="")
        out[key] = hashlib.sha256(text.encode()).hexdigest()[:32]
    return out


@pytest.mark.parametrize("name", ["Phường \"Phúc Xá\", Ba Đình", "Phường Phúc Xá\nBa Đình"])
def test_period_digests_written_at_once_are_those_written_one_period_at_a_time(name):
    rows = example().with_columns(
        unit_name=pl.when(pl.col("unit_code") == "00001").then(pl.lit(name)).otherwise("unit_name"))
    digests = dict(period_digests(rows).select("period_key", "digest").iter_rows())
    assert digests == _digests_one_period_at_a_time(rows)
    assert digests != _digests_one_period_at_a_time(example())  # the name is compared


def test_the_units_a_revision_changed_with_their_numbers_before_and_after():
    before = example().filter(JAN)
    # Phúc Xá drops to 76.19 (rank 2, Khá); Bắc Sơn, unchanged, moves up to rank 1
    after = before.with_columns(
        score=pl.when(pl.col("unit_code") == "00001").then(76.19047619047619).otherwise("score"),
        band=pl.when(pl.col("unit_code") == "00001").then(pl.lit("Khá")).otherwise("band"),
        rank=pl.when(pl.col("unit_code") == "00001").then(2).when(pl.col("unit_code") == "00004").then(1)
        .otherwise("rank"),
        rank_change=pl.lit(None, dtype=pl.Int64),  # not compared
    )
    got = unit_changes(before, after, version=2, at=AT)
    assert got.select("unit_code", "score_before", "score_after", "rank_before", "rank_after", "band_before",
                      "band_after").rows() == [
        ("00004", 76.76767676767676, 76.76767676767676, 2, 1, "Khá", "Khá"),
        ("00001", 86.66666666666667, 76.19047619047619, 1, 2, "Tốt", "Khá"),
    ]
    assert set(got["version"]) == {2} and set(got["revised_at"]) == {AT} and set(got["period_key"]) == {"2024-01"}
    assert unit_changes(before, before.with_columns(rank_change=pl.lit(3, dtype=pl.Int64)), version=2, at=AT).height == 0


def test_a_unit_only_re_ranked_has_its_own_numbers_unchanged():
    before = example().filter(JAN)
    # Phúc Xá's late dossiers: its counts and score move; Bắc Sơn moves up a rank (and in
    # its peer group) only; Sóc Sơn (002) is listed in version 2 only
    after = before.with_columns(
        received=pl.when(pl.col("unit_code") == "00001").then(pl.col("received") + 2).otherwise("received"),
        score=pl.when(pl.col("unit_code") == "00001").then(76.19047619047619).otherwise("score"),
        rank=pl.when(pl.col("unit_code") == "00001").then(2).when(pl.col("unit_code") == "00004").then(1)
        .otherwise("rank"),
        rank_in_peer=pl.when(pl.col("unit_code") == "00004").then(1).otherwise("rank_in_peer"),
        rank_change=pl.lit(5, dtype=pl.Int64),  # not compared
    )
    before = before.filter(pl.col("unit_code") != "002")
    units = unit_changes(before, after, version=2, at=AT)
    stored = pl.concat([before.with_columns(version=pl.lit(1, dtype=pl.Int64)),
                        after.with_columns(version=pl.lit(2, dtype=pl.Int64))])
    got = own_changes(units, stored, stored)
    assert dict(got.select("unit_code", "own_changed").iter_rows()) == {"00004": False, "00001": True, "002": True}
    assert got.select(units.columns).equals(units)
    # the rows of a version not given: not known
    assert own_changes(units, stored.filter(version=1), stored.filter(version=1))["own_changed"].null_count() == 3


def test_a_unit_listed_in_one_version_only_counts_as_changed():
    before = example().filter(JAN)
    after = before.filter(pl.col("unit_code") != "00004")
    [row] = unit_changes(before, after, version=3, at=AT).iter_rows(named=True)
    assert (row["unit_code"], row["score_before"], row["score_after"], row["rank_before"], row["rank_after"]) == (
        "00004", 76.76767676767676, None, 2, None)


COPY = {"dossier_id": pl.Utf8, "source_file": pl.Utf8, "status": pl.Int8, **{
    c: pl.Datetime("us") for c in ("received_at", "due_at", "finished_at", "returned_at", "rejected_at")}}


def _copy(dossier_id: str, source: str, status: int | None, received: str, finished: str | None) -> dict:
    return {"dossier_id": dossier_id, "source_file": source, "status": status,
            "received_at": datetime.fromisoformat(received), "due_at": None,
            "finished_at": datetime.fromisoformat(finished) if finished else None,
            "returned_at": None, "rejected_at": None}


def test_the_periods_a_changed_dossier_touches_and_the_file_that_changed_it():
    # D-1 was pending in a.csv; late.csv says it was finished on Tuesday 06/02. D-2 was
    # received on 31/01 in b.csv and is no longer in b.csv's corrected content.
    added = pl.DataFrame([_copy("D-1", "late.csv", 10, "2024-01-30 08:00", "2024-02-06 10:00")], schema=COPY)
    removed = pl.DataFrame([_copy("D-1", "a.csv", 4, "2024-01-30 08:00", None),
                            _copy("D-2", "b.csv", 10, "2024-01-31 08:00", "2024-01-31 09:00")], schema=COPY)
    last = {"month": 2024 * 12 + 2, "week": 2829}  # March 2024; the week of 25/03/2024
    got = touched_periods(added, removed, last)
    months = got.filter(pl.col("period_type") == "month").select("period_key", "source_file", "dossier_id").rows()
    # the old pending copy reaches the last month; the new one ends in February
    assert months == [("2024-01", "b.csv", "D-2"), ("2024-01", "late.csv", "D-1"), ("2024-02", "late.csv", "D-1"),
                      ("2024-03", "late.csv", "D-1")]
    weeks = got.filter((pl.col("period_type") == "week") & (pl.col("dossier_id") == "D-2"))["period_key"].to_list()
    assert weeks == ["2024-W05"]
    d1 = got.filter((pl.col("period_type") == "week") & (pl.col("dossier_id") == "D-1"))["period_key"].to_list()
    assert d1[0] == "2024-W05" and d1[-1] == "2024-W13" and len(d1) == 9


def test_the_sentence_a_unit_reads():
    row = {"revised_at": AT, "score_before": 81.2, "score_after": 79.95, "rank_before": 6, "rank_after": 8,
           "band_before": "Tốt", "band_after": "Khá", "cause_files": "late.csv; b.csv", "cause_dossiers": "12; 1"}
    bands = site_bands(DEFAULT_PROFILE)
    text = sentence(row, bands)
    assert text.vi == ("Điều chỉnh 23/11/2026: điểm 81,20 → 79,95, hạng 6 → 8, xếp loại Tốt → Khá, "
                       "do tệp late.csv (12 hồ sơ), tệp b.csv (1 hồ sơ)")
    assert text.en == ("revised 23/11/2026: score 81,20 → 79,95, rank 6 → 8, band Good → Fair, "
                       "because of file late.csv (12 dossiers), file b.csv (1 dossier)")
    unranked = sentence(dict(row, rank_before=None, rank_after=None, band_after="Tốt", cause_files=None), bands)
    assert unranked.vi == "Điều chỉnh 23/11/2026: điểm 81,20 → 79,95, do dữ liệu mới"
    assert causes_label("x.csv", "1234").vi == "tệp x.csv (1.234 hồ sơ)"
    assert sentence(dict(row, own_changed=True), bands) == text  # (and where not known: None)
    # its own numbers as they were, its rank moved: the file is the cause of others' numbers
    moved = dict(row, own_changed=False, score_before=81.25, score_after=81.25, rank_before=56, rank_after=55,
                 band_before="Tốt", band_after="Tốt", cause_files="Phuong Giang Vo.csv", cause_dossiers="15")
    assert sentence(moved, bands).vi == (
        "Điều chỉnh 23/11/2026: số liệu của đơn vị không đổi (điểm 81,25); hạng 56 → 55 "
        "vì số liệu của đơn vị khác thay đổi theo tệp Phuong Giang Vo.csv (15 hồ sơ)")
    assert sentence(moved, bands).en == (
        "revised 23/11/2026: the unit's own figures unchanged (score 81,25); rank 56 → 55 "
        "because other units' figures were revised by file Phuong Giang Vo.csv (15 dossiers)")
    # its rank too: its rank in its peer group moved
    peer = sentence(dict(moved, rank_before=55), bands)
    assert peer.vi == ("Điều chỉnh 23/11/2026: số liệu và hạng của đơn vị không đổi (điểm 81,25, hạng 55); "
                       "hạng trong nhóm thay đổi vì số liệu của đơn vị khác thay đổi theo tệp Phuong Giang Vo.csv "
                       "(15 hồ sơ)")
    assert peer.en.startswith("revised 23/11/2026: the unit's own figures and rank unchanged (score 81,25, rank 55); "
                              "its rank in its peer group moved because other units' figures were revised by file")
    assert date(2026, 11, 23) == AT.date()
