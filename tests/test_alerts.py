"""Alerts: the digest of a closed period, and its delivery through a real SMTP server
(aiosmtpd on 127.0.0.1) and a real HTTP endpoint, once per recipient."""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import threading
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from dashboards.alerts_page import message, sentence
from pipelines.alerting import alert_digests
from pipelines.assets import ASSETS, scoreboard_site
from pipelines.cli import main, run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from pipelines.sensors import alerts_sensor
from transforms.alerts import AlertConfigError, digest, latest_closed, load_alert_config
from tests.helpers import DEFAULT_PROFILE, free_port

HEADER = ("dossier_id,unit_code,procedure_code,channel,status,submitted_at,received_at,due_at,finished_at,"
          "returned_at,rejected_at,fee_required,paid_online,digitized,e_result,synced,apology_issued,rating,complaint")
REGISTRY = """unit_code,unit_name,level,parent_code,peer_group,valid_from,valid_to
10001,Phường An Phú,commune,,urban,2020-01-01,
10002,Xã Bình Minh,commune,,rural,2020-01-01,
"""


def week_rows(unit: str, tag: str, day: int, *, late: bool, late_by: int = 4) -> list[str]:
    """12 dossiers received on 2024-01-<day>: all early, online, paid, digitised, synced,
    satisfied (score 100); or `late`: finished `late_by` days later, after the due date,
    at the counter (timeliness, online and satisfaction 0: 18 + 10 + 22 = 50 points)."""
    rows = []
    for i in range(12):
        received = f"2024-01-{day:02d} 08:{i:02d}:00"
        due = f"2024-01-{day + 1:02d} 17:00:00"
        finished = f"2024-01-{day + (late_by if late else 0):02d} 10:{i:02d}:00"
        channel = 1 if late else 2
        rows.append(f"{tag}-{unit}-{i},{unit},1.001776,{channel},10,,{received},{due},{finished},,,"
                    "true,true,true,true,true,,satisfied,false")
    return rows


def write_week(landing: Path, name: str, rows: list[str]) -> None:
    (landing / name).write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


class Mailbox:
    """A real SMTP server on 127.0.0.1 that wants a login, keeping what it receives."""

    def __init__(self, port: int):
        self.port, self.messages, self.controller = port, [], None

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        for rcpt in envelope.rcpt_tos:
            self.messages.append((rcpt, msg["Subject"], msg.get_content().replace("\r\n", "\n")))
        return "250 OK"

    def start(self) -> None:
        def login(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"scoreboard", b"s3cret")
            return AuthResult(success=ok)

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, authenticator=login,
                                     auth_require_tls=False)
        self.controller.start()

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None


class Hook:
    """A real HTTP endpoint on 127.0.0.1 that keeps the JSON posted to it."""

    def __init__(self, port: int):
        self.port, self.posts, self.server = port, [], None

    def start(self) -> None:
        posts = self.posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def office(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    landing.mkdir()
    (tmp_path / "units.csv").write_text(REGISTRY, encoding="utf-8")
    smtp_port, hook_port = free_port(), free_port()
    (tmp_path / "alerts.yaml").write_text(
        f"""site_url: https://cchc.example.gov.vn/bxh/
smtp: {{host: 127.0.0.1, port: {smtp_port}, starttls: false, username: scoreboard,
       sender: "Bảng xếp hạng <bxh@example.gov.vn>", timeout_seconds: 5}}
webhook: {{timeout_seconds: 5}}
recipients:
  city:
    - {{email: vanphong@example.gov.vn}}
    - {{webhook: "http://127.0.0.1:{hook_port}/chat"}}
  units:
    "10001": [{{email: anphu@example.gov.vn, lang: en}}]
    "10002": [{{email: binhminh@example.gov.vn}}]
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("SCOREBOARD_ALERTS", str(tmp_path / "alerts.yaml"))
    monkeypatch.setenv("SCOREBOARD_SMTP_PASSWORD", "s3cret")
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(tmp_path / "units.csv")
    )
    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    mailbox, hook = Mailbox(smtp_port), Hook(hook_port)
    yield settings, warehouse, mailbox, hook, monkeypatch
    mailbox.stop()
    hook.stop()


def publish_week_one(settings, warehouse, monkeypatch) -> dict:
    """Week 2024-W02: both units score 100 (Xuất sắc), on dossiers of its Friday (the data
    reach the week: transforms.periods.week_reached)."""
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-01-16T09:00:00")
    write_week(settings.landing, "w02.csv", week_rows("10001", "A02", 12, late=False) + week_rows("10002", "B02", 12, late=False))
    return run_pipeline(settings, warehouse)


def publish_week_two(settings, warehouse, monkeypatch) -> dict:
    """Week 2024-W03: Phường An Phú is late on everything and falls to 50 (Trung bình)."""
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-01-23T09:00:00")
    write_week(settings.landing, "w03.csv", week_rows("10001", "A03", 15, late=True) + week_rows("10002", "B03", 15, late=False))
    return run_pipeline(settings, warehouse)


def outbox(warehouse) -> list[tuple]:
    with duckdb.connect(warehouse.path, read_only=True) as con:
        return con.execute(
            "SELECT period_key, channel, recipient_hint, status, attempts FROM alert_outbox ORDER BY channel, recipient_hint"
        ).fetchall()


def test_one_digest_per_recipient_naming_the_unit_that_dropped_a_band_and_none_again(office):
    settings, warehouse, mailbox, hook, monkeypatch = office
    mailbox.start()
    hook.start()
    first = publish_week_one(settings, warehouse, monkeypatch)
    assert first["alerts"]["periods"] == {"week": "2024-W02"} and first["alerts"]["alerts"] == 0
    assert mailbox.messages == [] and hook.posts == []

    second = publish_week_two(settings, warehouse, monkeypatch)
    assert second["alerts"]["sent"] == 3 and second["alerts"]["failed"] == 0
    by_rcpt = {rcpt: (subject, body) for rcpt, subject, body in mailbox.messages}
    assert len(mailbox.messages) == 2 and set(by_rcpt) == {"vanphong@example.gov.vn", "anphu@example.gov.vn"}
    subject, body = by_rcpt["vanphong@example.gov.vn"]
    assert subject == "[Bảng xếp hạng CCHC] Cảnh báo tuần 03/2024 (15/01–21/01/2024): 1 đơn vị"
    assert "Phường An Phú (10001), Cấp xã" in body
    assert "Xếp loại giảm từ Xuất sắc xuống Trung bình (điểm 100,00 → 50,00)." in body
    assert "https://cchc.example.gov.vn/bxh/units/10001-2020-01-01.html" in body
    assert "Bình Minh" not in body
    subject_en, body_en = by_rcpt["anphu@example.gov.vn"]
    assert subject_en == "[PAR scoreboard] Alerts, week 03/2024 (15/01–21/01/2024): 1 unit"
    assert "Band fell from Excellent to Average (score 100,00 → 50,00)." in body_en
    assert len(hook.posts) == 1
    path, payload = hook.posts[0]
    assert path == "/chat" and payload["period_key"] == "2024-W03"
    assert [(a["unit_code"], a["kind"], a["band_before"], a["band_after"]) for a in payload["alerts"]] == [
        ("10001", "band_drop", "Xuất sắc", "Trung bình")
    ]
    assert payload["page"] == "https://cchc.example.gov.vn/bxh/alerts/2024-W03.html"
    # the digest is also on the site, whatever happens to delivery
    page = (settings.site / "alerts" / "2024-W03.html").read_text(encoding="utf-8")
    assert "Phường An Phú" in page and "Xuất sắc → Trung bình" in page and "Bình Minh" not in page
    assert 'href="../units/10001-2020-01-01.html"' in page
    assert "2024-W03.html" in (settings.site / "alerts" / "index.html").read_text(encoding="utf-8")

    # the same publication again: nothing new is sent
    again = run_pipeline(settings, warehouse)
    assert again["alerts"]["queued"] == 0 and again["alerts"]["sent"] == 0
    assert len(mailbox.messages) == 2 and len(hook.posts) == 1
    assert [row[3:] for row in outbox(warehouse)] == [("sent", 1)] * 3


def test_with_the_servers_down_the_publication_succeeds_and_the_next_run_delivers(office, capsys):
    settings, warehouse, mailbox, hook, monkeypatch = office
    publish_week_one(settings, warehouse, monkeypatch)
    second = publish_week_two(settings, warehouse, monkeypatch)  # nothing listens on either port
    assert second["alerts"]["sent"] == 0 and second["alerts"]["failed"] == 3
    assert (settings.site / "alerts" / "2024-W03.html").is_file()
    assert "Phường An Phú" in (settings.site / "alerts" / "2024-W03.html").read_text(encoding="utf-8")
    assert [row[3:] for row in outbox(warehouse)] == [("failed", 1)] * 3

    mailbox.start()
    hook.start()
    # the next run delivers what failed, once
    third = run_pipeline(settings, warehouse)
    assert third["alerts"]["queued"] == 0 and third["alerts"]["sent"] == 3 and third["alerts"]["failed"] == 0
    assert sorted(r for r, _, _ in mailbox.messages) == ["anphu@example.gov.vn", "vanphong@example.gov.vn"]
    assert len(hook.posts) == 1
    assert [row[3:] for row in outbox(warehouse)] == [("sent", 2)] * 3
    # and after it, neither a run nor the CLI for that week sends it again
    run_pipeline(settings, warehouse)
    code = main(["alerts", "--period", "2024-W03", "--landing", str(settings.landing), "--warehouse", warehouse.path,
                 "--site", str(settings.site), "--registry", settings.registry_path])
    assert code == 0 and "0 digests queued, 0 sent" in capsys.readouterr().out
    assert len(mailbox.messages) == 2 and len(hook.posts) == 1


def test_a_week_the_export_cuts_on_its_wednesday_has_no_digest_until_the_data_reach_its_friday(office, capsys):
    settings, warehouse, mailbox, hook, monkeypatch = office
    mailbox.start()
    hook.start()
    publish_week_one(settings, warehouse, monkeypatch)
    # W03 (15/01-21/01) has ended, but its export stops on Wednesday 17/01: An Phú's
    # late finishes of Monday's dossiers (a band drop on two days of the week), nothing after
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-01-23T09:00:00")
    write_week(settings.landing, "w03-a.csv",
               week_rows("10001", "A03", 15, late=True, late_by=2) + week_rows("10002", "B03", 15, late=False))
    cut = run_pipeline(settings, warehouse)
    # the latest closed week the data reach is W02, which has nothing to warn of
    assert cut["alerts"]["periods"] == {"week": "2024-W02"}
    assert (cut["alerts"]["alerts"], cut["alerts"]["queued"], cut["alerts"]["sent"]) == (0, 0, 0)
    assert mailbox.messages == [] and hook.posts == [] and outbox(warehouse) == []
    # the site shows what is sent: no page of W03
    assert sorted(p.name for p in (settings.site / "alerts").glob("*.html")) == ["index.html"]
    capsys.readouterr()
    args = ["--landing", str(settings.landing), "--warehouse", warehouse.path, "--site", str(settings.site),
            "--registry", settings.registry_path]
    assert main(["alerts", "--period", "2024-W03", *args]) == 1
    assert capsys.readouterr().err == (
        "scoreboard: 2024-W03 has no digest yet: the data stop on 17/01/2024, before its Friday 19/01/2024, "
        "so its alerts would be of its first days only; load the rest of the week and run `scoreboard run` first\n"
    )
    assert outbox(warehouse) == [] and mailbox.messages == []

    # the rest of the week comes: its Friday's dossiers, and W03's digest goes out once
    write_week(settings.landing, "w03-b.csv", week_rows("10002", "C03", 19, late=False))
    done = run_pipeline(settings, warehouse)
    assert done["alerts"]["periods"] == {"week": "2024-W03"}
    assert (done["alerts"]["alerts"], done["alerts"]["sent"]) == (1, 3)
    assert sorted(r for r, _, _ in mailbox.messages) == ["anphu@example.gov.vn", "vanphong@example.gov.vn"]
    assert [a["kind"] for a in hook.posts[0][1]["alerts"]] == ["band_drop"]
    assert "Phường An Phú" in (settings.site / "alerts" / "2024-W03.html").read_text(encoding="utf-8")


def test_dry_run_prints_the_digest_and_sends_nothing(office, capsys):
    settings, warehouse, mailbox, hook, monkeypatch = office
    publish_week_one(settings, warehouse, monkeypatch)
    # the settings name an alerts file that does not exist: no recipients, nothing queued
    quiet = ScoreboardSettings.from_env(landing_dir=str(settings.landing), site_dir=str(settings.site),
                                        registry_path=settings.registry_path,
                                        alerts_path=str(Path(settings.registry_path).parent / "none.yaml"))
    assert publish_week_two(quiet, warehouse, monkeypatch)["alerts"]["queued"] == 0
    capsys.readouterr()
    # the command's settings: SCOREBOARD_ALERTS, the office's file with its recipients
    code = main(["alerts", "--period", "2024-W03", "--dry-run", "--landing", str(settings.landing),
                 "--warehouse", warehouse.path, "--site", str(settings.site), "--registry", settings.registry_path])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("--- email to") == 2 and out.count("--- webhook to") == 1
    assert "va…@example.gov.vn" in out and "vanphong@" not in out
    assert "2024-W03: 1 alerts; 3 digests would be sent (dry run: nothing sent)." in out
    assert outbox(warehouse) == [] and mailbox.messages == []


def test_the_sensor_asks_for_alerts_after_each_publication(office):
    settings, warehouse, _, _, monkeypatch = office
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-01-16T09:00:00")
    write_week(settings.landing, "w02.csv", week_rows("10001", "A", 8, late=False))
    run_pipeline(settings, warehouse)
    resources = {"settings": settings, "warehouse": warehouse}
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance)
        assert isinstance(alerts_sensor(ctx), dg.SkipReason)
        assert dg.materialize([*ASSETS, alert_digests], selection=[scoreboard_site], resources=resources,
                              instance=instance).success
        request = alerts_sensor(ctx)
        assert isinstance(request, dg.RunRequest)
        ctx = dg.build_sensor_context(instance=instance, cursor=ctx.cursor)
        assert isinstance(alerts_sensor(ctx), dg.SkipReason)
        result = dg.materialize([*ASSETS, alert_digests], selection=[alert_digests], resources=resources,
                                instance=instance)
        assert result.success
        check = result.get_asset_check_evaluations()[0]
        assert check.passed  # nothing was due: W02 has no predecessor


# --------------------------------------------------------------------------- the digest itself


def scoreboard_rows(rows: list[dict]) -> pl.DataFrame:
    base = {"period_type": "month", "unit_valid_from": date(2020, 1, 1), "level": "commune", "provisional": False,
            "rank_change": None, "ranked": True}
    return pl.DataFrame([{**base, **r} for r in rows])


def test_the_digest_names_band_drops_rank_falls_near_misses_and_silence_of_closed_periods_only():
    profile = DEFAULT_PROFILE
    months = [("2024-01", date(2024, 1, 1)), ("2024-02", date(2024, 2, 1)), ("2024-03", date(2024, 3, 1))]
    units = {  # code: (scores per month, received per month, rank per month)
        "A": ([85.0, 78.0, 60.0], [30, 30, 30], [1, 5, 9]),  # Tốt -> Khá (drop; 4 places: under 5), then TB in March
        "B": ([72.0, 71.5, 70.0], [30, 30, 30], [4, 4, 4]),  # stays Khá, 1.5 above its floor: near miss
        "C": ([60.0, 60.0, 60.0], [25, 0, 0], [6, 6, 6]),  # goes silent in February
        "D": ([95.0, 90.0, 90.0], [50, 50, 50], [2, 9, 9]),  # stays Xuất sắc, falls 7 places
        "E": ([85.0, 60.0, 60.0], [3, 3, 3], [None, None, None]),  # Tốt -> TB on 3 dossiers: not ranked, not named
    }
    rows = []
    for code, (scores, received, ranks) in units.items():
        for m, ((key, start), score, n, rank) in enumerate(zip(months, scores, received, ranks)):
            rows.append({"period_key": key, "period_start": start, "unit_code": code, "unit_name": f"Đơn vị {code}",
                         "score": score, "band": profile.band_of(score), "rank": rank, "received": n,
                         "timeliness_base": n, "rank_change": None if m == 0 or rank is None else ranks[m - 1] - rank,
                         "provisional": key == "2024-03", "ranked": rank is not None})
    frame = scoreboard_rows(rows)
    rules = load_alert_config({})["rules"]
    out = digest(frame, "month", None, profile=profile, rules=rules, units=None, latest_event=datetime(2024, 3, 20))
    got = [(r["period_key"], r["unit_code"], r["kind"]) for r in out.iter_rows(named=True)]
    assert got == [
        ("2024-02", "A", "band_drop"),
        ("2024-02", "B", "early_warning"),
        ("2024-02", "C", "silent"),
        ("2024-02", "D", "rank_fall"),
        ("2024-02", "D", "early_warning"),  # 90,00: within 2 points of Xuất sắc's floor
    ]  # nothing of March: it is still in progress
    a = out.row(0, named=True)
    assert (a["band_before"], a["band_after"], a["score_before"], a["score_after"]) == ("Tốt", "Khá", 85.0, 78.0)
    assert sentence(a, "vi") == "Xếp loại giảm từ Tốt xuống Khá (điểm 85,00 → 78,00)."
    assert sentence(out.row(3, named=True), "en") == "Fell 7 places, from rank 2 to 9 (score 90,00)."
    assert sentence(out.row(2, named=True), "vi") == "Không gửi hồ sơ nào trong kỳ (kỳ trước: 25 hồ sơ)."
    b = out.row(1, named=True)
    assert (b["value"], b["baseline"]) == (71.5, 70.0) and "71,50" in sentence(b, "vi")
    periods = frame.select("period_type", "period_key", "period_start", "provisional")
    assert latest_closed(periods, datetime(2024, 3, 20)) == {"month": "2024-02"}
    # a city recipient gets every unit, a unit's contact only its own
    msg = message(out.filter(pl.col("unit_code") == "C"), "month", "2024-02", "vi")
    assert msg["subject"] == "[Bảng xếp hạng CCHC] Cảnh báo tháng 02/2024: 1 đơn vị"
    assert "units/C-2020-01-01.html" in msg["body"]


def test_a_password_in_the_alerts_file_is_refused_in_one_sentence(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text("smtp: {host: relay, password: hunter2}\n", encoding="utf-8")
    with pytest.raises(AlertConfigError, match="smtp.password looks like a secret"):
        load_alert_config(path)
    with pytest.raises(AlertConfigError, match=r"recipients.city\[0\] needs exactly one of email, webhook"):
        load_alert_config({"recipients": {"city": [{"email": "a@b.vn", "webhook": "http://x"}]}})
    with pytest.raises(AlertConfigError, match="is not an e-mail address"):
        load_alert_config({"recipients": {"units": {"001": [{"email": "nobody"}]}}})
    # a timeout of 0 would make every delivery fail at once (a socket that never waits)
    for key in ("smtp", "webhook"):
        with pytest.raises(AlertConfigError, match=f"{key}.timeout_seconds"):
            load_alert_config({key: {"timeout_seconds": 0}})
    # what a delivery uses when an office's file does not say comes from the shipped file
    shipped = load_alert_config({})
    assert (shipped["smtp"]["port"], shipped["smtp"]["timeout_seconds"], shipped["webhook"]["timeout_seconds"]) == (587, 20, 10)
    assert shipped["smtp"]["sender"] == "Bang xep hang CCHC <noreply@localhost>"


def test_starttls_and_login_through_a_relay_with_the_offices_own_certificate(tmp_path, monkeypatch):
    """The relay offers STARTTLS with a certificate of the office's own CA (ca_file);
    the client upgrades, then logs in with the password from the environment."""
    import shutil
    import ssl
    import subprocess

    from pipelines.delivery import DeliveryError, send_email

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "relay.pem", tmp_path / "relay.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox(free_port())
    box.controller = Controller(box, hostname="127.0.0.1", port=box.port, tls_context=context, require_starttls=True,
                                authenticator=lambda *a: AuthResult(success=a[4].password == b"s3cret"))
    box.controller.start()
    try:
        smtp = {"host": "127.0.0.1", "port": box.port, "starttls": True, "username": "scoreboard",
                "ca_file": str(cert), "sender": "bxh@example.gov.vn", "timeout_seconds": 5}
        monkeypatch.delenv("SCOREBOARD_SMTP_PASSWORD", raising=False)
        with pytest.raises(DeliveryError, match="SCOREBOARD_SMTP_PASSWORD is not"):
            send_email(smtp, "vanphong@example.gov.vn", "Thử", "Nội dung")
        monkeypatch.setenv("SCOREBOARD_SMTP_PASSWORD", "wrong")
        with pytest.raises(DeliveryError, match="e-mail through 127.0.0.1"):
            send_email(smtp, "vanphong@example.gov.vn", "Thử", "Nội dung")
        monkeypatch.setenv("SCOREBOARD_SMTP_PASSWORD", "s3cret")
        send_email(smtp, "vanphong@example.gov.vn", "Cảnh báo thử", "Nội dung tiếng Việt")
        assert box.messages == [("vanphong@example.gov.vn", "Cảnh báo thử", "Nội dung tiếng Việt\n")]
    finally:
        box.stop()


def _digest_rows() -> pl.DataFrame:
    """Digest rows of every kind, with the missing values and the free text a page escapes."""
    from transforms.alerts import DIGEST_SCHEMA

    base = {c: None for c in DIGEST_SCHEMA} | {"period_type": "week", "previous_key": "2024-W02",
                                                "unit_valid_from": date(2020, 1, 1), "level": "commune"}
    rows = [
        base | {"period_key": "2024-W03", "unit_code": "A", "unit_name": "Phường <An> & \"Phú\"", "kind": "band_drop",
                "band_before": "Tốt", "band_after": "Khá", "score_before": 81.32499999999999, "score_after": 77.475,
                "rank_before": 3, "rank_after": 9, "received_before": 1200, "received_after": 40},
        base | {"period_key": "2024-W03", "unit_code": "B", "unit_name": "Xã B", "kind": "silent", "level": None,
                "received_before": 25, "received_after": 0},
        base | {"period_key": "2024-W03", "unit_code": "A", "unit_name": "Phường <An> & \"Phú\"", "kind": "rank_fall",
                "band_before": "Tốt", "band_after": "Khá", "score_before": 81.32499999999999, "score_after": 77.475,
                "rank_before": 3, "rank_after": 9, "received_before": 1200, "received_after": 40},
        base | {"period_key": "2024-W04", "unit_code": "C", "unit_name": "Xã C", "kind": "early_warning",
                "band_before": None, "band_after": "Hạng lạ", "message_vi": "Tỉ lệ <giảm> mạnh", "message_en": None},
        base | {"period_key": "2024-W04", "unit_code": "C", "unit_name": "Xã C", "kind": "rank_fall",
                "rank_before": None, "rank_after": 4},
    ]
    return pl.DataFrame(rows, schema=DIGEST_SCHEMA)


def test_the_sentences_of_a_whole_digest_are_each_row_s_sentence():
    from dashboards.alerts_page import sentences

    rows = _digest_rows()
    said = sentences(rows)
    for lang in ("vi", "en"):
        assert said[lang].to_list() == [sentence(r, lang) for r in rows.iter_rows(named=True)]
    assert said["vi"][0] == "Xếp loại giảm từ Tốt xuống Khá (điểm 81,33 → 77,47)."  # the scores they rank on
    assert said["en"][4] == "Fell 4 places, from rank — to 4 (score —)."


def test_an_alert_page_has_one_row_a_unit_its_alerts_one_under_the_other():
    from dashboards.alerts_page import table_rows

    bodies = table_rows(_digest_rows())
    assert sorted(bodies) == [("week", "2024-W03"), ("week", "2024-W04")]
    week3 = bodies[("week", "2024-W03")]
    assert week3.count("<tr ") == 2 and week3.index('id="u-A"') < week3.index('id="u-B"')  # in the digest's order
    assert ('<a href="../units/A-2020-01-01.html">Phường &lt;An&gt; &amp; &#34;Phú&#34;</a> <span class="code">A</span>'
            '<small class="meta"> · <span data-en="Wards and communes">Cấp xã</span></small></th>\n'
            '<td class="t"><span data-en="Dropped a band">Tụt xếp loại</span><br>'
            '<span data-en="Fell in rank">Tụt hạng</span></td>\n') in week3
    assert ('<td>81,33 → 77,47</td><td class="t"><span data-en="Good → Fair">Tốt → Khá</span></td>'
            '<td>3 → 9</td><td>1.200 → 40</td></tr>\n') in week3
    assert '<small class="meta"> · </small>' in week3  # no level
    assert '<td>—</td><td class="t">— → —</td><td>—</td><td>25 → 0</td></tr>\n' in week3  # no scores, no ranks
    week4 = bodies[("week", "2024-W04")]
    assert "Tỉ lệ &lt;giảm&gt; mạnh<br>" in week4  # quality's sentence, escaped; no English: Vietnamese alone
    assert '<span data-en="— → Hạng lạ">— → Hạng lạ</span>' not in week4 and "<td class=\"t\">— → Hạng lạ</td>" in week4


def test_a_queued_digest_names_the_bands_in_the_profile_s_words(tmp_path):
    """The messages queued for delivery say the bands as the profile in force names them,
    as the site's alert pages do."""
    from pipelines.alerting import outbox_rows
    from transforms.profile import load_profile

    text = (Path(__file__).parents[1] / "config" / "profiles" / "default.yaml").read_text(encoding="utf-8")
    office = tmp_path / "office.yaml"
    office.write_text(text.replace("label: Tốt, label_en: Good", "label: Tốt, label_en: Very good"), encoding="utf-8")
    cfg = {"recipients": {"city": [{"channel": "email", "address": "vanphong@example.gov.vn", "lang": "en"}],
                          "units": {}}, "site_url": ""}
    rows = _digest_rows().filter(pl.col("period_key") == "2024-W03")
    queued = outbox_rows(rows, "week", "2024-W03", cfg, None, load_profile(office))
    assert "Band fell from Very good to Fair" in queued["body"][0]


def test_an_address_listed_for_two_units_gets_one_digest_and_a_last_failure_is_said(office, capsys):
    """One e-mail address is the contact of both wards: it is one recipient, queued once
    per period, hearing of both units, its attempts counted once a run. With the relay
    down and max_attempts 2, the second failure says it was the last, and the run after
    tries nothing."""
    settings, warehouse, mailbox, hook, monkeypatch = office
    text = (Path(settings.registry_path).parent / "alerts.yaml").read_text(encoding="utf-8")
    text = text.replace('"10001": [{email: anphu@example.gov.vn, lang: en}]', '"10001": [{email: chung@example.gov.vn}]')
    text = text.replace('"10002": [{email: binhminh@example.gov.vn}]', '"10002": [{email: chung@example.gov.vn}]')
    text = text.replace("    - {webhook:", "    #- {webhook:") + "max_attempts: 2\n"
    shared = Path(settings.registry_path).parent / "shared.yaml"
    shared.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SCOREBOARD_ALERTS", str(shared))
    settings = ScoreboardSettings.from_env(landing_dir=settings.landing_dir, site_dir=settings.site_dir,
                                           registry_path=settings.registry_path)
    publish_week_one(settings, warehouse, monkeypatch)
    publish_week_two(settings, warehouse, monkeypatch)  # the relay is down
    rows = [r for r in outbox(warehouse) if r[0] == "2024-W03"]
    assert [(r[3], r[4]) for r in rows if r[2].startswith("ch")] == [("failed", 1)]  # one row, one attempt
    again = run_pipeline(settings, warehouse)
    # the city's and the shared contact's, each once, and for the last time
    assert (again["alerts"]["failed"], again["alerts"]["given_up"]) == (2, 2)
    assert [r[3:] for r in outbox(warehouse) if r[0] == "2024-W03"] == [("failed", 2)] * 2
    capsys.readouterr()
    code = main(["alerts", "--period", "2024-W03", "--landing", str(settings.landing), "--warehouse",
                 warehouse.path, "--site", str(settings.site), "--registry", settings.registry_path])
    out = capsys.readouterr().out
    assert code == 0 and "0 sent" in out and "failed" not in out  # nothing is tried a third time
    with duckdb.connect(warehouse.path, read_only=True) as con:
        [(body,)] = con.execute("SELECT body FROM alert_outbox WHERE period_key = '2024-W03' AND recipient_hint "
                                "LIKE 'ch%'").fetchall()
    assert "Phường An Phú" in body


def test_an_unquoted_unit_code_of_a_recipient_is_refused(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text("recipients:\n  units:\n    00004: [{email: a@b.vn}]\n", encoding="utf-8")
    with pytest.raises(AlertConfigError, match=r"alerts.yaml: recipients.units: the unit code 4 is not text"):
        load_alert_config(path)
    path.write_text('recipients:\n  units:\n    "00004": [{email: a@b.vn}]\n', encoding="utf-8")
    assert list(load_alert_config(path)["recipients"]["units"]) == ["00004"]
