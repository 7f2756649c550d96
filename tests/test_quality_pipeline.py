"""A broken batch is held back, the last good publication stays, a fix releases it."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import polars as pl

from pipelines.assets import ASSETS, dossiers, monthly_scoreboard, scoreboard_site, weekly_scoreboard
from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE, run_killed_after_ingestion
from tests.test_pipeline_e2e import read_published

HEADER = "Mã hồ sơ,Mã đơn vị,Mã TTHC,Kênh nộp,Trạng thái,Ngày tiếp nhận,Ngày hẹn trả,Ngày kết thúc xử lý"


def phuc_xa_export(year_of_due: int) -> str:
    """25 dossiers of Phường Phúc Xá received in the week of 22/01/2024, finished the
    next day; the due date is three days after receipt, in `year_of_due`."""
    lines = [HEADER]
    for i in range(25):
        day = 22 + i % 5
        lines.append(
            f"PX-{i:03d},00001,1.001776,Trực tuyến,10,{day:02d}/01/2024 08:00,"
            f"{day + 3:02d}/01/{year_of_due},{day + 1:02d}/01/2024 09:00"
        )
    return "\n".join(lines) + "\n"


def holds(warehouse) -> list[tuple]:
    with duckdb.connect(warehouse.path, read_only=True) as con:
        return con.execute(
            "SELECT source, period_type, period_key, check_name FROM quality_holds ORDER BY ALL"
        ).fetchall()


def deployment(tmp_path, monkeypatch, now: str = "2026-11-22T09:00:00", files: dict[str, str] | None = None):
    """A landing folder with the worked example (or `files`: name → text), the example
    registry and a fresh warehouse, at the pinned time `now`."""
    monkeypatch.setenv("SCOREBOARD_NOW", now)
    landing = tmp_path / "landing"
    landing.mkdir()
    if files is None:
        shutil.copy(EXAMPLE / "dossiers.csv", landing)
    for name, text in (files or {}).items():
        (landing / name).write_text(text, encoding="utf-8")
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv")
    )
    return settings, Warehouse(path=str(tmp_path / "w.duckdb"))


def test_a_shifted_due_column_holds_only_its_periods_until_fixed(tmp_path, monkeypatch):
    settings, warehouse = deployment(tmp_path, monkeypatch)
    landing = settings.landing
    run_pipeline(settings, warehouse)
    good = {p.name: p.read_bytes() for p in (settings.site / "data").glob("scoreboard-*.csv")}

    # the vendor's export shifts every due date a year back: each row is a chronology error
    (landing / "PhucXa 2024-01.csv").write_text(phuc_xa_export(2023), encoding="utf-8")
    run_pipeline(settings, warehouse)
    assert holds(warehouse) == [
        ("PhucXa 2024-01.csv", "month", "2024-01", "batch_quarantine_share"),
        ("PhucXa 2024-01.csv", "week", "2024-W04", "batch_quarantine_share"),
    ]
    now = {p.name: p.read_bytes() for p in (settings.site / "data").glob("scoreboard-*.csv")}
    assert now == good  # nothing published changed: held periods keep their last good numbers
    # scored and held: no later run scores them again until their hold or their rows change
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM periods_to_score").fetchone() == (0,)
    quality_page = (settings.site / "quality.html")
    if quality_page.exists():  # the site explains the hold
        assert "PhucXa 2024-01.csv" in quality_page.read_text(encoding="utf-8")

    # the district re-sends the file with the right dates: the hold is lifted
    (landing / "PhucXa 2024-01.csv").write_text(phuc_xa_export(2024), encoding="utf-8")
    run_pipeline(settings, warehouse)
    assert holds(warehouse) == []
    january = read_published(settings.site, "2024-01").filter(pl.col("unit_code") == "00001").row(0, named=True)
    assert (january["received"], january["early"]) == (30, 30)
    w04 = read_published(settings.site, "2024-W04").filter(pl.col("unit_code") == "00001").row(0, named=True)
    assert (w04["received"], w04["ranked"]) == (25, True)


def test_a_run_killed_after_its_ingestion_holds_the_broken_batch_it_stored(tmp_path, monkeypatch):
    """The process dies (as SIGKILL would) once a broken batch's rows are stored: its
    holds are stored with them. Had they waited for a later transaction, the Monday
    schedule (which scores the week just ended, no ingestion) would have published
    the held week with the batch's few good rows, and the next run could only keep
    those numbers as the last good ones."""
    # Phúc Xá's export of the week of 22/01/2024: 5 rows right, 20 with their due date
    # a year early (quarantined: 80 %, over the threshold)
    right, shifted = phuc_xa_export(2024).splitlines(), phuc_xa_export(2023).splitlines()
    broken = "\n".join([HEADER, *right[1:6], *shifted[6:]]) + "\n"
    published = {}
    for name in ("killed", "whole"):
        (tmp_path / name).mkdir()
        settings, warehouse = deployment(tmp_path / name, monkeypatch)
        run_pipeline(settings, warehouse)
        good = (settings.site / "data" / "scoreboard-2024-W04.csv").read_bytes()
        (settings.landing / "PhucXa 2024-01.csv").write_text(broken, encoding="utf-8")
        if name == "killed":
            run_killed_after_ingestion(["run", "--landing", str(settings.landing), "--site", str(settings.site),
                                        "--warehouse", warehouse.path, "--registry", settings.registry_path])
        else:
            run_pipeline(settings, warehouse)
        assert holds(warehouse) == [
            ("PhucXa 2024-01.csv", "month", "2024-01", "batch_quarantine_share"),
            ("PhucXa 2024-01.csv", "week", "2024-W04", "batch_quarantine_share"),
        ]
        # the schedule's run for 2024-W04, then the site (the publish sensor's run)
        resources = {"settings": settings, "warehouse": warehouse}
        assert dg.materialize(ASSETS, selection=[weekly_scoreboard], partition_key="2024-01-22",
                              resources=resources).success
        assert dg.materialize(ASSETS, selection=[scoreboard_site], resources=resources).success
        run_pipeline(settings, warehouse)  # nothing new for the killed run: it completes it
        published[name] = (settings.site / "data" / "scoreboard-2024-W04.csv").read_bytes()
        assert published[name] == good  # held: the last good numbers stay
        assert len(holds(warehouse)) == 2
    assert published["killed"] == published["whole"]


EXPORT_HEADER = (
    "dossier_id,unit_code,procedure_code,channel,status,submitted_at,received_at,due_at,finished_at,"
    "returned_at,rejected_at,fee_required,paid_online,digitized,e_result,synced,apology_issued,rating,complaint"
)


def steady_export(seed: int, *, drop_unit: str, late_unit: str) -> str:
    """Ten weeks from 2024-01-01 of about 60 dossiers per unit and week (Poisson), each
    finished the day after receipt, three days before its due date; except that
    `drop_unit` receives only 8 in the tenth week (2024-W10) and `late_unit` finishes
    everything it received from 1 March five days late."""
    rng = np.random.default_rng(seed)
    lines = [EXPORT_HEADER]
    stamp = "%Y-%m-%d %H:%M:%S"
    for week in range(10):
        monday = datetime(2024, 1, 1) + timedelta(weeks=week)
        for unit in ("001", "002", "00001", "00004"):
            n = 8 if (unit == drop_unit and week == 9) else int(rng.poisson(60))
            for i in range(n):
                received = monday + timedelta(days=i % 5, hours=8, minutes=i)
                late = unit == late_unit and received >= datetime(2024, 3, 1)
                finished = received + timedelta(days=5 if late else 1)
                due = received + timedelta(days=3)
                lines.append(
                    f"D{unit}-{week:02d}-{i:03d},{unit},1.001776,2,10,,{received:{stamp}},{due:{stamp}},"
                    f"{finished:{stamp}},,,true,true,true,true,true,,5,"
                )
    return "\n".join(lines) + "\n"


def warning_evaluation(result: dg.ExecuteInProcessResult, check: str) -> tuple[bool, dict]:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == check]
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    return evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}


def test_early_warning_checks_name_the_sliding_units_and_stay_quiet_on_noise(tmp_path, monkeypatch):
    # the week of 11/03/2024 is in progress: 2024-W10 is the last closed week, March is the month so far
    settings, warehouse = deployment(
        tmp_path, monkeypatch, now="2024-03-14T09:00:00",
        files={"export.csv": steady_export(5, drop_unit="00004", late_unit="00001")},
    )
    resources = {"settings": settings, "warehouse": warehouse}

    def materialize(asset, first: str, last: str) -> dg.ExecuteInProcessResult:
        result = dg.materialize(
            ASSETS, selection=[asset], resources=resources, instance=instance,
            tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
        )
        assert result.success
        return result

    with dg.instance_for_test() as instance:
        assert dg.materialize(ASSETS, selection=[dossiers], resources=resources, instance=instance).success

        # weeks 1 to 9 are Poisson noise around 60: W05..W09 are tested, none is flagged
        passed, meta = warning_evaluation(materialize(weekly_scoreboard, "2024-01-01", "2024-02-26"), "early_warning")
        assert passed and meta["warnings"] == 0 and meta["units"] == []

        # week 10 alone, against the history stored by the run before
        passed, meta = warning_evaluation(materialize(weekly_scoreboard, "2024-03-04", "2024-03-04"), "early_warning")
        assert not passed
        assert meta["periods"] == ["2024-W10"]
        table = meta["by_unit"].splitlines()
        assert table[0] == "| period | unit_code | unit_name | indicator | kind | value | median | z | reason_vi | reason_en |"
        [drop] = [line for line in table if "| 00004 |" in line]
        assert "| received | drop | 8.0 |" in drop
        assert "giảm bất thường: 8, so với trung vị" in drop and "dropped sharply: 8 against a median" in drop
        [late] = [line for line in table if "| 00001 |" in line]
        assert "| on_time_rate | drop | 0.0 | 1.0 |" in late
        assert {"00001", "00004"} <= set(meta["units"])

        # March so far: Phúc Xá, all late since 1 March, falls out of the band it held in February
        passed, meta = warning_evaluation(materialize(monthly_scoreboard, "2024-01", "2024-03"), "band_at_risk")
        assert not passed
        assert meta["periods"] == ["2024-03"]
        assert "00001" in meta["units"] and "00004" not in meta["units"] and "002" not in meta["units"]
        [row] = [line for line in meta["by_unit"].splitlines() if "| 00001 |" in line]
        assert "| score | band_at_risk |" in row and "| 90.0 |" in row
        assert "Điểm tạm tính tháng 03/2024 là" in row and "dưới ngưỡng 90 của xếp loại Xuất sắc đạt được tháng 02/2024" in row

        # closed months are settled: no band is at risk in January and February
        passed, meta = warning_evaluation(materialize(monthly_scoreboard, "2024-01", "2024-02"), "band_at_risk")
        assert passed and meta["units"] == []


def test_warnings_are_computed_once_by_scoring_and_published_from_the_warehouse(tmp_path, monkeypatch):
    settings, warehouse = deployment(
        tmp_path, monkeypatch, now="2024-03-14T09:00:00",
        files={"export.csv": steady_export(5, drop_unit="00004", late_unit="00001")},
    )
    run_pipeline(settings, warehouse)
    with duckdb.connect(warehouse.path, read_only=True) as con:
        stored = con.sql("SELECT * FROM warnings ORDER BY ALL").pl()
    got = {(r["period_key"], r["unit_code"], r["indicator"], r["kind"]) for r in stored.iter_rows(named=True)}
    assert ("2024-W10", "00004", "received", "drop") in got
    assert ("2024-W10", "00001", "on_time_rate", "drop") in got
    assert ("2024-03", "00001", "score", "band_at_risk") in got
    assert {k for k, *_ in got} <= {"2024-W10", "2024-03"}  # nothing on the weeks of noise
    march = stored.filter(pl.col("period_key") == "2024-03", pl.col("unit_code") == "00001").row(0, named=True)
    # the pages' number format: a decimal comma, a dot for thousands
    assert re.search(r"là \d{1,2},\d\d, dưới ngưỡng 90 ", march["message_vi"]), march["message_vi"]
    assert re.search(r"is \d{1,2},\d\d, below the 90 floor", march["message_en"]), march["message_en"]
    city = (settings.site / "city.html").read_text(encoding="utf-8")
    assert march["message_vi"] in city

    # the site shows what is stored: nothing re-computes the warnings when publishing
    with duckdb.connect(warehouse.path) as con:
        con.execute("UPDATE warnings SET message_vi = 'Cảnh báo đã lưu' WHERE period_key = '2024-03'")
    resources = {"settings": settings, "warehouse": warehouse}
    assert dg.materialize(ASSETS, selection=[scoreboard_site], resources=resources).success
    city = (settings.site / "city.html").read_text(encoding="utf-8")
    assert "Cảnh báo đã lưu" in city and march["message_vi"] not in city


def section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}"')
    return html[start:html.index("</section>", start)]


def body_rows(html: str) -> list[list[str]]:
    """Each <tbody> row as its cells' text (tags dropped, Vietnamese side of bilingual labels)."""
    tbody = html[html.index("<tbody>"):html.index("</tbody>")]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr)]
        for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", tbody)
    ]


def test_the_quality_page_shows_freshness_silent_units_and_completeness(tmp_path, monkeypatch):
    settings, warehouse = deployment(tmp_path, monkeypatch)
    run_pipeline(settings, warehouse)
    html = (settings.site / "quality.html").read_text(encoding="utf-8")

    # latest data per unit, stalest first; a district is as fresh as its freshest commune
    fresh = section(html, "freshness")
    assert "Dữ liệu mới nhất của từng đơn vị, tính đến 07/02/2024" in fresh
    assert 'data-en="Latest data of each unit, as of 07/02/2024"' in fresh
    assert "4 đơn vị không tiếp nhận hồ sơ nào trong tuần 09/2024" in fresh  # the latest week: nobody sent anything
    assert body_rows(fresh) == [
        ["Huyện Sóc Sơn 002", "Cấp huyện", "18/01/2024", "20", "0", "✗ Không tiếp nhận hồ sơ nào"],
        ["Phường Phúc Xá 00001", "Cấp xã", "18/01/2024", "20", "0", "✗ Không tiếp nhận hồ sơ nào"],
        ["Xã Bắc Sơn 00004", "Cấp xã", "18/01/2024", "20", "0", "✗ Không tiếp nhận hồ sơ nào"],
        ["Quận Ba Đình 001", "Cấp huyện", "07/02/2024", "0", "0", "✗ Không tiếp nhận hồ sơ nào"],  # WX-012 returned 7 Feb
    ]
    assert 'data-v="2024-01-18">18/01/2024<' in fresh  # sorts by date, shows dd/mm/yyyy

    # every period: expected against reporting units, newest first, months then weeks
    complete = body_rows(section(html, "completeness"))
    assert len(complete) == 2 + 9
    assert complete[0] == ["Tháng 02/2024", "4", "1", "3", "25,0 %"]
    assert complete[1] == ["Tháng 01/2024", "4", "4", "0", "100,0 %"]
    assert complete[2][0].startswith("Tuần 09/2024") and complete[-1][0].startswith("Tuần 01/2024")

    # the silent units of the latest week carry their latest data date too
    assert "Dữ liệu mới nhất</span></th>" in html[html.index('id="silent-h"'):html.index('id="freshness"')]


def test_the_last_week_of_data_cut_before_its_friday_raises_no_drop(tmp_path, monkeypatch):
    """Ten weeks of exports whose last week stops on its Tuesday (history loaded up to
    there, or an export cut mid-week): the week has ended, so it is final, but every
    unit would "drop sharply" in it. No warning is stored for it until the data reach
    its Friday; the rest of the week then arrives, it is scored again and tested."""
    lines = steady_export(5, drop_unit="-", late_unit="-").splitlines()
    tuesday = datetime(2024, 3, 6)  # W10 runs from Monday 04/03/2024
    cut = [line for line in lines[1:] if datetime.fromisoformat(line.split(",")[6]) < tuesday]
    rest = [line for line in lines[1:] if datetime.fromisoformat(line.split(",")[6]) >= tuesday]
    settings, warehouse = deployment(tmp_path, monkeypatch, now="2024-03-14T09:00:00",
                                     files={"export.csv": "\n".join([EXPORT_HEADER, *cut]) + "\n"})

    def warnings() -> list[tuple]:
        with duckdb.connect(warehouse.path, read_only=True) as con:
            return con.execute("SELECT period_key, unit_code, indicator, kind FROM warnings "
                               "WHERE period_type = 'week' ORDER BY ALL").fetchall()

    run_pipeline(settings, warehouse)
    with duckdb.connect(warehouse.path, read_only=True) as con:
        received = dict(con.execute("SELECT unit_code, received FROM scoreboard WHERE period_key = '2024-W10'").fetchall())
    # two days of about 60 a week (a district counts its communes' too)
    assert (received["00001"], received["00004"]) == (24, 20) and received["001"] < 60
    assert warnings() == []
    city = (settings.site / "city.html").read_text(encoding="utf-8")
    assert "giảm bất thường" not in city
    # the rest of the week arrives: scored again, and tested (nothing to warn of)
    (settings.landing / "export-rest.csv").write_text("\n".join([EXPORT_HEADER, *rest]) + "\n", encoding="utf-8")
    run_pipeline(settings, warehouse)
    assert warnings() == []
    # a real drop once the data reach the week's Friday is still flagged
    (settings.landing / "export-rest.csv").write_text(
        "\n".join([EXPORT_HEADER, *[line for line in rest if not line.startswith("D00004-09")]]) + "\n",
        encoding="utf-8")
    run_pipeline(settings, warehouse)
    assert warnings() == [("2024-W10", "00004", "received", "drop")]
