"""The shipped unit registries: Hà Nội (config/registry/hanoi.csv) with its departments, and
Cao Bằng (caobang.csv), built by scripts/build_registry.py; see docs/registry.md."""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

import polars as pl
import pytest

from config import config_path
from transforms.crosswalk import load_crosswalk
from transforms.schema import UNIT_SCHEMA
from transforms.units import load_registry

REGISTRY = config_path("registry", "hanoi.csv")
CROSSWALK = config_path("registry", "hanoi_crosswalk.csv")
DEPARTMENTS = config_path("registry", "hanoi_departments.csv")
CAO_BANG = config_path("registry", "caobang.csv")
CAO_BANG_CROSSWALK = config_path("registry", "caobang_crosswalk.csv")
COLUMNS = ["unit_code", "unit_name", "level", "parent_code", "peer_group", "valid_from", "valid_to", "agency_code"]
PEER_BY_WORD = {
    "Quận": ("district", "urban"),
    "Thị xã": ("district", "urban"),
    "Thành phố": ("district", "urban"),
    "Huyện": ("district", "rural"),
    "Phường": ("commune", "urban"),
    "Thị trấn": ("commune", "urban"),
    "Xã": ("commune", "rural"),
}
REORGANISED = date(2025, 3, 1)  # Hà Nội's departments merged (HĐND TP, kỳ họp thứ 21)


@pytest.fixture(scope="module")
def raw() -> pl.DataFrame:
    # Every column as text: codes keep their leading zeros.
    return pl.read_csv(REGISTRY, infer_schema=False)


@pytest.fixture(scope="module")
def units(raw: pl.DataFrame) -> pl.DataFrame:
    return raw.with_columns(
        pl.col("valid_from").str.to_date("%Y-%m-%d"),
        pl.col("valid_to").str.to_date("%Y-%m-%d"),
    )


@pytest.fixture(scope="module")
def places(units: pl.DataFrame) -> pl.DataFrame:
    """Districts and communes (the rows built from the administrative-units packages)."""
    return units.filter(pl.col("level") != "department")


@pytest.fixture(scope="module")
def departments(units: pl.DataFrame) -> pl.DataFrame:
    return units.filter(pl.col("level") == "department")


def valid_on(units: pl.DataFrame, day: date) -> pl.DataFrame:
    return units.filter(
        (pl.col("valid_from") <= day) & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= day))
    )


def test_file_format() -> None:
    data = REGISTRY.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf"), "no BOM"
    assert b"\r\n" not in data
    assert data.decode("utf-8").splitlines()[0] == ",".join(COLUMNS)


def test_columns_and_types(raw: pl.DataFrame) -> None:
    assert raw.columns == COLUMNS
    assert all(dtype == pl.Utf8 for dtype in raw.dtypes)
    # It reads under the canonical schema the pipeline uses.
    typed = pl.read_csv(REGISTRY, schema_overrides={k: pl.Utf8 for k in COLUMNS}).with_columns(
        pl.col("valid_from").str.to_date(), pl.col("valid_to").str.to_date()
    )
    # (agency_code joins UNIT_SCHEMA with the reader's support for it)
    assert typed.select(list(UNIT_SCHEMA)).cast(UNIT_SCHEMA).schema == pl.Schema(UNIT_SCHEMA)


def test_codes_keep_leading_zeros(raw: pl.DataFrame) -> None:
    raw = raw.filter(pl.col("level") != "department")
    codes = set(raw["unit_code"])
    assert {"001", "002", "00001", "00004"} <= codes
    assert raw.filter(pl.col("unit_code") == "001")["unit_name"].to_list() == ["Quận Ba Đình"]
    assert raw.filter(pl.col("unit_code") == "00001")["unit_name"].to_list() == ["Phường Phúc Xá"]
    districts = raw.filter(pl.col("level") == "district")
    communes = raw.filter(pl.col("level") == "commune")
    assert districts["unit_code"].str.contains(r"^\d{3}$").all()
    assert communes["unit_code"].str.contains(r"^\d{5}$").all()
    parents = communes["parent_code"].drop_nulls()
    assert parents.str.contains(r"^\d{3}$").all()


def test_thirty_districts_before_the_reform(units: pl.DataFrame) -> None:
    districts = valid_on(units, date(2025, 6, 30)).filter(pl.col("level") == "district")
    assert districts["unit_code"].n_unique() == 30
    assert districts.height == 30
    assert valid_on(units, date(2016, 1, 4)).filter(pl.col("level") == "district").height == 30
    names = set(districts["unit_name"])
    assert {"Quận Ba Đình", "Quận Hoàn Kiếm", "Huyện Mê Linh", "Quận Hà Đông", "Thị xã Sơn Tây"} <= names
    assert districts.filter(pl.col("unit_code") == "269")["unit_name"].item() == "Thị xã Sơn Tây"
    assert districts.filter(pl.col("unit_code") == "250")["unit_name"].item() == "Huyện Mê Linh"
    # No district after the reform.
    assert valid_on(units, date(2025, 7, 1)).filter(pl.col("level") == "district").height == 0


def test_communes_before_the_reform(units: pl.DataFrame) -> None:
    # 579 communes until Hà Nội's merges of 2025-01-01, 526 from then to the reform.
    assert valid_on(units, date(2024, 12, 31)).filter(pl.col("level") == "commune").height == 579
    assert valid_on(units, date(2025, 6, 30)).filter(pl.col("level") == "commune").height == 526


def test_126_units_after_the_reform(places: pl.DataFrame) -> None:
    units = places
    after = valid_on(units, date(2025, 7, 1))
    assert after.height == 126
    assert after["unit_code"].n_unique() == 126
    assert (after["level"] == "commune").all()
    assert after["parent_code"].is_null().all()
    assert (after["valid_from"] == date(2025, 7, 1)).all()
    assert after["valid_to"].is_null().all()
    assert after.filter(pl.col("unit_name").str.starts_with("Phường ")).height == 51
    assert after.filter(pl.col("unit_name").str.starts_with("Xã ")).height == 75
    # Units that no longer exist are closed the day before.
    assert units.filter(pl.col("valid_to").is_null()).height == 126


def test_every_old_commune_has_a_valid_parent(units: pl.DataFrame) -> None:
    old = units.filter((pl.col("level") == "commune") & (pl.col("valid_from") < date(2025, 7, 1)))
    assert old.height > 0
    assert old["parent_code"].is_not_null().all()
    districts = units.filter(pl.col("level") == "district").select(
        pl.col("unit_code").alias("parent_code"),
        pl.col("valid_from").alias("parent_from"),
        pl.col("valid_to").alias("parent_to"),
    )
    joined = old.join(districts, on="parent_code", how="left")
    covered = joined.filter(
        (pl.col("parent_from") <= pl.col("valid_from")) & (pl.col("parent_to") >= pl.col("valid_to"))
    )
    assert covered.select("unit_code", "valid_from").unique().height == old.height


def test_identity_is_unique_and_validity_does_not_overlap(units: pl.DataFrame) -> None:
    assert units.select("unit_code", "valid_from").is_duplicated().sum() == 0
    assert (units["valid_to"].is_null() | (units["valid_to"] >= units["valid_from"])).all()
    ordered = units.sort("unit_code", "valid_from").with_columns(
        pl.col("valid_from").shift(-1).over("unit_code").alias("next_from")
    )
    clash = ordered.filter(pl.col("next_from").is_not_null() & (pl.col("valid_to") >= pl.col("next_from")))
    assert clash.height == 0, clash
    # Codes are reused across the reform (e.g. 00004 Phường Trúc Bạch -> Phường Ba Đình).
    reused = units.filter(pl.col("unit_code") == "00004").sort("valid_from")
    assert reused["unit_name"].to_list()[-1] == "Phường Ba Đình"
    assert reused.height >= 2


@pytest.mark.parametrize("path", [REGISTRY, CAO_BANG], ids=["hanoi", "caobang"])
def test_level_words_decide_level_and_peer_group(path) -> None:
    raw = pl.read_csv(path, infer_schema=False).filter(pl.col("level") != "department")
    for row in raw.iter_rows(named=True):
        name = row["unit_name"]
        assert name == unicodedata.normalize("NFC", name)
        assert name == name.strip() and "  " not in name
        matches = [w for w in PEER_BY_WORD if name.startswith(w + " ")]
        assert len(matches) == 1, name
        assert (row["level"], row["peer_group"]) == PEER_BY_WORD[matches[0]], name


def test_dates(places: pl.DataFrame, departments: pl.DataFrame) -> None:
    assert set(places["valid_from"].unique()) == {date(2008, 8, 1), date(2025, 1, 1), date(2025, 7, 1)}
    assert set(places["valid_to"].drop_nulls().unique()) == {date(2024, 12, 31), date(2025, 6, 30)}
    assert set(departments["valid_from"].unique()) == {date(2008, 8, 1), REORGANISED}
    assert set(departments["valid_to"].drop_nulls().unique()) == {REORGANISED - timedelta(days=1)}


def test_sorted_deterministically(raw: pl.DataFrame) -> None:
    order = {"district": 0, "commune": 1, "department": 2}
    keys = [(r["valid_from"], order[r["level"]], r["unit_code"], r["unit_name"]) for r in raw.iter_rows(named=True)]
    assert keys == sorted(keys)


def test_crosswalk_format() -> None:
    data = CROSSWALK.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data
    crosswalk = pl.read_csv(CROSSWALK, infer_schema=False)
    assert crosswalk.columns == ["old_code", "old_valid_from", "new_code", "new_valid_from", "share"]
    assert crosswalk["old_code"].str.contains(r"^\d{5}$").all()
    assert crosswalk["new_code"].str.contains(r"^\d{5}$").all()
    keys = [tuple(r) for r in crosswalk.select("old_code", "old_valid_from", "new_code").iter_rows()]
    assert keys == sorted(keys)


@pytest.fixture(scope="module")
def crosswalk() -> pl.DataFrame:
    # The loader checks codes, validity and that each old unit's shares sum to 1.
    return load_crosswalk(CROSSWALK, load_registry(REGISTRY))


def test_crosswalk_covers_the_reform(units: pl.DataFrame, crosswalk: pl.DataFrame) -> None:
    last_old = valid_on(units, date(2025, 6, 30)).filter(pl.col("level") == "commune")
    mapped = crosswalk.select(pl.col("old_code").alias("unit_code"), pl.col("old_valid_from").alias("valid_from")).unique()
    assert mapped.height == 526
    assert last_old.select("unit_code", "valid_from").join(mapped, on=["unit_code", "valid_from"], how="anti").height == 0
    assert crosswalk["new_code"].n_unique() == 126
    assert (crosswalk["new_valid_from"] == date(2025, 7, 1)).all()
    sums = crosswalk.group_by("old_code", "old_valid_from").agg(pl.col("share").sum())
    assert (sums["share"] - 1).abs().max() < 1e-9
    assert crosswalk.height == 734
    assert crosswalk.filter(pl.col("share") < 1)["old_code"].n_unique() == 158


def test_crosswalk_follows_nghi_quyet_1656(crosswalk: pl.DataFrame) -> None:
    def went_to(code: str) -> dict[str, float]:
        rows = crosswalk.filter(pl.col("old_code") == code)
        return dict(zip(rows["new_code"], rows["share"]))

    # khoản 14: all of Phường Phúc Xá -> Phường Hồng Hà
    assert went_to("00001") == {"00097": 1.0}
    # khoản 3: all of Phường Trúc Bạch -> Phường Ba Đình, which kept its code
    assert went_to("00004") == {"00004": 1.0}
    # khoản 1, 2, 3, 11: Phường Cửa Nam split four ways
    assert went_to("00073") == {"00004": 0.25, "00070": 0.25, "00073": 0.25, "00196": 0.25}
    # khoản 19: all of Đại Kim's population -> Định Công; its land elsewhere carries no dossiers
    assert went_to("00316") == {"00316": 1.0}
    # khoản 81-82: Tây Đằng's land partly to Minh Châu, its population to Quảng Oai
    assert went_to("09619") == {"09619": 1.0}
    # khoản 39, 111: Bát Tràng's population part to Long Biên, the rest to the new Bát Tràng
    assert went_to("00583") == {"00148": 0.5, "00583": 0.5}


# --------------------------------------------------------------------------- departments


def test_departments_before_and_after_the_merges_of_2025_03_01(departments: pl.DataFrame) -> None:
    # 21 cơ quan chuyên môn and the industrial-zones board until 2025-02-28; 15 and the
    # merged high-tech and industrial-zones board from 2025-03-01 (HĐND TP, 2025-02-25).
    before = valid_on(departments, REORGANISED - timedelta(days=1))
    after = valid_on(departments, REORGANISED)
    assert before.height == 22 and after.height == 16
    assert valid_on(departments, date(2025, 12, 31)).height == 16
    assert valid_on(departments, date(2016, 1, 4)).height == 22
    names_after = set(after["unit_name"])
    assert {"Sở Tài chính", "Sở Nội vụ", "Sở Xây dựng", "Sở Nông nghiệp và Môi trường",
            "Sở Khoa học và Công nghệ", "Sở Dân tộc và Tôn giáo", "Sở Tư pháp", "Sở Y tế"} <= names_after
    gone = {"Sở Kế hoạch và Đầu tư", "Sở Giao thông vận tải", "Sở Tài nguyên và Môi trường",
            "Sở Lao động - Thương binh và Xã hội", "Sở Thông tin và Truyền thông", "Sở Ngoại vụ",
            "Sở Nông nghiệp và Phát triển nông thôn", "Ban Dân tộc thành phố"}
    assert gone <= set(before["unit_name"]) and not gone & names_after
    # A department formed by merging (hợp nhất) is a new unit that keeps the code; one that
    # absorbed another (sáp nhập: the Văn phòng took Sở Ngoại vụ) or was untouched keeps its row.
    stc = departments.filter(pl.col("unit_code") == "STC").sort("valid_from")
    assert stc["valid_to"].to_list() == [REORGANISED - timedelta(days=1), None]
    assert departments.filter(pl.col("unit_code").is_in(["VPUB", "STP"]))["valid_to"].is_null().all()


def test_departments_rank_apart_with_letter_codes(departments: pl.DataFrame, places: pl.DataFrame) -> None:
    assert (departments["peer_group"] == "department").all()
    assert departments["parent_code"].is_null().all()
    # Letters only: never equal to a GSO code, even with leading zeros stripped.
    assert departments["unit_code"].str.contains(r"^[A-Z]+$").all()
    assert not set(departments["unit_code"]) & set(places["unit_code"])
    # Every row names where it comes from.
    source = pl.read_csv(DEPARTMENTS, infer_schema=False)
    assert source["source"].is_not_null().all()
    assert source.height == departments.height


def test_agency_codes_are_empty_where_unsourced(raw: pl.DataFrame) -> None:
    # No per-unit mã định danh of Hà Nội could be sourced (docs/registry.md): never invented.
    assert raw["agency_code"].is_null().all()


# --------------------------------------------------------------------------- a second province


def test_cao_bang_is_built_the_same_way() -> None:
    raw = pl.read_csv(CAO_BANG, infer_schema=False)
    assert raw.columns == COLUMNS
    units = load_registry(CAO_BANG)
    old = valid_on(units, date(2025, 6, 30))
    new = valid_on(units, date(2025, 7, 1))
    assert old.filter(pl.col("level") == "district").height == 10
    assert old.filter(pl.col("level") == "commune").height == 161
    assert new.height == 56 and (new["level"] == "commune").all() and new["parent_code"].is_null().all()
    assert "Thành phố Cao Bằng" in set(old["unit_name"])
    crosswalk = load_crosswalk(CAO_BANG_CROSSWALK, units)
    # Cao Bằng merged no commune between 2023 and 2025 and split none in 2025.
    assert crosswalk.height == 161 and (crosswalk["share"] == 1).all()
    assert crosswalk["new_code"].n_unique() == 56


def test_cao_bang_runs_through_the_pipeline_with_no_code_change(tmp_path, monkeypatch) -> None:
    """`scoreboard generate --registry caobang.csv`, then `scoreboard run --registry caobang.csv`
    into a fresh DuckDB file: every unit is listed and ranked in its own level."""
    from pipelines.cli import main

    monkeypatch.setenv("SCOREBOARD_CROSSWALK", str(CAO_BANG_CROSSWALK))
    landing, site = tmp_path / "landing", tmp_path / "site"
    main(["generate", "--out", str(landing), "--from", "2025-06-01", "--to", "2025-07-31",
          "--scale", "0.2", "--registry", str(CAO_BANG)])
    main(["run", "--landing", str(landing), "--warehouse", str(tmp_path / "warehouse.duckdb"),
          "--site", str(site), "--registry", str(CAO_BANG)])
    units = load_registry(CAO_BANG)

    def published(key: str) -> pl.DataFrame:
        return pl.read_csv(site / "data" / f"scoreboard-{key}.csv", infer_schema=False, encoding="utf8-lossy")

    def check(key: str, day: date, level: str, expected: int) -> pl.DataFrame:
        table = published(key).filter(pl.col("level") == level)
        valid = valid_on(units, day).filter(pl.col("level") == level)
        assert valid.height == expected
        # Every unit valid in the month is listed (units that ended before it are listed
        # too while they still have dossiers counted, but never ranked).
        assert set(valid["unit_code"]) <= set(table["unit_code"])
        ranked = table.filter(pl.col("ranked") == "true")
        # Every unit of a province of this size has volume enough to be ranked in a month.
        assert set(ranked["unit_code"]) == set(valid["unit_code"]), (key, level, ranked.height)
        ranks = ranked["rank"].cast(pl.Int64)
        assert ranks.min() == 1 and ranks.max() <= expected
        return table

    check("2025-06", date(2025, 6, 30), "district", 10)
    check("2025-06", date(2025, 6, 30), "commune", 161)
    after = check("2025-07", date(2025, 7, 1), "commune", 56)
    assert "Phường Thục Phán" in set(after["unit_name"])
    # No district after the reform, no department in this registry.
    assert published("2025-07").filter(pl.col("level") == "district")["ranked"].to_list().count("true") == 0
    assert published("2025-07").filter(pl.col("level") == "department").height == 0
