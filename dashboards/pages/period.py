"""`periods/<period_key>.html`: the full ranking of one week or month, per level."""

from __future__ import annotations

from typing import Iterator

from dashboards.build import Data, Kind, Output, Read, Site
from dashboards.i18n import Label
from dashboards.pages.common import FULL_COLUMNS, all_files, cutoff_note, page, peers_of, ranking_tables, with_labels
from dashboards.pages.quality import HELD_COLUMNS, held_notes
from dashboards.pages import revisions

COLUMNS = (*[c for c in FULL_COLUMNS if not c.startswith("*")], "points_*", "max_points_*", "period_type", "level",
           "unit_code", "ranked", "peer_group", "_slug", "_until")


def neighbour(p: dict) -> dict:
    """What the pager shows of the previous or next period."""
    return {"key": p["key"], "short": p["short"]}


class PeriodPage(Kind):
    name = "period pages"
    reads = {
        "rows": Read("scoreboard", COLUMNS, by=("period_key",)),
        "checks": Read("quality", HELD_COLUMNS, by=("period_key",)),
        "revisions": Read("revisions", revisions.NOTE_COLUMNS, by=("period_key",)),
    }
    facts = ("groups", "bands", "rates", "published", "nav")
    owns = ("periods/*.html",)
    batch = 40  # pages formatted together: the tables of a batch are held in memory at once
    apart = True  # Jinja and Markup: a first build renders its batches in the second process

    def outputs(self, site: Site) -> list[Output]:
        out = []
        periods = site.facts["periods"]
        for i, p in enumerate(periods):
            same = [q for q in periods if q["type"] == p["type"]]
            j = same.index(p)
            params = {
                "period": p,
                "prev": neighbour(same[j - 1]) if j > 0 else None,
                "next": neighbour(same[j + 1]) if j + 1 < len(same) else None,
                "report": p["type"] == "month",
                # the cut-off moves with every run: only a page that names it is made again
                "cutoff": site.facts["cutoff"] if p["provisional"] else None,
            }
            out.append(Output(f"periods/{p['key']}.html", params, {"rows": [(p["key"],)], "checks": [(p["key"],)],
                                                                   "revisions": [(p["key"],)]}))
        return out

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        groups, bands = data.fact("groups"), data.fact("bands")
        tables = ranking_tables(data.frame("rows"), FULL_COLUMNS, groups, bands=bands, rates=data.fact("rates"),
                                root="../", row_ids=True)
        for o in batch:
            p = with_labels(o.params["period"])
            key = p["key"]
            period = dict(
                p,
                files=all_files(key, "../", data.fact("published")),
                tables=tables.get(key, []),
                held_back=held_notes(data.part("checks", (key,))).get(key),
                report=f"report-{key}.html" if o.params["report"] else None,
                cutoff=cutoff_note(o.params["cutoff"], p["provisional"]),
                revisions=revisions.context(revisions.period_notes(data.part("revisions", (key,)), "../", bands)),
            )
            yield o, page(
                data, "period", root="../", title=p["label"], period=period,
                prev=o.params["prev"] and dict(o.params["prev"], short=Label(*o.params["prev"]["short"])),
                next=o.params["next"] and dict(o.params["next"], short=Label(*o.params["next"]["short"])),
                peers=peers_of(data.part("rows", (key,))["peer_group"].to_list()),
            )


KINDS = (PeriodPage(),)
