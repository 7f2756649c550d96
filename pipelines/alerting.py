"""Alerts after a publication, and the pages issue 17 adds to the site.

After `scoreboard_site` materialises, `alert_digests` (started by the CLI after
publishing, or by `alerts_sensor` in Dagster) works out the digest of the latest
closed week the data reach and of the latest closed month (transforms.alerts:
`latest_closed`, `with_digest`), queues one message per recipient in
the warehouse's `alert_outbox` (once: a re-run queues nothing new), and sends
what is due. A delivery that fails stays queued and is tried again at the next
run (up to `max_attempts`); it is reported, never raised: the publication is
already done and stays done.

Why the warehouse and not a state file beside the site: the site folder is a
release rebuilt and swapped at every publication (and deleted by `make clean`),
while the warehouse is the one durable store, written in transactions by one
writer; the outbox step runs in the same `duckdb_writer` pool as every writer.

`alert_pages` and `reconciliation_pages` give the publication what the site shows:
alerts/<period>.html for every period with a digest (the same periods) and
reconciliation/<month>.html for every imported portal file (dashboards/pages/alerts.py).
"""

# (no `from __future__ import annotations`: Dagster reads the asset's context annotation)
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import dagster as dg
import polars as pl

from dashboards import alerts_page, reconcile_page
from dashboards.i18n import site_bands
from pipelines import warehouse as wh
from pipelines.delivery import DeliveryError, deliver
from pipelines.resources import WRITER_POOL, ScoreboardSettings, Warehouse, local_now
from transforms.alerts import (
    LATE_PROCEDURES, AlertConfigError, digest, for_recipient, latest_closed, load_alert_config, with_late_procedures,
)
from transforms.periods import parse_key, start_of
from transforms.profile import Profile
from transforms.reconcile import PortalFile, ReconcileError, ordered_items, reconcile
from transforms.reconcile import registry_agency_codes
from transforms.units import load_registry

# ------------------------------------------------------------------ recipients


def recipient_sha(channel: str, address: str) -> str:
    return hashlib.sha256(f"{channel}:{address.strip().lower()}".encode()).hexdigest()[:16]


def mask(channel: str, address: str) -> str:
    """`va…@example.gov.vn`, `webhook chat.example.gov.vn`: enough to recognise, not the address."""
    if channel == "email":
        local, _, domain = address.partition("@")
        return f"{local[:2]}…@{domain}"
    if address.startswith("env:"):
        return f"webhook ${address[4:]}"
    from urllib.parse import urlparse

    return f"webhook {urlparse(address).netloc}"


def recipients(cfg: dict) -> list[dict]:
    """Every recipient once (a channel and an address; its first entry's language):
    scope None (the city: everything) or the unit codes it hears of. An address listed
    for several units gets one digest naming them all, queued and counted once."""
    entries = [dict(r, scope=None) for r in cfg["recipients"]["city"]]
    for code, listed in cfg["recipients"]["units"].items():
        entries.extend(dict(r, scope=(code,)) for r in listed)
    merged: dict[str, dict] = {}
    for r in entries:
        sha = recipient_sha(r["channel"], r["address"])
        known = merged.setdefault(sha, dict(r, sha=sha))
        if known["scope"] is not None:
            known["scope"] = None if r["scope"] is None else tuple(sorted({*known["scope"], *r["scope"]}))
    return list(merged.values())


# ------------------------------------------------------------------ digests


def period_rows(con, period_type: str, period_key: str, profile: Profile) -> pl.DataFrame:
    """The scoreboard rows a digest of one period reads: the period and the one before."""
    _, idx = parse_key(period_key)
    return wh.read_scoreboard(con, profile, period_type, start_of(period_type, idx - 1), start_of(period_type, idx + 1))


def period_digest(con, period_type: str, period_key: str, profile: Profile, cfg: dict,
                  latest_event, z_lines: dict | None = None) -> pl.DataFrame:
    """The digest of one period (none of a week the data, to `latest_event`, do not
    reach), its alerts about timeliness with the procedures behind them (`z_lines`: the
    quality settings' early_warning.indicators; None: the shipped ones)."""
    rows = period_rows(con, period_type, period_key, profile)
    # the early warnings scoring stored for this week (computed once, never here)
    warnings = wh.read_warnings(con, period_type, [period_key]) if period_type == "week" else None
    found = digest(rows, period_type, [period_key], profile=profile, rules=cfg["rules"], units=wh.read_units(con),
                   latest_event=latest_event, warnings=warnings, z_lines=z_lines)
    return with_procedures(con, found)


def with_procedures(con, rows: pl.DataFrame) -> pl.DataFrame:
    """Digest rows with the late procedures of their units (the stored bottlenecks),
    read for those units alone."""
    return with_late_procedures(rows, wh.read_bottlenecks(con, rows, LATE_PROCEDURES))


def z_lines(settings: ScoreboardSettings) -> dict:
    """The early warnings' z lines in force (what a warning's severity is measured by)."""
    return settings.quality_config()["early_warning"]["indicators"]


def outbox_rows(rows: pl.DataFrame, period_type: str, period_key: str, cfg: dict, now, profile: Profile) -> pl.DataFrame:
    """One queued message per recipient whose part of the digest is not empty, in the
    words of `profile` (its bands)."""
    bands = site_bands(profile)
    out = []
    for r in recipients(cfg):
        part = for_recipient(rows, r["scope"])
        if part.height == 0:
            continue
        msg = alerts_page.message(part, period_type, period_key, r["lang"], cfg.get("site_url") or "", bands)
        payload = json.dumps(msg["payload"], ensure_ascii=False, sort_keys=True, default=str)
        out.append({
            "period_type": period_type, "period_key": period_key, "channel": r["channel"],
            "recipient_sha": r["sha"], "recipient_hint": mask(r["channel"], r["address"]), "lang": r["lang"],
            "subject": msg["subject"], "body": msg["body"], "payload": payload,
            "digest_sha": hashlib.sha256(payload.encode()).hexdigest()[:16],
            "status": "pending", "attempts": 0, "last_error": None, "created_at": now, "sent_at": None,
        })
    return pl.DataFrame(out, schema=wh.TABLES["alert_outbox"])


@dataclass
class AlertReport:
    periods: dict[str, str] = field(default_factory=dict)
    alerts: int = 0
    queued: int = 0
    sent: int = 0
    failed: list[str] = field(default_factory=list)  # one sentence per failed delivery
    given_up: int = 0  # of the failed, those that used their last attempt (not tried again)
    previews: list[dict] = field(default_factory=list)  # dry run: what would be sent

    def summary(self) -> str:
        periods = ", ".join(self.periods.values()) or "no closed period"
        text = f"alerts for {periods}: {self.alerts} alerts, {self.queued} digests queued, {self.sent} sent"
        again = len(self.failed) - self.given_up
        if again:
            text += f", {again} failed (tried again at the next run)"
        if self.given_up:
            text += f", {self.given_up} failed for the last time (never tried again)"
        if self.failed:
            text += f": {self.failed[0]}"
        return text


def send_alerts(
    con,
    settings: ScoreboardSettings,
    *,
    periods: dict[str, str] | None = None,
    dry_run: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> AlertReport:
    """Queue the digests of `periods` (period_type -> key; default: the latest closed
    week the data reach and the latest closed month) and send every queued digest
    that is due. With `dry_run` nothing is queued, sent or written: the report
    previews the messages."""
    cfg = settings.alert_config()
    profile = settings.profile()
    now = local_now()
    _, latest_event = wh.data_extent(con)
    if periods is None:
        periods = latest_closed(wh.scoreboard_periods(con), latest_event)
    report = AlertReport(periods=dict(periods))
    lines = z_lines(settings)
    queued = []
    for period_type, key in periods.items():
        rows = period_digest(con, period_type, key, profile, cfg, latest_event, lines)
        report.alerts += rows.height
        queued.append(outbox_rows(rows, period_type, key, cfg, now, profile))
    queue = pl.concat(queued) if queued else pl.DataFrame(schema=wh.TABLES["alert_outbox"])
    if dry_run:
        report.previews = queue.select("channel", "recipient_hint", "subject", "body").to_dicts()
        report.queued = queue.height
        return report
    report.queued = wh.outbox_add(con, queue)
    by_sha = {r["sha"]: r for r in recipients(cfg)}
    for item in wh.outbox_due(con, int(cfg["max_attempts"])).iter_rows(named=True):
        key = tuple(item[c] for c in wh.ALERT_OUTBOX_KEY)
        who = by_sha.get(item["recipient_sha"])
        try:
            if who is None:
                raise DeliveryError("the recipient is no longer in the alerts config")
            deliver(item["channel"], who["address"], {"subject": item["subject"], "body": item["body"],
                                                      "payload": json.loads(item["payload"])}, cfg)
        except DeliveryError as exc:
            sentence = f"{item['period_key']} to {item['recipient_hint']}: {exc}"
            if item["attempts"] + 1 >= int(cfg["max_attempts"]):
                sentence += f" (attempt {item['attempts'] + 1} of {cfg['max_attempts']}: not tried again)"
                report.given_up += 1
            report.failed.append(sentence)
            wh.outbox_mark(con, key, sent=False, error=str(exc), at=local_now())
            log(f"alert not delivered, {sentence}")
        else:
            report.sent += 1
            wh.outbox_mark(con, key, sent=True, error=None, at=local_now())
    return report


# ------------------------------------------------------------------ the asset

ALERTS_CHECK = dg.AssetCheckSpec(
    "alerts_delivered", asset="alert_digests",
    description="Every digest due was delivered (a failed one is tried again at the next run).",
)


@dg.asset(
    group_name="publication",
    pool=WRITER_POOL,
    deps=["scoreboard_site"],
    kinds={"email"},
    check_specs=[ALERTS_CHECK],
)
def alert_digests(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Digests of the latest closed week the data reach and the latest closed month
    (units that dropped a band, fell in rank, crossed an early-warning threshold or went
    silent), sent once per recipient.
    Not after a draft publication: `scoreboard approve` sends them once it is public."""
    return send_digests(context, settings, warehouse)


def send_digests(
    context: dg.AssetExecutionContext, settings: ScoreboardSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    """What `alert_digests` materialises (a province's digests in the lake's graph)."""
    if settings.draft:
        context.log.info("a draft publication: no alert digest is sent until it is approved")
        return dg.MaterializeResult(
            metadata={"draft": True},
            check_results=[dg.AssetCheckResult(check_name="alerts_delivered", passed=True, metadata={"draft": True})],
        )
    try:
        with warehouse.connect() as con:
            report = send_alerts(con, settings, log=context.log.warning)
        problem = report.failed[0] if report.failed else None
    except Exception as exc:  # noqa: BLE001  nothing here may fail the publication: reported instead
        report, problem = AlertReport(failed=[str(exc) or type(exc).__name__]), str(exc) or type(exc).__name__
        context.log.error(f"alerts not sent: {problem}")
    context.log.info(report.summary())
    import logging

    logging.getLogger("scoreboard").info(report.summary())
    return dg.MaterializeResult(
        metadata={
            "periods": report.periods, "alerts": report.alerts, "queued": report.queued,
            "sent": report.sent, "failed": len(report.failed), "given_up": report.given_up,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="alerts_delivered", passed=not report.failed, severity=dg.AssetCheckSeverity.WARN,
                metadata={"failed": report.failed[:20], "first_problem": problem or ""},
            )
        ],
    )


# ------------------------------------------------------------------ pages (publication hook)


def portal_files(con) -> dict[str, PortalFile]:
    """The imported portal file of each month, as read."""
    out = {}
    for key, (records, values) in wh.portal_imports(con).items():
        first = records.row(0, named=True)
        out[key] = PortalFile(
            source_file=first["source_file"], content_hash=first["content_hash"],
            records=records.select(list(_record_columns())), values=values.select("record", "item", "value"),
            items=ordered_items(values["item"].unique().to_list()), where=first["record_kind"],
        )
    return out


def _record_columns():
    from transforms.reconcile import RECORD_SCHEMA

    return RECORD_SCHEMA.keys()


def reconciliations(con, settings: ScoreboardSettings, scoreboard: pl.DataFrame, profile: Profile) -> list:
    files = portal_files(con)
    if not files:
        return []
    registry = load_registry(settings.registry_path)
    agency = registry_agency_codes(registry, settings.registry_path)
    rs = settings.reconcile_settings()
    return [
        reconcile(portal, scoreboard, key, profile=profile, agency=agency, settings=rs)
        for key, portal in sorted(files.items())
    ]


def reconciliation_pages(con, settings: ScoreboardSettings, scoreboard: pl.DataFrame, profile: Profile,
                         log: Callable[[str], None]) -> dict[str, dict]:
    """What the site's reconciliation pages show (build_site's `reconciliations`): each
    imported month's comparison with the national portal."""
    try:
        recs = reconciliations(con, settings, scoreboard, profile)
    except ReconcileError as exc:
        log(f"reconciliation pages not written: {exc}")
        recs = []
    return {r.period_key: reconcile_page.page_context(r, profile) for r in recs}


def alert_pages(settings: ScoreboardSettings, scoreboard: pl.DataFrame, profile: Profile, warnings: pl.DataFrame,
                units: pl.DataFrame, latest_event, log: Callable[[str], None]) -> pl.DataFrame:
    """What the site's alert pages show (build_site's `alerts`): the digest of every
    period that has one (transforms.alerts.with_digest: what is sent), under the alert
    rules in force (`units`: the registry scored with; `latest_event`: the data's),
    without its late procedures (`with_procedures` adds them: it reads the warehouse)."""
    try:
        rules = settings.alert_config()["rules"]
    except AlertConfigError as exc:
        log(f"{exc}; the alert pages use the shipped rules")
        rules = load_alert_config()["rules"]
    lines = z_lines(settings)
    return pl.concat([
        digest(scoreboard, t, None, profile=profile, rules=rules, units=units, latest_event=latest_event,
               warnings=warnings if t == "week" else None, z_lines=lines)
        for t in ("week", "month")
    ])
