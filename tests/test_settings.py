"""Configuration in one place: the profile, the quality thresholds and the header
aliases are settings of the one resource, each with its environment variable."""

from __future__ import annotations

import dagster as dg
import duckdb

from config import config_path
from pipelines.assets import ASSETS, dossiers
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE
from tests.test_quality_pipeline import holds, phuc_xa_export

HEADER = "{id},Mã đơn vị,Mã TTHC,Kênh nộp,Trạng thái,Ngày tiếp nhận,Ngày hẹn trả,Ngày kết thúc xử lý"
ROWS = [f"PX-{i:03d},00001,1.001776,Trực tuyến,10,22/01/2024 08:00,25/01/2024,23/01/2024 09:00" for i in range(3)]


def test_every_configuration_file_is_a_setting_with_an_environment_variable(tmp_path, monkeypatch):
    quality = tmp_path / "quality.yaml"
    quality.write_text("band_at_risk:\n  margin_points: 5\n", encoding="utf-8")
    aliases = tmp_path / "aliases.csv"
    aliases.write_text("field,alias\ndossier_id,Mã hồ sơ một cửa\n", encoding="utf-8")
    monkeypatch.setenv("SCOREBOARD_QUALITY", str(quality))
    monkeypatch.setenv("SCOREBOARD_ALIASES", str(aliases))
    monkeypatch.setenv("SCOREBOARD_PROFILE", str(config_path("profiles", "timeliness_online.yaml")))
    settings = ScoreboardSettings.from_env()
    assert (settings.quality_path, settings.aliases_path) == (str(quality), str(aliases))
    assert settings.profile().name == "timeliness_online"
    assert settings.quality_config()["band_at_risk"]["margin_points"] == 5
    assert settings.quality_config()["early_warning"]["lookback_weeks"] == 8  # the defaults under it
    versions = settings.config_versions()
    assert versions["quality"]["file"] == "quality.yaml" and versions["aliases"]["file"] == "aliases.csv"

    # thresholds decide what scoring stores (warnings): another file scores again;
    # aliases only decide how files are read: no period needs scoring again
    before = settings.config_fingerprint()
    aliases.write_text("field,alias\ndossier_id,Số hồ sơ một cửa\n", encoding="utf-8")
    assert settings.config_fingerprint() == before
    quality.write_text("band_at_risk:\n  margin_points: 1\n", encoding="utf-8")
    assert settings.config_fingerprint() != before

    # the shipped files, when nothing is said
    for name in ("SCOREBOARD_QUALITY", "SCOREBOARD_ALIASES", "SCOREBOARD_PROFILE"):
        monkeypatch.delenv(name)
    shipped = ScoreboardSettings.from_env()
    assert shipped.quality_path == str(config_path("quality.yaml"))
    assert shipped.aliases_path == str(config_path("header_aliases.csv"))
    assert shipped.aliases() == config_path("header_aliases.csv")


def ingest(tmp_path, name: str, **settings) -> None:
    resources = {
        "settings": ScoreboardSettings.from_env(
            landing_dir=str(tmp_path / "landing"), site_dir=str(tmp_path / "site"),
            registry_path=str(EXAMPLE / "units.csv"), **settings,
        ),
        "warehouse": Warehouse(path=str(tmp_path / f"{name}.duckdb")),
    }
    assert dg.materialize(ASSETS, selection=[dossiers], resources=resources).success


def test_an_office_alias_table_reads_its_own_headers(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "px.csv").write_text("\n".join([HEADER.format(id="Mã hồ sơ một cửa"), *ROWS]) + "\n", encoding="utf-8")
    # the shipped aliases do not know the header: the file is set aside
    ingest(tmp_path, "shipped")
    assert (landing / "_rejected" / "px.csv").is_file()
    (landing / "_rejected" / "px.csv").rename(landing / "px.csv")

    aliases = tmp_path / "office_aliases.csv"
    aliases.write_text("field,alias\ndossier_id,Mã hồ sơ một cửa\n", encoding="utf-8")
    ingest(tmp_path, "office", aliases_path=str(aliases))
    with duckdb.connect(str(tmp_path / "office.duckdb"), read_only=True) as con:
        assert con.execute("SELECT dossier_id FROM dossiers ORDER BY 1").fetchall() == [
            ("PX-000",), ("PX-001",), ("PX-002",)
        ]


def test_the_quality_file_of_the_settings_decides_a_broken_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "PhucXa 2024-01.csv").write_text(phuc_xa_export(2023), encoding="utf-8")
    ingest(tmp_path, "shipped")
    assert holds(Warehouse(path=str(tmp_path / "shipped.duckdb")))  # every row quarantined: held
    lenient = tmp_path / "quality.yaml"
    lenient.write_text("batch:\n  max_quarantine_share: 1.0\n  min_rows: 20\n", encoding="utf-8")
    ingest(tmp_path, "lenient", quality_path=str(lenient))
    assert holds(Warehouse(path=str(tmp_path / "lenient.duckdb"))) == []
