"""transforms.csv_cut and dashboards.data_files.csv_texts: many CSVs from one write,
each byte for byte the CSV its rows make alone."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from dashboards.data_files import csv_bytes, csv_texts
from transforms.csv_cut import cut_csv


def _frame(names: list[str | None]) -> pl.DataFrame:
    n = len(names)
    return pl.DataFrame({
        "period_key": [f"2024-{i % 3 + 1:02d}" for i in range(n)],
        "unit_name": names,
        "score": [None if i % 5 == 0 else 100 / (i + 3) for i in range(n)],
        "received_at": [dt.datetime(2024, 1, 31, 17, i % 60) for i in range(n)],
        "due": [dt.date(2024, 2, 1 + i % 28) for i in range(n)],
        "ranked": [i % 2 == 0 for i in range(n)],
    })


NAMES = ["Phường Phúc Xá", "=HYPERLINK(\"x\")", None, "a, \"quoted\" b", "+84 912", "Xã Bắc Sơn", "-1", "@sum", "ok"]


def test_each_run_is_the_csv_of_its_rows_alone():
    frame = _frame(NAMES * 3)
    lengths = [0, 4, 9, 0, 13, 1]
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    alone = [csv_bytes(frame.slice(s, n)) for s, n in zip(starts, lengths)]
    assert csv_texts([frame.slice(s, n) for s, n in zip(starts, lengths)]) == alone
    assert alone[0] == alone[3] == csv_bytes(frame.clear())  # an empty run: the header alone
    assert alone[1].startswith("\ufeffperiod_key,".encode()) and b"'=HYPERLINK" in alone[1]


def test_a_line_break_inside_a_value_is_written_run_by_run():
    frame = _frame([*NAMES, "hai\ndòng", "ba\r\ndòng"])
    parts = [frame.slice(0, 5), frame.slice(5, 0), frame.slice(5, 6)]
    assert csv_texts(parts) == [csv_bytes(p) for p in parts]
    assert '"hai\ndòng"'.encode() in csv_texts(parts)[2]


def test_a_lone_carriage_return_or_a_category_with_a_line_break():
    frame = _frame(NAMES).with_columns(unit_name=pl.col("unit_name").fill_null("a\rb"))
    parts = [frame.slice(0, 3), frame.slice(3, 6)]
    assert csv_texts(parts) == [csv_bytes(p) for p in parts]  # "\r" alone does not end a line: cut as usual
    kinds = frame.with_columns(level=pl.Series(["xã\nphường", "quận"] * 4 + ["quận"], dtype=pl.Categorical))
    parts = [kinds.slice(0, 4), kinds.slice(4, 5)]
    assert csv_texts(parts) == [csv_bytes(p) for p in parts]


def test_the_runs_must_cover_the_frame():
    frame = _frame(NAMES)

    def write(f: pl.DataFrame, header: bool) -> bytes:
        return f.write_csv(include_header=header).encode()

    assert cut_csv(frame, [2, 7], write) == [write(frame.head(2), True), write(frame.tail(7), True)]
    with pytest.raises(ValueError, match="runs of 8 rows in all for a frame of 9"):
        cut_csv(frame, [1, 7], write)
