"""The evidence of a unit page: the dossiers behind its late counts, filterable.

`data/evidence/<period_key>/<unit slug>.js`: one unit's rows of the evidence
(transforms.evidence) in the period its page details, as the recipe of its
workbook (dashboards.data_files.workbook_recipe: the rows as a compressed CSV
and the workbook's parts). The unit page holds no row: when the reader opens
its evidence section, site.js loads that script (a page opened from disk can
load scripts, not read files), fills the table and filters it; the same
script gives the unit's CSV and Excel files. So a unit page costs the same
whether its unit has ten late dossiers or ten thousand, and its key does not
depend on them (docs/site-build.md, "Evidence").

The period's evidence of every unit is `data/evidence-<key>.csv` (and its
workbook), made by dashboards.pages.data like the other explaining tables.
"""

from __future__ import annotations

from typing import Iterator

import polars as pl

from dashboards.build import Data, Kind, Output, Read, Site, each, partitions
from dashboards.data_files import TABLES, csv_texts, workbook_recipe
from dashboards.format import fmt_int
from dashboards.i18n import COLUMNS, INSIGHT_COLUMNS, UI
from dashboards.pages.common import fmt_lab
from transforms.evidence import CLASSES, EVIDENCE_SCHEMA

PART = ("unit_code", "unit_valid_from", "period_key")
FOLDER = "data/evidence"
# the columns the unit page shows, in order (the script reads them by name from the CSV)
# rows the unit page's table shows at most (the filter and the sort see them all): a
# table of tens of thousands of rows takes the browser seconds to lay out
SHOWN_ROWS = 1000
UNITS_AT_ONCE = 64  # units whose CSVs are written with one call (transforms.csv_cut)
SHOWN = ("dossier_id", "procedure_code", "procedure_name", "class", "received_at", "due_at", "end_at",
         "working_days_late", "receiving_unit_code")


def unit_file(key: str, slug: str) -> str:
    """`data/evidence/2025-03/00001-2008-08-01.js`: a unit's evidence of one period."""
    return f"{FOLDER}/{key}/{slug}.js"


class UnitEvidence(Kind):
    """The evidence of each unit in its detail period, where it has any."""

    name = "unit evidence"
    reads = {"rows": Read("evidence", tuple(EVIDENCE_SCHEMA), by=PART)}
    code = ("dashboards.pages.evidence",)
    owns = (f"{FOLDER}/*/*.js",)

    def outputs(self, site: Site) -> list[Output]:
        if "evidence" not in site.facts["published"]:
            return []
        units = site.tables["units"].select("unit_code", "unit_valid_from", "_slug", period_key="detail_key")
        have = partitions(site.tables["evidence"], PART, units.select(PART).rows())
        listed = units.join(have, on=list(PART), how="semi", nulls_equal=True).sort("_slug")
        return [
            Output(unit_file(key, slug), {"key": key}, {"rows": [(code, vf, key)]})
            for code, vf, slug, key in listed.iter_rows()
        ]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        spec = TABLES["evidence"]
        cuts = [data.part("rows", o.rows["rows"][0]) for o in batch]  # cut before the threads

        def make(item: tuple[Output, pl.DataFrame, bytes]) -> tuple[Output, bytes]:
            o, rows, csv = item
            return o, workbook_recipe(rows, o.params["key"], spec, csv)

        for i in range(0, len(batch), UNITS_AT_ONCE):  # a few units' CSVs held at a time
            part = slice(i, i + UNITS_AT_ONCE)
            yield from each(make, list(zip(batch[part], cuts[part], csv_texts(cuts[part]))))


def section(detail: dict, key: str, slug: str, published) -> dict | None:
    """What the unit page says of its late dossiers in `key` (the detail row's counts,
    which the evidence has exactly as many rows as), and where their list is."""
    if "evidence" not in published:
        return None
    overdue, pending = detail["overdue"] or 0, detail["pending_overdue"] or 0
    n = overdue + pending
    script = f"../{unit_file(key, slug)}" if n else None
    # without JavaScript both links give the period's CSV (every unit's rows)
    period_csv = f"../data/evidence-{key}.csv"
    return {
        "count": n,
        "summary": fmt_lab(UI["evidence_summary"], n=fmt_int(n), o=fmt_int(overdue), p=fmt_int(pending)),
        "script": script,
        "what_if": bool(detail["ranked"]) and n > 0,
        "shown": SHOWN_ROWS,
        "more": fmt_lab(UI["evidence_more"], n=fmt_int(SHOWN_ROWS)),
        "columns": [{"key": c, "label": INSIGHT_COLUMNS.get(c) or COLUMNS[c]} for c in SHOWN],
        "classes": {c: list(COLUMNS[c]) for c in CLASSES},
        "files": [
            {"href": period_csv, "xlsx": None, "csv_from": script, "name": f"evidence-{key}-{slug}.csv",
             "label": UI["evidence_csv"]},
            {"href": period_csv, "xlsx": script, "csv_from": None, "name": f"evidence-{key}-{slug}.xlsx",
             "label": UI["evidence_xlsx"]},
        ] if n else [],
    }
KINDS = (UnitEvidence(),)
