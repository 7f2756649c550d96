"""Batches valid row by row but wrong as a whole, through the whole pipeline: real
generated exports, a real DuckDB file, real Dagster materialisations, the published
site. A drifting batch is held (no published data file changes, the quality page
says why) until a corrected file replaces it or the office releases it; a legitimate
update publishes at once."""

from __future__ import annotations

import html as html_text
import json
import re
import shutil
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from config import config_path
from pipelines.assets import ASSETS, dossiers
from pipelines.cli import main, run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.test_pipeline_e2e import read_published
from demo.generate import generate_exports
from transforms.ingest import ingest_files
from transforms.schema import DOSSIER_SCHEMA
from transforms.units import load_registry

HA_DONG, BA_DINH, QUOC_OAI = "268", "001", "275"  # Quốc Oai's system exports every week
NOW = "2025-07-02T08:00:00"
# exports that have not arrived when the base state is made: the scenarios send them
WITHHELD = {("quanhadong", "2025-06"), ("quanbadinh", "2025-06"), ("huyenquocoai", "2025-W26")}
TIMES = ("submitted_at", "received_at", "finished_at", "returned_at", "rejected_at")


def folded(name: str) -> str:
    """'Quận Hà Đông - 2025-06.csv' → 'quanhadong2025-06csv' (how the tests find a district's export)."""
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    return re.sub(r"[^a-z0-9-]", "", "".join(c for c in text if not unicodedata.combining(c)).lower())


def period_of(name: str) -> str:
    """The period an export covers, from its name: '2025-06' or '2025-W26'."""
    return re.search(r"(\d{4}-(?:W\d{2}|\d{2}))", name).group(1)


def arrival(name: str) -> date:
    """When an export arrives: the Monday after its week, the 1st after its month."""
    period = period_of(name)
    if "W" in period:
        year, week = map(int, period.split("-W"))
        return date.fromisocalendar(year, week, 1) + timedelta(days=7)
    year, month = map(int, period.split("-"))
    return date(year + month // 12, month % 12 + 1, 1)


def sender(name: str) -> str:
    """'QuanHaDong_2025-06.csv', 'Quận Hà Đông - 2025-06.csv' → 'quanhadong'."""
    return re.sub(r"-?\d{4}-.*$", "", folded(name))


def export_of(folder: Path, district: str, period: str) -> Path:
    [path] = [p for p in folder.iterdir() if sender(p.name) == district and period_of(p.name) == period]
    return path


def published_data(site: Path) -> dict[str, bytes]:
    """Every published data file but the manifest (which records each build), the
    earlier versions of revised periods (data/revisions/) included."""
    data = site / "data"
    return {p.relative_to(data).as_posix(): p.read_bytes() for p in sorted(data.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def holds(warehouse: Warehouse) -> list[tuple]:
    with duckdb.connect(warehouse.path, read_only=True) as con:
        return con.execute(
            "SELECT DISTINCT source, check_name FROM quality_holds WHERE source <> '(scoreboard)' ORDER BY ALL"
        ).fetchall()


def stored(warehouse: Warehouse, sql: str) -> pl.DataFrame:
    with duckdb.connect(warehouse.path, read_only=True) as con:
        return con.sql(sql).pl()


def write_export(path: Path, rows: pl.DataFrame) -> None:
    """Dossiers as a canonical export (our own column names, ISO times)."""
    columns = [c for c in DOSSIER_SCHEMA if c not in ("unit_valid_from", "source_file", "source_row")]
    rows.select(columns).write_csv(path, datetime_format="%Y-%m-%d %H:%M:%S")


def read_export(path: Path, registry: Path) -> pl.DataFrame:
    """What the pipeline's reader accepts of an export file."""
    [result] = ingest_files([(path, path.name)], load_registry(registry), now=datetime.fromisoformat(NOW))
    return result.accepted


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Six months of generated exports for Hà Đông, Ba Đình (monthly) and Quốc Oai
    (weekly), with their communes, ingested as they would arrive (every Monday and on
    the 1st), then scored and published. Hà Đông's and Ba Đình's June exports and Quốc
    Oai's last week are kept back for the scenarios."""
    root = tmp_path_factory.mktemp("drift-base")
    units = pl.read_csv(config_path("registry", "hanoi.csv"), infer_schema=False)
    keep = [HA_DONG, BA_DINH, QUOC_OAI]
    registry = root / "registry.csv"
    units.filter(pl.col("unit_code").is_in(keep) | pl.col("parent_code").is_in(keep)).write_csv(registry)
    exports = root / "exports"
    generate_exports(exports, date(2025, 1, 1), date(2025, 6, 30), seed=2025, scale=0.2, registry_path=registry)
    arriving = [p for p in exports.iterdir() if (sender(p.name), period_of(p.name)) not in WITHHELD
                and arrival(p.name) <= datetime.fromisoformat(NOW).date()]
    assert any("W" in period_of(p.name) for p in arriving)
    state = root / "state"
    landing = state / "landing"
    landing.mkdir(parents=True)
    settings = ScoreboardSettings.from_env(landing_dir=str(landing), site_dir=str(state / "site"),
                                           registry_path=str(registry))
    warehouse = Warehouse(path=str(state / "warehouse.duckdb"))
    with pytest.MonkeyPatch.context() as mp, dg.instance_for_test() as instance:
        for day in sorted({arrival(p.name) for p in arriving}):
            for path in arriving:
                if arrival(path.name) == day:
                    shutil.copy(path, landing / path.name)
            mp.setenv("SCOREBOARD_NOW", f"{day}T08:00:00")
            result = dg.materialize(ASSETS, selection=[dossiers], instance=instance,
                                    resources={"settings": settings, "warehouse": warehouse})
            assert result.success, day
            assert holds(warehouse) == [], f"a normal export arriving on {day} was held: {holds(warehouse)}"
        mp.setenv("SCOREBOARD_NOW", NOW)
        run_pipeline(settings, warehouse)
    assert holds(warehouse) == []
    return {"root": root, "state": state, "exports": exports, "registry": registry}


@pytest.fixture
def deployment(base, tmp_path, monkeypatch):
    """A copy of the base state to change: (settings, warehouse, the exports kept back)."""
    monkeypatch.setenv("SCOREBOARD_NOW", NOW)
    state = tmp_path / "state"
    shutil.copytree(base["state"], state, symlinks=True)
    settings = ScoreboardSettings.from_env(landing_dir=str(state / "landing"), site_dir=str(state / "site"),
                                           registry_path=str(base["registry"]))
    return settings, Warehouse(path=str(state / "warehouse.duckdb")), base


def ha_dong_dossiers(warehouse: Warehouse, where: str = "true") -> pl.DataFrame:
    """The stored dossiers that Hà Đông's exports brought (the district and its communes)."""
    return stored(warehouse, f"SELECT * FROM dossiers WHERE source_file ILIKE 'QuanHaDong%' AND {where} "
                             "ORDER BY dossier_id")


def year_later(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(due_at=pl.col("due_at").dt.offset_by("1y"))


def test_generated_exports_arriving_week_by_week_are_never_held(base):
    # the fixture asserts it after every arrival; here what was published
    site = base["state"] / "site"
    assert read_published(site, "2025-05").filter(pl.col("unit_code") == HA_DONG)["received"][0] > 300
    assert "Tệp đang bị giữ lại" not in (site / "quality.html").read_text(encoding="utf-8")


def test_a_year_shifted_due_date_batch_is_held_explained_and_its_correction_publishes(deployment):
    settings, warehouse, _ = deployment
    before = published_data(settings.site)
    every = ha_dong_dossiers(warehouse)
    name = "QuanHaDong_2025-06_xuat-lai.csv"
    # every dossier Hà Đông sent, again, with the due date a year later: each row is valid
    write_export(settings.landing / name, year_later(every))

    resources = {"settings": settings, "warehouse": warehouse}
    with dg.instance_for_test() as instance:
        result = dg.materialize(ASSETS, selection=[dossiers], resources=resources, instance=instance,
                                raise_on_error=False)
        # the blocking check fails the run that holds the batch, with the figures
        assert not result.success
        [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "batch_promised_duration"]
        assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.ERROR)
        meta = {k: v.value for k, v in check.metadata.items()}
        assert meta["held_files"] == [name] and HA_DONG in meta["held_units"]
        [line] = [x for x in meta["findings"].splitlines() if f"| {HA_DONG} |" in x]
        assert "Quận Hà Đông" in line and re.search(r"usually \d+ days, this batch \d{3} days", line)
        # the next run still reports the hold, as a warning
        again = dg.materialize(ASSETS, selection=[dossiers], resources=resources, instance=instance)
        [check] = [e for e in again.get_asset_check_evaluations() if e.check_name == "batch_promised_duration"]
        assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    run_pipeline(settings, warehouse)

    assert {c for s, c in holds(warehouse) if s == name} == {"batch_promised_duration", "batch_history_rewrite"}
    assert published_data(settings.site) == before  # no published number moved
    # its rows are stored, aside; the stored dossiers are the ones before
    assert stored(warehouse, f"SELECT count(*) AS n FROM held_versions WHERE source_file = '{name}'")["n"][0] == (
        every.height)
    assert ha_dong_dossiers(warehouse).equals(every)
    html = (settings.site / "quality.html").read_text(encoding="utf-8")
    held = html[html.index('id="held-batches"'):]
    held = held[:held.index("</section>")]
    [row] = [r for r in re.findall(r"<tr.*?</tr>", held, re.S)
             if '<span class="code">268</span>' in r and "Thời hạn hẹn trả so với thường lệ" in r]
    assert name in row and "Quận Hà Đông" in row
    assert re.search(r"thường lệ \d+ ngày, lô này \d{3} ngày", row)
    assert "scoreboard release" in held

    # Hà Đông sends the file again, right: it is no longer held and nothing is left aside
    write_export(settings.landing / name, every)
    run_pipeline(settings, warehouse)
    assert holds(warehouse) == []
    assert stored(warehouse, "SELECT count(*) AS n FROM held_versions")["n"][0] == 0
    accounted = stored(warehouse, f"SELECT status, rows_read FROM file_accounting WHERE source_file = '{name}'")
    assert accounted.rows() == [("loaded", every.height)]
    assert published_data(settings.site) == before  # it says what was known already
    assert "Tệp đang bị giữ lại" not in (settings.site / "quality.html").read_text(encoding="utf-8")


def test_a_run_killed_as_it_holds_a_batch_leaves_it_held_and_shown(deployment):
    """The process dies (as SIGKILL would) once the held file's rows are put aside and
    before its holds are written: none of it is kept, and the next run holds the file
    and the quality page says so, as a run that was never killed."""
    import os
    import subprocess
    import sys

    settings, warehouse, _ = deployment
    name = "QuanHaDong_2025-06_xuat-lai.csv"
    write_export(settings.landing / name, year_later(ha_dong_dossiers(warehouse)))
    die = ("import os, sys; from pipelines import warehouse as wh; real = wh.replace_drift_holds\n"
           "def dying(con, sources, holds):\n"
           "    if holds.height: os._exit(137)\n"
           "    real(con, sources, holds)\n"
           "wh.replace_drift_holds = dying\n"
           "from pipelines.cli import main; sys.exit(main(sys.argv[1:]))")
    args = ["run", "--landing", str(settings.landing), "--site", str(settings.site), "--warehouse",
            warehouse.path, "--registry", settings.registry_path]
    done = subprocess.run([sys.executable, "-c", die, *args], env={**os.environ, "SCOREBOARD_DAGSTER_HOME": ""},
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 137, done.stderr[-2000:]
    assert stored(warehouse, "SELECT count(*) AS n FROM held_files")["n"][0] == 0  # nothing of it was kept
    run_pipeline(settings, warehouse)
    assert {c for s, c in holds(warehouse) if s == name} == {"batch_promised_duration", "batch_history_rewrite"}
    assert name in (settings.site / "quality.html").read_text(encoding="utf-8")


def test_the_office_releases_a_held_batch_and_the_manifest_records_why(deployment):
    settings, warehouse, _ = deployment
    march = read_published(settings.site, "2025-03").filter(pl.col("unit_code") == HA_DONG).row(0, named=True)
    assert march["overdue"] > 0
    name = "QuanHaDong_2025-06_xuat-lai.csv"
    write_export(settings.landing / name, year_later(ha_dong_dossiers(warehouse)))
    run_pipeline(settings, warehouse)
    assert holds(warehouse)

    locations = ["--landing", str(settings.landing), "--warehouse", warehouse.path, "--site", str(settings.site),
                 "--registry", settings.registry_path]
    assert main(["release", "nothing.csv", "--reason", "x", *locations]) == 1  # not held: one sentence
    assert main(["release", name, "--reason", "Hà Đông hẹn trả theo năm tài chính", *locations]) == 0
    assert holds(warehouse) == []
    # released: a year more for every dossier, nothing of Hà Đông is late any more
    after = read_published(settings.site, "2025-03").filter(pl.col("unit_code") == HA_DONG).row(0, named=True)
    assert after["overdue"] == 0 and after["received"] == march["received"]
    manifest = json.loads((settings.site / "data" / "manifest.json").read_text(encoding="utf-8"))
    [release] = manifest["releases"]
    assert (release["file"], release["reason"]) == (name, "Hà Đông hẹn trả theo năm tài chính")
    assert release["checks"] == "batch_history_rewrite, batch_promised_duration" and manifest["held"] == []


def test_a_seven_hour_shift_is_held_and_the_corrected_export_publishes(deployment):
    settings, warehouse, base = deployment
    before = published_data(settings.site)
    june = read_export(export_of(base["exports"], "quanhadong", "2025-06"), base["registry"])
    timed = pl.col("due_at") != pl.col("due_at").dt.truncate("1d")
    # local times written with a Z and read back as UTC in reverse: every time 7 hours early
    shifted = june.with_columns(
        *[pl.col(c) - timedelta(hours=7) for c in TIMES],
        due_at=pl.when(timed).then(pl.col("due_at") - timedelta(hours=7)).otherwise("due_at"),
    )
    name = "QuanHaDong_2025-06.csv"
    write_export(settings.landing / name, shifted)
    run_pipeline(settings, warehouse)
    assert ("QuanHaDong_2025-06.csv", "batch_clock_shift") in holds(warehouse)
    assert published_data(settings.site) == before
    html = (settings.site / "quality.html").read_text(encoding="utf-8")
    assert "Giờ của các mốc thời gian so với thường lệ" in html and "có vẻ bị lệch −7 giờ" in html

    write_export(settings.landing / name, june)
    run_pipeline(settings, warehouse)
    assert holds(warehouse) == []
    # a district counts its communes' dossiers: all that its June export received in June
    month = read_published(settings.site, "2025-06").filter(pl.col("unit_code") == HA_DONG)["received"][0]
    assert month == june.filter(pl.col("received_at") >= datetime(2025, 6, 1)).height


def test_a_repeated_month_is_held_and_the_right_export_publishes(deployment):
    settings, warehouse, base = deployment
    before = published_data(settings.site)
    may = ha_dong_dossiers(warehouse, "received_at >= '2025-05-01' AND received_at < '2025-06-01'")
    # June's export repeats May under new dossier numbers
    name = "QuanHaDong_2025-06.csv"
    write_export(settings.landing / name, may.with_columns(dossier_id=pl.col("dossier_id") + "-R"))
    run_pipeline(settings, warehouse)
    assert {c for s, c in holds(warehouse) if s == name} == {"batch_volume"}
    assert published_data(settings.site) == before
    own = stored(warehouse, "SELECT count(*) AS n FROM dossiers WHERE unit_code = '268' "
                            "AND received_at >= '2025-05-01' AND received_at < '2025-06-01'")["n"][0]
    html = (settings.site / "quality.html").read_text(encoding="utf-8")
    doubled = f"{2 * own:,}".replace(",", " ")  # 1 436: Vietnamese thousands
    assert f"Số hồ sơ tiếp nhận tháng 05/2025 của đơn vị sẽ là {doubled}, gấp " in html
    may_268 = read_published(settings.site, "2025-05").filter(pl.col("unit_code") == HA_DONG)["received"][0]

    shutil.copy(export_of(base["exports"], "quanhadong", "2025-06"), settings.landing / name)
    run_pipeline(settings, warehouse)
    assert holds(warehouse) == []
    assert read_published(settings.site, "2025-06").filter(pl.col("unit_code") == HA_DONG)["received"][0] > 0
    assert read_published(settings.site, "2025-05").filter(pl.col("unit_code") == HA_DONG)["received"][0] == may_268

    # the same path sent wrong again: held, and what its right content gave still counts
    good = published_data(settings.site)
    write_export(settings.landing / name, may.with_columns(dossier_id=pl.col("dossier_id") + "-R"))
    run_pipeline(settings, warehouse)
    assert {c for s, c in holds(warehouse) if s == name} == {"batch_volume"}
    assert published_data(settings.site) == good


def test_due_dates_a_day_earlier_and_normal_weekly_and_monthly_updates_publish_at_once(deployment):
    settings, warehouse, base = deployment
    before = published_data(settings.site)
    may = ha_dong_dossiers(warehouse, "received_at >= '2025-05-01' AND received_at < '2025-06-01'")
    # every third dossier promised a day earlier (where that is still after its receipt)
    movable = (pl.int_range(pl.len()) % 3 == 0) & (pl.col("due_at").dt.date() > pl.col("received_at").dt.date())
    earlier = may.with_columns(due_at=pl.when(movable).then(pl.col("due_at") - timedelta(days=1)).otherwise("due_at"))
    assert earlier.filter(pl.col("due_at") != may["due_at"]).height > 50
    write_export(settings.landing / "QuanHaDong_2025-05_cap-nhat.csv", earlier)
    # and Quốc Oai's weekly export of the last week of June, and Ba Đình's June export, as usual
    shutil.copy(export_of(base["exports"], "huyenquocoai", "2025-W26"), settings.landing)
    shutil.copy(export_of(base["exports"], "quanbadinh", "2025-06"), settings.landing)
    run_pipeline(settings, warehouse)
    assert holds(warehouse) == []
    after = published_data(settings.site)
    assert after["scoreboard-2025-05.csv"] != before["scoreboard-2025-05.csv"]
    published_may = read_published(settings.site, "2025-05").filter(pl.col("unit_code") == HA_DONG)
    assert published_may["received"][0] == may.height  # the same dossiers, a day earlier due for some
    assert read_published(settings.site, "2025-06").filter(pl.col("unit_code") == BA_DINH)["received"][0] > 0
    assert after["scoreboard-2025-W26.csv"] != before["scoreboard-2025-W26.csv"]
    week = read_published(settings.site, "2025-W26").filter(pl.col("unit_code") == QUOC_OAI)["received"][0]
    weekly = read_export(export_of(base["exports"], "huyenquocoai", "2025-W26"), base["registry"])
    assert week == weekly.filter(pl.col("received_at") >= datetime(2025, 6, 23)).height > 0


TAY_HO = "003"


def test_a_first_load_holds_the_year_shifted_export_against_the_other_units_and_publishes_the_rest(tmp_path,
                                                                                                   monkeypatch):
    """An empty warehouse, no catalogue of the province's procedures (the shipped one
    knows other codes): nothing of a unit's own and no legal days to judge by. Hà
    Đông's March export, its due dates a year late (receipts and finishes right), is
    held against the other units' usual; its January and February, and the other
    districts' exports of the same load, publish. Tây Hồ's first exports, sent later,
    are judged against the stored units: its year-shifted month is held, the other not."""
    units = pl.read_csv(config_path("registry", "hanoi.csv"), infer_schema=False)
    keep = [HA_DONG, BA_DINH, QUOC_OAI, TAY_HO]
    registry = tmp_path / "registry.csv"
    units.filter(pl.col("unit_code").is_in(keep) | pl.col("parent_code").is_in(keep)).write_csv(registry)
    # the province's own procedure codes: none in the shipped catalogue
    procedures = tmp_path / "procedures.csv"
    shipped = pl.read_csv(config_path("procedures.csv"), infer_schema=False)
    shipped.with_columns(procedure_code="HN-" + pl.col("procedure_code")).write_csv(procedures)
    exports = tmp_path / "exports"
    generate_exports(exports, date(2025, 1, 1), date(2025, 3, 31), seed=2025, scale=0.2, registry_path=registry,
                     procedures_path=procedures)
    landing = tmp_path / "landing"
    landing.mkdir()
    for path in exports.iterdir():
        if sender(path.name) != "quantayho":
            shutil.copy(path, landing / path.name)
    shifted = export_of(landing, "quanhadong", "2025-03")
    march = read_export(shifted, registry)
    write_export(shifted, year_later(march))
    monkeypatch.setenv("SCOREBOARD_NOW", "2025-04-02T08:00:00")
    settings = ScoreboardSettings.from_env(landing_dir=str(landing), site_dir=str(tmp_path / "site"),
                                           registry_path=str(registry))
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    run_pipeline(settings, warehouse)

    assert holds(warehouse) == [(shifted.name, "batch_promised_duration")]
    held = stored(warehouse, f"SELECT count(*) AS n FROM held_versions WHERE source_file = '{shifted.name}'")
    assert held["n"][0] == march.height
    # every other export of the load is stored, Hà Đông's January and February included
    loaded = stored(warehouse, "SELECT source_file FROM file_accounting WHERE status = 'loaded'")["source_file"]
    assert sorted(loaded) == sorted(p.name for p in exports.iterdir()
                                    if sender(p.name) != "quantayho" and p.name != shifted.name)
    assert export_of(exports, "quanhadong", "2025-01").name in set(loaded)
    html = (settings.site / "quality.html").read_text(encoding="utf-8")
    section = html[html.index('id="held-batches"'):]
    [row] = [r for r in re.findall(r"<tr.*?</tr>", section[:section.index("</section>")], re.S)
             if '<span class="code">268</span>' in r]
    assert shifted.name in row and "Quận Hà Đông" in row
    assert re.search(r"vượt xa mức thường lệ của các đơn vị khác cho cùng thủ tục ở \d+ % số hồ sơ .*: "
                     r"các đơn vị khác thường \d+ ngày, lô này \d{3} ngày", row)
    assert re.search(r"far beyond other units' usual for the same procedures .*: "
                     r"other units usually \d+ days, this batch \d{3} days", html_text.unescape(row))

    # Tây Hồ's first exports: February a year late, January right; judged by the stored units
    for path in exports.iterdir():
        if sender(path.name) == "quantayho" and period_of(path.name) in ("2025-01", "2025-02"):
            shutil.copy(path, landing / path.name)
    late = export_of(landing, "quantayho", "2025-02")
    write_export(late, year_later(read_export(late, registry)))
    run_pipeline(settings, warehouse)
    assert holds(warehouse) == sorted([(shifted.name, "batch_promised_duration"), (late.name, "batch_promised_duration")])
    tay_ho = stored(warehouse, "SELECT DISTINCT source_file FROM dossiers WHERE source_file ILIKE 'QuanTayHo%'")
    assert tay_ho["source_file"].to_list() == [export_of(exports, "quantayho", "2025-01").name]
