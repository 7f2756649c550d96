"""What the site names comes from configuration: the profile's groups (issue 15),
the registry's levels after the 2025 reform (issue 12). End to end: real files,
the pipeline, the published site."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import zipfile
from pathlib import Path

import polars as pl

from config import config_path
from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE


def _captions_and_heads(html: str) -> list[tuple[str, list[str]]]:
    """Per ranking table: its caption and the sub-headings of its columns."""
    out = []
    for table in re.findall(r"<table class=\"ranking sortable\">(.*?)</thead>", html, re.S):
        caption = re.search(r"<caption><span[^>]*>([^<]*)</span>", table).group(1)
        out.append((caption, re.findall(r"<small>(?:<span[^>]*>)?([^<]*)", table)))
    return out


def test_a_two_group_profile_shows_its_two_groups(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv"),
        profile_path=str(config_path("profiles", "timeliness_online.yaml")),
    )
    run_pipeline(settings, Warehouse(path=str(tmp_path / "warehouse.duckdb")))
    site = settings.site
    for page in ("index.html", "periods/2024-01.html", "report-2024-01.html"):
        html = (site / page).read_text(encoding="utf-8")
        assert "/18 điểm" not in html and "Số hóa hồ sơ</span><small>" not in html, page
        for _caption, subs in _captions_and_heads(html):
            points = [s for s in subs if s.endswith("điểm")]
            assert points == ([] if page.startswith("report") else ["/60 điểm", "/40 điểm"]), page
    period = (site / "periods" / "2024-01.html").read_text(encoding="utf-8")
    assert re.search(r'<span data-en="Timeliness">Tiến độ giải quyết</span><small><span data-en="/60 pts">/60 điểm'
                     r'</span></small></th>\n<th scope="col" data-sort="num"><span data-en="Online service">'
                     r"Dịch vụ công trực tuyến</span><small><span data-en=\"/40 pts\">/40 điểm", period)
    # the unit page's groups: two rows, against 60 and 40
    unit = (site / "units" / "002-2008-08-01.html").read_text(encoding="utf-8")
    groups = unit[unit.index("Các nhóm chỉ số"):].split("</tbody>")[0]
    assert re.findall(r"<th scope=\"row\" class=\"t\"><span data-en=\"([^\"]*)\">", groups) == ["Timeliness", "Online service"]
    assert re.findall(r"</th><td>[^<]*</td><td>(\d+)</td>", groups) == ["60", "40"]
    # the city heatmap: the same two groups
    city = (site / "city.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="chart-data">(.*?)</script>', city, re.S).group(1))
    assert {r["g"] for rows in data["datasets"].values() for r in rows} == {0, 1}
    assert "Tiến độ giải quyết" in json.dumps(data["charts"][0]["vi"], ensure_ascii=False)
    # the workbook's legend names the two groups as the profile does
    with zipfile.ZipFile(site / "data" / "scoreboard-2024-01.xlsx") as zf:
        legend = zf.read("xl/worksheets/sheet2.xml").decode()
    assert "Tiến độ giải quyết" in legend and "Dịch vụ công trực tuyến" in legend and "Số hóa hồ sơ" not in legend


# ----------------------------------------------------------------- after the 2025 reform

REGISTRY = """unit_code,unit_name,level,parent_code,peer_group,valid_from,valid_to
001,Quận Ba Đình,district,,urban,2008-08-01,2025-06-30
00001,Phường Phúc Xá,commune,001,urban,2008-08-01,2025-06-30
10001,Phường Ba Đình,commune,,urban,2025-07-01,
10002,Phường Ngọc Hà,commune,,urban,2025-07-01,
90001,Sở Tư pháp,department,,department,2008-08-01,
90002,Sở Xây dựng,department,,department,2008-08-01,
"""
HEADER = (EXAMPLE / "dossiers.csv").read_text(encoding="utf-8").splitlines()[0]


def _dossiers() -> str:
    """12 dossiers a unit in December 2025 (enough to be ranked), for the new wards and
    the departments; 12 in June 2025 for the old district and its commune, one of the
    district's still pending in December (it is listed then for that late dossier)."""
    rows = []
    n = 0
    for unit, month in (("10001", 12), ("10002", 12), ("90001", 12), ("90002", 12), ("001", 6), ("00001", 6),
                        ("90001", 6), ("90002", 6)):
        for i in range(12):
            n += 1
            day = dt.datetime(2025, month, 2 + i, 8, 0)
            late = unit in ("10002", "90002") and i < 4  # a few late, so the two of a level do not tie
            finish = day + dt.timedelta(days=6 if late else 1 + (i % 3), hours=2)
            rows.append(f"D-{n:04d},{unit},1.001776,{1 + i % 2},10,,{day:%Y-%m-%d %H:%M:%S},"
                        f"{day + dt.timedelta(days=3):%Y-%m-%d} 17:00:00,{finish:%Y-%m-%d %H:%M:%S},,,,,true,true,true,,5,")
    rows.append("D-9999,001,1.001776,1,4,,2025-06-20 08:00:00,2025-06-25 17:00:00,,,,,,,,true,,,")
    return HEADER + "\n" + "\n".join(rows) + "\n"


def test_after_the_reform_a_city_ranks_wards_and_communes_and_departments_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-01-15T09:00:00")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "exports-2025.csv").write_text(_dossiers(), encoding="utf-8")
    (tmp_path / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(tmp_path / "registry.csv"),
        crosswalk_path="",
    )
    run_pipeline(settings, Warehouse(path=str(tmp_path / "warehouse.duckdb")))
    site = settings.site
    december = (site / "periods" / "2025-12.html").read_text(encoding="utf-8")
    # two rankings, each its own table, open; the district (gone since 2025-06-30, listed only
    # for its late dossier) is no ranking: folded away after them, if listed at all
    open_tables = re.findall(r'<div class="ranking-block"><div class="table-wrap">\s*<table class="ranking sortable">\s*'
                             r'<caption><span data-en="([^"]*)">([^<]*)</span>', december)
    assert [vi for _en, vi in open_tables] == ["Cấp xã · Tháng 12/2025", "Sở, ban, ngành · Tháng 12/2025"]
    assert [en for en, _vi in open_tables] == ["Wards and communes · December 2025", "Departments · December 2025"]
    folded = re.findall(r'<details class="ranking-block">\s*<summary>(.*?)</summary>', december, re.S)
    assert all("Cấp huyện" in f and "0/1 đơn vị được xếp hạng" in f for f in folded)
    assert "Phường Ba Đình" in december and "Sở Tư pháp" in december and "Sở Xây dựng" in december
    published = pl.read_csv(site / "data" / "scoreboard-2025-12.csv")
    ranked = published.filter(pl.col("ranked")).group_by("level").agg(pl.col("rank").sort())
    assert dict(ranked.iter_rows()) == {"commune": [1, 2], "department": [1, 2]}  # ranked among themselves
    # the overview leads with December: the same two rankings, no district ranking
    index = (site / "index.html").read_text(encoding="utf-8").split('id="periods"')[0]
    month_part = index.split("Tuần gần nhất")[0]
    captions = re.findall(r"<caption><span data-en=\"[^\"]*\">([^<]*)</span>", month_part)
    assert captions[:2] == ["Cấp xã · Tháng 12/2025", "Sở, ban, ngành · Tháng 12/2025"]
    assert not any(c.startswith("Cấp huyện") and "12/2025" in c for c in captions[:2])
    # June, before the reform: the district and its commune ranked as they were, and the departments
    june = (site / "periods" / "2025-06.html").read_text(encoding="utf-8")
    assert "Cấp huyện · Tháng 06/2025" in june and "Sở, ban, ngành · Tháng 06/2025" in june
    assert not Path(site / "units" / "001-2008-08-01.html").read_text(encoding="utf-8").count("Cấp xã")
