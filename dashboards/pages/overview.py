"""`index.html`: the headline month and week (dashboards.headline) with their
ranking tables per level, the periods in progress beside them (provisional,
with their cut-off time), the charts, and every period with its downloads."""

from __future__ import annotations

from typing import Iterator

import polars as pl

from dashboards import charts as charts_mod
from dashboards.build import Data, Kind, Output, Read, Site
from dashboards.i18n import PERIOD_TYPE_ORDER, UI
from dashboards.pages.common import (
    COMPACT_COLUMNS, chart_json, cutoff_note, figure, files, page, peers_of, ranking_tables, with_labels,
)
from dashboards.pages.images import TREND_COLUMNS, image_links, overview_charts, trend_keys
from dashboards.pages.quality import HELD_COLUMNS, held_notes

ROWS = (*[c for c in COMPACT_COLUMNS if not c.startswith("*")], "points_*", "period_type", "level", "unit_code", "ranked",
        "peer_group", "_slug", "_until")


def shown(site: Site) -> list[tuple[str, str, str]]:
    """(heading, period type, key) of every block of the overview, in order."""
    out = []
    for ptype in PERIOD_TYPE_ORDER:
        h = site.facts["headline"][ptype]
        if h["headline"]:
            out.append((f"headline_{ptype}", ptype, h["headline"]))
        if h["in_progress"]:
            out.append((f"in_progress_{ptype}", ptype, h["in_progress"]))
    return out


def period_groups(periods: list[dict], root: str) -> list[dict]:
    """The navigator: months, then weeks; newest year first, each with its files."""
    groups = []
    for ptype, label in (("month", UI["months"]), ("week", UI["weeks"])):
        ps = [dict(with_labels(p), files=files(p["key"], root)) for p in periods if p["type"] == ptype]
        if not ps:
            continue
        years: dict[str, list] = {}
        for p in reversed(ps):
            years.setdefault(p["key"][:4], []).append(p)
        groups.append({"label": label, "years": [{"year": y, "periods": v} for y, v in years.items()]})
    return groups


class Overview(Kind):
    name = "overview"
    reads = {
        "rows": Read("scoreboard", ROWS, by=("period_key",)),
        "checks": Read("quality", HELD_COLUMNS, by=("period_key",)),
        "months": Read("scoreboard", (*TREND_COLUMNS, "band"), by=("period_key",)),
    }
    facts = ("groups", "bands", "nav", "periods", "cutoff")
    owns = ("index.html",)

    def outputs(self, site: Site) -> list[Output]:
        blocks = shown(site)
        keys = [(k,) for _h, _t, k in blocks]
        params = {"blocks": blocks, "month": site.facts["headline"]["month"]["headline"], "trend": trend_keys(site)}
        return [Output("index.html", params, {"rows": keys, "checks": keys, "months": [(k,) for k in params["trend"]]})]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        groups, bands = data.fact("groups"), data.fact("bands")
        records = {p["key"]: p for p in data.fact("periods")}
        tables = ranking_tables(data.frame("rows"), COMPACT_COLUMNS, groups, bands=bands, root="")
        held = held_notes(data.frame("checks"))
        cutoff = data.fact("cutoff")
        for o in batch:
            blocks = []
            for heading, ptype, key in o.params["blocks"]:
                p = with_labels(records[key])
                blocks.append({"heading": UI[heading], "period": dict(
                    p, files=files(key, ""), tables=tables.get(key, []), held_back=held.get(key),
                    report=f"report-{key}.html" if ptype == "month" else None,
                    cutoff=cutoff_note(cutoff, p["provisional"]),
                )})
            month_key = o.params["month"]
            months = data.frame("months")
            month = months.filter(pl.col("period_key") == month_key) if month_key else None
            chart_data = overview_charts(month, months, bands)
            figures = [
                figure(c["id"], c["title"], image_links(charts_mod.image_name(c["id"], month_key)), note=c.get("note"))
                for c in chart_data["charts"]
            ]
            rows = data.frame("rows")
            yield o, page(
                data, "index", root="", title=UI["nav_overview"], blocks=blocks, charts=figures,
                chart_json=chart_json(chart_data["datasets"], chart_data["charts"], charts_mod.VI_FORMAT_LOCALE),
                period_groups=period_groups(data.fact("periods"), ""),
                peers=peers_of(rows["peer_group"].to_list()),
            )


KINDS = (Overview(),)
