"""Every real export shape through the real pipeline: `scoreboard run` on a landing
folder of real-shaped files and the vendors' mapping files, a real DuckDB file, the
published scoreboard CSV. The counts of March 2024 are worked out by hand below."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli import main
from pipelines.ingestion import REJECTED_DIR
from tests import real_shapes as rs
from tests.test_real_exports import (
    DANH_SACH,
    HAGIANG_1,
    HAGIANG_2,
    HAGIANG_MAPPING,
    OVERDUE,
    PRINTED,
    PRINTED_BANNER,
    SO_THEO_DOI,
    SYNC_ARRAY,
    SYNC_ENVELOPE,
)
from tests.test_real_exports_mappings import OEP_MAPPING, write_oep


def write_landing(root: Path, personal: dict = rs.PERSONAL) -> Path:
    """The landing folder of a city office that drops what its vendors send, and the
    vendors' mapping files beside it."""
    landing = root / "landing"
    rs.write_sync_envelope(landing / "dvcqg" / "dongbo_1.json", SYNC_ENVELOPE, "000.12.20.H26", personal)
    rs.write_sync_array(landing / "dvcqg" / "dongbo_2.json", SYNC_ARRAY, personal)
    rs.write_hagiang(landing / "hagiang" / "dongbo_1.json", HAGIANG_1, personal)
    rs.write_hagiang(landing / "hagiang" / "dongbo_2.json", HAGIANG_2, personal)
    rs.write_danh_sach(landing / "Danh sách hồ sơ 5_3_2024 9_05.xls", DANH_SACH, personal, officer=True)
    rs.write_printed_list_html(landing / "vanmieu" / "danh_sach_in.xls", PRINTED, personal, banner=PRINTED_BANNER)
    rs.write_printed_list_xls(landing / "vanmieu" / "danh_sach_in_biff.xls", PRINTED, personal, banner=PRINTED_BANNER)
    rs.write_so_theo_doi(landing / "Sổ theo dõi hồ sơ_2024_04_01_09_30.xlsx", SO_THEO_DOI, "UBND Phường Văn Miếu", personal)
    rs.write_overdue_list(landing / "qua_han.xls", OVERDUE)
    write_oep(landing / "oep" / "hoso_2024_03.csv")
    mappings = root / "mappings"
    mappings.mkdir()
    (mappings / "hagiang.yaml").write_text(HAGIANG_MAPPING, encoding="utf-8")
    (mappings / "oep.yaml").write_text(OEP_MAPPING, encoding="utf-8")
    return landing


LOADED = {
    # file: (read, accepted, quarantined, superseded)
    "dvcqg/dongbo_1.json": (7, 3, 3, 1),  # 0002 superseded by the later sync
    "dvcqg/dongbo_2.json": (3, 2, 1, 0),
    "hagiang/dongbo_1.json": (3, 1, 1, 1),  # TS2024-0001 status 1 superseded by status 2
    "hagiang/dongbo_2.json": (1, 1, 0, 0),
    "Danh sách hồ sơ 5_3_2024 9_05.xls": (9, 7, 2, 0),
    # the same five dossiers in two files: the copy whose base name sorts last wins
    "vanmieu/danh_sach_in.xls": (6, 0, 1, 5),
    "vanmieu/danh_sach_in_biff.xls": (6, 5, 1, 0),
    "oep/hoso_2024_03.csv": (3, 3, 0, 0),
}
SET_ASIDE = {
    "Sổ theo dõi hồ sơ_2024_04_01_09_30.xlsx": "no column for: procedure_code or procedure_name",
    "qua_han.xls": "no column for: procedure_code or procedure_name",
}

# March 2024: received, early, on_time, overdue, no_deadline, rejected, pending_overdue
MARCH = {
    # printed list 0001 on time, 0002 overdue, 0003 early, 0004 pending, 0005 pending
    # overdue; OEP 0001 early, 0002 pending overdue, 0003 refused
    "00229": (8, 2, 1, 1, 0, 1, 2),
    # Danh sách: on time 1, overdue 1, refused and withdrawn 2, pending overdue 2 (+1 pending);
    # the sync's 0009 pending overdue
    "00232": (8, 0, 1, 1, 0, 2, 3),
    "006": (16, 2, 2, 2, 0, 3, 5),  # Đống Đa: Văn Miếu + Quốc Tử Giám
    "09552": (3, 1, 1, 0, 0, 1, 0),  # sync 0001 early, 0002 on time, 0004 refused
    "020": (4, 1, 1, 1, 0, 1, 0),  # Hà Đông's own 0003 overdue + Vạn Phúc
    "10126": (0, 0, 0, 0, 0, 0, 0),
    "S01": (2, 0, 0, 0, 0, 1, 0),  # Hà Giang: 0001 pending (no due), 0002 refused
}
COUNTS = ["received", "early", "on_time", "overdue", "no_deadline", "rejected", "pending_overdue"]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    landing = write_landing(root)
    registry = rs.write_registry(root / "units.csv")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCOREBOARD_NOW", "2024-04-15T12:00:00")
        mp.delenv("SCOREBOARD_MAPPINGS", raising=False)
        mp.setenv("SCOREBOARD_CROSSWALK", "")
        code = main(["run", "--landing", str(landing), "--warehouse", str(root / "warehouse.duckdb"),
                     "--site", str(root / "site"), "--registry", str(registry)])
    assert code == 0
    return root


def test_every_file_is_accounted_for(real_run):
    with duckdb.connect(str(real_run / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT source_file, status, message, rows_read, rows_accepted, rows_quarantined, rows_superseded "
            "FROM file_accounting").fetchall()
    got = {r[0]: r for r in rows}
    assert set(got) == set(LOADED) | set(SET_ASIDE)
    for name, counts in LOADED.items():
        assert got[name][1] == "loaded" and got[name][3:] == counts, name
        read, accepted, quarantined, superseded = counts
        assert read == accepted + quarantined + superseded
    for name, reason in SET_ASIDE.items():
        assert got[name][1] == "rejected" and reason in got[name][2]
        assert (real_run / "landing" / REJECTED_DIR / name).is_file()


def test_quarantine_reasons(real_run):
    with duckdb.connect(str(real_run / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT source_file, dossier_id, reason FROM quarantine").fetchall()
    key = lambda r: (r[0], r[1] or "", r[2])  # noqa: E731
    assert sorted(rows, key=key) == sorted([
        ("Danh sách hồ sơ 5_3_2024 9_05.xls", "QTG-8", "future_date"),
        ("Danh sách hồ sơ 5_3_2024 9_05.xls", "QTG-9", "chronology"),
        ("dvcqg/dongbo_1.json", None, "missing_id"),
        ("dvcqg/dongbo_1.json", "000.12.20.H26-240308-0005", "bad_date"),
        ("dvcqg/dongbo_1.json", "000.12.20.H26-240309-0006", "finished_no_end"),
        ("dvcqg/dongbo_2.json", "X-240312-0010", "unknown_unit"),
        ("hagiang/dongbo_1.json", "TS2024-0003", "finished_no_end"),
        ("vanmieu/danh_sach_in.xls", "000.20.06.H26-240302-0006", "bad_date"),
        ("vanmieu/danh_sach_in_biff.xls", "000.20.06.H26-240302-0006", "bad_date"),
    ], key=key)


def test_the_published_march_scoreboard_counts_each_unit_by_hand(real_run):
    path = real_run / "site" / "data" / "scoreboard-2024-03.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    table = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    table = table.rename({table.columns[0]: table.columns[0].lstrip("\ufeff")})
    got = {r["unit_code"]: tuple(int(r[c]) for c in COUNTS) for r in table.iter_rows(named=True)}
    assert got == MARCH
    vp = table.filter(pl.col("unit_code") == "09552").row(0, named=True)
    # online: 0001 online, 0002 and 0004 in person; paid: 0001 paid, 0002 a fee not paid
    # online, 0004 fee unknown; digitised: 0001 only
    assert (float(vp["online_rate"]), float(vp["paid_online_rate"]), float(vp["digitized_rate"])) == (1 / 3, 0.5, 1 / 3)
    assert table.filter(pl.col("unit_code") == "020")["online_rate"].item() == str(1 / 3)  # 0003's channel unknown


def test_a_procedure_known_by_name_is_a_bottleneck_under_its_name_key(real_run):
    with duckdb.connect(str(real_run / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT procedure_code, procedure_name, late FROM bottlenecks "
            "WHERE period_key = '2024-03' AND unit_code = '00229' ORDER BY position").fetchall()
        codes = dict(con.execute("SELECT dossier_id, procedure_code FROM dossiers WHERE unit_code = '00229'").fetchall())
    # printed list 0002 overdue and 0005 pending overdue; OEP 0002 pending overdue
    assert rows == [("chung_thuc_ban_sao_tu_ban_chinh", "Chứng thực bản sao từ bản chính", 2),
                    ("cap_giay_phep_xay_dung", "Cấp giấy phép xây dựng", 1)]
    assert codes["000.20.06.H26-240306-0003"] == "dang_ky_khai_tu"


def test_the_manifest_names_every_input(real_run):
    manifest = json.loads((real_run / "site" / "data" / "manifest.json").read_text(encoding="utf-8"))
    text = json.dumps(manifest, ensure_ascii=False)
    for name in LOADED:
        assert name in text


def test_no_planted_personal_value_is_stored_or_published(real_run):
    """The shapes' personal fields (names, identity numbers, phones, e-mails,
    addresses, the officer, free-text summaries naming the applicant) are nowhere
    but in the user's own files. (tests/test_personal_data.py searches every log
    and encoding too.)"""
    from tests.test_personal_data import expand

    db = real_run / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CHECKPOINT")
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
        text = "".join(con.sql(f'SELECT * FROM "{t}"').pl().select(pl.all().cast(pl.Utf8)).write_csv() for t in tables)
    # the user's own files: the landing folder and the archive its ingested files move to
    own = ("landing", "archive")
    written = [p for p in real_run.rglob("*") if p.is_file() and p.relative_to(real_run).parts[0] not in own]
    assert {p.name for p in (real_run / "archive").rglob("*") if p.is_file()} >= {Path(n).name for n in LOADED}
    assert any(p.suffix == ".duckdb" for p in written) and any(p.suffix == ".html" for p in written)
    blobs = {str(p): expand(p) for p in written}
    for value in rs.PERSONAL.values():
        assert value not in text, value
        for name, data in blobs.items():
            assert value.encode("utf-8") not in data, (value, name)
