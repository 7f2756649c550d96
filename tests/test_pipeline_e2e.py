"""The whole asset graph on real files, a real DuckDB file and real materialisations."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.assets import ASSETS, weekly_scoreboard
from pipelines.cli import main, run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE, SCOREBOARD_COLUMNS, assert_frames_match, read_expected_scoreboard

KEY = ["period_key", "level", "unit_code"]


@pytest.fixture
def example_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv")
    )
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    summary = run_pipeline(settings, warehouse)
    return settings, warehouse, summary


def read_published(site: Path, key: str, schema: dict[str, pl.DataType] = SCOREBOARD_COLUMNS) -> pl.DataFrame:
    """A published data file, checked to carry exactly the columns of `schema` (those
    of the profile it was scored with), in order."""
    path = site / "data" / f"scoreboard-{key}.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf"), "CSV must start with a BOM"
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    raw = raw.rename({raw.columns[0]: raw.columns[0].lstrip("\ufeff")})
    assert raw.columns == list(schema)
    tmp = site.parent / f"_{key}.csv"
    raw.write_csv(tmp)
    return read_expected_scoreboard(tmp, schema)


def test_the_worked_example_is_published_number_by_number(example_run):
    settings, warehouse, summary = example_run
    assert (summary["weeks"], summary["months"]) == (9, 2)
    expected = read_expected_scoreboard()
    for key in expected["period_key"].unique().sort().to_list():
        got = read_published(settings.site, key)
        assert_frames_match(got, expected.filter(pl.col("period_key") == key), KEY)
    assert (settings.site / "index.html").is_file()
    assert (settings.site / "data" / "manifest.json").is_file()
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM dossiers").fetchall()[0][0] == 38
        accounting = con.execute(
            "SELECT rows_read, rows_accepted, rows_quarantined, rows_superseded FROM file_accounting"
        ).fetchall()
        assert accounting == [(38, 38, 0, 0)]
        stored = con.execute("SELECT count(*) FROM scoreboard").fetchall()[0][0]
        assert stored == expected.height


def test_running_again_changes_nothing(example_run):
    settings, warehouse, _ = example_run
    first = {p.name: p.read_bytes() for p in (settings.site / "data").glob("scoreboard-*")}
    summary = run_pipeline(settings, warehouse)
    again = {p.name: p.read_bytes() for p in (settings.site / "data").glob("scoreboard-*")}
    assert first == again and len(first) == 33  # 11 periods × csv, parquet, xlsx
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM scoreboard").fetchall()[0][0] == 44
    assert summary["files"] == 1
    assert (summary["weeks"], summary["months"]) == (0, 0)  # nothing new: nothing re-scored
    # what this run read, beside what the warehouse holds
    assert (summary["files_ingested"], summary["rows_read"], summary["dossiers"]) == (0, 0, 38)


def test_a_new_file_rescores_only_the_periods_it_changes(example_run):
    settings, warehouse, _ = example_run
    before = {p.name: p.read_bytes() for p in (settings.site / "data").glob("scoreboard-*.csv")}
    # next week's export: WX-013 (Phúc Xá, received 08/01, finished 14/01) was in fact
    # returned on 15/01 after an extension of its due date to 16/01
    header = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8").splitlines()[0]
    (settings.landing / "export-2024-W03.csv").write_text(
        header + "\nWX-013,00001,1.001776,1,10,,2024-01-08 08:00:00,2024-01-16 00:00:00,"
        "2024-01-15 09:00:00,,,,,true,true,true,,5,\n",
        encoding="utf-8",
    )
    summary = run_pipeline(settings, warehouse)
    # W02 (where it used to end) … W03 (where it ends now) and W04 for rank_change
    assert summary["weeks"] == 3 and summary["months"] == 2
    after = {p.name: p.read_bytes() for p in (settings.site / "data").glob("scoreboard-*.csv")}
    changed = sorted(k for k in after if after[k] != before[k])
    assert changed == ["scoreboard-2024-W02.csv", "scoreboard-2024-W03.csv"]
    w02 = read_published(settings.site, "2024-W02").filter(pl.col("unit_code") == "00001").row(0, named=True)
    w03 = read_published(settings.site, "2024-W03").filter(pl.col("unit_code") == "00001").row(0, named=True)
    assert (w02["finished"], w03["finished"]) == (0, 5)
    with duckdb.connect(warehouse.path, read_only=True) as con:
        accounting = dict(
            (r[0], r[1:]) for r in con.execute(
                "SELECT source_file, rows_read, rows_accepted, rows_quarantined, rows_superseded FROM file_accounting"
            ).fetchall()
        )
    assert accounting == {"dossiers.csv": (38, 37, 0, 1), "export-2024-W03.csv": (1, 1, 0, 0)}


def test_a_period_scored_in_progress_is_final_once_it_has_ended(tmp_path, monkeypatch):
    """Run while February is in progress (its provisional numbers), then again in
    March with no new file: February has ended, so it is final and its open dossiers
    are counted at its end: the same numbers as a first run in March."""
    def run(now: str, name: str) -> ScoreboardSettings:
        monkeypatch.setenv("SCOREBOARD_NOW", now)
        landing = tmp_path / f"landing-{name}"
        if not landing.is_dir():  # the warehouse's first run (the file is archived once read)
            landing.mkdir()
            shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
        settings = ScoreboardSettings.from_env(
            landing_dir=str(landing), site_dir=str(tmp_path / f"site-{name}"), registry_path=str(EXAMPLE / "units.csv")
        )
        run_pipeline(settings, Warehouse(path=str(tmp_path / f"{name}.duckdb")))
        return settings

    run("2024-02-10T09:00:00", "twice")
    with duckdb.connect(str(tmp_path / "twice.duckdb"), read_only=True) as con:
        assert con.execute("SELECT DISTINCT period_key FROM scoreboard WHERE provisional ORDER BY 1").fetchall() == [
            ("2024-02",), ("2024-W06",)]
    again = run("2024-03-05T09:00:00", "twice")
    once = run("2024-03-05T09:00:00", "once")
    for key in ("2024-02", "2024-W06"):
        got, fresh = read_published(again.site, key), read_published(once.site, key)
        assert not got["provisional"].any()
        assert_frames_match(got, fresh, KEY)
    with duckdb.connect(str(tmp_path / "twice.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM scoreboard WHERE provisional").fetchall() == [(0,)]


def test_the_summary_says_what_this_run_read_and_the_periods_it_published(tmp_path, monkeypatch, capsys):
    """On 13/02/2024 the example's last event (07/02, week 6) lies before the week in
    progress (week 7): that week is scored, and has no row to publish."""
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-02-13T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
    args = ["run", "--landing", str(landing), "--site", str(tmp_path / "site"),
            "--warehouse", str(tmp_path / "w.duckdb"), "--registry", str(EXAMPLE / "units.csv")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Published 6 weeks and 2 months" in out
    assert "Ingested 1 new file (38 rows read, 0 quarantined; 0 set aside, 0 held)." in out
    assert out.rstrip().splitlines()[-1] == f"Open the scoreboard: {(tmp_path / 'site' / 'index.html').absolute()}"
    assert main(args) == 0
    again = capsys.readouterr().out
    assert ("Ingested 0 new files (0 rows read, 0 quarantined; 0 set aside, 0 held). The warehouse: 1 file "
            "recorded, 38 dossiers, 0 rows quarantined. No new figures: the site shows the same 8 periods as before") in again
    weeks = sorted(p.name for p in (tmp_path / "site" / "data").glob("scoreboard-*-W*.csv"))
    assert weeks == [f"scoreboard-2024-W0{i}.csv" for i in range(1, 7)]
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        scored = con.execute("SELECT count(*) FROM scored_periods WHERE period_type = 'week'").fetchone()
    assert scored == (7,)


def late_february(path: Path) -> None:
    """The example's dossiers received from 22/01 sent again under new ids (more
    dossiers for the same units in the same weeks)."""
    rows = pl.read_csv(EXAMPLE / "dossiers.csv", infer_schema=False)
    rows = rows.filter(pl.col("received_at") >= "2024-01-22").with_columns(
        (pl.lit("LATE-") + pl.col("dossier_id")).alias("dossier_id"))
    rows.write_csv(path)


def test_a_run_killed_after_its_ingestion_is_completed_by_the_next(tmp_path, monkeypatch):
    """A process that dies once the new file's rows are stored, before any period is
    scored: the next run, with nothing new to read, scores the periods those rows
    moved, and publishes what a run that was never killed publishes."""
    import os
    import subprocess
    import sys

    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")

    def args(name: str) -> list[str]:
        return ["run", "--landing", str(tmp_path / f"landing-{name}"), "--site", str(tmp_path / f"site-{name}"),
                "--warehouse", str(tmp_path / f"{name}.duckdb"), "--registry", str(EXAMPLE / "units.csv")]

    for name in ("killed", "whole"):
        (tmp_path / f"landing-{name}").mkdir()
        shutil.copy(EXAMPLE / "dossiers.csv", tmp_path / f"landing-{name}" / "dossiers.csv")
        assert main(args(name)) == 0
        late_february(tmp_path / f"landing-{name}" / "late.csv")
    # the process dies (as SIGKILL would) when the scoring starts
    die = ("import os, sys; import pipelines.cli as cli; cli.score_ranges = lambda *a, **k: os._exit(137); "
           "sys.exit(cli.main(sys.argv[1:]))")
    env = {**os.environ, "SCOREBOARD_DAGSTER_HOME": ""}
    done = subprocess.run([sys.executable, "-c", die, *args("killed")], env=env, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 137, done.stderr
    with duckdb.connect(str(tmp_path / "killed.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM dossiers WHERE dossier_id LIKE 'LATE-%'").fetchone()[0] > 0
        waiting = con.execute("SELECT DISTINCT period_key FROM periods_to_score ORDER BY 1").fetchall()
    assert {("2024-01",), ("2024-02",), ("2024-W04",)} <= set(waiting)
    assert main(args("killed")) == 0  # nothing new in the landing folder
    assert main(args("whole")) == 0
    for key in ("2024-01", "2024-02", "2024-W04", "2024-W06", "2024-W09"):
        assert_frames_match(read_published(tmp_path / "site-killed", key),
                            read_published(tmp_path / "site-whole", key), KEY)
    with duckdb.connect(str(tmp_path / "killed.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM periods_to_score").fetchone() == (0,)


def test_one_weekly_partition_materialises_by_its_monday_key(example_run):
    settings, warehouse, _ = example_run
    with duckdb.connect(warehouse.path) as con:
        con.execute("DELETE FROM scoreboard WHERE period_type = 'week'")
    result = dg.materialize(
        ASSETS,
        selection=[weekly_scoreboard],
        partition_key="2024-02-05",
        resources={"settings": settings, "warehouse": warehouse},
    )
    assert result.success
    with duckdb.connect(warehouse.path, read_only=True) as con:
        rows = con.execute(
            "SELECT period_key, unit_code, overdue, pending_overdue, score FROM scoreboard "
            "WHERE period_type = 'week' ORDER BY unit_code"
        ).fetchall()
    assert rows[0][:4] == ("2024-W06", "00001", 0, 0)
    ba_dinh = [r for r in rows if r[1] == "001"][0]
    assert ba_dinh[2:4] == (1, 1) and ba_dinh[4] == pytest.approx(26.31578947368421)


def test_the_cli_says_what_is_wrong_in_one_sentence(tmp_path, capsys):
    code = main(["run", "--landing", str(tmp_path / "nowhere"), "--warehouse", str(tmp_path / "w.duckdb"),
                 "--site", str(tmp_path / "site")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().count("\n") == 0 and "landing folder" in err and "Traceback" not in err


def test_a_bad_period_key_is_one_sentence(example_run, capsys):
    settings, warehouse, _ = example_run
    code = main(["run", "--landing", str(settings.landing), "--warehouse", warehouse.path, "--site",
                 str(settings.site), "--registry", settings.registry_path, "--from", "2024-13"])
    assert code == 1
    assert "2024-13" in capsys.readouterr().err


def test_a_range_given_as_keys_scores_only_that_range(example_run):
    settings, warehouse, _ = example_run
    with duckdb.connect(warehouse.path) as con:
        con.execute("DELETE FROM scoreboard")
    summary = run_pipeline(settings, warehouse, from_key="2024-02", to_key="2024-02")
    assert (summary["months"], summary["weeks"]) == (1, 5)  # W05 … W09 overlap February
    with duckdb.connect(warehouse.path, read_only=True) as con:
        keys = [r[0] for r in con.execute("SELECT DISTINCT period_key FROM scoreboard ORDER BY 1").fetchall()]
    assert keys == ["2024-02", "2024-W05", "2024-W06", "2024-W07", "2024-W08", "2024-W09"]


def _published_table(site: Path, name: str, key: str) -> pl.DataFrame:
    raw = pl.read_csv(site / "data" / f"{name}-{key}.csv", infer_schema=False, encoding="utf8-lossy")
    return raw.rename(lambda c: c.lstrip("\ufeff"))


def test_every_unit_page_agrees_with_the_published_files(example_run):
    import re

    from dashboards.format import fmt_score

    settings, _, _ = example_run
    site = settings.site
    pages = sorted((site / "units").glob("*.html"))
    assert len(pages) == 4
    for page in pages:
        html = page.read_text(encoding="utf-8")
        key = re.search(r'href="\.\./periods/([^."]+)\.html#u-', html).group(1)
        code, valid_from = page.stem.split("-", 1)
        published = read_published(site, key).filter(pl.col("unit_code") == code).row(0, named=True)
        detail = re.sub(r"<[^>]+>", " ", html[html.index('id="detail"'):html.index('id="history"')])
        detail = " ".join(detail.split())
        assert f"Điểm {fmt_score(published['score'])}" in detail, (page.name, key)
        if published["ranked"]:
            assert f"Hạng {published['rank']}/" in detail
            w = _published_table(site, "what_if", key).filter(pl.col("unit_code") == code).row(0, named=True)
            if w["dossiers_for_rank"] is not None:
                assert (f"{w['dossiers_for_rank']} hồ sơ nữa đúng hạn sẽ đưa điểm của đơn vị vượt điểm của đơn vị đang "
                        f"xếp hạng {w['target_rank']} ({fmt_score(float(w['target_rank_score']))}).") in detail
        # the bottleneck procedures, in the published order
        codes = (
            _published_table(site, "bottlenecks", key)
            .filter(pl.col("unit_code") == code)
            .sort(pl.col("position").cast(pl.Int32))["procedure_code"].to_list()
        )
        shown = [c for c in re.findall(r"\b\d\.\d{6}\b", detail)]
        assert [c for c in dict.fromkeys(shown)][: len(codes)] == codes, (page.name, shown, codes)


def test_a_change_to_the_scoring_code_scores_every_period_again(example_run):
    """The stored numbers were made by this code: a release that changes how numbers are
    made (scoring, the warehouse's SQL, a module they import) scores every period again
    at its next run, as a new profile does; the same code from another folder scores
    nothing. The version alone (0.1.0) had never changed, so a fix stayed unpublished
    for the periods already scored."""
    import os
    import subprocess
    import sys

    settings, warehouse, _ = example_run
    repo = Path(__file__).resolve().parents[1]
    copy = example_run[0].site.parent / "release"
    for package in ("pipelines", "transforms", "quality", "dashboards", "config"):
        shutil.copytree(repo / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    run = ("import sys; import pipelines.cli as cli; sys.exit(cli.main(sys.argv[1:]))", "run",
           "--landing", str(settings.landing), "--site", str(settings.site), "--warehouse", warehouse.path,
           "--registry", settings.registry_path)
    env = {**os.environ, "SCOREBOARD_DAGSTER_HOME": "", "PYTHONPATH": str(copy)}

    def fingerprints() -> dict[str, int]:
        with duckdb.connect(warehouse.path, read_only=True) as con:
            return dict(con.execute("SELECT config_fingerprint, count(*) FROM scored_periods GROUP BY 1").fetchall())

    first = fingerprints()
    assert list(first.values()) == [11]  # the worked example's 9 weeks and 2 months
    same = subprocess.run([sys.executable, "-c", *run], env=env, capture_output=True, text=True, cwd=copy)
    assert same.returncode == 0, same.stderr
    assert fingerprints() == first and "No new figures" in same.stdout
    with (copy / "transforms" / "score.py").open("a", encoding="utf-8") as f:
        f.write("\n# a release's change to how numbers are made\n")
    changed = subprocess.run([sys.executable, "-c", *run], env=env, capture_output=True, text=True, cwd=copy)
    assert changed.returncode == 0, changed.stderr
    again = fingerprints()
    assert list(again.values()) == [11] and set(again) != set(first)


def test_a_backfill_from_before_the_data_scores_only_the_data(example_run, capsys):
    """`backfill --from 2016-01` (the README's example) on data of January and February
    2024: only the periods the data cover are scored, and what is published is what a
    run without a range publishes. Before, every week and month from 2016 was scored
    and published with every unit at 0, and the weeks after them warned of a spike."""
    settings, warehouse, _ = example_run
    data = settings.site / "data"
    before = {p.name: p.read_bytes() for p in data.glob("scoreboard-*")}
    with duckdb.connect(warehouse.path, read_only=True) as con:
        warnings = con.execute("SELECT * FROM warnings ORDER BY ALL").fetchall()
    summary = run_pipeline(settings, warehouse, from_key="2016-01", to_key="2030-12", backfill=True)
    assert (summary["months"], summary["weeks"]) == (2, 9)
    assert {p.name: p.read_bytes() for p in data.glob("scoreboard-*")} == before
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("SELECT min(period_key) FROM scoreboard WHERE period_type = 'month'").fetchone() == ("2024-01",)
        assert con.execute("SELECT * FROM warnings ORDER BY ALL").fetchall() == warnings
    # a range that holds no dossier scores nothing, and says so
    summary = run_pipeline(settings, warehouse, from_key="2016-01", to_key="2016-12")
    assert (summary["months"], summary["weeks"]) == (0, 0)
