"""normalise: text -> typed canonical values, never month-first."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import polars as pl
import pytest

from transforms.normalise import BAD_DATE, normalise
from transforms.read import read_table
from transforms.schema import CANONICAL_FIELDS

EXAMPLE = Path(__file__).parent / "fixtures" / "example" / "dossiers.csv"


def norm(**columns: list) -> tuple[pl.DataFrame, dict[str, int]]:
    return normalise(pl.DataFrame({k: pl.Series(v, dtype=pl.Utf8) for k, v in columns.items()}))


def one(field: str, values: list) -> list:
    out, _ = norm(**{field: values})
    return out[field].to_list()


def test_example_types():
    out, unreadable = normalise(read_table(EXAMPLE).frame)
    assert unreadable == {}
    assert out.height == 38
    for name, dtype in CANONICAL_FIELDS.items():
        assert out.schema[name] == dtype, name
    assert out["source_row"].dtype == pl.Int64
    assert not out[BAD_DATE].any()
    assert out["unit_code"].to_list()[:1] == ["001"]
    assert out["received_at"][0] == dt.datetime(2024, 1, 2, 8, 0)
    assert out["finished_at"][3] == dt.datetime(2024, 1, 12, 0, 1)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("02/03/2024", dt.datetime(2024, 3, 2)),  # day first, always
        ("13/01/2024", dt.datetime(2024, 1, 13)),
        ("2/3/2024", dt.datetime(2024, 3, 2)),
        ("02-03-2024 08:30", dt.datetime(2024, 3, 2, 8, 30)),
        ("02/03/2024 08:30:15", dt.datetime(2024, 3, 2, 8, 30, 15)),
        ("02.03.2024", dt.datetime(2024, 3, 2)),
        ("2024-03-02", dt.datetime(2024, 3, 2)),
        ("2024-03-02 08:30", dt.datetime(2024, 3, 2, 8, 30)),
        ("2024-03-02T08:30:15", dt.datetime(2024, 3, 2, 8, 30, 15)),
        ("2024-03-02 08:30:15.5", dt.datetime(2024, 3, 2, 8, 30, 15, 500000)),
        ("2024-03-02T08:30:15.123456789", dt.datetime(2024, 3, 2, 8, 30, 15, 123456)),
        ("2024-03-02T01:30:00Z", dt.datetime(2024, 3, 2, 8, 30)),
        ("2024-03-02T08:30:00+07:00", dt.datetime(2024, 3, 2, 8, 30)),
        ("2024-03-02 08:30:00+0700", dt.datetime(2024, 3, 2, 8, 30)),
        ("2024-03-02T20:30:00-05:00", dt.datetime(2024, 3, 3, 8, 30)),
        ("2024-03-01T20:00:00Z", dt.datetime(2024, 3, 2, 3, 0)),  # offset moves the local date
        ("08:30 02/03/2024", dt.datetime(2024, 3, 2, 8, 30)),
        ("45292", dt.datetime(2024, 1, 1)),  # Excel serial
        ("45292.75", dt.datetime(2024, 1, 1, 18, 0)),
        ("  02/03/2024  ", dt.datetime(2024, 3, 2)),
    ],
)
def test_dates(text, expected):
    out, _ = norm(received_at=[text])
    assert out["received_at"].to_list() == [expected]
    assert out[BAD_DATE].to_list() == [False]


@pytest.mark.parametrize(
    "text",
    ["31/02/2024", "29/02/2023", "01/13/2024", "12/31/2024", "2024-02-30", "32/01/2024", "02/03/2024 25:00", "hôm nay", "2024", "0"],
)
def test_bad_dates_are_flagged_not_guessed(text):
    out, unreadable = norm(received_at=[text], due_at=[None])
    assert out["received_at"].to_list() == [None]
    assert out[BAD_DATE].to_list() == [True]
    assert "received_at" not in unreadable


def test_bad_date_in_any_date_field_and_empty_is_not_bad():
    out, _ = norm(
        received_at=["02/01/2024", "02/01/2024", "   ", None],
        due_at=["", "31/04/2024", None, None],
    )
    assert out[BAD_DATE].to_list() == [False, True, False, False]
    assert out["received_at"].to_list()[2:] == [None, None]


def test_text_is_nfc_trimmed_and_blank_is_missing():
    decomposed = unicodedata.normalize("NFD", "Phường Phúc Xá")
    out, _ = norm(unit_name=[f"  {decomposed}\u00a0", "   ", ""], dossier_id=[" A-1 ", "\t", None])
    assert out["unit_name"].to_list() == ["Phường Phúc Xá", None, None]
    assert out["dossier_id"].to_list() == ["A-1", None, None]


def test_trimmed_characters_are_the_whitespace_class():
    """clean_text_expr trims with strip_chars: exactly the characters of the regex class
    it stands for (Unicode White_Space and the zero-width marks), over all of Unicode."""
    from transforms.normalise import _WS, _WS_CHARS

    every = pl.Series([chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF])
    matched = every.filter(every.str.contains(rf"^{_WS}$")).to_list()
    assert sorted(matched) == sorted(_WS_CHARS)
    assert one("unit_name", ["\u200b\u3000 Xã A\ufeff\u2029", "\x85\xa0"]) == ["Xã A", None]


def test_x_marks_are_judged_per_frame_whatever_was_seen_before():
    from transforms.normalise import x_mark_columns

    only_marks = pl.DataFrame({"complaint": [" x", None, "X"], "synced": ["x", "Không", None]})
    assert x_mark_columns(only_marks) == ["complaint"]
    assert x_mark_columns(only_marks.with_columns(complaint=pl.lit("  "))) == []  # blanks are not marks
    assert x_mark_columns(only_marks.with_columns(synced=pl.Series(["x", " X ", "✓"]))) == ["synced", "complaint"]


def test_codes_stay_text():
    out, _ = norm(unit_code=["020", "00001", "1"], procedure_code=["1.001776", "020", "2.000"])
    assert out["unit_code"].to_list() == ["020", "00001", "1"]
    assert out["procedure_code"].to_list() == ["1.001776", "020", "2.000"]


def test_booleans():
    values = ["1", "0", "true", "FALSE", "yes", "No", "Có", "không", "co", "khong", "x", "chưa rõ", "1.0", "", None]
    expected = [True, False, True, False, True, False, True, False, True, False, True, None, True, None, None]
    out, unreadable = norm(fee_required=values)
    assert out["fee_required"].to_list() == expected
    assert unreadable == {"fee_required": 1}


def test_x_mark_rule():
    out, _ = norm(
        complaint=["x", None, "X", " "],
        synced=["x", None, "0", None],
        digitized=[None, None, None, None],
    )
    assert out["complaint"].to_list() == [True, False, True, False]  # only x marks: empty is no
    assert out["synced"].to_list() == [True, None, False, None]  # not only x marks: empty unknown
    assert out["digitized"].to_list() == [None] * 4  # no marks at all: unknown


@pytest.mark.parametrize(
    "text,code",
    [
        ("1", 1), ("2", 2), ("3", 3), ("2.0", 2),
        ("Trực tiếp", 1), ("truc tiep", 1), ("Nộp trực tiếp", 1),
        ("Trực tuyến", 2), ("Nộp trực tuyến", 2), ("TRUC TUYEN", 2), ("online", 2),
        ("Bưu chính công ích", 3), ("Qua bưu chính", 3), ("buu chinh cong ich", 3),
        ("4", None), ("fax", None),
    ],
)
def test_channel(text, code):
    assert one("channel", [text]) == [code]


@pytest.mark.parametrize(
    "text,code",
    [
        ("1", 1), ("10", 10), ("4.0", 4), ("11", None), ("0", None),
        ("Mới đăng ký", 1), ("Được tiếp nhận", 2), ("Không được tiếp nhận", 3), ("Đang xử lý", 4),
        ("Yêu cầu bổ sung", 5), ("Nghĩa vụ tài chính", 6), ("Công dân rút", 7), ("Dừng xử lý", 8),
        ("Đã xử lý xong", 9), ("Đã trả kết quả", 10), ("da tra ket qua", 10), ("DANG XU LY", 4),
        ("10 - Đã trả kết quả", 10), ("chưa rõ", None),
    ],
)
def test_status(text, code):
    assert one("status", [text]) == [code]


@pytest.mark.parametrize(
    "text,value",
    [
        ("satisfied", "satisfied"), ("neutral", "neutral"), ("dissatisfied", "dissatisfied"),
        ("Hài lòng", "satisfied"), ("Rất hài lòng", "satisfied"), ("Bình thường", "neutral"),
        ("Không hài lòng", "dissatisfied"), ("khong hai long", "dissatisfied"),
        ("5", "satisfied"), ("4", "satisfied"), ("3", "neutral"), ("2", "dissatisfied"), ("1", "dissatisfied"),
        ("6", None), ("0", None),
    ],
)
def test_rating(text, value):
    assert one("rating", [text]) == [value]


def test_supplement_count_decimal_comma_and_unreadable_counts():
    out, unreadable = norm(supplement_count=["2", "2,0", "3.0", "1,5", "-1", "hai", None], status=["11", "4", None, None, None, None, None])
    assert out["supplement_count"].to_list() == [2, 2, 3, None, None, None, None]
    assert out["supplement_count"].dtype == pl.Int32
    assert unreadable == {"supplement_count": 3, "status": 1}


def test_missing_columns_are_added_as_nulls():
    out, _ = norm(dossier_id=["A"])
    assert list(out.columns)[: len(CANONICAL_FIELDS)] == list(CANONICAL_FIELDS)
    assert out["received_at"].to_list() == [None]


@pytest.mark.parametrize(
    "field,text,value",
    [
        ("channel", "Nộp trực tuyến, nhận kết quả qua bưu chính", 2),  # first named channel
        ("channel", "Trực tuyến toàn trình", 2),
        ("status", "Đã trả kết quả (đúng hạn)", 10),
        ("status", "Đang xử lý - quá hạn", 4),
        ("rating", "5 sao", "satisfied"),
        ("digitized", "Đã số hóa", True),
        ("digitized", "Chưa số hóa", False),
        ("digitized", "Không xác định", None),
        ("fee_required", "Miễn phí", False),
    ],
)
def test_generous_labels(field, text, value):
    assert one(field, [text]) == [value]


def test_the_not_blank_pattern_agrees_with_the_cleaning():
    from transforms.normalise import _WS_CHARS, NOT_BLANK, clean_text_expr

    values = ["", "a", " x ", "\u0301", "é", "0", None, *_WS_CHARS, *(c * 3 for c in _WS_CHARS), "\u200b-\u200b"]
    frame = pl.DataFrame({"v": values}, schema={"v": pl.Utf8})
    cleaned = frame.select(clean_text_expr(pl.col("v")).is_not_null()).to_series().to_list()
    matched = frame.select(pl.col("v").str.contains(NOT_BLANK).fill_null(False)).to_series().to_list()
    assert matched == cleaned and cleaned.count(True) == 6
