"""The built site in a real browser: headless Chromium opens it from disk.

Checks what only a browser can: the pages run without a console error, ask
for nothing outside the machine (every request is file:// or data:), the
search, peer filter, sort and language switch work, and the Vega charts
render. Screenshots land in the test's tmp folder and in /tmp/site-shots/.

Needs Chromium (Debian: `apt-get install chromium`) and the `playwright`
Python package, which drives that Chromium (no browser of its own is
downloaded). Skipped, with the reason, where either is missing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
)

from dashboards.images import chromium_path, print_report_pdf  # noqa: E402
from dashboards.site import build_site  # noqa: E402

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

# Headless, and nothing that would reach out on its own (updates, sync, QUIC probes).
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SHOTS = Path("/tmp/site-shots")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    from tests.helpers import read_expected_scoreboard
    from tests.test_site import example_inputs

    scoreboard = read_expected_scoreboard()
    root = tmp_path_factory.mktemp("browser-site")
    build_site(root, scoreboard, **example_inputs(scoreboard))
    return root


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


class Tab:
    """A page in a fresh context that records console errors and every request."""

    def __init__(self, browser, width: int = 1280, height: int = 900):
        self.context = browser.new_context(viewport={"width": width, "height": height}, service_workers="block")
        # anything but file: and data: is refused (and recorded below), so nothing can leave the machine
        self.context.route(re.compile(r"^(?!file:|data:)"), lambda route: route.abort())
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open(self, path: Path) -> "Tab":
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")
        return self

    def chart(self, element_id: str) -> None:
        self.page.wait_for_selector(f"#{element_id} svg, #{element_id} canvas", timeout=15_000)

    def shot(self, tmp_path: Path, name: str) -> Path:
        out = tmp_path / f"{name}.png"
        self.page.screenshot(path=str(out), full_page=True)
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, SHOTS / out.name)
        return out

    def visible_units(self, selector: str = "table.ranking tbody tr") -> list[str]:
        return self.page.eval_on_selector_all(
            selector, "rows => rows.filter(r => !r.hidden).map(r => r.querySelector('.unit a, .unit').textContent.trim())"
        )

    def check_clean(self) -> None:
        assert self.errors == [], self.errors
        outside = [u for u in self.requests if not u.startswith(("file:", "data:"))]
        assert outside == [], outside
        assert self.requests, "no request recorded"

    def close(self) -> None:
        self.context.close()


def test_overview(site, browser, tmp_path):
    tab = Tab(browser).open(site / "index.html")
    page = tab.page
    tab.chart("chart-bands")
    tab.chart("chart-trend")
    units = tab.visible_units()
    assert len(units) == 8  # 4 units × the headline month and week (January, week 2)
    assert page.locator("table.ranking caption").first.inner_text().startswith("Cấp huyện · Tháng 01/2024")
    tab.shot(tmp_path, "index-vi")

    # search without diacritics
    page.fill("#unit-search", "phuc xa")
    assert tab.visible_units() == ["Phường Phúc Xá 00001", "Phường Phúc Xá 00001"]
    assert page.locator(".no-match:visible").count() == 2  # the district tables say nothing matches
    tab.shot(tmp_path, "index-search")
    page.fill("#unit-search", "")
    # peer-group filter
    page.select_option("#peer-filter", "rural")
    assert sorted(set(tab.visible_units())) == ["Huyện Sóc Sơn 002", "Xã Bắc Sơn 00004"]
    page.select_option("#peer-filter", "")
    assert len(tab.visible_units()) == 8

    # English
    page.click(".lang-switch button[data-lang=en]")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("main h2").first.inner_text() == "Overview"
    assert "Districts · January 2024" in page.locator("table.ranking caption").first.inner_text()
    assert page.locator("#peer-filter option[value=urban]").inner_text() == "Urban"
    tab.chart("chart-bands")
    assert "Excellent" in page.inner_text("#chart-bands")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # longer words still fit
    tab.shot(tmp_path, "index-en")
    tab.check_clean()
    tab.close()


def test_sorting_a_period_table(site, browser, tmp_path):
    tab = Tab(browser).open(site / "periods" / "2024-01.html")
    page = tab.page
    districts = "table.ranking >> nth=0"
    score = page.locator(districts).locator("thead th[data-sort]", has_text=re.compile(r"^Điểm$")).first
    score.locator("button").click()
    rows = lambda: [r.split("\t")[2] for r in page.locator(districts).locator("tbody tr").all_inner_texts()]  # noqa: E731
    assert rows() == ["Quận Ba Đình 001", "Huyện Sóc Sơn 002"]  # 74,52 before 90,00
    assert score.get_attribute("aria-sort") == "ascending"
    score.click()  # anywhere on the header cell
    assert rows() == ["Huyện Sóc Sơn 002", "Quận Ba Đình 001"]
    assert score.get_attribute("aria-sort") == "descending"
    tab.check_clean()
    tab.close()


def test_unit_page(site, browser, tmp_path):
    tab = Tab(browser).open(site / "units" / "001-2008-08-01.html")
    page = tab.page
    tab.chart("chart-unit-score")
    tab.chart("chart-unit-rank")
    assert page.locator("h2").first.inner_text().startswith("Quận Ba Đình")
    assert "Tháng 02/2024" in page.inner_text("#detail")
    tab.shot(tmp_path, "unit-vi")
    # every chart saves as PNG and SVG, made in the browser
    page.click("#chart-unit-score details summary")
    links = page.locator("#chart-unit-score .vega-actions a")
    assert sorted(links.all_inner_texts()) == ["Tải ảnh PNG", "Tải ảnh SVG"]
    for label, magic in (("Tải ảnh PNG", b"\x89PNG"), ("Tải ảnh SVG", b"<svg")):
        with page.expect_download() as download:
            links.filter(has_text=label).click()
        saved = Path(download.value.path()).read_bytes()
        assert saved.startswith(magic), saved[:40]
        assert download.value.suggested_filename.startswith("unit-score-001-2008-08-01.")
    page.click(".lang-switch button[data-lang=en]")
    assert "The unit's latest month: February 2024" in page.inner_text("#detail")
    tab.chart("chart-unit-score")
    assert "Monthly" in page.inner_text("#chart-unit-score")  # the legend, in English
    tab.check_clean()
    tab.close()


@pytest.mark.parametrize("page_name, chart", [("index.html", "chart-bands"), ("units/001-2008-08-01.html", "chart-unit-score"),
                                              ("city.html", "chart-heatmap-district"), ("periods/2024-01.html", None)])
def test_pages_fit_a_phone(site, browser, tmp_path, page_name, chart):
    tab = Tab(browser, width=390, height=844).open(site / page_name)
    if chart:
        tab.chart(chart)
    # wide tables scroll inside their own box; the page itself never scrolls sideways
    assert tab.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    tab.shot(tmp_path, "phone-" + page_name.replace("/", "-").removesuffix(".html"))
    tab.check_clean()
    tab.close()


@pytest.mark.parametrize("page_name, chart", [("city.html", "chart-heatmap-district"), ("quality.html", None),
                                              ("report-2024-01.html", None)])
def test_other_pages(site, browser, tmp_path, page_name, chart):
    tab = Tab(browser).open(site / page_name)
    if chart:
        tab.chart(chart)
    assert tab.page.locator("main table").count() > 0
    tab.shot(tmp_path, page_name.removesuffix(".html"))
    tab.check_clean()
    tab.close()


def test_report_prints_to_pdf(site, tmp_path):
    pdf = tmp_path / "report-2024-01.pdf"
    assert print_report_pdf(site / "report-2024-01.html", pdf) is True
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 5_000
    assert b"file:" not in data and str(site).encode() not in data  # no path of the build machine
    assert not list(site.glob(".print-*"))  # the link-free copy it printed is gone
    # the same page printed from another folder gives the same bytes
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(site, elsewhere)
    assert print_report_pdf(elsewhere / "report-2024-01.html", tmp_path / "again.pdf") is True
    assert (tmp_path / "again.pdf").read_bytes() == data
    assert re.search(rb"/MediaBox\s*\[\s*0\s+0\s+59[45](\.\d+)?\s+84[12](\.\d+)?\s*\]", data)  # A4, in points
    shutil.copy(pdf, SHOTS / pdf.name) if SHOTS.is_dir() else None


def _workbook_cells(path) -> dict:
    """Every sheet's cells (value, number format, bold), widths, panes and filter, and the title."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    out = {"title": wb.properties.title, "created": wb.properties.created, "sheets": []}
    for ws in wb.worksheets:
        cells = [[(c.value, c.number_format, bool(c.font.b)) for c in row] for row in ws.iter_rows()]
        widths = {k: d.width for k, d in ws.column_dimensions.items()}
        out["sheets"].append((ws.title, cells, widths, ws.freeze_panes, ws.auto_filter.ref, ws.dimensions))
    return out


def test_workbooks_made_in_the_browser(site, browser, tmp_path):
    """The explaining tables' Excel links: site.js makes the same workbook as the
    Python writer would, from data/<table>-<key>.js, offline."""
    import polars as pl

    from dashboards.data_files import TABLES, xlsx_bytes

    tab = Tab(browser).open(site / "periods" / "2024-01.html")
    for table in ("weak_points", "bottlenecks", "what_if"):
        link = tab.page.locator(f'a[data-xlsx="../data/{table}-2024-01.js"]')
        assert link.get_attribute("href") == f"../data/{table}-2024-01.csv"  # without JavaScript: the CSV
        with tab.page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == f"{table}-2024-01.xlsx"
        made = tmp_path / download.value.suggested_filename
        download.value.save_as(made)
        frame = pl.read_csv(site / "data" / f"{table}-2024-01.csv", schema_overrides=TABLES[table].schema)
        expected = tmp_path / f"expected-{table}.xlsx"
        expected.write_bytes(xlsx_bytes(frame, "2024-01", TABLES[table]))
        assert _workbook_cells(made) == _workbook_cells(expected), table
        assert len(_workbook_cells(made)["sheets"][0][1]) == frame.height + 1
        assert frame.height > 0 or table == "bottlenecks"
    tab.check_clean()
    tab.close()


def test_browser_workbook_keeps_formula_like_text_as_text(browser, tmp_path):
    import openpyxl
    import polars as pl

    from tests.helpers import read_expected_scoreboard
    from tests.test_site import example_inputs

    scoreboard = read_expected_scoreboard()
    inputs = example_inputs(scoreboard)
    inputs["bottlenecks"] = inputs["bottlenecks"].with_columns(
        procedure_name=pl.lit('=HYPERLINK("x")'), procedure_code=pl.lit("+1"))
    build_site(tmp_path / "s", scoreboard, **inputs)
    assert "'=HYPERLINK" in (tmp_path / "s" / "data" / "bottlenecks-2024-01.csv").read_text(encoding="utf-8-sig")
    tab = Tab(browser).open(tmp_path / "s" / "periods" / "2024-01.html")
    with tab.page.expect_download() as download:
        tab.page.locator('a[data-xlsx="../data/bottlenecks-2024-01.js"]').click()
    download.value.save_as(tmp_path / "b.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "b.xlsx").worksheets[0]
    head = [c.value for c in ws[1]]
    rows = list(ws.iter_rows(min_row=2))
    assert rows and {r[head.index("procedure_name")].value for r in rows} == {'=HYPERLINK("x")'}
    assert {r[head.index("procedure_code")].data_type for r in rows} == {"s"}  # text, never a formula
    tab.check_clean()
    tab.close()
