"""`alerts/<period>.html` and `alerts/index.html`: the alert digest of every closed
week and month (transforms.alerts.digest rows, the `alerts` table); and
`reconciliation/<month>.html` and `reconciliation/index.html`: each month whose
national-portal file was imported, beside our scores (the `reconciliations`
fact: dashboards.reconcile_page.page_context of each month, plain values).

The words are dashboards.alerts_page's and dashboards.reconcile_page's, which the
e-mails and the command line share."""

from __future__ import annotations

from typing import Iterator

import polars as pl

from dashboards import alerts_page, reconcile_page
from dashboards.build import Data, Kind, Output, Read, Site

ALERT_PERIOD = ("period_type", "period_key")


class AlertPages(Kind):
    name = "alert pages"
    reads = {"rows": Read("alerts", ("*",), by=ALERT_PERIOD)}
    facts = ("bands",)
    owns = ("alerts/*.html",)

    def outputs(self, site: Site) -> list[Output]:
        periods = site.table("alerts").select(*ALERT_PERIOD).unique(maintain_order=True)
        out = [
            Output(f"alerts/{key}.html", {"period_type": ptype, "period_key": key}, {"rows": [(ptype, key)]})
            for ptype, key in periods.iter_rows()
        ]
        # the index lists every period with a digest: its rows are the whole table (the
        # menu links it always: with none, it says so)
        return [*out, Output("alerts/index.html", {"index": True}, {"rows": [tuple(r) for r in periods.iter_rows()]})]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        # the pages of the batch at once, their table rows a column at a time (not the
        # index's rows: every period's)
        pages = [o for o in batch if not o.params.get("index")]
        bodies = alerts_page.table_rows(pl.concat([data.rows("rows", o) for o in pages]),
                                        data.fact("bands")) if pages else {}
        for o in batch:
            if o.params.get("index"):
                yield o, alerts_page.index_bytes(_index_entries(data.rows("rows", o)))
            else:
                period = (o.params["period_type"], o.params["period_key"])
                yield o, alerts_page.page_bytes(bodies.get(period, ""), *period)


def _index_entries(rows: pl.DataFrame) -> list[dict]:
    """Per period with a digest, newest first: its link, alert count and units."""
    if rows.is_empty():
        return []
    counts = rows.group_by(*ALERT_PERIOD, maintain_order=True).agg(
        count=pl.len(), units=pl.struct("unit_code", "unit_valid_from").n_unique()
    )
    return [
        {"period_type": t, "period_key": k, "href": f"{k}.html", "count": n, "units": u}
        for t, k, n, u in counts.sort("period_key", descending=True).iter_rows()
    ]


class ReconcilePages(Kind):
    name = "reconciliation pages"
    facts = ("reconciliations",)
    owns = ("reconciliation/*.html",)

    def outputs(self, site: Site) -> list[Output]:
        months = sorted(site.facts["reconciliations"])
        if not months:
            return []
        return [*(Output(f"reconciliation/{m}.html", {"month": m}) for m in months),
                Output("reconciliation/index.html", {"index": True})]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        contexts = data.fact("reconciliations")
        for o in batch:
            if o.params.get("index"):
                yield o, reconcile_page.index_bytes(list(contexts.values()))
            else:
                yield o, reconcile_page.page_bytes(contexts[o.params["month"]])


KINDS = (AlertPages(), ReconcilePages())
