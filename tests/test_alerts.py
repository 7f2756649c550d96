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
from quality.early_warning import WARNING_SCHEMA
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


def test_a_holiday_week_and_a_unit_of_a_dossier_or_two_name_nobody_silent():
    # a level of ten communes: in W05 (Tết) eight receive nothing, in W07 one goes
    # silent after 12 dossiers and one after 2 (a small unit often has a week of none)
    weeks = [("2025-W04", date(2025, 1, 20)), ("2025-W05", date(2025, 1, 27)), ("2025-W06", date(2025, 2, 3)),
             ("2025-W07", date(2025, 2, 10))]
    received = {code: [12, 0 if i < 8 else 3, 12, 12] for i, code in enumerate("ABCDEFGHIJ")}
    received["I"] = [2, 2, 2, 0]
    received["J"] = [12, 12, 12, 0]
    rows = [{"period_type": "week", "period_key": key, "period_start": start, "unit_code": code,
             "unit_name": f"Xã {code}", "score": 80.0, "band": "Tốt", "rank": 1, "rank_change": 0, "received": n[w],
             "timeliness_base": n[w]}
            for code, n in received.items() for w, (key, start) in enumerate(weeks)]
    rules = load_alert_config({})["rules"]
    out = digest(scoreboard_rows(rows), "week", None, profile=DEFAULT_PROFILE, rules=rules, units=None,
                 latest_event=datetime(2025, 2, 28))
    silent = [(r["period_key"], r["unit_code"]) for r in out.iter_rows(named=True) if r["kind"] == "silent"]
    assert silent == [("2025-W07", "J")]
    # the office may name every unit that went quiet, as before
    every = digest(scoreboard_rows(rows), "week", None, profile=DEFAULT_PROFILE, units=None,
                   latest_event=datetime(2025, 2, 28),
                   rules={**rules, "silent_min_previous": {"week": 1, "month": 1}, "silent_level_share": 0})
    named = sorted((r["period_key"], r["unit_code"]) for r in every.iter_rows(named=True) if r["kind"] == "silent")
    assert named == [*[("2025-W05", c) for c in "ABCDEFGH"], ("2025-W07", "I"), ("2025-W07", "J")]


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
    # most serious first: A lost 7 points (3.5 times band_drop_min_points.month), D fell
    # 7 places (1.4 times the 5 needed) and is near its floor (1), B near its floor, C silent
    assert got == [
        ("2024-02", "A", "band_drop"),
        ("2024-02", "D", "rank_fall"),
        ("2024-02", "D", "early_warning"),  # 90,00: within 2 points of Xuất sắc's floor
        ("2024-02", "B", "early_warning"),
        ("2024-02", "C", "silent"),
    ]  # nothing of March: it is still in progress
    assert out["severity"].to_list() == [3.5, 1.4, 1.0, 1.0, 1.0]
    a = out.row(0, named=True)
    assert (a["band_before"], a["band_after"], a["score_before"], a["score_after"]) == ("Tốt", "Khá", 85.0, 78.0)
    assert sentence(a, "vi") == "Xếp loại giảm từ Tốt xuống Khá (điểm 85,00 → 78,00)."
    assert sentence(out.row(1, named=True), "en") == "Fell 7 places, from rank 2 to 9 (score 90,00)."
    assert sentence(out.row(4, named=True), "vi") == "Không gửi hồ sơ nào trong kỳ (kỳ trước: 25 hồ sơ)."
    b = out.row(3, named=True)
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


# --------------------------------------------------------------------------- a digest the office can act on


def week_pair(units: dict[str, tuple], level: str = "commune") -> list[dict]:
    """Scoreboard rows of 2024-W02 and W03: code -> (score before, score after, rank
    before, rank after[, on-time rate before, after])."""
    rows = []
    for code, (s0, s1, r0, r1, *rate) in units.items():
        t0, t1 = rate or (None, None)
        for key, start, score, rank, change, on_time in (
            ("2024-W02", date(2024, 1, 8), s0, r0, None, t0),
            ("2024-W03", date(2024, 1, 15), s1, r1, r0 - r1, t1),
        ):
            rows.append({"period_type": "week", "period_key": key, "period_start": start, "unit_code": code,
                         "unit_name": f"Đơn vị {code}", "level": level, "score": score,
                         "band": DEFAULT_PROFILE.band_of(score), "rank": rank, "rank_change": change,
                         "received": 40, "timeliness_base": 40, "on_time_rate": on_time})
    return rows


def test_a_rank_fall_is_named_only_when_it_is_a_large_share_of_its_level():
    """10 places are a quarter of 40 communes and most of 16 departments: a weekly fall is
    named when it is at least rank_fall.week places and rank_fall_share.week of the
    units ranked in its level (0.5 shipped)."""
    communes = {f"{i:05d}": (75.0, 75.0, i, i) for i in range(1, 41)}
    communes["00003"] = (75.0, 75.0, 3, 15)  # 12 places: 30 % of 40, under half
    communes["00004"] = (75.0, 75.0, 4, 26)  # 22 places: over half of 40
    departments = {f"D{i:02d}": (75.0, 75.0, i, i) for i in range(1, 17)}
    departments["D01"] = (75.0, 75.0, 1, 11)  # 10 places of 16
    departments["D02"] = (75.0, 75.0, 2, 10)  # 8 places: under rank_fall.week
    frame = scoreboard_rows(week_pair(communes) + week_pair(departments, "department"))
    rules = load_alert_config({})["rules"]
    out = digest(frame, "week", ["2024-W03"], profile=DEFAULT_PROFILE, rules=rules, units=None, latest_event=None)
    assert [(r["unit_code"], r["kind"], r["rank_before"], r["rank_after"]) for r in out.iter_rows(named=True)] == [
        ("00004", "rank_fall", 4, 26),  # 22 of the 20 needed (half of 40): 1.1
        ("D01", "rank_fall", 1, 11),  # 10 of the 10 needed (10 places > half of 16): 1.0
    ]
    assert (rules["rank_fall"]["week"], rules["rank_fall_share"]["week"]) == (10, 0.5)
    assert out["severity"].to_list() == [1.1, 1.0]
    # null: the places alone, as before
    places = digest(frame, "week", ["2024-W03"], profile=DEFAULT_PROFILE, units=None, latest_event=None,
                    rules={**rules, "rank_fall_share": {"week": None, "month": None}})
    assert sorted(places["unit_code"].to_list()) == ["00003", "00004", "D01"]
    # a share is a fraction of the level, refused in one sentence otherwise
    with pytest.raises(AlertConfigError, match=r"^<alerts>: rules.rank_fall_share.week must be a number from 0 to 1 "
                                               r"\(or null\), not 50$"):
        load_alert_config({"rules": {"rank_fall_share": {"week": 50}}})


def test_a_collapse_comes_first_and_a_slip_across_a_floor_is_not_named():
    """Phường Đống Đa collapses (on-time z −8.1, Khá → Trung bình, 2nd → 19th of 20):
    it heads the digest and its e-mail, above a 6-point band drop of a unit whose code
    sorts first; a slip of 0.3 points across Tốt's floor is no news."""
    communes = {f"{i:05d}": (75.0, 75.0, i, i) for i in range(1, 21)}
    communes["00001"] = (82.50, 76.29, 1, 1, 0.9, 0.9)  # Tốt -> Khá, 6.21 points, as often on time
    communes["00002"] = (76.59, 55.44, 2, 19, 0.93, 0.41)  # Khá -> Trung bình, 21.15 points, 17 places of 20
    communes["00003"] = (80.09, 79.79, 3, 3)  # Tốt -> Khá by 0.3 points
    frame = scoreboard_rows(week_pair(communes))
    frame = frame.with_columns(unit_name=pl.when(pl.col("unit_code") == "00002").then(pl.lit("Phường Đống Đa"))
                               .otherwise(pl.col("unit_name")))
    warnings = pl.DataFrame([{
        "period_type": "week", "period_key": "2024-W03", "unit_code": "00002", "unit_valid_from": date(2020, 1, 1),
        "unit_name": "Phường Đống Đa", "level": "commune", "indicator": "on_time_rate", "value": 0.41,
        "baseline": 0.93, "z": -8.1, "kind": "drop", "message_vi": "Tỉ lệ đúng hạn giảm mạnh.",
        "message_en": "The on-time rate fell sharply.",
    }], schema=WARNING_SCHEMA)
    rules = load_alert_config({})["rules"]
    out = digest(frame, "week", ["2024-W03"], profile=DEFAULT_PROFILE, rules=rules, units=None,
                 latest_event=None, warnings=warnings)
    assert [(r["unit_code"], r["kind"]) for r in out.iter_rows(named=True)] == [
        ("00002", "band_drop"), ("00002", "early_warning"), ("00002", "rank_fall"), ("00001", "band_drop"),
    ]  # 00003's 0.3 points: not named
    assert [round(x, 2) for x in out["severity"]] == [
        4.23,  # 21.15 points over band_drop_min_points.week (5)
        2.7,  # |z| 8.1 over the on-time drop line (3)
        1.7,  # 17 places over the 10 needed
        1.24,  # 6.21 points over 5
    ]
    body = message(out, "week", "2024-W03", "vi")["body"]
    assert body.index("Phường Đống Đa (00002)") < body.index("Đơn vị 00001 (00001)")
    assert body.index("Xếp loại giảm từ Khá xuống Trung bình") < body.index("Tỉ lệ đúng hạn giảm mạnh.") \
        < body.index("Tụt 17 bậc")
    # the same rows in another order give the same digest
    again = digest(frame.reverse(), "week", ["2024-W03"], profile=DEFAULT_PROFILE, rules=rules, units=None,
                   latest_event=None, warnings=warnings)
    assert again.equals(out)
    # the procedures behind an alert about timeliness: 00002's on-time rate fell, 00001's did not
    from transforms.alerts import with_late_procedures
    from transforms.insights import BOTTLENECK_SCHEMA

    late = pl.DataFrame([
        {"period_type": "week", "period_key": "2024-W03", "unit_code": code, "unit_valid_from": date(2020, 1, 1),
         "position": i + 1, "procedure_code": f"1.00{i}", "procedure_name": f"Thủ tục {i}", "late": 9 - i,
         "overdue": 9 - i, "pending_overdue": 0, "share_of_late": None}
        for code in ("00001", "00002") for i in range(4)
    ], schema=BOTTLENECK_SCHEMA)
    named = with_late_procedures(out, late)
    assert [None if p is None else [x["procedure_code"] for x in p] for p in named["late_procedures"]] == [
        ["1.000", "1.001", "1.002"]] * 3 + [None]
    assert named.drop("late_procedures").equals(out.drop("late_procedures"))  # nor reordered
    # 0: any fall across a floor, as before; a negative minimum is refused in one sentence
    slips = digest(frame, "week", ["2024-W03"], profile=DEFAULT_PROFILE, units=None, latest_event=None,
                   rules={**rules, "band_drop_min_points": {"week": 0, "month": 0}})
    assert "00003" in slips["unit_code"].to_list()
    with pytest.raises(AlertConfigError, match=r"^<alerts>: rules.band_drop_min_points.week must be a number of at "
                                               r"least 0, not -1$"):
        load_alert_config({"rules": {"band_drop_min_points": {"week": -1}}})


PROCEDURES = {"1.001776": "Đăng ký khai sinh", "1.000894": "Đăng ký kết hôn", "2.000908": "Chứng thực bản sao",
              "1.001193": "Đăng ký thường trú"}


def late_week(unit: str, tag: str, day: int, counts: dict[str, int]) -> list[str]:
    """Dossiers received on 2024-01-<day>, `counts` of each procedure, finished 4 days
    after their due date at the counter (late), with the procedure's name."""
    rows, i = [], 0
    for code, n in counts.items():
        for _ in range(n):
            rows.append(f"{tag}-{unit}-{i},{unit},{code},1,10,,2024-01-{day:02d} 08:{i:02d}:00,"
                        f"2024-01-{day + 1:02d} 17:00:00,2024-01-{day + 4:02d} 10:{i:02d}:00,,,"
                        f"true,true,true,true,true,,satisfied,false,{PROCEDURES[code]}")
            i += 1
    return rows


def test_an_alert_about_timeliness_names_the_procedures_behind_it(office):
    """Phường An Phú's week 03 is late on 12 dossiers of four procedures: its band drop
    (its on-time rate fell) names the three with the most late dossiers, with their
    codes, names and counts, in the e-mails (vi and en), the webhook and the page."""
    settings, warehouse, mailbox, hook, monkeypatch = office
    mailbox.start()
    hook.start()
    header = HEADER + ",procedure_name"
    on_time = [r + "," + PROCEDURES["1.001776"] for r in week_rows("10001", "A02", 8, late=False)
               + week_rows("10002", "B02", 8, late=False)]
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-01-16T09:00:00")
    (settings.landing / "w02.csv").write_text(header + "\n" + "\n".join(on_time) + "\n", encoding="utf-8")
    run_pipeline(settings, warehouse)
    late = late_week("10001", "A03", 15, {"1.001193": 1, "2.000908": 2, "1.000894": 4, "1.001776": 5})
    fine = [r + "," + PROCEDURES["1.001776"] for r in week_rows("10002", "B03", 15, late=False)]
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-01-23T09:00:00")
    (settings.landing / "w03.csv").write_text(header + "\n" + "\n".join(late + fine) + "\n", encoding="utf-8")
    assert run_pipeline(settings, warehouse)["alerts"]["sent"] == 3
    named_vi = ("Thủ tục có nhiều hồ sơ trễ hạn nhất: 1.001776 Đăng ký khai sinh (5 hồ sơ); "
                "1.000894 Đăng ký kết hôn (4 hồ sơ); 2.000908 Chứng thực bản sao (2 hồ sơ).")
    named_en = ("Procedures with the most late dossiers: 1.001776 Đăng ký khai sinh (5 dossiers); "
                "1.000894 Đăng ký kết hôn (4 dossiers); 2.000908 Chứng thực bản sao (2 dossiers).")
    by_rcpt = {rcpt: body for rcpt, _, body in mailbox.messages}
    # once a unit, under its alerts
    assert ("  - Xếp loại giảm từ Xuất sắc xuống Trung bình (điểm 100,00 → 50,00).\n  " + named_vi + "\n") in \
        by_rcpt["vanphong@example.gov.vn"]
    assert ("  - Band fell from Excellent to Average (score 100,00 → 50,00).\n  " + named_en + "\n") in \
        by_rcpt["anphu@example.gov.vn"]
    assert "Đăng ký thường trú" not in by_rcpt["vanphong@example.gov.vn"]  # the fourth: at most three
    [(_, payload)] = hook.posts
    assert payload["alerts"][0]["late_procedures"] == [
        {"procedure_code": "1.001776", "procedure_name": "Đăng ký khai sinh", "late": 5},
        {"procedure_code": "1.000894", "procedure_name": "Đăng ký kết hôn", "late": 4},
        {"procedure_code": "2.000908", "procedure_name": "Chứng thực bản sao", "late": 2},
    ]
    assert named_vi in payload["text"]
    page = (settings.site / "alerts" / "2024-W03.html").read_text(encoding="utf-8")
    assert f'<br><span data-en="{named_en}">{named_vi}</span></td>' in page
