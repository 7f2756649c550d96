"""The published data files: per period the scoreboard as CSV, Parquet and XLSX
(scoreboard.md, Published scoreboard), the tables that explain it (weak
points, bottlenecks, what-if) as CSV, and data/manifest.json.

Each file reads its period's rows of its table, straight from the frame (Arrow)
to bytes: Polars' CSV and Parquet writers, transforms.xlsx's column-wise
workbook. The explaining tables' workbooks are made in the browser when asked
for, from `data/<table>-<key>.js` (the CSV, compressed, and the workbook's
layout): see docs/site-build.md for the measurements behind that. A table
given for no period at all is not published; a period with no rows of a
published table gets the header alone, so every link works.
"""

from __future__ import annotations

from typing import Iterator

from dashboards.build import Data, Kind, Output, Read, Site, each
from dashboards.groups import group_labels
from dashboards.pages.common import INSIGHTS
from dashboards.publish import (
    TABLES, csv_bytes, data_file_name, manifest_bytes, parquet_bytes, workbook_recipe, xlsx_bytes,
)
from transforms.schema import SCOREBOARD_COLUMNS

PUBLISHED = tuple(SCOREBOARD_COLUMNS)
# A data file depends on this code only: a new page template does not rewrite the data.
DATA_CODE = (
    "dashboards/pages/data.py", "dashboards/publish.py", "dashboards/i18n.py", "dashboards/groups.py",
    "dashboards/build.py", "dashboards/cache.py", "transforms/xlsx.py", "transforms/schema.py",
    "transforms/insights.py",
)
ALL_GROUPS = "groups_all"  # fact: every group of the profile, for the workbook's legend


class PeriodFile(Kind):
    """`data/<table>-<period_key>.<suffix>`: one table's rows of one period."""

    facts = ()
    code = DATA_CODE

    def __init__(self, table: str, suffix: str):
        self.table, self.suffix = table, suffix
        self.name = f"data {table} {suffix}"
        columns = PUBLISHED if table == "scoreboard" else tuple(TABLES[table].schema)
        self.reads = {"rows": Read(table, columns, by=("period_key",))}
        self.owns = (f"data/{table}-*.{suffix}",)
        if suffix == "js":  # the workbooks it replaces, from older builds
            self.owns += (f"data/{table}-*.xlsx",)
        if suffix == "xlsx" and table == "scoreboard":
            self.facts = ("groups",)  # the legend names the groups' columns

    def outputs(self, site: Site) -> list[Output]:
        if self.table != "scoreboard" and self.table not in site.facts["published"]:
            return []
        return [
            Output(f"data/{data_file_name(p['key'], self.suffix, self.table)}", {"key": p["key"]}, {"rows": [(p["key"],)]})
            for p in site.facts["periods"]
        ]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        spec = None if self.table == "scoreboard" else TABLES[self.table]
        labels = group_labels(data.fact("groups")) if "groups" in self.facts else None
        parts = {o.path: data.rows("rows", o) for o in batch}  # cut before the threads

        def make(o: Output) -> tuple[Output, bytes]:
            rows = parts[o.path]
            if self.suffix == "csv":
                return o, csv_bytes(rows)
            if self.suffix == "parquet":
                return o, parquet_bytes(rows)
            if self.suffix == "js":
                return o, workbook_recipe(rows, o.params["key"], spec)
            return o, xlsx_bytes(rows, o.params["key"], spec, labels=labels)

        yield from each(make, batch)


class Manifest(Kind):
    """`data/manifest.json`: what the publication was made from."""

    name = "manifest"
    code = DATA_CODE
    facts = ("manifest",)

    def outputs(self, site: Site) -> list[Output]:
        return [Output("data/manifest.json")]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        for o in batch:
            yield o, manifest_bytes(data.fact("manifest"))


KINDS: tuple[Kind, ...] = (
    *(PeriodFile("scoreboard", s) for s in ("csv", "parquet", "xlsx")),
    *(PeriodFile(t, s) for t in INSIGHTS for s in ("csv", "js")),
    Manifest(),
)
