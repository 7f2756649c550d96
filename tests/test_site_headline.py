"""The overview's headline: the latest period complete enough to rank, and the period
in progress beside it, labelled provisional with its cut-off time (dashboards.headline)."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import polars as pl
import pytest

from dashboards.headline import choose, period_stats
from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE


def stats_frame(rows: list[tuple]) -> pl.DataFrame:
    """(type, key, start, provisional, ranked, received) per unit row."""
    return pl.DataFrame(
        rows, orient="row",
        schema={"period_type": pl.Utf8, "period_key": pl.Utf8, "period_start": pl.Date, "provisional": pl.Boolean,
                "ranked": pl.Boolean, "received": pl.Int64},
    )


def month(key: str, provisional: bool, units: list[tuple[bool, int]]) -> list[tuple]:
    start = dt.date.fromisoformat(f"{key}-01")
    return [("month", key, start, provisional, ranked, received) for ranked, received in units]


def test_the_latest_complete_period_leads_and_the_one_in_progress_is_beside_it():
    frame = stats_frame(
        # October: 3 ranked units, all received dossiers: complete
        month("2025-10", False, [(True, 40), (True, 12), (True, 9), (False, 0)])
        # November, final: 3 units ranked only on late finishes, 1 of them received: not "most"
        + month("2025-11", False, [(True, 0), (True, 0), (True, 3), (False, 0)])
        # December, in progress
        + month("2025-12", True, [(True, 20), (False, 2)])
    )
    assert choose(period_stats(frame))["month"] == {"headline": "2025-10", "in_progress": "2025-12"}
    # two of three ranked units receiving is most: November leads
    frame = frame.with_columns(
        received=pl.when((pl.col("period_key") == "2025-11") & (pl.col("received") == 0) & pl.col("ranked")
                         & (pl.int_range(pl.len()).over("period_key") == 0)).then(5).otherwise("received")
    )
    assert choose(period_stats(frame))["month"] == {"headline": "2025-11", "in_progress": "2025-12"}


def test_a_period_with_no_receipts_is_never_the_headline():
    frame = stats_frame(
        month("2025-10", False, [(False, 2), (False, 1)])  # receipts, none ranked: not complete
        + month("2025-11", False, [(True, 0), (True, 0)])  # ranked on late finishes, nothing received
    )
    # nothing complete: the latest final period with receipts
    assert choose(period_stats(frame))["month"] == {"headline": "2025-10", "in_progress": None}
    only_finishes = stats_frame(month("2025-11", False, [(True, 0)]) + month("2025-12", True, [(False, 0)]))
    assert choose(period_stats(only_finishes))["month"] == {"headline": None, "in_progress": "2025-12"}


# ----------------------------------------------------------------- the held-out style case, end to end

LATE_FINISHES = (
    # Ba Đình's two dossiers still pending at the end of February, finished late in March:
    # the data's last month has finishes only, no receipt
    "WX-007,001,1.001776,2,10,,2024-01-26 08:00:00,2024-02-02 00:00:00,2024-03-05 10:00:00,,,,,,,true,,,\n"
    "WX-010,001,1.001776,1,10,,2024-01-11 08:00:00,2024-01-20 00:00:00,2024-03-12 16:30:00,,,,,,,true,,,\n"
)


def _run(tmp_path, monkeypatch, now: str):
    monkeypatch.setenv("SCOREBOARD_NOW", now)
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
    header = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8").splitlines()[0]
    (landing / "export-2024-03.csv").write_text(header + "\n" + LATE_FINISHES, encoding="utf-8")
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv")
    )
    run_pipeline(settings, Warehouse(path=str(tmp_path / "warehouse.duckdb")))
    return settings.site / "index.html"


def _blocks(html: str) -> list[tuple[str, str]]:
    """(heading, period) of each block the overview leads with, in order."""
    return re.findall(r'<p class="meta"><span data-en="[^"]*">([^<]*)</span></p>\n<h3 id="p-[^"]*">'
                      r'<span data-en="[^"]*">([^<]*)</span>', html)


@pytest.mark.parametrize("now", ["2026-11-22T09:00:00", "2024-03-20T09:00:00"])
def test_the_held_out_style_case_leads_with_a_period_that_received_dossiers(tmp_path, monkeypatch, now):
    html = _run(tmp_path, monkeypatch, now).read_text(encoding="utf-8")
    blocks = _blocks(html)
    # January (every unit ranked on its own receipts) and week 2 lead; March (finishes only) and
    # February (one receipt, nobody ranked) never do
    assert blocks[0] == ("Tháng gần nhất đủ số liệu để xếp hạng", "Tháng 01/2024")
    assert ("Tuần gần nhất đủ số liệu để xếp hạng", "Tuần 02/2024 (08/01–14/01/2024)") in blocks
    if now.startswith("2024-03"):
        # March is in progress: beside January, labelled provisional, with the data's cut-off time
        assert blocks[1] == ("Tháng đang diễn ra (tạm tính)", "Tháng 03/2024")
        section = html[html.index('<h3 id="p-2024-03">'):]
        assert section.startswith('<h3 id="p-2024-03"><span data-en="March 2024">Tháng 03/2024</span> '
                                  '<span class="badge"><span data-en="Provisional">Tạm tính</span></span>')
        assert ("Kỳ đang diễn ra: số liệu tạm tính đến 12/03/2024 16:30, thời điểm mới nhất trong dữ liệu."
                in section.split("</p>")[0])
    else:
        assert all("tạm tính" not in heading for heading, _p in blocks)  # March is final: not shown at all
        assert "Cấp huyện · Tháng 03/2024" not in html
        assert "Tháng 03/2024" in html  # still listed with every period and its downloads


def week(key: str, start: dt.date, units: list[tuple[bool, int]]) -> list[tuple]:
    return [("week", key, start, False, ranked, received) for ranked, received in units]


def test_the_week_just_ended_leads_once_the_data_reach_its_friday():
    """Monday's run, with exports to the Saturday before: the week just ended leads.
    Data that stop on its Wednesday (history loaded up to there) do not reach it: the
    week before leads, though the cut week has ended and is final."""
    frame = stats_frame(
        week("2025-W50", dt.date(2025, 12, 8), [(True, 40), (True, 30)])
        + week("2025-W51", dt.date(2025, 12, 15), [(True, 38), (True, 29)])
    )
    saturday, friday, wednesday = (dt.datetime(2025, 12, d, 11) for d in (20, 19, 17))
    assert choose(period_stats(frame), saturday)["week"]["headline"] == "2025-W51"
    assert choose(period_stats(frame), friday)["week"]["headline"] == "2025-W51"
    assert choose(period_stats(frame), wednesday)["week"]["headline"] == "2025-W50"
    # no week reached: the latest complete one leads all the same
    assert choose(period_stats(frame), dt.datetime(2025, 12, 9, 11))["week"]["headline"] == "2025-W51"
