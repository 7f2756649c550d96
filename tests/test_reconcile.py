"""Reconciliation with the national portal: files shaped as the public 766 trackers
read them (the index page's report_tinh_766_service records: ID, TEN, MA_COQUAN,
CAPDONVIID, LOAI_COQUAN, CKMB, TDGQ, CLGQ, TTTT, MDSH, MDHL, TONG_SCORE as text;
the newer service-results JSON: data.evaluation[].groupScores), matched to a
month of our scoreboard, on a demo month through the CLI and the published page."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from config import config_path
from pipelines.cli import main, run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from demo.generate import generate_exports
from tests.helpers import DEFAULT_PROFILE
from transforms.reconcile import (
    ReconcileError,
    load_field_map,
    read_portal_file,
    reconcile,
    registry_agency_codes,
)
from transforms.units import load_registry

PROFILE = DEFAULT_PROFILE
GROUPS = ("transparency", "timeliness", "online", "payment", "digitization", "satisfaction")


def our_month(units: list[dict]) -> pl.DataFrame:
    """Scoreboard rows of 2025-10 for hand-made units (points per group, score, volume)."""
    rows = []
    for u in units:
        pts = u["points"]
        row = {
            "period_type": "month", "period_key": "2025-10", "period_start": date(2025, 10, 1),
            "unit_code": u["code"], "unit_valid_from": date(2025, 7, 1), "unit_name": u["name"],
            "level": u.get("level", "commune"), "received": u.get("received", 100), "timeliness_base": u.get("base", 100),
            "ranked": u.get("ranked", True), "provisional": False, "synced_rate": u.get("synced", 1.0),
            **{f"points_{g}": p for g, p in zip(GROUPS, pts)},
        }
        # rates: null where the group does not apply (transparency: synced_rate)
        row.update(on_time_rate=0.9, online_rate=0.5, paid_online_rate=0.5, digitized_rate=0.5, e_result_rate=0.5,
                   satisfaction_rate=0.9, complaint_rate=0.0)
        if pts[0] is None:
            row["synced_rate"] = None
        applicable = sum(m for g, m in zip(GROUPS, (18, 20, 12, 10, 22, 18)) if row[f"points_{g}"] is not None)
        row["score"] = 100 * sum(p for p in pts if p is not None) / applicable
        rows.append(row)
    return pl.DataFrame(rows)


OURS = our_month([
    {"code": "00004", "name": "Phường Ba Đình", "points": [18.0, 18.0, 12.0, 5.0, 11.0, 18.0]},  # 82
    {"code": "00008", "name": "Phường Ngọc Hà", "points": [9.0, 20.0, 12.0, 10.0, 22.0, 18.0], "synced": 0.5},  # 91
    {"code": "00091", "name": "Xã Phù Đổng", "points": [None, 10.0, 6.0, 5.0, 11.0, 9.0], "received": 3, "base": 2,
     "ranked": False},  # 41 of 82 -> 50
    {"code": "00097", "name": "Xã Thiên Lộc", "points": [18.0, 20.0, 12.0, 10.0, 22.0, 18.0]},  # 100, not on the portal
    {"code": "00100", "name": "Xã Đông Anh", "points": [18.0, 20.0, 12.0, 10.0, 22.0, 18.0]},
    {"code": "00101", "name": "Phường Đông Anh", "points": [18.0, 20.0, 12.0, 10.0, 22.0, 18.0]},
])


def portal_record(id_, name, groups, code=None, **extra) -> dict:
    """A report_tinh_766_service record as the index page serves it: numbers as text."""
    keys = ("CKMB", "TDGQ", "CLGQ", "TTTT", "MDSH", "MDHL")
    rec = {"ID": id_, "TEN": name, "MA_COQUAN": code, "CAPDONVIID": "5", "LOAI_COQUAN": 3, "ID_COQUAN": None}
    rec.update({k: (None if v is None else f"{v:.2f}") for k, v in zip(keys, groups)})
    rec["TONG_SCORE"] = f"{sum(v for v in groups if v is not None):.2f}"
    rec.update(extra)
    return rec


def write_json(path: Path, records) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def test_records_are_matched_by_code_or_name_and_compared_group_by_group(tmp_path):
    registry = tmp_path / "units.csv"
    registry.write_text(
        "unit_code,unit_name,level,parent_code,peer_group,valid_from,valid_to,agency_code\n"
        + "".join(f"{c},{n},commune,,urban,2025-07-01,,{a}\n" for c, n, a in [
            ("00004", "Phường Ba Đình", "H01.01.01"), ("00008", "Phường Ngọc Hà", ""), ("00091", "Xã Phù Đổng", ""),
            ("00097", "Xã Thiên Lộc", ""), ("00100", "Xã Đông Anh", ""), ("00101", "Phường Đông Anh", "")]),
        encoding="utf-8",
    )
    agency = registry_agency_codes(load_registry(registry), registry)
    assert agency.to_dicts() == [{"unit_code": "00004", "unit_valid_from": date(2025, 7, 1), "agency_code": "H01.01.01"}]
    path = write_json(tmp_path / "portal-2025-10.json", [
        portal_record("401", "Ủy ban nhân dân phường Ba Đình (cũ)", [17.5, 19.0, 12.0, 5.0, 11.0, 18.0], code="h01.01.01"),
        portal_record("402", "UBND Phường Ngọc Hà", [17.0, 20.0, 12.0, 10.0, 22.0, 18.0]),
        portal_record("403", "UBND xã Phù Đổng", [14.0, 10.0, 6.0, 5.0, 11.0, 9.0]),
        portal_record("404", "UBND Đông Anh", [18.0, 20.0, 12.0, 10.0, 22.0, 18.0]),  # xã or phường?
        portal_record("405", "UBND tỉnh Hà Nam", [10.0, 18.0, 8.0, 6.0, 9.0, 12.0]),
        portal_record("406", "Phường Ngọc Hà", [17.0, 20.0, 12.0, 10.0, 22.0, 18.0]),  # a second record for it
    ])
    portal = read_portal_file(path, load_field_map())
    assert portal.period_hint == "2025-10" and portal.where == "record"
    assert portal.items == ["total", *GROUPS]
    rec = reconcile(portal, OURS, "2025-10", profile=PROFILE, agency=agency)
    assert rec.counts() == {"records": 6, "matched": 2, "missing": 3, "extra": 1, "unmatched": 3}

    compared = {r["unit_code"]: r for r in rec.compared.iter_rows(named=True)}
    ba_dinh = compared["00004"]
    assert ba_dinh["matched_by"] == "agency_code"  # its name on the portal would not have matched
    assert (ba_dinh["ours_total"], ba_dinh["portal_total"]) == (82.0, 82.5)
    assert ba_dinh["diff_total"] == pytest.approx(-0.5)
    assert ba_dinh["diff_transparency"] == pytest.approx(0.5) and ba_dinh["diff_timeliness"] == pytest.approx(-1.0)
    phu_dong = compared["00091"]
    assert phu_dong["matched_by"] == "name"
    assert phu_dong["ours_transparency"] is None and phu_dong["diff_transparency"] is None
    assert (phu_dong["ours_total"], phu_dong["portal_total"]) == (50.0, 55.0)

    assert sorted(rec.missing["unit_code"].to_list()) == ["00097", "00100", "00101"]  # Ngọc Hà is contested, not missing
    assert rec.extra.select("record", "unit_id", "unit_name").rows() == [(5, "405", "UBND tỉnh Hà Nam")]
    unmatched = {r["record"]: (r["status"], r["candidates"]) for r in rec.unmatched.iter_rows(named=True)}
    assert unmatched == {2: ("duplicate", ["00008"]), 4: ("ambiguous", ["00100", "00101"]),
                         6: ("duplicate", ["00008"])}

    # the largest gap (Phù Đổng, 5 points) is explained from our data
    why = rec.explanations.filter(pl.col("unit_code") == "00091").sort("order")
    # its groups agree but transparency, which does not apply in our data: no "largest group"
    kinds = why["kind"].to_list()
    assert kinds == ["group_not_applicable", "rescaled", "low_volume"]
    assert why.filter(pl.col("kind") == "rescaled")["a"].to_list() == [82.0]
    assert why.filter(pl.col("kind") == "low_volume").select("a", "b").rows() == [(5.0, 10.0)]
    assert rec.explanations.filter(pl.col("unit_code") == "00004").height == 0  # 0.5 < min_gap_points


def test_an_unsynced_unit_is_told_why_and_a_swapped_mapping_is_noticed(tmp_path):
    ours = OURS.filter(pl.col("unit_code") == "00008")
    # a tracker that reads CLGQ as payment and TTTT as online service
    path = write_json(tmp_path / "p.json", [portal_record("402", "UBND Phường Ngọc Hà", [16.0, 20.0, 10.0, 12.0, 22.0, 18.0])])
    rec = reconcile(read_portal_file(path), ours, "2025-10", profile=PROFILE)
    row = rec.compared.row(0, named=True)
    assert row["diff_total"] == pytest.approx(-7.0)  # 91 against 98
    assert rec.explanations.select("kind", "item", "a", "b").rows() == [
        ("largest_group", "transparency", 9.0, 16.0),
        ("not_synced", None, 0.5, 100.0),
    ]
    assert rec.warnings == [{"kind": "above_max", "item": "payment", "count": 1, "limit": 10.0, "value": 12.0,
                             "example": "UBND Phường Ngọc Hà"}]
    swapped = tmp_path / "swapped.csv"
    swapped.write_text(
        (Path(__file__).parents[1] / "config" / "portal_fields.csv").read_text(encoding="utf-8")
        .replace("CLGQ,online,", "CLGQ,payment,").replace("TTTT,payment,", "TTTT,online,"),
        encoding="utf-8",
    )
    rec = reconcile(read_portal_file(path, load_field_map(swapped)), ours, "2025-10", profile=PROFILE)
    assert rec.warnings == [] and rec.compared["diff_online"].to_list() == [0.0]


def test_the_office_files_the_settings_name_decide_the_mapping_and_the_explanations(tmp_path):
    """Ngọc Hà synced half its dossiers: told so under the shipped synced_below (0.95),
    not under an office's 0.4; an office mapping that swaps CLGQ and TTTT fits the file."""
    ours = OURS.filter(pl.col("unit_code") == "00008")
    path = write_json(tmp_path / "p.json", [portal_record("402", "UBND Phường Ngọc Hà", [16.0, 20.0, 10.0, 12.0, 22.0, 18.0])])
    shipped = ScoreboardSettings()
    rec = reconcile(read_portal_file(path, shipped.portal_fields()), ours, "2025-10", profile=PROFILE,
                    settings=shipped.reconcile_settings())
    assert rec.explanations["kind"].to_list() == ["largest_group", "not_synced"] and rec.warnings
    office = tmp_path / "hanoi-reconcile.yaml"
    office.write_text("synced_below: 0.4\n", encoding="utf-8")
    swapped = tmp_path / "swapped.csv"
    swapped.write_text(
        config_path("portal_fields.csv").read_text(encoding="utf-8")
        .replace("CLGQ,online,", "CLGQ,payment,").replace("TTTT,payment,", "TTTT,online,"),
        encoding="utf-8",
    )
    settings = ScoreboardSettings(reconcile_path=str(office), portal_fields_path=str(swapped))
    rec = reconcile(read_portal_file(path, settings.portal_fields()), ours, "2025-10", profile=PROFILE,
                    settings=settings.reconcile_settings())
    assert rec.explanations["kind"].to_list() == ["largest_group", "unexplained"] and rec.warnings == []


def test_the_newer_portal_json_and_a_saved_csv_table_read_alike(tmp_path):
    evaluation = {
        "code": "OK",
        "data": {
            "overview": {"departmentName": "Cả nước", "totalScore": 62.59},
            "evaluation": [{
                "departmentId": "019d2be3-6a85-74ec-a33c-a7c04919ba00", "departmentName": "UBND Phường Ba Đình",
                "departmentCode": "H01.01", "totalScore": 65.49, "scoreDelta": 18.02,
                "groupScores": {"CKMB": 11.85, "TDGQ": 17.72, "CLGQ": 8.97, "MDSH": 9.08, "MDHL": 11.18, "TTTT": 6.69},
            }],
            "radar": [{"code": "ONLINE_SERVICE", "score": 14.72, "maxScore": 22}],
        },
    }
    j = read_portal_file(write_json(tmp_path / "service-results.json", evaluation))
    csv_path = tmp_path / "bang-diem.csv"
    csv_path.write_text(
        "\ufeffSTT;Tên đơn vị;Mã định danh;Công khai, minh bạch;Tiến độ giải quyết;Dịch vụ công trực tuyến;"
        "Thanh toán trực tuyến;Số hóa hồ sơ;Mức độ hài lòng;Tổng điểm\n"
        "1;UBND Phường Ba Đình;H01.01;11,85;17,72;8,97;6,69;9,08;11,18;65,49\n",
        encoding="utf-8",
    )
    c = read_portal_file(csv_path)
    assert c.where == "line" and j.where == "record"
    assert c.items == j.items == ["total", *GROUPS]
    assert c.values.sort("item").drop("record").equals(j.values.sort("item").drop("record"))
    assert c.records.select("unit_name", "agency_code").row(0) == j.records.select("unit_name", "agency_code").row(0)
    assert c.values["record"].to_list()[0] == 2  # a CSV's records are named by their line


@pytest.mark.parametrize(
    ("name", "content", "sentence"),
    [
        ("p.json", '[{"TEN": "UBND xã A", "CKMB": "12.5",}]', "p.json, line 1: not valid JSON"),
        ("p.json", json.dumps([portal_record("1", "UBND xã A", [1, 2, 3, 4, 5, 6]),
                               portal_record("2", "UBND xã B", [1, 2, 3, 4, 5, 6], TDGQ="mười")]),
         "p.json, record 2: TDGQ is 'mười', not a number"),
        ("p.json", json.dumps({"data": {"message": "Phiên đăng nhập hết hạn"}}), "p.json: no list of units found"),
        ("p.json", json.dumps([{"TEN": "UBND xã A", "GHI_CHU": "x"}]), "p.json, record 1: no score field the mapping"),
        ("p.json", json.dumps([{"CKMB": 3}]), "p.json, record 1: the record names no unit"),
        ("p.csv", "TEN,CKMB,TONG_SCORE\nUBND xã A,3,40\nUBND xã B,4,50,9\n", "p.csv, line 3: more cells than the header has"),
        # the line an office finds it on: after a blank line and a line of separators, and
        # after a cell of two lines
        ("p.csv", "TEN;CKMB;TDGQ;TONG_SCORE\nHuyện Sóc Sơn;17,5;18;91,5\n\n;;;\nPhường Phúc Xá;18;abc;77,5\n",
         "p.csv, line 5: TDGQ is 'abc', not a number"),
        ("p.csv", 'TEN,CKMB,TDGQ,TONG_SCORE\n"Huyện Sóc Sơn\nX",17.5,18,91.5\nPhường Phúc Xá,18,abc,77.5\n',
         "p.csv, line 4: TDGQ is 'abc', not a number"),
        ("p.xlsx", "PK", "p.xlsx: a portal file must be JSON"),
    ],
)
def test_a_bad_portal_file_gets_one_sentence(tmp_path, name, content, sentence):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReconcileError) as info:
        read_portal_file(path)
    assert str(info.value).startswith(sentence) and "\n" not in str(info.value)


# A portal CSV as an office saves it: a good line, a blank line, then the line under test.
CSV_HEAD = "TEN;ROW_STT;CKMB;TDGQ;TONG_SCORE\nPhường Phúc Xá;1;17,5;18;91,5\n\n"


@pytest.mark.parametrize(
    ("line", "sentence"),
    [
        ("Phường Trúc Bạch;2;NaN;18;77,5", "p.csv, line 4: CKMB is 'NaN', not a number"),
        ("Phường Trúc Bạch;2;17;nan;77,5", "p.csv, line 4: TDGQ is 'nan', not a number"),
        ("Phường Trúc Bạch;2;17;18;inf", "p.csv, line 4: TONG_SCORE is 'inf', not a number"),
        ("Phường Trúc Bạch;2;17;18;-Infinity", "p.csv, line 4: TONG_SCORE is '-Infinity', not a number"),
        ("Phường Trúc Bạch;2;17;18;1e999", "p.csv, line 4: TONG_SCORE is '1e999', not a number"),
        ("Phường Trúc Bạch;2;17;nan%;77,5", "p.csv, line 4: TDGQ is 'nan%', not a number"),
        ("Phường Trúc Bạch;NaN;17;18;77,5", "p.csv, line 4: ROW_STT is 'NaN', not a number"),
        ("Phường Trúc Bạch;2;-3,5;18;77,5", "p.csv, line 4: CKMB is '-3,5', below 0"),
        ("Phường Trúc Bạch;2;17;18;-0,01", "p.csv, line 4: TONG_SCORE is '-0,01', below 0"),
    ],
)
def test_a_portal_value_that_is_no_number_of_points_is_an_error_of_its_line(tmp_path, line, sentence):
    """float() reads NaN and infinities: a NaN had headed the largest gaps and the warnings."""
    path = tmp_path / "p.csv"
    path.write_text(CSV_HEAD + line + "\n", encoding="utf-8")
    with pytest.raises(ReconcileError) as info:
        read_portal_file(path)
    assert str(info.value).startswith(sentence) and "\n" not in str(info.value)


def test_json_s_nan_infinity_and_negative_points_are_refused_above_the_maximum_reads(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('[{"TEN": "UBND xã A", "CKMB": 12.5}, {"TEN": "UBND xã B", "CKMB": NaN}]', encoding="utf-8")
    with pytest.raises(ReconcileError, match=r"^p.json, record 2: CKMB is 'nan', not a number$"):
        read_portal_file(path)
    path.write_text('[{"TEN": "UBND xã A", "TONG_SCORE": -Infinity}]', encoding="utf-8")
    with pytest.raises(ReconcileError, match=r"^p.json, record 1: TONG_SCORE is '-inf', not a number$"):
        read_portal_file(path)
    path.write_text('[{"TEN": "UBND xã A", "CKMB": 12.5, "TDGQ": -2}]', encoding="utf-8")
    with pytest.raises(ReconcileError, match=r"^p.json, record 1: TDGQ is '-2', below 0 \(points are never negative\)$"):
        read_portal_file(path)
    # 0 points is a value; above a group's maximum reads (the page warns the mapping may not fit)
    path.write_text('[{"TEN": "UBND xã A", "CKMB": 0, "TTTT": "12"}]', encoding="utf-8")
    assert read_portal_file(path).values.sort("item").rows() == [(1, "payment", 12.0), (1, "transparency", 0.0)]


def test_a_bad_mapping_line_is_named(tmp_path):
    path = tmp_path / "fields.csv"
    path.write_text("# comment\nfield,meaning,note\nCKMB,transparency,\nTTTT,payments,\n", encoding="utf-8")
    with pytest.raises(ReconcileError, match=r"fields.csv, line 4: 'payments' is not a meaning"):
        load_field_map(path)


# --------------------------------------------------------------------------- a demo month, end to end


def cells(row_html: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html)]


def test_a_demo_month_through_the_cli_shows_every_unit_matched_with_its_differences(tmp_path, monkeypatch, capsys):
    """The demo's October 2025 (the generator's Hà Nội, 126 wards and communes and 16
    departments): the portal lists every unit but one, by the names the portal writes
    ("UBND Phường …", "Sở …"), with 1 point less for timeliness, plus the province's own record."""
    monkeypatch.setenv("SCOREBOARD_NOW", "2025-11-20T09:00:00")
    generate_exports(tmp_path / "landing", date(2025, 10, 1), date(2025, 10, 31), scale=0.02)
    settings = ScoreboardSettings.from_env(landing_dir=str(tmp_path / "landing"), site_dir=str(tmp_path / "site"))
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    run_pipeline(settings, warehouse)
    published = pl.read_csv(settings.site / "data" / "scoreboard-2025-10.csv", infer_schema=False, encoding="utf8-lossy")
    published = published.rename(lambda c: c.lstrip("\ufeff")).sort("unit_code")
    assert published.group_by("level").len().sort("level").rows() == [("commune", 126), ("department", 16)]
    listed = published.height

    def points(v):
        return None if v in (None, "") else float(v)

    records, left_out = [], published.row(7, named=True)
    for i, r in enumerate(published.iter_rows(named=True)):
        if r["unit_code"] == left_out["unit_code"]:
            continue
        groups = [points(r[f"points_{g}"]) for g in GROUPS]
        groups[1] = None if groups[1] is None else round(groups[1] - 1.0, 6)
        name = f"UBND {r['unit_name']}" if r["level"] == "commune" else r["unit_name"]
        records.append(portal_record(str(500000 + i), name, groups, ROW_STT=i + 1))
    records.append(portal_record("1", "UBND Thành phố Hà Nội", [12, 17, 9, 7, 10, 12]))
    portal = write_json(tmp_path / "diem-766-2025-10.json", records)

    code = main(["reconcile", str(portal), "--landing", str(settings.landing), "--warehouse", warehouse.path,
                 "--site", str(settings.site)])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, captured.err
    assert f"{listed} records, {listed - 1} matched, 1 of our units missing from the portal, 1 extra, 0 unmatched." in out

    page = (settings.site / "reconciliation" / "2025-10.html").read_text(encoding="utf-8")
    assert "diem-766-2025-10.json" in page
    body = page[page.index('id="compared"'):page.index('id="missing"')]
    rows = re.findall(r'<tr id="u-([^"]+)">(.*?)</tr>', body, flags=re.S)
    assert len(rows) == listed - 1
    expected = published.filter(pl.col("unit_code") != left_out["unit_code"])
    assert sorted(code for code, _ in rows) == expected["unit_code"].to_list()
    header = cells(body[body.index("<thead>"):body.index("</thead>")])
    timeliness_diff = header.index("Tiến độ giải quyếtChênh lệch")
    total_ours = header.index("Tổng điểmCủa ta")
    by_code = {r["unit_code"]: r for r in expected.iter_rows(named=True)}
    from dashboards.format import fmt_score

    for code, row in rows:
        c = cells(row)
        ours = by_code[code]
        assert c[0].startswith(ours["unit_name"])
        assert c[total_ours] == fmt_score(points(ours["score"]))
        assert c[timeliness_diff] == ("+1,00" if points(ours["points_timeliness"]) is not None else "—"), (code, c)
    missing = page[page.index('id="missing"'):page.index('id="extra"')]
    assert left_out["unit_name"] in missing and f"units/{left_out['unit_code']}-" in missing
    extra = page[page.index('id="extra"'):page.index('id="unmatched"')]
    assert "UBND Thành phố Hà Nội" in extra and "67,00" in extra
    assert "2025-10.html" in (settings.site / "reconciliation" / "index.html").read_text(encoding="utf-8")
    # the next publication's menu leads to it, from every page
    run_pipeline(settings, warehouse)
    capsys.readouterr()
    for name in ("index.html", "city.html", "periods/2025-10.html"):
        root = "../" * name.count("/")
        assert (f'<a href="{root}reconciliation/index.html"><span data-en="Portal reconciliation">Đối chiếu Cổng DVCQG'
                in (settings.site / name).read_text(encoding="utf-8")), name
    page = (settings.site / "reconciliation" / "2025-10.html").read_text(encoding="utf-8")

    # a bad file is one sentence, and leaves the import as it was
    bad = write_json(tmp_path / "bad.json", [{"TEN": "UBND Phường Hồng Hà", "TONG_SCORE": "n/a"}])
    code = main(["reconcile", str(bad), "--period", "2025-10", "--landing", str(settings.landing),
                 "--warehouse", warehouse.path, "--site", str(settings.site)])
    err = capsys.readouterr().err
    assert code == 1 and err.strip() == "scoreboard: bad.json, record 1: TONG_SCORE is 'n/a', not a number"
    assert (settings.site / "reconciliation" / "2025-10.html").read_text(encoding="utf-8") == page


def test_the_gaps_and_warnings_name_a_group_in_the_profile_s_words():
    from dashboards.reconcile_page import explanation, file_warning
    from tests.helpers import DEFAULT_PROFILE as profile

    group = next(g for g in profile.groups if g.key == "timeliness")
    said = explanation({"kind": "largest_group", "item": "timeliness", "a": 12.0, "b": 18.0}, profile)
    assert said.vi == f"Chênh lệch lớn nhất ở nhóm {group.label_vi}: của ta 12,00, Cổng 18,00."
    assert said.en.startswith(f"Largest gap in {group.label_en}:") and "timeliness" not in said.vi + said.en
    warned = file_warning({"kind": "above_max", "item": "timeliness", "count": 2, "limit": 20, "example": "UBND xã A",
                           "value": 25.0}, profile)
    assert group.label_vi in warned.vi and "timeliness" not in warned.vi
