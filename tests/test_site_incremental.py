"""An incremental publication equals a clean one, page by page and file by file.

The worked example runs through the whole pipeline (real files, a real DuckDB
file, real materialisations); then one thing changes — a new week of
exports, a late dossier in a month long closed, a unit renamed in the
registry, a group relabelled in the profile — and the pipeline runs again,
publishing a new release seeded from the previous one (only what changed is
made again). The same warehouse published into an empty folder must give the
same files, byte for byte, the build state included; and the files the change
did not touch must still be the previous release's (hard links).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import duckdb
import pytest

from config import config_path
from pipelines.cli import run_pipeline
from pipelines.publication import publish_site
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE

NOW = "2026-11-22T09:00:00"
HEADER = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8").splitlines()[0]


def snapshot(site: Path) -> dict[str, bytes]:
    root = site.resolve()
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def inodes(site: Path) -> dict[str, int]:
    root = site.resolve()
    return {p.relative_to(root).as_posix(): p.stat().st_ino for p in root.rglob("*") if p.is_file()}


def new_week(settings: ScoreboardSettings) -> None:
    """Week 10 of 2024: two dossiers received and finished on time."""
    (settings.landing / "export-2024-W10.csv").write_text(
        HEADER + "\n"
        "WX-101,001,1.001776,2,10,,2024-03-04 08:00:00,2024-03-08 17:00:00,2024-03-06 10:00:00,,,,,true,true,true,,5,\n"
        "WX-102,00004,1.001776,1,10,,2024-03-05 09:00:00,2024-03-12 17:00:00,2024-03-07 15:00:00,,,,,true,true,true,,4,\n",
        encoding="utf-8",
    )


def late_data_in_a_closed_month(settings: ScoreboardSettings) -> None:
    """A dossier of 15/01 that Sóc Sơn exported only now, finished late on 25/01."""
    (settings.landing / "late-2024-01.csv").write_text(
        HEADER + "\n"
        "WX-201,002,1.001776,2,10,,2024-01-15 08:00:00,2024-01-19 17:00:00,2024-01-25 10:00:00,,,,,true,true,true,,3,\n",
        encoding="utf-8",
    )


def registry_name(settings: ScoreboardSettings) -> None:
    path = Path(settings.registry_path)
    path.write_text(path.read_text(encoding="utf-8").replace("Quận Ba Đình", "Quận Ba Đình mới"), encoding="utf-8")


def authority(settings: ScoreboardSettings) -> None:
    """The registry's province names who issues its reports (the provinces file)."""
    Path(settings.provinces_path).write_text(
        f"provinces:\n  thuong:\n    registry: {settings.registry_path}\n"
        "    authority: {vi: UBND TỈNH THỬ NGHIỆM, en: TEST PROVINCIAL PEOPLE'S COMMITTEE}\n",
        encoding="utf-8",
    )


def profile_label(settings: ScoreboardSettings) -> None:
    path = Path(settings.profile_path)
    text = path.read_text(encoding="utf-8")
    assert "label_vi: Tiến độ giải quyết" in text and "label_en: Timeliness" in text
    text = text.replace("label_vi: Tiến độ giải quyết", "label_vi: Tiến độ xử lý hồ sơ")
    path.write_text(text.replace("label_en: Timeliness", "label_en: Processing time"), encoding="utf-8")


# change -> (how, a page that shows it, what it shows, files that must not be made again)
CHANGES = {
    "new week": (new_week, "periods/2024-W10.html", "Tuần 10/2024",
                 {"data/scoreboard-2024-01.csv", "data/scoreboard-2024-01.xlsx", "periods/2024-W01.html",
                  "data/weak_points-2024-W05.js", "assets/vega-bundle.js"}),
    "late data in a closed month": (late_data_in_a_closed_month, "periods/2024-01.html", "Huyện Sóc Sơn",
                                    {"data/scoreboard-2024-W01.csv", "data/scoreboard-2024-W09.parquet",
                                     "periods/2024-W08.html", "assets/site.js"}),
    "registry name": (registry_name, "units/001-2008-08-01.html", "Quận Ba Đình mới",
                      {"assets/site.css", "units/00004-2008-08-01.html"}),
    "authority": (authority, "report-2024-01.html", "UBND TỈNH THỬ NGHIỆM",
                  {"units/001-2008-08-01.html", "periods/2024-01.html", "data/scoreboard-2024-01.csv"}),
    "profile label": (profile_label, "units/001-2008-08-01.html", "Tiến độ xử lý hồ sơ",
                      {"data/scoreboard-2024-01.csv", "data/scoreboard-2024-01.parquet",
                       "data/weak_points-2024-01.csv", "data/bottlenecks-2024-01.js", "assets/site.js"}),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_an_incremental_build_equals_a_clean_build(change, tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", NOW)
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
    shutil.copy(EXAMPLE / "units.csv", tmp_path / "units.csv")
    shutil.copy(config_path("profiles", "default.yaml"), tmp_path / "profile.yaml")

    def settings_for(site: Path) -> ScoreboardSettings:
        return ScoreboardSettings.from_env(
            landing_dir=str(landing), site_dir=str(site), registry_path=str(tmp_path / "units.csv"),
            profile_path=str(tmp_path / "profile.yaml"), provinces_path=str(tmp_path / "provinces.yaml"),
        )

    settings = settings_for(tmp_path / "site")
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    run_pipeline(settings, warehouse)
    before, before_inodes = snapshot(settings.site), inodes(settings.site)

    apply, page, text, untouched = CHANGES[change]
    apply(settings)
    run_pipeline(settings, warehouse)
    incremental = snapshot(settings.site)
    assert text in incremental[page].decode("utf-8")  # the change is on the site

    clean_settings = settings_for(tmp_path / "clean")
    with duckdb.connect(warehouse.path, read_only=True) as con:
        publish_site(con, clean_settings, log=lambda _m: None)
    clean = snapshot(clean_settings.site)
    assert sorted(incremental) == sorted(clean)
    for path in sorted(clean):
        assert incremental[path] == clean[path], f"{change}: {path} differs from a clean build"

    # and only what the change reaches was made again: the rest is the previous release's
    # files (hard links), never rewritten
    after_inodes = inodes(settings.site)
    kept = {p for p in after_inodes if before_inodes.get(p) == after_inodes[p]}
    assert kept <= {p for p in before if incremental.get(p) == before[p]}
    assert untouched <= kept, untouched - kept
    assert len(kept) > 0.4 * len(after_inodes), (change, len(kept), len(after_inodes))


def test_a_run_that_changes_nothing_publishes_nothing_new(tmp_path, monkeypatch, caplog):
    """A second run with nothing new (the same export dropped again, already ingested)
    leaves the published site as it was, byte for byte, the manifest's generated_at
    included (it says when the data last changed), and makes no new release; the next
    change publishes a new one, of its time."""
    import json

    monkeypatch.setenv("SCOREBOARD_NOW", NOW)
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv"),
    )
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    run_pipeline(settings, warehouse)
    releases = tmp_path / ".site-releases"
    published, release, kept = snapshot(settings.site), settings.site.resolve(), sorted(releases.iterdir())

    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T10:00:00")
    shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run_pipeline(settings, warehouse)
    said = "\n".join(r.getMessage() for r in caplog.records)
    # and the run does not say it published them
    assert "published 11" not in said and "shows the same 11 periods (33 data files) as before" in said
    assert settings.site.resolve() == release and sorted(releases.iterdir()) == kept
    assert snapshot(settings.site) == published
    manifest = json.loads(published["data/manifest.json"])
    assert manifest["generated_at"] == NOW

    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T11:00:00")
    new_week(settings)
    run_pipeline(settings, warehouse)
    assert settings.site.resolve() != release
    manifest = json.loads((settings.site / "data" / "manifest.json").read_bytes())
    assert manifest["generated_at"] == "2026-11-22T11:00:00"
