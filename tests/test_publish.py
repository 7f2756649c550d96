"""dashboards.data_files: the bytes of the per-period CSV / Parquet / XLSX files and of the manifest.

(The site writes them through its build cache: tests/test_site*.py check which
files a build writes and leaves alone.)"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dashboards.data_files import (
    TABLES,
    XLSX_CREATED,
    check_period_key,
    csv_bytes,
    manifest_bytes,
    parquet_bytes,
    prepare_scoreboard,
    prepare_table,
    xlsx_bytes,
)
from tests.helpers import DEFAULT_PROFILE, SCOREBOARD_COLUMNS


def write_period_files(scoreboard: pl.DataFrame, data_dir: Path) -> list[Path]:
    """`scoreboard-<key>.csv|.parquet|.xlsx` of every period, as the site's data files are made."""
    frame = prepare_scoreboard(scoreboard)
    data_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for period in frame.partition_by(["period_type", "period_key"], maintain_order=True):
        key = period.item(0, "period_key")
        for suffix, data in (("csv", csv_bytes(period)), ("parquet", parquet_bytes(period)),
                             ("xlsx", xlsx_bytes(period, key))):
            (data_dir / f"scoreboard-{key}.{suffix}").write_bytes(data)
            out.append(data_dir / f"scoreboard-{key}.{suffix}")
    return out


def write_table_files(frame: pl.DataFrame, data_dir: Path, table: str, periods=None) -> list[Path]:
    """`<table>-<key>.csv|.xlsx` of every period given (default: those with rows)."""
    spec = TABLES[table]
    frame = prepare_table(frame, table)
    if periods is None:
        periods = frame.select("period_type", "period_key").unique(maintain_order=True).iter_rows()
    periods = list(periods)
    for ptype, key in periods:
        check_period_key(ptype, key)
        kinds = set(frame.filter(pl.col("period_key") == key)["period_type"].to_list())
        if kinds - {ptype}:
            raise ValueError(f"{table}: period {key} is a {kinds.pop()}, not a {ptype}")
    data_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for _t, key in periods:
        period = frame.filter(pl.col("period_key") == key)
        for suffix, data in (("csv", csv_bytes(period)), ("xlsx", xlsx_bytes(period, key, spec))):
            (data_dir / f"{table}-{key}.{suffix}").write_bytes(data)
            out.append(data_dir / f"{table}-{key}.{suffix}")
    return out

FIXTURE = Path(__file__).parent / "fixtures" / "example" / "expected_scoreboard.csv"
BOM = b"\xef\xbb\xbf"
PERIOD_KEYS = ["2024-01", "2024-02"] + [f"2024-W{w:02d}" for w in range(1, 10)]


@pytest.fixture(scope="module")
def scoreboard() -> pl.DataFrame:
    return pl.read_csv(FIXTURE, schema_overrides=SCOREBOARD_COLUMNS)


def read_published_csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, schema_overrides=SCOREBOARD_COLUMNS)


def test_one_csv_parquet_xlsx_per_period(scoreboard, tmp_path):
    paths = write_period_files(scoreboard, tmp_path / "data")
    names = sorted(p.name for p in paths)
    assert len(paths) == 33 == len(set(paths))
    assert names == sorted(f"scoreboard-{k}.{s}" for k in PERIOD_KEYS for s in ("csv", "parquet", "xlsx"))
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == names  # nothing else (no temp files)


def test_csv_bom_columns_and_round_trip(scoreboard, tmp_path):
    write_period_files(scoreboard, tmp_path)
    csvs = sorted(tmp_path.glob("*.csv"))
    assert len(csvs) == 11
    for path in csvs:
        raw = path.read_bytes()
        assert raw.startswith(BOM)
        header = raw[len(BOM):].split(b"\n", 1)[0].decode()
        assert header.split(",") == list(SCOREBOARD_COLUMNS)
        back = read_published_csv(path)
        key = path.name.removeprefix("scoreboard-").removesuffix(".csv")
        expected = prepare_scoreboard(scoreboard.filter(pl.col("period_key") == key))
        assert back.height == expected.height > 0
        assert_frame_equal(back, expected, check_exact=True)


def test_csv_value_forms(scoreboard, tmp_path):
    write_period_files(scoreboard, tmp_path)
    text = (tmp_path / "scoreboard-2024-01.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    # district, then commune; ranked by rank; ISO dates, true/false, full precision, empty nulls
    assert [(r["level"], r["unit_code"]) for r in rows] == [
        ("district", "002"), ("district", "001"), ("commune", "00001"), ("commune", "00004")
    ]
    soc_son = rows[0]
    assert soc_son["score"] == "89.99999999999999"
    assert soc_son["band"] == "Xuất sắc"
    assert soc_son["period_start"] == "2024-01-01"
    assert soc_son["unit_valid_from"] == "2008-08-01"
    assert soc_son["ranked"] == "true" and soc_son["provisional"] == "false"
    assert soc_son["rank_change"] == ""
    assert rows[2]["paid_online_rate"] == ""
    assert rows[1]["on_time_rate"] == "0.7272727272727273"


def test_rows_sorted_level_rank_nulls_last_then_code(scoreboard, tmp_path):
    shuffled = scoreboard.sample(fraction=1.0, shuffle=True, seed=7)
    write_period_files(shuffled, tmp_path)
    w02 = read_published_csv(tmp_path / "scoreboard-2024-W02.csv")
    assert w02.select("level", "unit_code", "rank").rows() == [
        ("district", "002", 1), ("district", "001", 2), ("commune", "00004", 1), ("commune", "00001", None)
    ]
    # a department sorts after communes; an unranked district after the ranked ones
    extra = scoreboard.filter(pl.col("period_key") == "2024-01").with_columns(
        level=pl.when(pl.col("unit_code") == "00001").then(pl.lit("department")).otherwise("level"),
        rank=pl.when(pl.col("unit_code") == "002").then(None).otherwise("rank"),
    )
    write_period_files(extra, tmp_path / "x")
    jan = read_published_csv(tmp_path / "x" / "scoreboard-2024-01.csv")
    assert jan.select("level", "unit_code").rows() == [
        ("district", "001"), ("district", "002"), ("commune", "00004"), ("department", "00001")
    ]


def test_parquet_round_trip(scoreboard, tmp_path):
    write_period_files(scoreboard, tmp_path)
    for key in PERIOD_KEYS:
        back = pl.read_parquet(tmp_path / f"scoreboard-{key}.parquet")
        assert back.schema == pl.Schema(SCOREBOARD_COLUMNS)
        assert_frame_equal(back, prepare_scoreboard(scoreboard.filter(pl.col("period_key") == key)), check_exact=True)


def test_xlsx_readable_same_rows_header_frozen(scoreboard, tmp_path):
    write_period_files(scoreboard, tmp_path)
    for key in PERIOD_KEYS:
        wb = openpyxl.load_workbook(tmp_path / f"scoreboard-{key}.xlsx")
        ws = wb.worksheets[0]
        assert ws.title == key
        rows = list(ws.iter_rows(values_only=True))
        expected = prepare_scoreboard(scoreboard.filter(pl.col("period_key") == key))
        assert len(rows) - 1 == expected.height
        assert list(rows[0]) == list(SCOREBOARD_COLUMNS)
        assert ws["A1"].font.b is True
        assert ws.freeze_panes == "A2"
        assert wb.properties.created == XLSX_CREATED
    wb = openpyxl.load_workbook(tmp_path / "scoreboard-2024-01.xlsx")
    ws = wb.worksheets[0]
    head = [c.value for c in ws[1]]
    first = {h: c for h, c in zip(head, ws[2])}
    assert first["unit_name"].value == "Huyện Sóc Sơn"
    assert first["unit_code"].value == "002" and first["unit_code"].data_type == "s"
    assert first["score"].value == 89.99999999999999  # full precision kept, only shown as 0.00
    assert first["on_time_rate"].number_format == "0.0%"
    assert first["period_start"].value == dt.datetime(2024, 1, 1)
    assert first["period_start"].number_format == "dd/mm/yyyy"
    assert first["ranked"].value is True
    assert first["rank_change"].value is None
    assert [c.value for c in wb["Chú thích"]["B"]][1:3] == ["Loại kỳ", "Kỳ"]


NASTY = {
    "001": '=HYPERLINK("http://evil.example","click")',
    "002": "+1+2",
    "00001": "-3",
    "00004": "@SUM(A1)",
}


def test_formulas_neutralised(scoreboard, tmp_path):
    nasty = scoreboard.with_columns(pl.col("unit_code").replace_strict(NASTY).alias("unit_name"))
    write_period_files(nasty, tmp_path)
    text = (tmp_path / "scoreboard-2024-01.csv").read_text(encoding="utf-8-sig")
    names = {r["unit_code"]: r["unit_name"] for r in csv.DictReader(io.StringIO(text))}
    assert names == {code: "'" + name for code, name in NASTY.items()}
    assert "'=HYPERLINK(" in text

    wb = openpyxl.load_workbook(tmp_path / "scoreboard-2024-01.xlsx")
    ws = wb.worksheets[0]
    col = [c.value for c in ws[1]].index("unit_name")
    cells = [row[col] for row in ws.iter_rows(min_row=2)]
    assert {c.value for c in cells} == set(NASTY.values())  # the true name, as text
    assert all(c.data_type == "s" for c in cells)
    with zipfile.ZipFile(tmp_path / "scoreboard-2024-01.xlsx") as zf:
        assert b"<f>" not in zf.read("xl/worksheets/sheet1.xml")

    # the parquet keeps the real values
    assert set(pl.read_parquet(tmp_path / "scoreboard-2024-01.parquet")["unit_name"]) == set(NASTY.values())


def test_same_frame_same_bytes(scoreboard, tmp_path):
    a = write_period_files(scoreboard, tmp_path / "a")
    b = write_period_files(scoreboard.reverse(), tmp_path / "b")
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name



def test_changed_value_rewrites_the_workbook(scoreboard, tmp_path):
    write_period_files(scoreboard, tmp_path)
    changed = scoreboard.with_columns(
        received=pl.when((pl.col("period_key") == "2024-01") & (pl.col("unit_code") == "001"))
        .then(17)
        .otherwise("received")
    )
    jan_before = (tmp_path / "scoreboard-2024-01.xlsx").read_bytes()
    feb_before = (tmp_path / "scoreboard-2024-02.xlsx").read_bytes()
    write_period_files(changed, tmp_path)
    assert (tmp_path / "scoreboard-2024-02.xlsx").read_bytes() == feb_before
    assert (tmp_path / "scoreboard-2024-01.xlsx").read_bytes() != jan_before
    ws = openpyxl.load_workbook(tmp_path / "scoreboard-2024-01.xlsx").worksheets[0]
    head = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[head.index("unit_code")] == "001")
    assert row[head.index("received")] == 17
    # and a fresh build of the changed frame gives the same bytes
    write_period_files(changed, tmp_path / "fresh")
    assert (tmp_path / "fresh" / "scoreboard-2024-01.xlsx").read_bytes() == (
        tmp_path / "scoreboard-2024-01.xlsx"
    ).read_bytes()


def test_bad_input_refused(scoreboard, tmp_path):
    with pytest.raises(ValueError, match="lacks columns"):
        write_period_files(scoreboard.drop("band"), tmp_path)
    with pytest.raises(ValueError, match="period_key"):
        write_period_files(scoreboard.with_columns(period_key=pl.lit("../../etc")), tmp_path)
    with pytest.raises(ValueError, match="period_key"):
        write_period_files(
            scoreboard.with_columns(period_key=pl.when(pl.col("period_type") == "week").then(pl.lit("2024-01")).otherwise("period_key")),
            tmp_path,
        )
    assert list(tmp_path.iterdir()) == []


def test_extra_columns_dropped_types_cast(scoreboard, tmp_path):
    wider = scoreboard.with_columns(pl.col("rank").cast(pl.Int32), debug=pl.lit("x"))
    write_period_files(wider, tmp_path)
    back = pl.read_parquet(tmp_path / "scoreboard-2024-01.parquet")
    assert back.columns == list(SCOREBOARD_COLUMNS)
    assert back.schema["rank"] == pl.Int64


def test_manifest(tmp_path):
    manifest = {
        "run_at": dt.datetime(2024, 3, 1, 7, 30),
        "inputs": [{"name": "hồ sơ tháng 2.csv", "sha256": "ab" * 32}],
        "profile": {"version": "766-default"},
        "calendar": {"version": dt.date(2024, 1, 1)},
    }
    text = manifest_bytes(manifest).decode("utf-8")
    assert "hồ sơ tháng 2.csv" in text  # not \u-escaped
    assert text.endswith("}\n")
    assert text.splitlines()[1].startswith('  "calendar"')  # indent 2, sorted keys
    back = json.loads(text)
    assert list(back) == sorted(back)
    assert back["run_at"] == "2024-03-01T07:30:00"
    assert back["calendar"]["version"] == "2024-01-01"
    assert manifest_bytes(manifest) == text.encode("utf-8")


# --------------------------------------------------------------------------- weak points, bottlenecks, what-if


def insight_frames(scoreboard: pl.DataFrame) -> dict[str, pl.DataFrame]:
    from tests.test_site import example_bottlenecks
    from transforms.insights import weak_points, what_if
    from tests.helpers import DEFAULT_PROFILE_PATH
    from transforms.profile import load_profile

    profile = load_profile(DEFAULT_PROFILE_PATH)
    return {
        "weak_points": weak_points(scoreboard, profile),
        "bottlenecks": example_bottlenecks(),
        "what_if": what_if(scoreboard, profile),
    }


@pytest.fixture(scope="module")
def insights(scoreboard) -> dict[str, pl.DataFrame]:
    return insight_frames(scoreboard)


def test_every_insight_column_has_a_label():
    for spec in TABLES.values():
        assert set(spec.labels) == set(spec.schema), spec.name


def test_insight_tables_one_csv_and_xlsx_per_period(insights, tmp_path):
    pairs = [("month", "2024-01"), ("month", "2024-02")] + [("week", f"2024-W{w:02d}") for w in range(1, 10)]
    for name, frame in insights.items():
        paths = write_table_files(frame, tmp_path, name, pairs)
        assert [p.name for p in paths] == [f"{name}-{k}.{s}" for _t, k in pairs for s in ("csv", "xlsx")]
        for _t, key in pairs:
            raw = (tmp_path / f"{name}-{key}.csv").read_bytes()
            assert raw.startswith(BOM)
            assert raw[len(BOM):].split(b"\n", 1)[0].decode().split(",") == list(TABLES[name].schema)
            back = pl.read_csv(tmp_path / f"{name}-{key}.csv", schema_overrides=TABLES[name].schema)
            assert_frame_equal(back, prepare_table(frame, name).filter(pl.col("period_key") == key), check_exact=True)
            wb = openpyxl.load_workbook(tmp_path / f"{name}-{key}.xlsx")
            ws = wb.worksheets[0]
            assert ws.title == key and ws.freeze_panes == "A2" and ws["A1"].font.b is True
            assert [c.value for c in ws[1]] == list(TABLES[name].schema)
            assert ws.max_row == back.height + 1
            assert wb.properties.created == XLSX_CREATED
            assert [c.value for c in wb["Chú thích"]["A"]][1:] == list(TABLES[name].schema)
    # the default periods are those with rows; a period without rows has a header-only file
    only = write_table_files(insights["bottlenecks"], tmp_path / "d", "bottlenecks")
    assert "bottlenecks-2024-W01.csv" not in {p.name for p in only}
    assert (tmp_path / "bottlenecks-2024-W01.csv").read_bytes().count(b"\n") == 1


def test_insight_values_in_files(insights, tmp_path):
    write_table_files(insights["weak_points"], tmp_path, "weak_points")
    write_table_files(insights["what_if"], tmp_path, "what_if")
    write_table_files(insights["bottlenecks"], tmp_path, "bottlenecks")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "weak_points-2024-01.csv").read_text(encoding="utf-8-sig"))))
    # district, then commune; within a unit by position
    assert [(r["level"], r["unit_code"], r["position"]) for r in rows[:2]] == [("district", "001", "1"), ("district", "001", "2")]
    assert rows[0]["indicator"] == "satisfaction_rate" and rows[0]["unit_valid_from"] == "2008-08-01"
    assert float(rows[0]["gap_to_leader"]) == pytest.approx(17.142857142857142 - 10.545454545454547)
    wi = list(csv.DictReader(io.StringIO((tmp_path / "what_if-2024-01.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["level"], r["rank"], r["unit_code"]) for r in wi] == [
        ("district", "1", "002"), ("district", "2", "001"), ("commune", "1", "00001"), ("commune", "2", "00004")
    ]
    ba_dinh = wi[1]
    assert (ba_dinh["dossiers_for_rank"], ba_dinh["target_band"], ba_dinh["dossiers_for_band"]) == ("", "Tốt", "2")
    ws = openpyxl.load_workbook(tmp_path / "bottlenecks-2024-01.xlsx").worksheets[0]
    head = [c.value for c in ws[1]]
    share = ws.cell(row=2, column=head.index("share_of_late") + 1)
    assert share.number_format == "0.0%" and 0 < share.value <= 1
    ws = openpyxl.load_workbook(tmp_path / "weak_points-2024-01.xlsx").worksheets[0]
    head = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=head.index("points_lost") + 1).number_format == "0.00"
    assert ws.cell(row=2, column=head.index("rate") + 1).number_format == "0.0%"


def test_insight_files_deterministic_neutralised_and_checked(insights, tmp_path):
    nasty = insights["bottlenecks"].with_columns(procedure_name=pl.lit('=HYPERLINK("http://evil.example")'))
    a = write_table_files(nasty, tmp_path / "a", "bottlenecks")
    b = write_table_files(nasty.reverse(), tmp_path / "b", "bottlenecks")
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    text = (tmp_path / "a" / "bottlenecks-2024-01.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK(" in text
    ws = openpyxl.load_workbook(tmp_path / "a" / "bottlenecks-2024-01.xlsx").worksheets[0]
    col = [c.value for c in ws[1]].index("procedure_name")
    assert {r[col].value for r in ws.iter_rows(min_row=2)} == {'=HYPERLINK("http://evil.example")'}
    with zipfile.ZipFile(tmp_path / "a" / "bottlenecks-2024-01.xlsx") as zf:
        assert b"<f>" not in zf.read("xl/worksheets/sheet1.xml")
    # keys become file names: refused when malformed, or under the other period type
    with pytest.raises(ValueError, match="period_key"):
        write_table_files(nasty.with_columns(period_key=pl.lit("../x")), tmp_path / "c", "bottlenecks")
    with pytest.raises(ValueError, match="week"):
        write_table_files(nasty, tmp_path / "c", "bottlenecks", [("week", "2024-01")])
    with pytest.raises(ValueError, match="lacks columns"):
        write_table_files(nasty.drop("late"), tmp_path / "c", "bottlenecks")
