"""Configuration in one place: the profile, the quality thresholds, the header
aliases, the alerts, the reconciliation and the portal's fields are settings of the
one resource, each with its environment variable; an office's settings file names
only what it changes, the shipped file in config/ gives the rest."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime

import dagster as dg
import duckdb
import pytest
import yaml

from config import config_path
from pipelines.assets import ASSETS, dossiers
from pipelines.cli import main
from pipelines.resources import ScoreboardSettings, Warehouse
from quality.settings import RULES, load_quality_config
from tests.helpers import EXAMPLE
from transforms.alerts import AlertConfigError, load_alert_config
from transforms.config_files import check_complete
from transforms.reconcile import ReconcileError, load_reconcile_settings
from tests.test_quality_pipeline import holds, phuc_xa_export

HEADER = "{id},Mã đơn vị,Mã TTHC,Kênh nộp,Trạng thái,Ngày tiếp nhận,Ngày hẹn trả,Ngày kết thúc xử lý"
ROWS = [f"PX-{i:03d},00001,1.001776,Trực tuyến,10,22/01/2024 08:00,25/01/2024,23/01/2024 09:00" for i in range(3)]


def office_file(monkeypatch, variable: str, path, text: str):
    """An office's own file, named by its environment variable."""
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv(variable, str(path))
    return path


def test_every_configuration_file_is_a_setting_with_an_environment_variable(tmp_path, monkeypatch):
    quality = office_file(monkeypatch, "SCOREBOARD_QUALITY", tmp_path / "quality.yaml", "band_at_risk:\n  margin_points: 5\n")
    aliases = office_file(monkeypatch, "SCOREBOARD_ALIASES", tmp_path / "aliases.csv",
                          "field,alias\ndossier_id,Mã hồ sơ một cửa\n")
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


# --------------------------------------------------------------------------- office files over the shipped ones

LOADERS = {
    "quality.yaml": load_quality_config,
    "alerts.yaml": load_alert_config,
    "reconcile.yaml": lambda path: dataclasses.asdict(load_reconcile_settings(path)),
}


def shipped(name: str) -> dict:
    """The shipped file as written: where every setting's default is."""
    return yaml.safe_load(config_path(name).read_text(encoding="utf-8"))


def leaves(tree: dict, prefix: tuple = ()) -> list[tuple[tuple, object]]:
    out = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.extend(leaves(value, (*prefix, key)))
        else:
            out.append(((*prefix, key), value))
    return out


def without(tree: dict, path: tuple) -> dict:
    out = copy.deepcopy(tree)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def at(tree: dict, path: tuple):
    for key in path:
        tree = tree[key]
    return tree


@pytest.mark.parametrize("name", list(LOADERS))
def test_a_setting_an_office_file_leaves_out_is_the_shipped_files(tmp_path, name):
    """An office's file that is the shipped one less any one setting gets that setting
    from the shipped file, as written there: there is no second default in code."""
    full = shipped(name)
    settings = leaves(full)
    assert len(settings) >= 4
    office = tmp_path / f"office-{name}"
    for path, value in settings:
        office.write_text(yaml.safe_dump(without(full, path), allow_unicode=True), encoding="utf-8")
        got = at(LOADERS[name](office), path)
        assert got == value and type(got) is type(value), (name, path)
    # and a file naming one setting gets every other one from the shipped file
    office.write_text("", encoding="utf-8")
    assert {p: at(LOADERS[name](office), p) for p, _ in settings} == dict(settings)


def test_every_quality_threshold_is_the_shipped_files_unless_the_office_changes_it(tmp_path):
    office = tmp_path / "quality.yaml"
    office.write_text("drift:\n  volume:\n    spike_z: 6\nearly_warning:\n  lookback_weeks: 10\n", encoding="utf-8")
    expected = shipped("quality.yaml")
    expected["drift"]["volume"]["spike_z"] = 6
    expected["early_warning"]["lookback_weeks"] = 10
    assert ScoreboardSettings(quality_path=str(office)).quality_config() == expected
    assert load_quality_config() == shipped("quality.yaml") == ScoreboardSettings().quality_config()


@pytest.mark.parametrize("name, text, message", [
    ("quality.yaml", "drift:\n  volume:\n    max_ratio: 0.5\n",
     "{path}: drift.volume.max_ratio must be a number of at least 1, not 0.5"),
    ("quality.yaml", "batch:\n  min_row: 5\n", "{path}: batch.min_row is not a setting any quality rule reads"),
    ("alerts.yaml", "max_attempts: many\n",
     "{name}: max_attempts must be a whole number of at least 0, not 'many'"),
    ("alerts.yaml", "smtp:\n  port: 70000\n", "{name}: smtp.port must be a whole number from 1 to 65535, not 70000"),
    ("alerts.yaml", "rules:\n  rank_fall: {week: ten}\n",
     "{name}: rules.rank_fall.week must be a whole number of at least 1 (or null), not 'ten'"),
    ("reconcile.yaml", "synced_below: 1.5\n", "{name}: synced_below must be a number from 0 to 1, not 1.5"),
    ("reconcile.yaml", "largest_gaps: many\n", "{name}: largest_gaps must be a whole number of at least 0, not 'many'"),
    ("reconcile.yaml", "largest_gap: 3\n", "{name}: largest_gap is not a setting reconciliation reads"),
])
def test_a_bad_value_in_an_office_file_is_one_sentence_naming_the_file_and_the_setting(tmp_path, name, text, message):
    path = tmp_path / f"hanoi-{name}"
    path.write_text(text, encoding="utf-8")
    settings = ScoreboardSettings(quality_path=str(path), alerts_path=str(path), reconcile_path=str(path))
    read = {"quality.yaml": settings.quality_config, "alerts.yaml": settings.alert_config,
            "reconcile.yaml": settings.reconcile_settings}[name]
    with pytest.raises((ValueError, AlertConfigError, ReconcileError)) as err:
        read()
    assert str(err.value) == message.format(path=path, name=path.name)


def test_a_shipped_file_that_lacks_a_setting_is_refused_naming_it():
    lacking = without(shipped("quality.yaml"), ("drift", "volume", "spike_z"))
    with pytest.raises(ValueError) as err:
        check_complete("quality.yaml", lacking, RULES)
    assert str(err.value) == "quality.yaml: drift.volume.spike_z is missing (the shipped file gives every setting its default)"
    check_complete("quality.yaml", shipped("quality.yaml"), RULES)  # the file as shipped has them all


def test_the_alerts_reconciliation_and_portal_fields_are_settings_with_their_variables(tmp_path, monkeypatch):
    alerts = office_file(monkeypatch, "SCOREBOARD_ALERTS", tmp_path / "hanoi-alerts.yaml",
                         "max_attempts: 3\nrecipients:\n  city: [{email: vanphong@example.gov.vn}]\n")
    reconcile = office_file(monkeypatch, "SCOREBOARD_RECONCILE", tmp_path / "hanoi-reconcile.yaml", "largest_gaps: 4\n")
    fields = office_file(monkeypatch, "SCOREBOARD_PORTAL_FIELDS", tmp_path / "hanoi-fields.csv",
                         "field,meaning,note\nTEN,unit_name,\nTONG_SCORE,total,\n")
    monkeypatch.setenv("SCOREBOARD_SMTP_HOST", "relay.example.gov.vn")
    monkeypatch.setenv("SCOREBOARD_SMTP_PORT", "2525")
    monkeypatch.setenv("SCOREBOARD_SMTP_USER", "bxh")
    settings = ScoreboardSettings.from_env()
    assert (settings.alerts_path, settings.reconcile_path, settings.portal_fields_path) == (
        str(alerts), str(reconcile), str(fields))
    cfg = settings.alert_config()
    assert cfg["max_attempts"] == 3
    assert cfg["recipients"] == {"city": [{"channel": "email", "address": "vanphong@example.gov.vn", "lang": "vi"}],
                                 "units": {}}
    relay = shipped("alerts.yaml")["smtp"]
    assert cfg["smtp"] == {**relay, "host": "relay.example.gov.vn", "port": 2525, "username": "bxh"}
    assert cfg["rules"] == shipped("alerts.yaml")["rules"]
    assert dataclasses.asdict(settings.reconcile_settings()) == {**shipped("reconcile.yaml"), "largest_gaps": 4}
    assert settings.portal_fields().meanings == {"ten": "unit_name", "tong_score": "total"}
    monkeypatch.setenv("SCOREBOARD_SMTP_PORT", "submission")
    with pytest.raises(AlertConfigError, match=r"^the SMTP port 'submission' is not a whole number$"):
        ScoreboardSettings.from_env().alert_config()

    # the shipped files, when nothing is said
    for name in ("SCOREBOARD_ALERTS", "SCOREBOARD_RECONCILE", "SCOREBOARD_PORTAL_FIELDS", "SCOREBOARD_SMTP_HOST",
                 "SCOREBOARD_SMTP_PORT", "SCOREBOARD_SMTP_USER"):
        monkeypatch.delenv(name)
    plain = ScoreboardSettings.from_env()
    assert (plain.alerts_path, plain.reconcile_path, plain.portal_fields_path) == (
        str(config_path("alerts.yaml")), str(config_path("reconcile.yaml")), str(config_path("portal_fields.csv")))
    assert plain.alert_config()["smtp"] == relay and plain.alert_config()["recipients"] == {"city": [], "units": {}}
    assert dataclasses.asdict(plain.reconcile_settings()) == shipped("reconcile.yaml")
    assert plain.portal_fields().meanings["tong_score"] == "total"


@pytest.mark.parametrize("variable, name, text, message", [
    ("SCOREBOARD_RECONCILE", "hanoi-reconcile.yaml", "synced_below: 2\n",
     "hanoi-reconcile.yaml: synced_below must be a number from 0 to 1, not 2"),
    ("SCOREBOARD_PORTAL_FIELDS", "hanoi-fields.csv", "field,meaning,note\nTEN,unit_name,\nTONG_SCORE,totals,\n",
     "hanoi-fields.csv, line 3: 'totals' is not a meaning"),
])
def test_the_reconcile_command_reads_the_files_its_variables_name_before_the_warehouse(
    tmp_path, monkeypatch, capsys, variable, name, text, message
):
    office_file(monkeypatch, variable, tmp_path / name, text)
    portal = tmp_path / "diem-766-2025-10.json"
    portal.write_text(json.dumps([{"TEN": "UBND Phường Hồng Hà", "TONG_SCORE": "80.00"}]), encoding="utf-8")
    code = main(["reconcile", str(portal), "--landing", str(tmp_path / "landing"), "--warehouse",
                 str(tmp_path / "w.duckdb"), "--site", str(tmp_path / "site")])
    assert code == 1 and capsys.readouterr().err.startswith(f"scoreboard: {message}")
    assert not (tmp_path / "w.duckdb").exists()  # refused before the warehouse was opened


@pytest.mark.parametrize("pinned, local", [
    ("2024-02-29T23:30:00", datetime(2024, 2, 29, 23, 30)),  # local time as given
    ("2024-02-29T17:30:00+00:00", datetime(2024, 3, 1, 0, 30)),  # UTC: already March here
    ("2024-02-29T17:30:00Z", datetime(2024, 3, 1, 0, 30)),
    ("2024-03-01T00:30:00+07:00", datetime(2024, 3, 1, 0, 30)),
])
def test_a_pinned_now_with_an_offset_is_read_in_local_time(monkeypatch, pinned, local):
    from pipelines.resources import local_now

    monkeypatch.setenv("SCOREBOARD_NOW", pinned)
    assert local_now() == local


def test_a_pinned_now_that_is_not_a_time_is_one_sentence(monkeypatch):
    from pipelines.resources import local_now

    monkeypatch.setenv("SCOREBOARD_NOW", "hôm qua")
    with pytest.raises(ValueError, match=r"^SCOREBOARD_NOW='hôm qua' is not a date and time"):
        local_now()
