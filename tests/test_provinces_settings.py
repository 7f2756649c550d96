"""What a province of the provinces file (pipelines/deployment.py) runs with: its own
report authority and its own alerts, never another province's. Two provinces publish
through `Provinces.settings` into their DuckDB files (the lake's graph runs the same
bodies: tests/test_lake.py) and deliver to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import config_path
from pipelines.cli import run_pipeline
from pipelines.deployment import load_deployment
from pipelines.provinces import Provinces
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import free_port
from tests.test_alerts import REGISTRY, Mailbox, publish_week_one, publish_week_two


def test_every_shipped_province_names_its_authority_and_one_city_s_run_takes_its_registry_s():
    shipped = load_deployment(config_path("provinces.yaml")).provinces
    assert {slug: p.authority[0] for slug, p in shipped.items()} == {
        "hanoi": "UBND THÀNH PHỐ HÀ NỘI", "caobang": "UBND TỈNH CAO BẰNG",
        "dienbien": "UBND TỈNH ĐIỆN BIÊN", "laichau": "UBND TỈNH LAI CHÂU",
    }
    assert all(p.alerts is None for p in shipped.values())
    # the default run, the shipped Hà Nội registry
    assert ScoreboardSettings().report_authority() == ("UBND THÀNH PHỐ HÀ NỘI", "HANOI PEOPLE'S COMMITTEE")
    cao_bang = ScoreboardSettings(registry_path=str(config_path("registry", "caobang.csv")))
    assert cao_bang.report_authority() == ("UBND TỈNH CAO BẰNG", "CAO BANG PROVINCIAL PEOPLE'S COMMITTEE")
    # a registry no province lists: no authority rather than another's
    assert ScoreboardSettings(registry_path="/srv/units.csv").report_authority() is None


def test_an_authority_without_its_vietnamese_is_refused(tmp_path):
    path = tmp_path / "provinces.yaml"
    path.write_text("provinces:\n  a: {registry: a.csv, authority: UBND TỈNH A}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="the authority of province a is {vi: …, en: …}"):
        load_deployment(path)


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """Two provinces of one file: `anphu` with its authority and its own alerts file,
    `binhminh` with neither; and an office-wide SCOREBOARD_ALERTS that names a city
    recipient and a site, which no province may use."""
    smtp_port = free_port()
    relay = (f"smtp: {{host: 127.0.0.1, port: {smtp_port}, starttls: false, username: scoreboard, "
             "timeout_seconds: 5}\n")
    (tmp_path / "shared-alerts.yaml").write_text(
        "site_url: https://cchc.hanoi.gov.vn/bxh/\n" + relay
        + "recipients:\n  city: [{email: vanphong@hanoi.example.gov.vn}]\n"
          '  units: {"10001": [{email: phuong@hanoi.example.gov.vn}]}\n', encoding="utf-8")
    (tmp_path / "anphu-alerts.yaml").write_text(
        "site_url: https://cchc.anphu.example.gov.vn/bxh/\n" + relay
        + "recipients:\n  city: [{email: vanphong@anphu.example.gov.vn}]\n", encoding="utf-8")
    for slug in ("anphu", "binhminh"):
        (tmp_path / f"{slug}.csv").write_text(REGISTRY, encoding="utf-8")
    (tmp_path / "provinces.yaml").write_text(
        f"root: {tmp_path}\n"
        "provinces:\n"
        "  anphu:\n"
        f"    registry: {tmp_path / 'anphu.csv'}\n"
        "    authority: {vi: UBND TỈNH AN PHÚ, en: AN PHU PROVINCIAL PEOPLE'S COMMITTEE}\n"
        "    alerts: anphu-alerts.yaml\n"
        "  binhminh:\n"
        f"    registry: {tmp_path / 'binhminh.csv'}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SCOREBOARD_ALERTS", str(tmp_path / "shared-alerts.yaml"))
    monkeypatch.setenv("SCOREBOARD_SMTP_PASSWORD", "s3cret")
    mailbox = Mailbox(smtp_port)
    mailbox.start()
    yield Provinces(file=str(tmp_path / "provinces.yaml")), mailbox, monkeypatch
    mailbox.stop()


def run_two_weeks(settings: ScoreboardSettings, warehouse: Warehouse, monkeypatch) -> dict:
    """test_alerts' two weeks: in the second Phường An Phú drops from Xuất sắc to Trung bình."""
    settings.landing.mkdir(parents=True, exist_ok=True)
    publish_week_one(settings, warehouse, monkeypatch)
    return publish_week_two(settings, warehouse, monkeypatch)


def test_a_province_s_report_and_alerts_are_its_own(deployment, tmp_path):
    provinces, mailbox, monkeypatch = deployment

    anphu = provinces.settings("anphu")
    summary = run_two_weeks(anphu, Warehouse(path=str(tmp_path / "anphu.duckdb")), monkeypatch)
    assert summary["alerts"]["sent"] == 1 and summary["alerts"]["failed"] == 0
    # its own office, with links to its own site; not the office-wide file's recipients
    assert [rcpt for rcpt, _, _ in mailbox.messages] == ["vanphong@anphu.example.gov.vn"]
    body = mailbox.messages[0][2]
    assert "https://cchc.anphu.example.gov.vn/bxh/units/10001-2020-01-01.html" in body
    assert "hanoi" not in body
    report = (anphu.site / "report-2024-01.html").read_text(encoding="utf-8")
    assert '<p><span data-en="AN PHU PROVINCIAL PEOPLE&#39;S COMMITTEE">UBND TỈNH AN PHÚ</span></p>' in report
    assert "HÀ NỘI" not in report

    # a province without an alerts file sends nothing, whatever SCOREBOARD_ALERTS lists
    binhminh = provinces.settings("binhminh")
    summary = run_two_weeks(binhminh, Warehouse(path=str(tmp_path / "binhminh.duckdb")), monkeypatch)
    assert summary["alerts"]["alerts"] == 1 and summary["alerts"]["queued"] == 0 and summary["alerts"]["sent"] == 0
    assert len(mailbox.messages) == 1
    # and its report names no authority, rather than Hà Nội's
    report = (binhminh.site / "report-2024-01.html").read_text(encoding="utf-8")
    assert "UBND" not in report and "HÀ NỘI" not in report
    assert Path(binhminh.site_dir) == tmp_path / "binhminh" / "site"
