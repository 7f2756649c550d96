"""The site shows the profile's bands and labels of the rates, from the profile alone.

An office's profile may relabel a band, add one and relabel an indicator
(config/profiles/default.yaml); every page that shows them follows, and a
changed label rebuilds the pages that show it. Real site builds of the worked
example, re-banded with the profile as scoring would band it.
"""

from __future__ import annotations

import json
import re
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from dashboards.site import build_site
from tests.helpers import DEFAULT_PROFILE_PATH, EXAMPLE, SCOREBOARD_COLUMNS
from transforms.insights import weak_points
from transforms.profile import ProfileError, load_profile
from transforms.score import round_score

MANIFEST = {"run_at": "2024-03-01T07:30:00+07:00", "inputs": [{"name": "dossiers.csv", "sha256": "0" * 64}]}
DEFAULT_TEXT = DEFAULT_PROFILE_PATH.read_text(encoding="utf-8")
DEFAULT_BANDS = """  - {label: Xuất sắc, label_en: Excellent, min: 90}
  - {label: Tốt, label_en: Good, min: 80}
  - {label: Khá, label_en: Fair, min: 70}
  - {label: Trung bình, label_en: Average, min: 50}
  - {label: Yếu, label_en: Weak, min: null}
"""
# Tốt relabelled; Khá split in two by a band of its own (six bands: one more than the colours)
OFFICE_BANDS = """  - {label: Xuất sắc, label_en: Excellent, min: 90}
  - {label: Tốt lắm, label_en: Very good, min: 80}
  - {label: Khá, label_en: Fair, min: 75}
  - {label: Đạt yêu cầu, label_en: Satisfactory, min: 70}
  - {label: Trung bình, label_en: Average, min: 50}
  - {label: Yếu, label_en: Weak, min: null}
"""
ON_TIME = "      - {rate: on_time_rate, kind: linear, max: 20}\n"
ON_TIME_RELABELLED = ("      - {rate: on_time_rate, kind: linear, max: 20, label_vi: Tỷ lệ giải quyết đúng hẹn, "
                      "label_en: Resolved on schedule}\n")
# the site's colour classes, best first (dashboards/static/site.css)
CSS = ("xs", "tot", "kha", "tb", "yeu")


def office_profile(folder: Path, bands: str = OFFICE_BANDS, on_time: str = ON_TIME_RELABELLED, name="office.yaml"):
    assert DEFAULT_TEXT.count(DEFAULT_BANDS) == 1 and DEFAULT_TEXT.count(ON_TIME) == 1
    path = folder / name
    path.write_text(DEFAULT_TEXT.replace(DEFAULT_BANDS, bands).replace(ON_TIME, on_time), encoding="utf-8")
    return load_profile(path)


def banded(profile) -> pl.DataFrame:
    """The worked example's scoreboard with the profile's bands, as scoring gives them."""
    frame = pl.read_csv(EXAMPLE / "expected_scoreboard.csv", schema_overrides=SCOREBOARD_COLUMNS)
    return frame.with_columns(band=profile.band_expr(round_score(pl.col("score"))))


def build(root: Path, profile) -> Path:
    frame = banded(profile)
    build_site(root, frame, profile=profile, manifest=MANIFEST, weak_points=weak_points(frame, profile),
               warnings=on_time_warning())
    return root


def on_time_warning() -> pl.DataFrame:
    """An early warning on the on-time rate of Ba Đình in January."""
    return pl.DataFrame({
        "period_type": ["month"], "period_key": ["2024-01"], "unit_code": ["001"],
        "unit_valid_from": [date(2008, 8, 1)], "unit_name": ["Quận Ba Đình"], "level": ["district"],
        "indicator": ["on_time_rate"], "value": [0.25], "baseline": [0.75], "z": [-3.1], "kind": ["drop"],
        "message_vi": ["Giảm mạnh"], "message_en": ["Fell sharply"],
    })


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def band_spans(html: str) -> list[tuple[str, str]]:
    """(class suffix, Vietnamese text) of every band shown in a table cell."""
    return [(css, re.sub(r"<[^>]+>", "", text))
            for css, text in re.findall(r'<span class="band band-([a-z]+)">(.*?)</span></t[dh]>', html)]


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    folder = tmp_path_factory.mktemp("office")
    profile = office_profile(folder)
    return profile, build(folder / "site", profile), banded(profile)


def test_the_profile_bands_the_example_into_the_new_and_relabelled_bands(office):
    profile, _site, frame = office
    january = frame.filter(pl.col("period_key") == "2024-01", pl.col("ranked"))
    # Sóc Sơn 90,00, Phúc Xá 86,67, Bắc Sơn 76,77, Ba Đình 74,52
    assert sorted(january["band"].to_list()) == sorted(["Xuất sắc", "Tốt lắm", "Khá", "Đạt yêu cầu"])
    assert [b.label for b in profile.bands] == ["Xuất sắc", "Tốt lắm", "Khá", "Đạt yêu cầu", "Trung bình", "Yếu"]


def test_the_report_counts_every_ranked_unit_in_the_profile_s_bands(office):
    profile, site, frame = office
    html = read(site / "report-2024-01.html")
    table = html[html.index("Tổng hợp xếp loại"):]
    table = table[:table.index("</table>")]
    heads = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", table)]
    assert heads == ["Cấp", *[b.label for b in profile.bands], "Chưa xếp hạng", "Số đơn vị được xếp hạng", "Tổng"]
    assert 'data-en="Very good"' in table and 'data-en="Satisfactory"' in table
    january = frame.filter(pl.col("period_key") == "2024-01")
    rows = re.findall(r"<tr>(.*?)</tr>", table[table.index("<tbody>"):], re.S)
    assert len(rows) == january["level"].n_unique() == 2
    for row in rows:
        numbers = [int(n) for n in re.findall(r"<td>(\d+)</td>", row)]
        *per_band, not_ranked, ranked, total = numbers
        assert len(per_band) == len(profile.bands)
        assert sum(per_band) == ranked > 0 and ranked + not_ranked == total  # the ranked units in bands, every unit
    counted = sum(int(n) for row in rows for n in re.findall(r"<td>(\d+)</td>", row)[:len(profile.bands)])
    assert counted == january.filter(pl.col("ranked")).height


def test_every_band_cell_has_a_colour_of_its_position(office):
    profile, site, frame = office
    shown = []
    for page in [site / "index.html", *sorted((site / "periods").glob("*.html")), *sorted((site / "units").glob("*.html")),
                 site / "city.html"]:
        shown += band_spans(read(page))
    labels = [b.label for b in profile.bands]
    # six bands, five colours: the best and the worst keep theirs, two in the middle share one
    colours = dict(zip(labels, ["xs", "tot", "kha", "kha", "tb", "yeu"]))
    scored = [(css, text) for css, text in shown if text != "Chưa có điểm"]
    assert {text for _css, text in scored} >= {"Tốt lắm", "Đạt yêu cầu"}
    for css, text in scored:
        assert css == colours[text], (css, text)
    assert all(css == "none" for css, text in shown if text == "Chưa có điểm")
    unit = read(site / "units" / "001-2008-08-01.html")  # Ba Đình, in January: the new band
    assert '<span class="band band-kha"><span data-en="Satisfactory">Đạt yêu cầu</span></span>' in unit


def test_the_bands_chart_colours_every_band_it_shows(office):
    profile, site, _frame = office
    html = read(site / "index.html")
    script = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S).group(1)
    data = json.loads(script)
    chart = next(c for c in data["charts"] if c["id"] == "chart-bands")
    shown = {r["band_vi"] for r in data["datasets"]["bands"]}
    assert shown == {"Xuất sắc", "Tốt lắm", "Khá", "Đạt yêu cầu"}
    palette = {"xs": "#1b7a3a", "tot": "#5aa832", "kha": "#d4a90f", "tb": "#e36d12", "yeu": "#c4262e"}
    present = [b for b in profile.bands if b.label in shown]  # in the profile's order
    for lang in ("vi", "en"):
        scale = chart[lang]["encoding"]["color"]["scale"]
        assert scale["domain"] == [b.label if lang == "vi" else b.label_en for b in present]
        assert scale["range"] == [palette[c] for c in ("xs", "tot", "kha", "kha")]
    svg = read(site / "charts" / "bands-2024-01.svg")
    assert "Đạt yêu cầu" in svg and "Tốt lắm" in svg


def test_tables_head_the_rate_with_the_profile_s_label(office):
    _profile, site, _frame = office
    relabelled = '<span data-en="Resolved on schedule">Tỷ lệ giải quyết đúng hẹn</span>'
    period = read(site / "periods" / "2024-01.html")
    assert f'{relabelled}<small>%</small></th>' in period
    assert "Tỷ lệ đúng hạn" not in period and "On-time rate" not in period
    unit = read(site / "units" / "001-2008-08-01.html")  # its counts and its weak points
    assert unit.count(relabelled) >= 2 and "Tỷ lệ đúng hạn" not in unit
    assert relabelled in read(site / "city.html")  # the early warning's indicator
    assert "Tỷ lệ giải quyết đúng hẹn" in read(site / "methodology.html")
    with zipfile.ZipFile(site / "data" / "scoreboard-2024-01.xlsx") as book:  # the workbook's legend
        legend = book.read("xl/worksheets/sheet2.xml").decode("utf-8")
    assert "Tỷ lệ giải quyết đúng hẹn" in legend and "Resolved on schedule" in legend


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".par-build.json"}


def test_a_relabelled_band_rebuilds_every_page_that_shows_it(office, tmp_path):
    """The English name of a band (no published value changes: only the profile) and the
    Vietnamese one of another (the band column changes with it), and an indicator's
    English label: the site built over the previous one is the site built afresh."""
    profile, _site, _frame = office
    incremental = build(tmp_path / "incremental", profile)
    bands = OFFICE_BANDS.replace("label_en: Satisfactory", "label_en: Passing").replace("Tốt lắm", "Rất tốt")
    on_time = ON_TIME_RELABELLED.replace("Resolved on schedule", "Settled on schedule")
    changed = office_profile(tmp_path, bands, on_time, name="changed.yaml")
    build(incremental, changed)
    fresh = build(tmp_path / "fresh", changed)
    assert snapshot(incremental) == snapshot(fresh)
    unit = read(incremental / "units" / "001-2008-08-01.html")
    assert '<span data-en="Passing">Đạt yêu cầu</span>' in unit and "Satisfactory" not in unit
    assert "Settled on schedule" in unit and "Resolved on schedule" not in unit
    period = read(incremental / "periods" / "2024-01.html")
    assert '<span data-en="Very good">Rất tốt</span>' in period and "Tốt lắm" not in period
    assert "Satisfactory" not in read(incremental / "index.html") + read(incremental / "report-2024-01.html")


# --------------------------------------------------------------------------- profile errors


@pytest.mark.parametrize(("edit", "words"), [
    (("  - {label: Tốt, label_en: Good, min: 80}", "  - {label_en: Good, min: 80}"), "band 2 has no label"),
    (("  - {label: Tốt, label_en: Good, min: 80}", '  - {label: Tốt, label_en: Good, min: "80"}'),
     "band 2 (Tốt): min '80' is not a number"),
    (("  - {label: Khá, label_en: Fair, min: 70}", "  - {label: Khá, label_en: Fair, min: 85}"),
     "band 3 (Khá): its min 85 is above the min of the band before it (80)"),
    (("  - {label: Yếu, label_en: Weak, min: null}", "  - {label: Yếu, label_en: Weak, min: 0}"),
     "band 5 (Yếu), the last, must have no minimum"),
    (("  - {label: Khá, label_en: Fair, min: 70}", "  - {label: Tốt, label_en: Fair, min: 70}"),
     "band 3 (Tốt) is given twice"),
    (("  - {label: Trung bình, label_en: Average, min: 50}", "  - Trung bình"), "band 4 must be a mapping"),
    (("min_volume: 10", "min_volume: ten"), "min_volume 'ten' is not a whole number"),
    (("threshold: 0.5}", "threshold: half}"), "indicator online_rate: threshold 'half' is not a number"),
])
def test_a_bad_profile_is_refused_naming_its_file_and_the_band(tmp_path, edit, words):
    old, new = edit
    assert DEFAULT_TEXT.count(old) == 1
    path = tmp_path / "office.yaml"
    path.write_text(DEFAULT_TEXT.replace(old, new), encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    message = str(err.value)
    assert message.startswith(f"profile {path}: ") and words in message, message
    assert "\n" not in message


def test_a_band_s_colour_is_that_of_its_position():
    from types import SimpleNamespace

    from dashboards.i18n import BAND_COLOURS, site_bands

    def colours(n: int) -> list[str]:
        profile = SimpleNamespace(bands=[SimpleNamespace(label=f"b{i}", label_en=f"B{i}") for i in range(n)])
        return [b.css for b in site_bands(profile)]

    assert [c for c, _ in BAND_COLOURS] == list(CSS)
    assert colours(5) == list(CSS)
    assert colours(1) == ["xs"]
    assert colours(2) == ["xs", "yeu"]
    assert colours(3) == ["xs", "kha", "yeu"]
    assert colours(6) == ["xs", "tot", "kha", "kha", "tb", "yeu"]
    assert colours(9)[0] == "xs" and colours(9)[-1] == "yeu" and len(colours(9)) == 9


def test_the_band_colours_are_site_css_s_and_written_nowhere_else():
    from dashboards.i18n import BAND_COLOURS, SITE_CSS, _css_colours

    css = SITE_CSS.read_text(encoding="utf-8")
    for name, colour in BAND_COLOURS:
        assert f"--{name}: {colour};" in css and f".band-{name}::before {{ background: var(--{name}); }}" in css
    recoloured = css.replace("--kha: #d4a90f", "--kha: #123456")
    assert dict(_css_colours(recoloured, ("xs", "kha")))["kha"] == "#123456"
    with pytest.raises(ValueError, match=r"site.css: no colour for the band variable\(s\) --tb"):
        _css_colours(css.replace("--tb:", "--tb-old:"), ("xs", "tb"))
    # no Python module writes the bands' colours again (one of them may be another
    # chart's colour: charts.py draws two series in the accent and an orange)
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in (root / "dashboards").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert sum(colour in text for _, colour in BAND_COLOURS) <= 1, path
