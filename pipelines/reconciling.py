"""`scoreboard reconcile FILE`: read the portal's file, check it against a scored
month, store it in the warehouse (the publication then writes its page), and say
in a few lines what was found."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dashboards.format import fmt_num, period_label
from dashboards.reconcile_page import explanation, item_label
from pipelines import warehouse as wh
from pipelines.resources import ScoreboardSettings, Warehouse, local_now
from transforms.periods import key_of, parse_key, start_of
from transforms.reconcile import (
    Reconciliation,
    ReconcileError,
    read_portal_file,
    reconcile,
    registry_agency_codes,
)
from transforms.units import load_registry


def month_key(period: str | None, hint: str | None, name: str) -> str:
    given = period or hint
    if not given:
        raise ReconcileError(f"{name}: say which month it is for with --period YYYY-MM (the file does not say)")
    try:
        period_type, idx = parse_key(given)
    except ValueError as exc:
        raise ReconcileError(f"--period: {exc}") from None
    if period_type != "month":
        raise ReconcileError(f"the portal publishes months, quarters and years; reconcile a month (YYYY-MM), not {given}")
    return key_of("month", idx)


def import_portal_file(
    settings: ScoreboardSettings, warehouse: Warehouse, path: Path, period: str | None
) -> Reconciliation:
    """Read and check the file, store it as the month's portal import; the comparison.
    The deployment's settings are read first: a bad one leaves the import as it was."""
    fields, explaining = settings.portal_fields(), settings.reconcile_settings()
    portal = read_portal_file(path, fields)
    key = month_key(period, portal.period_hint, portal.source_file)
    with warehouse.connect() as con:
        _, index = parse_key(key)
        scoreboard = wh.read_scoreboard(
            con, settings.profile(), "month", start_of("month", index), start_of("month", index + 1)
        )
        if scoreboard.height == 0:
            raise ReconcileError(f"the month {key} is not scored yet; run `scoreboard run` first")
        records = portal.records.with_columns(
            source_file=pl.lit(portal.source_file), content_hash=pl.lit(portal.content_hash),
            record_kind=pl.lit(portal.where), imported_at=pl.lit(local_now()),
        )
        wh.replace_portal_import(con, key, records, portal.values)
    registry = load_registry(settings.registry_path)
    return reconcile(
        portal, scoreboard, key, profile=settings.profile(),
        agency=registry_agency_codes(registry, settings.registry_path), settings=explaining,
    )


def describe(rec: Reconciliation, lang: str = "en", gaps: int = 5) -> str:
    """A few lines for the terminal: counts, then the largest gaps with their first reasons."""
    c = rec.counts()
    lines = [
        f"Reconciled {rec.source_file} with {period_label('month', rec.period_key, 'en')}: {c['records']} records, "
        f"{c['matched']} matched, {c['missing']} of our units missing from the portal, {c['extra']} extra, "
        f"{c['unmatched']} unmatched."
    ]
    for w in rec.warnings:
        from dashboards.reconcile_page import file_warning

        lines.append(f"Warning: {file_warning(w).get(lang)}")
    shown = 0
    for r in rec.compared.iter_rows(named=True):
        reasons = rec.explanations.filter(
            (pl.col("unit_code") == r["unit_code"]) & (pl.col("unit_valid_from") == r["unit_valid_from"])
        ).sort("order")
        if reasons.height == 0 or shown == gaps:
            continue
        shown += 1
        lines.append(
            f"  {r['unit_name']} ({r['unit_code']}): ours {fmt_num(r['ours_total'], 2)}, portal "
            f"{fmt_num(r['portal_total'], 2)}, {item_label('total').get(lang).lower()} difference {fmt_num(r['diff_total'], 2)}"
        )
        for e in reasons.iter_rows(named=True):
            lines.append(f"    - {explanation(e).get(lang)}")
    return "\n".join(lines)
