"""`methodology.html`: how the index is computed, made from the inputs in force.

It shows the fact `methodology` (dashboards.methodology.methodology_fact: the
profile's groups, indicators, formulas, maxima, thresholds, bands and minimum
volume, the calendar and the versions of every input), so a changed profile
changes the page and its key; and a worked example: one ranked unit of the
headline month (the first of its level) whose score is recomputed by hand from
its published row, the partition it reads.
"""

from __future__ import annotations

from typing import Iterator

import polars as pl

from dashboards.build import Data, Kind, Output, Read, Site
from dashboards.i18n import Label
from dashboards.methodology import TEXT, worked_example
from dashboards.pages.common import COUNT_COLUMNS, RATE_COLUMNS, fmt_lab, level_rank, page, plabel, same

EXAMPLE = ("period_key", "unit_code", "unit_valid_from")
EXAMPLE_READ = (
    "period_type", "period_key", "unit_code", "unit_valid_from", "unit_name", "_slug", "ranked", "rank", "score",
    "band", *COUNT_COLUMNS, *RATE_COLUMNS, "points_*",
)


def example_unit(site: Site) -> tuple | None:
    """(period_key, unit_code, unit_valid_from): the unit ranked first in the first level
    of the headline month (the lowest code among ties), or None."""
    key = (site.facts.get("headline") or {}).get("month", {}).get("headline")
    if key is None:
        return None
    ranked = site.tables["scoreboard"].filter((pl.col("period_key") == key) & pl.col("ranked"))
    if ranked.is_empty():
        return None
    first = ranked.with_columns(_lv=level_rank()).sort("_lv", "level", "rank", "unit_code", "unit_valid_from").row(0, named=True)
    return key, first["unit_code"], first["unit_valid_from"]


class MethodologyPage(Kind):
    name = "methodology"
    reads = {"example": Read("scoreboard", EXAMPLE_READ, by=EXAMPLE)}
    facts = ("nav", "methodology")
    owns = ("methodology.html",)

    def outputs(self, site: Site) -> list[Output]:
        example = example_unit(site)
        return [Output("methodology.html", {"example": example is not None}, {"example": [example] if example else []})]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        fact = data.fact("methodology")
        for o in batch:
            rows = data.rows("example", o)
            row = rows.row(0, named=True) if rows.height else None
            yield o, page(
                data, "methodology", root="", title=TEXT["title"], T=TEXT, fact=fact, fmt=fmt_lab,
                L2=lambda pair: Label(*pair), example=_example(row, fact),
            )


def _example(row: dict | None, fact: dict) -> dict | None:
    """The worked example with its headings (Labels)."""
    ex = worked_example(row, fact)
    if ex is None:
        return None
    return {
        **ex,
        "heading": fmt_lab(TEXT["example_h"], unit=same(row["unit_name"] or row["unit_code"]),
                           period=plabel(row["period_type"], row["period_key"], mid=True)),
        "intro": fmt_lab(TEXT["example_intro"], key=row["period_key"]),
        "on_time_text": fmt_lab(TEXT["example_on_time"], **ex["on_time"]),
        "score_text": fmt_lab(TEXT["example_score"], earned=ex["earned"], max=ex["max"], score=ex["score"],
                              rounded=ex["rounded"], band=Label(*ex["band"]) if ex["band"] else same("—"),
                              rank=str(ex["rank"] or "—")),
        "href": f"units/{row['_slug']}.html#evidence",
    }


KINDS = (MethodologyPage(),)
