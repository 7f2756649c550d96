"""After the 2025 reform: units that ended beside the units that took their code, the
headline week against the data's cut-off, and the alert pages' links. End to end: real
files, the pipeline, the published site."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE

# Phường Trúc Bạch (00004) and Sở Nội vụ (90003) ended, and a new unit took each code and
# name (the department on 2025-03-01, the ward on 2025-07-01); Quận Ba Đình ended with the
# districts, its commune Phúc Xá merged into the new Phường Ba Đình
REGISTRY = """unit_code,unit_name,level,parent_code,peer_group,valid_from,valid_to
001,Quận Ba Đình,district,,urban,2008-08-01,2025-06-30
00001,Phường Phúc Xá,commune,001,urban,2008-08-01,2025-06-30
00004,Phường Trúc Bạch,commune,001,urban,2008-08-01,2025-06-30
10001,Phường Ba Đình,commune,,urban,2025-07-01,
00004,Phường Trúc Bạch,commune,,urban,2025-07-01,
90001,Sở Tư pháp,department,,department,2008-08-01,
90003,Sở Nội vụ,department,,department,2008-08-01,2025-02-28
90003,Sở Nội vụ,department,,department,2025-03-01,
"""
CROSSWALK = """old_code,old_valid_from,new_code,new_valid_from,share
00001,2008-08-01,10001,2025-07-01,1
00004,2008-08-01,10001,2025-07-01,0.4
00004,2008-08-01,00004,2025-07-01,0.6
"""
HEADER = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8").splitlines()[0]


def _row(n: int, unit: str, received: dt.datetime, finished: dt.datetime | None) -> str:
    done = f"{finished:%Y-%m-%d %H:%M:%S}" if finished else ""
    return (f"D-{n:05d},{unit},1.001776,{1 + n % 2},{10 if finished else 4},,{received:%Y-%m-%d %H:%M:%S},"
            f"{received + dt.timedelta(days=3):%Y-%m-%d} 17:00:00,{done},,,,,true,true,true,,5,")


def _dossiers() -> str:
    """Four dossiers a day from 15 to 31 December 2025 for each unit of then (the data ends
    on Wednesday 31/12: week 01/2026 holds three days of it); 12 in June 2025 (February for
    the old department) for the ended units, each of which keeps one dossier pending,
    overdue, so that it is listed in December beside the unit that took its code."""
    rows, n = [], 0
    for unit in ("10001", "00004", "90001", "90003"):
        for day in range(15, 32):
            for i in range(4):
                n += 1
                received = dt.datetime(2025, 12, day, 8 + i)
                rows.append(_row(n, unit, received, received + dt.timedelta(hours=4)))
    for unit, month in (("001", 6), ("00001", 6), ("00004", 6), ("90001", 6), ("90003", 2), ("90001", 2)):
        for i in range(12):
            n += 1
            received = dt.datetime(2025, month, 2 + i, 8)
            rows.append(_row(n, unit, received, received + dt.timedelta(days=1)))
    for unit, month in (("001", 6), ("00004", 6), ("90003", 2)):
        n += 1
        rows.append(_row(n, unit, dt.datetime(2025, month, 20, 8), None))
    return HEADER + "\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("ended")
    mp = pytest.MonkeyPatch()
    mp.setenv("SCOREBOARD_NOW", "2026-01-15T09:00:00")
    landing = root / "landing"
    landing.mkdir()
    (landing / "exports-2025.csv").write_text(_dossiers(), encoding="utf-8")
    (root / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    (root / "crosswalk.csv").write_text(CROSSWALK, encoding="utf-8")
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(root / "site"), registry_path=str(root / "registry.csv"),
        crosswalk_path=str(root / "crosswalk.csv"),
    )
    try:
        run_pipeline(settings, Warehouse(path=str(root / "warehouse.duckdb")))
    finally:
        mp.undo()
    return settings.site


def read(path) -> str:
    return path.read_text(encoding="utf-8")


def unit_cells(html: str) -> list[str]:
    """The unit cell of every row of the ranking tables, tags removed (Vietnamese)."""
    cells = re.findall(r'<th scope="row" class="unit">(.*?)</th>', html)
    return [" ".join(re.sub(r'<span data-en="[^"]*">|<[^>]+>', " ", c).split()) for c in cells]


def test_an_ended_unit_is_told_apart_from_the_unit_that_took_its_code(site):
    december = read(site / "periods" / "2025-12.html")
    cells = unit_cells(december)
    assert "Phường Trúc Bạch 00004 (đến 06/2025)" in cells and "Phường Trúc Bạch 00004" in cells
    assert "Sở Nội vụ 90003 (đến 02/2025)" in cells and "Sở Nội vụ 90003" in cells
    assert len(cells) == len(set(cells))  # no two rows read alike
    assert ('<a href="../units/90003-2008-08-01.html">Sở Nội vụ</a> <span class="code">90003</span> '
            '<span class="code until" data-en="(until 02/2025)">(đến 02/2025)</span></th>') in december
    # the overview's December tables and the monthly report alike
    for page in ("index.html", "report-2025-12.html"):
        shown = unit_cells(read(site / page))
        assert "Sở Nội vụ 90003 (đến 02/2025)" in shown and "Sở Nội vụ 90003" in shown, page
    # before its end a unit is listed as it was
    assert "Sở Nội vụ 90003" in unit_cells(read(site / "periods" / "2025-02.html"))
    assert not any("(đến" in c for c in unit_cells(read(site / "periods" / "2025-02.html")))
    # the week the districts ended in (30/06–06/07): the communes that ended on its first day are told apart
    assert "Phường Trúc Bạch 00004 (đến 06/2025)" in unit_cells(read(site / "periods" / "2025-W27.html"))


def test_an_ended_unit_page_says_when_it_ended_and_which_units_took_over(site):
    old = read(site / "units" / "00004-2008-08-01.html")
    new = read(site / "units" / "00004-2025-07-01.html")
    heading = re.compile(r"<h2>(.*?)</h2>")
    assert heading.search(old).group(1) != heading.search(new).group(1)
    assert ('<span class="code until"><span data-en="(until 06/2025)">(đến 06/2025)</span></span></h2>'
            in old)
    assert ('<span data-en="Valid from">Hiệu lực từ</span> 01/08/2008 <span data-en="to">đến</span> 30/06/2025</p>'
            in old)
    # the crosswalk's successors, largest share first, linked to their pages
    assert ('<span data-en="Its area is now part of">Địa bàn nay thuộc</span>: '
            '<a href="00004-2025-07-01.html">Phường Trúc Bạch</a> <span class="code">00004</span>, '
            '<a href="10001-2025-07-01.html">Phường Ba Đình</a> <span class="code">10001</span></p>') in old
    assert "<title data-en=\"Phường Trúc Bạch (until 06/2025) · " in old
    # the unit in force: no end, no successors
    assert "<span data-en=\"Valid from\">Hiệu lực từ</span> 01/07/2025</p>" in new
    assert "Địa bàn nay thuộc" not in new and "(đến" not in new.split("</h2>")[0]
    # an ended unit the crosswalk does not follow: its end only
    department = read(site / "units" / "90003-2008-08-01.html")
    assert "Hiệu lực từ</span> 01/08/2008 <span data-en=\"to\">đến</span> 28/02/2025</p>" in department
    assert "Địa bàn nay thuộc" not in department


def test_the_headline_week_ends_by_the_data_s_cut_off(site):
    index = read(site / "index.html")
    # the data ends on Wednesday 31/12/2025: week 01/2026 (29/12–04/01) is final but holds
    # three days of it; the headline week is the last one that ends by then
    assert re.search(r'Tuần gần nhất đủ số liệu để xếp hạng</span></p>\n<h3 id="p-2025-W52">', index)
    assert 'id="p-2026-W01"' not in index
    # the month ends with the data: December leads
    assert re.search(r'Tháng gần nhất đủ số liệu để xếp hạng</span></p>\n<h3 id="p-2025-12">', index)
    # week 01/2026 is still published, final
    assert (site / "periods" / "2026-W01.html").exists()


def test_every_page_is_reached_from_the_overview_alerts_included(site):
    """A walk of the links from index.html reaches every page, the alert pages through the
    menu and the city page's early warnings."""
    site = site.resolve()
    seen, todo = {site / "index.html"}, [site / "index.html"]
    while todo:
        page = todo.pop()
        for href in re.findall(r'<a href="([^"#?]+\.html)', read(page)):
            target = (page.parent / href).resolve()
            if target.exists() and target not in seen:
                seen.add(target)
                todo.append(target)
    alerts = sorted((site / "alerts").glob("*.html"))
    assert len(alerts) > 2
    assert sorted(set(site.rglob("*.html")) - seen) == []
    menu = read(site / "units" / "10001-2025-07-01.html").split("</nav>")[0]
    assert '<a href="../alerts/index.html"><span data-en="Alerts">Cảnh báo</span></a>' in menu
    warnings = read(site / "city.html").split('<section id="warnings"')[1].split("</section>")[0]
    assert '<a href="alerts/index.html">' in warnings
