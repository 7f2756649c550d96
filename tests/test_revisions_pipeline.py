"""A late file in a closed month, through the whole pipeline (real files, a real
DuckDB file, real materialisations): the new numbers are published as a revision,
with their cause, and both versions stay downloadable. A re-run or a backfill on
the same data revises nothing; a provisional period changes without a revision."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli import main, run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE, run_killed_after_ingestion
from tests.test_pipeline_e2e import read_published

HEADER = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8").splitlines()[0]
FIRST, LATER = "2026-11-22T09:00:00", "2026-11-23T09:00:00"
# Phường Phúc Xá (00001) sends two January dossiers late: received 15 and 16/01, due
# 19/01, finished 26/01: overdue, at the counter, digitised, e-result, synced, rated 5
LATE = (
    HEADER + "\n"
    "WX-039,00001,1.001776,1,10,,2024-01-15 08:00:00,2024-01-19 00:00:00,2024-01-26 09:00:00,,,,,true,true,true,,5,\n"
    "WX-040,00001,1.001776,1,10,,2024-01-16 08:00:00,2024-01-19 00:00:00,2024-01-26 10:00:00,,,,,true,true,true,,5,\n"
)
# January after the late file, worked out by hand (scoreboard.md):
# Phúc Xá: 7 received, 5 early, 2 overdue; on time 5/7; online 0/7 (12 points lost);
# digitised, e-result and synced all; no complaint: satisfaction 5/7
PHUC_XA = (18 + 20 * 5 / 7 + 0 + 22 + 18 * (5 / 7) / 0.9) / 90 * 100
# Ba Đình counts its commune's dossiers: 18 received, early 6 + on time 2 of 13 in the
# timeliness base; online 5/17; paid online 1/2; digitised 10/11; e-result 10/11;
# synced 17/18; complaints 2 of 12 known: satisfaction 8/13 - 1/6 = 35/78
BA_DINH = 18 * 17 / 18 + 20 * 8 / 13 + 12 * min(1, (5 / 17) / 0.5) + 10 * 1 / 2 + 12 * 10 / 11 + 10 * 10 / 11 + (
    18 * min(1, (35 / 78) / 0.9))


def settings_for(root: Path) -> tuple[ScoreboardSettings, Warehouse]:
    return (
        ScoreboardSettings.from_env(landing_dir=str(root / "landing"), site_dir=str(root / "site"),
                                    registry_path=str(EXAMPLE / "units.csv")),
        Warehouse(path=str(root / "warehouse.duckdb")),
    )


def files(site: Path, *, manifest: bool = False) -> dict[str, bytes]:
    root = site.resolve()
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and (manifest or p.name not in ("manifest.json", ".par-build.json"))}


def revisions_csv(site: Path) -> pl.DataFrame:
    return pl.read_csv(site / "data" / "revisions.csv", infer_schema=False, encoding="utf8-lossy").rename(
        lambda c: c.lstrip("\ufeff"))


def cli(root: Path, now: str, monkeypatch, *args: str) -> int:
    """`scoreboard <args>` at `now` on root/landing, root/warehouse.duckdb, root/site."""
    monkeypatch.setenv("SCOREBOARD_NOW", now)
    return main([*args, "--landing", str(root / "landing"), "--warehouse", str(root / "warehouse.duckdb"),
                 "--site", str(root / "site"), "--registry", str(EXAMPLE / "units.csv")])


def query(root: Path, sql: str) -> list[tuple]:
    """What the warehouse root/warehouse.duckdb answers, opened read-only."""
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def manifest(site: Path) -> dict:
    return json.loads((site / "data" / "manifest.json").read_text(encoding="utf-8"))


def late_file(root: Path, *again: str) -> dict[str, bytes]:
    """`scoreboard run` on the worked example on 22/11/2026 (every period final), then on
    23/11 the late January file arrives and `scoreboard run <again>` runs; the files
    the first run published (the manifest included)."""
    (root / "landing").mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", root / "landing")
    with pytest.MonkeyPatch.context() as mp:
        assert cli(root, FIRST, mp, "run") == 0
        first = files(root / "site", manifest=True)
        (root / "landing" / "late-2024-01.csv").write_text(LATE, encoding="utf-8")
        assert cli(root, LATER, mp, "run", *again) == 0
    return first


@pytest.fixture(scope="module")
def revised(tmp_path_factory):
    root = tmp_path_factory.mktemp("revised")
    return root, late_file(root)


def test_a_late_file_in_a_closed_month_is_published_as_a_revision_with_its_cause(revised):
    root, _ = revised
    site = root / "site"
    january = revisions_csv(site).filter(pl.col("period_key") == "2024-01")
    rows = {r["unit_code"]: r for r in january.iter_rows(named=True)}
    assert sorted(rows) == ["00001", "00004", "001"]  # Sóc Sơn and its commune did not move
    phuc_xa, bac_son, ba_dinh = rows["00001"], rows["00004"], rows["001"]
    # before: the worked example's published January (expected_scoreboard.csv)
    assert float(phuc_xa["score_before"]) == 86.66666666666667
    assert float(phuc_xa["score_after"]) == pytest.approx(PHUC_XA, rel=1e-12)  # 76.19
    assert (phuc_xa["rank_before"], phuc_xa["rank_after"], phuc_xa["band_before"], phuc_xa["band_after"]) == (
        "1", "2", "Tốt", "Khá")
    # Bắc Sơn's numbers did not change, its rank did: 76.77 is now first
    assert phuc_xa["score_after"] < bac_son["score_before"] == bac_son["score_after"] == "76.76767676767676"
    assert (bac_son["rank_before"], bac_son["rank_after"]) == ("2", "1")
    assert float(ba_dinh["score_before"]) == 74.52146464646465
    assert float(ba_dinh["score_after"]) == pytest.approx(BA_DINH, rel=1e-12)  # 70.34
    assert (ba_dinh["rank_before"], ba_dinh["rank_after"]) == ("2", "2")
    for r in rows.values():
        assert (r["revision"], r["revised_on"], r["cause_files"], r["cause_dossiers"]) == (
            "2", "2026-11-23", "late-2024-01.csv", "2")
        assert r["previous_version"] == "revisions/2024-01-r1/scoreboard-2024-01.csv"
    # the weeks the two dossiers fall in are revised too; the others are not
    assert sorted(set(revisions_csv(site)["period_key"])) == ["2024-01", "2024-W03", "2024-W04"]
    # the published January is the new one
    now = read_published(site, "2024-01").filter(pl.col("unit_code") == "00001").row(0, named=True)
    assert (now["received"], now["overdue"], now["rank"]) == (7, 2, 2)


def test_both_versions_stay_downloadable_and_the_pages_say_what_changed(revised):
    root, first = revised
    site = root / "site"
    now = files(site)
    for suffix in ("csv", "xlsx", "parquet"):
        name = f"scoreboard-2024-01.{suffix}"
        assert now[f"data/revisions/2024-01-r1/{name}"] == first[f"data/{name}"]  # as published on 22/11
        assert now[f"data/{name}"] != first[f"data/{name}"]
    assert now["data/scoreboard-2024-02.csv"] == first["data/scoreboard-2024-02.csv"]
    sentence = ("Điều chỉnh 23/11/2026: điểm 86,67 → 76,19, hạng 1 → 2, xếp loại Tốt → Khá, "
                "do tệp late-2024-01.csv (2 hồ sơ)")
    english = ("revised 23/11/2026: score 86,67 → 76,19, rank 1 → 2, band Good → Fair, "
               "because of file late-2024-01.csv (2 dossiers)")
    period = now["periods/2024-01.html"].decode("utf-8")
    assert sentence in period and english in period
    # Bắc Sơn's own numbers did not change: its rank moved because Phúc Xá's did (it
    # stays in data/revisions.csv, with the file that caused the revision)
    assert ("Điều chỉnh 23/11/2026: số liệu của đơn vị không đổi (điểm 76,77); hạng 2 → 1 vì số liệu của đơn vị "
            "khác thay đổi theo tệp late-2024-01.csv (2 hồ sơ)") in period
    assert ("revised 23/11/2026: the unit's own figures unchanged (score 76,77); rank 2 → 1 because other units' "
            "figures were revised by file late-2024-01.csv (2 dossiers)") in html.unescape(period)
    assert "do tệp late-2024-01.csv" not in now["units/00004-2008-08-01.html"].decode("utf-8")
    assert 'href="../data/revisions/2024-01-r1/scoreboard-2024-01.xlsx"' in period
    unit = now["units/00001-2008-08-01.html"].decode("utf-8")
    assert sentence in unit and 'href="../data/revisions/2024-01-r1/scoreboard-2024-01.csv"' in unit
    assert "Điều chỉnh" not in now["periods/2024-02.html"].decode("utf-8")
    assert "Điều chỉnh" not in now["units/002-2008-08-01.html"].decode("utf-8")


def test_the_printed_report_of_a_revised_month_says_it_is_a_revised_edition(revised):
    root, first = revised
    now = files(root / "site")
    report = html.unescape(now["report-2024-01.html"].decode("utf-8"))
    assert "Điều chỉnh" not in first["report-2024-01.html"].decode("utf-8")
    # under its title: which version, when and why
    assert '<span class="badge"><span data-en="Revised">Điều chỉnh</span></span></h2>' in report
    assert ("Bản điều chỉnh: phiên bản 2, ngày 23/11/2026. Số liệu chính thức của kỳ này đã được điều chỉnh sau "
            "khi công bố, do tệp late-2024-01.csv (2 hồ sơ)") in report
    assert ("Revised edition: version 2 of 23/11/2026. The final figures of this period were revised after they "
            "were published, because of file late-2024-01.csv (2 dossiers)") in report
    # then what changed, unit by unit, as on the period page, and the earlier version
    assert "4. Điều chỉnh số liệu đã công bố" in report and "4. Revisions of published figures" in report
    assert ("Điều chỉnh 23/11/2026: điểm 86,67 → 76,19, hạng 1 → 2, xếp loại Tốt → Khá, "
            "do tệp late-2024-01.csv (2 hồ sơ)") in report
    assert "số liệu của đơn vị không đổi (điểm 76,77); hạng 2 → 1" in report
    assert 'href="periods/2024-01.html#u-00001-2008-08-01"' in report
    assert 'href="data/revisions/2024-01-r1/scoreboard-2024-01.csv"' in report
    # a month never revised prints as it was first published
    assert now["report-2024-02.html"] == first["report-2024-02.html"]


def test_running_again_or_a_backfill_on_the_same_data_revises_nothing(revised, tmp_path, monkeypatch):
    root, _ = revised
    shutil.copytree(root, tmp_path / "copy", symlinks=True)
    settings, warehouse = settings_for(tmp_path / "copy")
    before = files(settings.site)
    with duckdb.connect(warehouse.path, read_only=True) as con:
        versions = con.execute("SELECT count(*) FROM published_periods").fetchall()
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-30T09:00:00")
    run_pipeline(settings, warehouse)
    assert files(settings.site) == before
    assert main(["backfill", "--from", "2024-01", "--landing", str(settings.landing), "--warehouse", warehouse.path,
                 "--site", str(settings.site), "--registry", settings.registry_path]) == 0
    assert files(settings.site) == before
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM published_periods").fetchall() == versions
        assert con.execute("SELECT count(*) FROM revision_pending").fetchall() == [(0,)]


def test_a_run_killed_after_its_ingestion_loses_no_cause_of_a_revision(revised, tmp_path):
    """The process dies (as SIGKILL would) once the late file's rows are stored: the
    file is known by its hash and not read again, and the next run publishes the
    revisions with their cause, the site a run never killed published."""
    whole, _ = revised
    (tmp_path / "landing").mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", tmp_path / "landing")
    with pytest.MonkeyPatch.context() as mp:
        assert cli(tmp_path, FIRST, mp, "run") == 0
        (tmp_path / "landing" / "late-2024-01.csv").write_text(LATE, encoding="utf-8")
        mp.setenv("SCOREBOARD_NOW", LATER)
        run_killed_after_ingestion(["run", "--landing", str(tmp_path / "landing"), "--warehouse",
                                    str(tmp_path / "warehouse.duckdb"), "--site", str(tmp_path / "site"),
                                    "--registry", str(EXAMPLE / "units.csv")])
        assert cli(tmp_path, LATER, mp, "run") == 0  # nothing new in the landing folder
    causes = "SELECT * FROM revision_causes ORDER BY ALL"
    assert query(tmp_path, causes) == query(whole, causes)
    assert {r[-2] for r in query(tmp_path, causes)} == {"late-2024-01.csv"}
    assert query(tmp_path, "SELECT count(*) FROM revision_pending") == [(0,)]
    assert files(tmp_path / "site") == files(whole / "site")


def test_a_provisional_period_changes_without_a_revision(tmp_path, monkeypatch):
    # on 29/02/2024 February is in progress: published, but provisional
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-02-29T12:00:00")
    (tmp_path / "landing").mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", tmp_path / "landing")
    settings, warehouse = settings_for(tmp_path)
    run_pipeline(settings, warehouse)
    before = files(settings.site)
    # Sóc Sơn's dossier of 05/02, finished late on 20/02, arrives
    (settings.landing / "late-2024-02.csv").write_text(
        HEADER + "\nWX-041,002,1.001776,2,10,,2024-02-05 08:00:00,2024-02-07 00:00:00,2024-02-20 09:00:00,,,"
        "true,true,true,true,,,1,\n", encoding="utf-8")
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-02-29T13:00:00")
    run_pipeline(settings, warehouse)
    after = files(settings.site)
    assert after["data/scoreboard-2024-02.csv"] != before["data/scoreboard-2024-02.csv"]
    revised = revisions_csv(settings.site)
    # the weeks it falls in had ended: revised; February had not
    assert sorted(set(revised["period_key"])) == ["2024-W06", "2024-W07", "2024-W08"]
    assert not any(name.startswith("data/revisions/2024-02-") for name in after)
    assert "Điều chỉnh" not in after["periods/2024-02.html"].decode("utf-8")
