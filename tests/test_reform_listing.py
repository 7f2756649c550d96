"""Units the 2025-07-01 reform ended, listed after it for their late dossiers only:
never silent nor a missing reporter, never a band crossing nor a band count, never an
early warning; and the warnings name their months as the pages do.

One small city run end to end (SCOREBOARD_NOW 2025-08-14: July closed, August in
progress): a district and its two communes end on 2025-06-30, two wards begin on
2025-07-01, two departments run throughout."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from quality.completeness import completeness
from tests.helpers import DEFAULT_PROFILE
from transforms.alerts import digest, load_alert_config
from transforms.units import with_expected

HEADER = ("dossier_id,unit_code,procedure_code,channel,status,submitted_at,received_at,due_at,finished_at,"
          "returned_at,rejected_at,fee_required,paid_online,digitized,e_result,synced,apology_issued,rating,complaint")
REGISTRY = """unit_code,unit_name,level,parent_code,peer_group,valid_from,valid_to
001,Quận Cũ,district,,urban,2020-01-01,2025-06-30
00001,Phường Một,commune,001,urban,2020-01-01,2025-06-30
00002,Phường Hai,commune,001,urban,2020-01-01,2025-06-30
10001,Phường Mới,commune,,urban,2025-07-01,
10002,Phường Khác,commune,,urban,2025-07-01,
SA,Sở A,department,,department,2020-01-01,
SB,Sở B,department,,department,2020-01-01,
SC,Sở C,department,,department,2020-01-01,
"""
OLD = {"001", "00001", "00002"}


def dossiers(unit: str, tag: str, month: int, n: int = 12, *, e_result: bool = True, synced: bool = True,
             late: bool = False, pending: bool = False) -> list[str]:
    """`n` dossiers received on 2025-<month>-02..: early, online, paid, digitised, synced,
    satisfied (100 points; 90 without e_result, 82 unsynced); `late`: due on the 20th, finished on
    2 July; `pending`: due on the 20th and never finished."""
    rows = []
    for i in range(n):
        received = f"2025-{month:02d}-{2 + i:02d} 08:00:00"
        due = f"2025-{month:02d}-{2 + i + 3:02d} 17:00:00" if not (late or pending) else f"2025-{month:02d}-20 17:00:00"
        finished = "" if pending else ("2025-07-02 10:00:00" if late else f"2025-{month:02d}-{2 + i:02d} 10:00:00")
        status = 2 if pending else 10
        e, sync = ("true" if e_result else "false"), ("true" if synced else "false")
        rows.append(f"{tag}-{unit}-{i},{unit},1.001776,2,{status},,{received},{due},{finished},,,"
                    f"true,true,true,{e},{sync},,satisfied,false")
    return rows


@pytest.fixture(scope="module")
def reform(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("reform")
    landing = root / "landing"
    landing.mkdir()
    (root / "units.csv").write_text(REGISTRY, encoding="utf-8")
    rows = (
        # June: the old communes at 100; ten more of Phường Một's finish late in July and one
        # never does, so it and its district are listed in July (on 11 late dossiers) and August
        dossiers("00001", "J", 6) + dossiers("00001", "JL", 6, 10, late=True) + dossiers("00001", "JP", 6, 1, pending=True)
        + dossiers("00002", "J", 6)
        + dossiers("SA", "J", 6) + dossiers("SB", "J", 6) + dossiers("SC", "J", 6)
        # July: the new wards; Sở A without e-results (90,00: just in Xuất sắc); Sở B silent;
        # Sở C unsynced (82,00: Xuất sắc to Tốt)
        + dossiers("10001", "L", 7) + dossiers("10002", "L", 7) + dossiers("SA", "L", 7, e_result=False)
        + dossiers("SC", "L", 7, synced=False)
        # August so far: Phường Mới and Sở A (90,00 again)
        + dossiers("10001", "A", 8) + dossiers("SA", "A", 8, e_result=False)
    )
    (landing / "export.csv").write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCOREBOARD_NOW", "2025-08-14T09:00:00")
        settings = ScoreboardSettings.from_env(
            landing_dir=str(landing), site_dir=str(root / "site"), registry_path=str(root / "units.csv")
        )
        warehouse = Warehouse(path=str(root / "w.duckdb"))
        run_pipeline(settings, warehouse)
    with duckdb.connect(warehouse.path, read_only=True) as con:
        scoreboard = con.execute("SELECT * FROM scoreboard").pl()
        units = con.execute("SELECT * FROM units").pl()
    return {"site": settings.site, "scoreboard": scoreboard, "units": units}


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def section(html: str, start: str, end: str = "</table>") -> str:
    part = html[html.index(start):]
    return part[:part.index(end)]


@pytest.fixture(scope="module")
def july(reform) -> pl.DataFrame:
    """July's rows, and what the tests rely on: the ended units listed with a band, unranked."""
    sb = reform["scoreboard"]
    month = sb.filter((pl.col("period_type") == "month") & (pl.col("period_key") == "2025-07"))
    listed = set(month["unit_code"].to_list())
    assert {"001", "00001"} <= listed and "00002" not in listed  # listed for their late dossiers only
    assert not month.filter(pl.col("unit_code").is_in(list(OLD)))["ranked"].any()
    assert month.filter(pl.col("unit_code") == "00001")["band"].item() is not None
    return month


# ---------------------------------------------------------------- 1. silent units, completeness


def test_a_unit_expected_to_report_is_one_valid_on_at_least_half_of_the_period(reform):
    rows = pl.DataFrame({
        "unit_code": ["00001", "00001", "10001", "10001", "SA", "gone"],
        "unit_valid_from": [date(2020, 1, 1), date(2020, 1, 1), date(2025, 7, 1), date(2025, 7, 1),
                            date(2020, 1, 1), date(2020, 1, 1)],
        "period_type": ["month", "week", "month", "week", "week", "month"],
        # June; the week of Monday 30/06 (one day of the old commune, six of the new ward); July
        "period_start": [date(2025, 6, 1), date(2025, 6, 30), date(2025, 7, 1), date(2025, 6, 30),
                         date(2025, 6, 30), date(2025, 7, 1)],
    })
    got = with_expected(rows, reform["units"])["expected"].to_list()
    assert got == [True, False, True, True, True, False]  # a unit the registry lacks is not expected


def test_units_the_reform_ended_never_went_silent(reform, july):
    rules = load_alert_config({})["rules"]
    out = digest(reform["scoreboard"], "month", ["2025-07"], profile=DEFAULT_PROFILE, rules=rules,
                 units=reform["units"], latest_event=None)
    silent = out.filter(pl.col("kind") == "silent")["unit_code"].to_list()
    assert silent == ["SB"]  # sent in June, nothing in July; Quận Cũ and its communes had ended
    alerts = read(reform["site"] / "alerts" / "2025-07.html")
    assert alerts.count('<span data-en="Went silent">Ngừng gửi hồ sơ</span>') == 1 and "Sở B" in alerts


def test_units_the_reform_ended_are_not_missing_reporters(reform, july):
    # completeness of July: the two wards and the three departments, four of them reporting
    table = completeness(reform["scoreboard"], reform["units"]).filter(pl.col("period_key") == "2025-07")
    row = table.row(0, named=True)
    assert (row["expected_units"], row["reporting_units"], row["silent_units"]) == (5, 4, ["SB"])
    quality = read(reform["site"] / "quality.html")
    assert re.search(r"Tháng 07/2025</span></a></th><td>5</td><td>4</td><td>1</td><td>80,0 %</td>", quality)


def test_the_quality_page_lists_no_ended_unit_among_the_silent(reform, july):
    quality = read(reform["site"] / "quality.html")
    # the silent units of the latest month (August): Phường Khác and Sở B, not the ended ones
    silent_august = section(quality, "<span data-en=\"August 2025\">Tháng 08/2025</span></caption>")
    assert "Phường Khác" in silent_august and "Sở B" in silent_august
    assert "Quận Cũ" not in silent_august and "Phường Một" not in silent_august


# ---------------------------------------------------------------- 2. band crossings


def test_the_band_crossings_name_only_units_ranked_in_both_periods(reform, july):
    city = read(reform["site"] / "city.html")
    crossings = city[city.index('id="crossings"'):city.index('id="warnings"')]
    # Phường Một went from Xuất sắc (June, ranked) to a low band on its late dossiers (July, unranked)
    assert "Phường Một" not in crossings and "Quận Cũ" not in crossings
    # Sở C, ranked in both, fell from Xuất sắc to Tốt
    assert re.search(r"Sở C</a>.*?Xuất sắc</span></span></td><td class=\"t\" data-v=\"1\"><span class=\"band band-tot\">"
                     r".*?<span data-en=\"Down\">Xuống</span>.*?<td>100,00</td><td>82,00</td>", crossings)


# ---------------------------------------------------------------- 3. band counts


def test_the_band_chart_and_the_report_count_ranked_units_only(reform, july):
    site = reform["site"]
    index = read(site / "index.html")
    data = json.loads(re.search(r'<script type="application/json"[^>]*>(.*?)</script>', index, re.S)[1])
    bands = {(r["level_vi"], r["band_vi"], r["units"]) for r in data["datasets"]["bands"]}
    # no district: none is ranked
    assert bands == {("Cấp xã", "Xuất sắc", 2), ("Sở, ban, ngành", "Xuất sắc", 1), ("Sở, ban, ngành", "Tốt", 1)}
    assert "Phân bố xếp loại (đơn vị được xếp hạng)" in index
    report = read(site / "report.html")
    table = section(report, "Tổng hợp xếp loại")
    assert "(đơn vị được xếp hạng)" in table
    rows = {re.sub(r"<[^>]+>", "", m[0]): [int(n) for n in re.findall(r"<td>(\d+)</td>", m[1])]
            for m in re.findall(r"<tr><th[^>]*>(.*?)</th>(.*?)</tr>", table, re.S)}
    bands_n = len(DEFAULT_PROFILE.bands)
    # per level: ranked units per band, listed not ranked, ranked, in all
    assert rows["Cấp huyện"] == [0] * bands_n + [1, 0, 1]
    assert rows["Cấp xã"] == [2] + [0] * (bands_n - 1) + [1, 2, 3]


# ---------------------------------------------------------------- 4. early warnings


def test_a_closed_month_warns_of_ranked_near_misses_in_final_words(reform, july):
    alerts = read(reform["site"] / "alerts" / "2025-07.html")
    # Sở A closed July on 90,00, the floor of the Xuất sắc it held in June: a final score
    assert "Điểm tháng 07/2025 là 90,00, chỉ cao hơn ngưỡng 90 của xếp loại Xuất sắc (tháng 06/2025) 0,00 điểm." in alerts
    assert "2025-07 là" not in alerts and "tạm tính" not in alerts
    # Phường Một fell below Xuất sắc's floor on its late dossiers, unranked: no warning
    assert "Phường Một" not in alerts
    city = read(reform["site"] / "city.html")
    # August, in progress: Sở A's month so far, named as the pages name months
    assert ("Điểm tạm tính tháng 08/2025 là 90,00, chỉ cao hơn ngưỡng 90 của xếp loại Xuất sắc (tháng 07/2025) "
            "0,00 điểm.") in city
    assert "The month-so-far score for August 2025 is 90,00" in city
