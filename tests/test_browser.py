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


def test_unit_evidence_opens_and_filters(site, browser, tmp_path):
    """The unit page's late dossiers: none in the page; opening the section loads the
    unit's data/evidence/<key>/<unit>.js from disk, fills the table, filters it by text
    (without diacritics) and by class, switches language, and gives the unit's CSV and
    Excel (the same workbook as the Python writer's)."""
    import polars as pl

    from dashboards.data_files import TABLES, xlsx_bytes

    source = (site / "units" / "002-2008-08-01.html").read_text(encoding="utf-8")
    assert "WX-028" not in source  # no row in the page itself
    tab = Tab(browser).open(site / "units" / "002-2008-08-01.html")
    page = tab.page
    box = page.locator("details[data-evidence]")
    assert box.get_attribute("data-evidence") == "../data/evidence/2024-01/002-2008-08-01.js"
    assert "3 hồ sơ: 3 trễ hạn, 0 quá hạn đang xử lý." in page.inner_text("#evidence")
    page.click("details[data-evidence] summary")
    page.wait_for_selector("table.evidence-table tbody tr[data-class]")
    rows = lambda: page.eval_on_selector_all(  # noqa: E731
        "table.evidence-table tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.cells[0].textContent)")
    assert rows() == ["WX-028", "WX-029", "WX-030"]
    # Sóc Sơn lists Bắc Sơn's dossiers: the receiving unit's column is shown
    first = page.locator("table.evidence-table tbody tr").first
    assert first.locator("td").all_inner_texts() == [
        "1.001776", "—", "Trễ hạn", "02/01/2024", "09/01/2024", "10/01/2024", "1", "00004"]
    assert page.inner_text(".evidence-count") == "3/3"
    page.fill("#evidence-filter", "wx-029")
    assert rows() == ["WX-029"] and page.inner_text(".evidence-count") == "1/3"
    page.fill("#evidence-filter", "tre han")  # "Trễ hạn" without its diacritics
    assert len(rows()) == 3
    page.fill("#evidence-filter", "12/01/2024")  # a date as the page writes it: WX-030 ended that day
    assert rows() == ["WX-030"]
    page.fill("#evidence-filter", "")
    page.select_option("#evidence-class", "pending_overdue")
    assert rows() == [] and page.inner_text(".evidence-count") == "0/3"
    page.select_option("#evidence-class", "overdue")
    assert len(rows()) == 3
    tab.shot(tmp_path, "unit-evidence")
    # the headers sort every row, not only those shown
    received = page.locator("table.evidence-table thead th[data-col=received_at]")
    received.click()
    received.click()
    assert received.get_attribute("aria-sort") == "descending" and rows() == ["WX-030", "WX-029", "WX-028"]
    page.click(".lang-switch button[data-lang=en]")
    assert first.locator("td").nth(2).inner_text() == "Overdue"
    assert "3 dossiers: 3 overdue, 0 pending overdue." in page.inner_text("#evidence")

    expected = pl.read_csv(site / "data" / "evidence-2024-01.csv", schema_overrides=TABLES["evidence"].schema,
                           try_parse_dates=True).filter(pl.col("unit_code") == "002")
    with page.expect_download() as download:
        page.locator('a[data-csv-from="../data/evidence/2024-01/002-2008-08-01.js"]').click()
    assert download.value.suggested_filename == "evidence-2024-01-002-2008-08-01.csv"
    made = Path(download.value.path()).read_bytes()
    assert made.startswith(b"\xef\xbb\xbf") and not made.startswith(b"\xef\xbb\xbf\xef\xbb\xbf")
    period_csv = (site / "data" / "evidence-2024-01.csv").read_text(encoding="utf-8-sig").splitlines()
    assert made.decode("utf-8-sig").splitlines() == [period_csv[0]] + [r for r in period_csv[1:] if ",002," in r]
    with page.expect_download() as download:
        page.locator('a[data-xlsx="../data/evidence/2024-01/002-2008-08-01.js"]').click()
    assert download.value.suggested_filename == "evidence-2024-01-002-2008-08-01.xlsx"
    download.value.save_as(tmp_path / "unit.xlsx")
    (tmp_path / "expected.xlsx").write_bytes(xlsx_bytes(expected, "2024-01", TABLES["evidence"]))
    assert _workbook_cells(tmp_path / "unit.xlsx") == _workbook_cells(tmp_path / "expected.xlsx")
    assert len(_workbook_cells(tmp_path / "unit.xlsx")["sheets"][0][1]) == 4
    tab.check_clean()
    tab.close()


def test_unit_evidence_shows_its_first_rows_and_selects_among_all(site, browser):
    """The table shows at most data-shown rows (a unit with tens of thousands of late
    dossiers would take the browser seconds to lay out); the filter, the class menu and
    the sort work on all of them, and a note says the files have them all."""
    tab = Tab(browser).open(site / "units" / "002-2008-08-01.html")
    page = tab.page
    page.evaluate("document.querySelector('details[data-evidence]').setAttribute('data-shown', '2')")
    page.click("details[data-evidence] summary")
    page.wait_for_selector("table.evidence-table tbody tr[data-class]")
    rows = lambda: page.eval_on_selector_all(  # noqa: E731
        "table.evidence-table tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.cells[0].textContent)")
    assert rows() == ["WX-028", "WX-029"] and page.inner_text(".evidence-count") == "3/3"
    assert page.locator(".evidence-more").is_visible()
    page.fill("#evidence-filter", "030")
    assert rows() == ["WX-030"] and not page.locator(".evidence-more").is_visible()
    page.fill("#evidence-filter", "")
    due = page.locator("table.evidence-table thead th[data-col=due_at]")
    due.click()
    due.click()
    assert rows() == ["WX-030", "WX-029"]
    tab.check_clean()
    tab.close()


def test_unit_evidence_of_a_unit_with_none(site, browser):
    tab = Tab(browser).open(site / "units" / "00001-2008-08-01.html")
    assert tab.page.locator("details[data-evidence]").count() == 0
    assert "Không có hồ sơ trễ hạn hay quá hạn trong kỳ." in tab.page.inner_text("#evidence")
    tab.check_clean()
    tab.close()


def test_methodology_page(site, browser, tmp_path):
    tab = Tab(browser).open(site / "index.html")
    tab.page.click("nav.main a[href='methodology.html']")
    tab.page.wait_for_load_state("load")
    assert tab.page.locator("main h2").first.inner_text() == "Phương pháp tính"
    assert "18 × r" in tab.page.inner_text("#groups")
    tab.page.click(".lang-switch button[data-lang=en]")
    assert tab.page.locator("main h2").first.inner_text() == "Methodology"
    assert tab.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    tab.shot(tmp_path, "methodology-en")
    tab.check_clean()
    tab.close()


def test_on_the_demo_a_units_evidence_opens_from_its_page(demo_run, browser, tmp_path):
    """The issue's case: on the demo (`scoreboard demo`, tests/conftest.py demo_run), the
    unit page with the most late dossiers in its detail period opens its evidence file
    and lists exactly its overdue + pending overdue dossiers, as the period's scoreboard
    and evidence files have them; the CSV it gives has the same rows."""
    import polars as pl

    site = demo_run["site"]
    linked = {}
    for path in (site / "units").glob("*.html"):
        found = re.search(r'data-evidence="\.\./data/evidence/([^/"]+)/[^"]+\.js"[^>]*>\s*<summary>.*?\(([\d.]+)\)</summary>',
                          path.read_text(encoding="utf-8"), re.S)
        if found:
            linked[path] = (found.group(1), int(found.group(2).replace(".", "")))
    assert len(linked) > 300
    page_path, (key, _) = max(linked.items(), key=lambda item: (item[1][1], item[0].name))
    code, valid_from = page_path.stem[:-11], page_path.stem[-10:]
    board = pl.read_csv(site / "data" / f"scoreboard-{key}.csv", infer_schema=False, encoding="utf8-lossy").filter(
        unit_code=code, unit_valid_from=valid_from)
    overdue, pending = int(board["overdue"][0]), int(board["pending_overdue"][0])
    late = overdue + pending
    period_rows = pl.read_csv(site / "data" / f"evidence-{key}.csv", infer_schema=False, encoding="utf8-lossy").filter(
        unit_code=code, unit_valid_from=valid_from)
    assert period_rows.height == late > 20

    tab = Tab(browser).open(page_path)
    page = tab.page
    assert f"{late} hồ sơ: {overdue} trễ hạn, {pending} quá hạn đang xử lý." in page.inner_text("#evidence")
    page.click("details[data-evidence] summary")
    page.wait_for_selector("table.evidence-table tbody tr[data-class]")
    rows = lambda: page.eval_on_selector_all(  # noqa: E731
        "table.evidence-table tbody tr", "rs => rs.filter(r => !r.hidden).map(r => r.cells[0].textContent)")
    assert sorted(rows()) == sorted(period_rows["dossier_id"]) and len(rows()) == late
    assert page.inner_text(".evidence-count") == f"{late}/{late}"
    page.select_option("#evidence-class", "pending_overdue")
    assert len(rows()) == pending and page.inner_text(".evidence-count") == f"{pending}/{late}"
    page.select_option("#evidence-class", "overdue")
    assert len(rows()) == overdue
    tab.shot(tmp_path, "demo-unit-evidence")
    with page.expect_download() as download:
        page.locator(f'a[data-csv-from="../data/evidence/{key}/{page_path.stem}.js"]').click()
    made = pl.read_csv(Path(download.value.path()), infer_schema=False, encoding="utf8-lossy")
    assert made.height == late and made.columns == period_rows.columns
    assert made.sort("dossier_id").equals(period_rows.sort("dossier_id"))
    tab.check_clean()
    tab.close()
