"""The published data files: per period the scoreboard as CSV, Parquet and XLSX
(scoreboard.md, Published scoreboard), the tables that explain it (weak
points, bottlenecks, what-if, the dossiers behind the late counts) as CSV, and
data/manifest.json.

Each file reads its period's rows of its table, straight from the frame (Arrow)
to bytes: Polars' CSV and Parquet writers, transforms.xlsx's column-wise
workbook. The explaining tables' workbooks are made in the browser when asked
for, from `data/<table>-<key>.js` (the CSV, compressed, and the workbook's
layout): see docs/site-build.md for the measurements behind that. A table
given for no period at all is not published; a period with no rows of a
published table gets the header alone, so every link works.
"""

from __future__ import annotations

import functools
from typing import Iterator

from dashboards.build import Data, Kind, Later, Output, Read, Site, each
from dashboards.groups import group_labels
from dashboards.pages.common import INSIGHTS
from dashboards.data_files import (
    TABLES, csv_texts, data_file_name, manifest_bytes, parquet_bytes, workbook_recipe, workbooks, xlsx_bytes,
)
from transforms import aside
from transforms.schema import POINTS_PREFIX, MAX_POINTS_PREFIX, SCOREBOARD_COUNTS, SCOREBOARD_RANKS

# the published scoreboard (schema.scoreboard_columns): its groups' columns are the profile's
PUBLISHED = (*SCOREBOARD_COUNTS, f"{POINTS_PREFIX}*", *SCOREBOARD_RANKS, f"{MAX_POINTS_PREFIX}*")
# A data file depends on this code only (the modules it imports with it): a new page
# template does not rewrite the data.
DATA_CODE = ("dashboards.pages.data",)
# The periods whose rows one query reads from a stored table: the weak points, bottlenecks
# and what-if grow with the units (a few thousand rows a period), the evidence with the
# dossiers still open (at 1 M dossiers, up to ~90,000 rows a period on a history where
# many never close: docs/site-build.md)
PERIODS_AT_ONCE = 16
EVIDENCE_PERIODS_AT_ONCE = 4
# The scoreboard's workbooks of a build that makes more than this many (a first load, a
# backfill) are made in the second process while the other kinds render here, so many
# periods a task. A new week's few are made here on threads: quicker than the trip,
# and the week's charts, asked for after them, do not wait behind them there.
WORKBOOKS_AT_ONCE = 16


class PeriodFile(Kind):
    """`data/<table>-<period_key>.<suffix>`: one table's rows of one period, for
    each of `suffixes` (made from one cut of the rows)."""

    facts = ()
    code = DATA_CODE

    def __init__(self, table: str, suffixes: tuple[str, ...], apart: bool = False):
        self.table, self.suffixes, self.apart = table, suffixes, apart
        self.name = f"data {table} {'+'.join(suffixes)}"
        columns = PUBLISHED if table == "scoreboard" else tuple(TABLES[table].schema)
        if table != "scoreboard":  # a stored table: a few periods' rows read at a time
            self.batch = (EVIDENCE_PERIODS_AT_ONCE if table == "evidence" else PERIODS_AT_ONCE) * len(suffixes)
        self.reads = {"rows": Read(table, columns, by=("period_key",))}
        self.owns = tuple(f"data/{table}-*.{suffix}" for suffix in suffixes)
        if "js" in suffixes:  # the workbooks it replaces, from older builds
            self.owns += (f"data/{table}-*.xlsx",)
        if "xlsx" in suffixes and table == "scoreboard":
            self.facts = ("groups", "rates")  # the legend names the groups' and the rates' columns

    def outputs(self, site: Site) -> list[Output]:
        if self.table != "scoreboard" and self.table not in site.facts["published"]:
            return []
        return [
            Output(f"data/{data_file_name(p['key'], suffix, self.table)}", {"key": p["key"], "suffix": suffix},
                   {"rows": [(p["key"],)]})
            for p in site.facts["periods"] for suffix in self.suffixes
        ]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        spec = None if self.table == "scoreboard" else TABLES[self.table]
        labels = {**data.fact("rates"), **group_labels(data.fact("groups"))} if "groups" in self.facts else None
        periods: dict[str, list[Output]] = {}
        for o in batch:
            periods.setdefault(o.params["key"], []).append(o)
        cuts = {key: data.part("rows", (key,)) for key in periods}  # cut before the threads
        if self.suffixes == ("xlsx",) and len(periods) > WORKBOOKS_AT_ONCE and aside.started():
            yield from self._aside(periods, cuts, spec, labels)
            return
        csvs: dict[str, bytes] = {}

        def make(key: str) -> list[tuple[Output, bytes]]:
            rows, out, csv = cuts[key], [], csvs.pop(key, None)
            for o in periods[key]:
                suffix = o.params["suffix"]
                if suffix == "csv":
                    out.append((o, csv))
                elif suffix == "parquet":
                    out.append((o, parquet_bytes(rows)))
                elif suffix == "js":
                    out.append((o, workbook_recipe(rows, key, spec, csv)))
                else:
                    out.append((o, xlsx_bytes(rows, key, spec, labels=labels)))
            return out

        keys = list(periods)
        for i in range(0, len(keys), PERIODS_AT_ONCE):  # a few periods' CSVs held at a time
            part = keys[i:i + PERIODS_AT_ONCE]
            if {"csv", "js"} & set(self.suffixes):
                csvs.update(zip(part, csv_texts([cuts[k] for k in part])))
            for made in each(make, part):
                yield from made

    @staticmethod
    def _aside(periods: dict[str, list[Output]], cuts: dict, spec, labels) -> Iterator[tuple[Output, Later]]:
        """The workbooks, WORKBOOKS_AT_ONCE periods a task in the second process."""
        keys = list(periods)
        for i in range(0, len(keys), WORKBOOKS_AT_ONCE):
            part = keys[i:i + WORKBOOKS_AT_ONCE]
            task = functools.partial(workbooks, [(k, cuts[k]) for k in part], spec, labels)
            outs = [o for k in part for o in periods[k]]
            yield outs[0], Later.files(aside.submit(task), outs, here=task)


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
    PeriodFile("scoreboard", ("csv", "parquet"), apart=True),
    # a kind of its own (its legend reads the groups' labels): its tasks go to the second process
    PeriodFile("scoreboard", ("xlsx",)),
    *(PeriodFile(t, ("csv", "js"), apart=t == "weak_points") for t in INSIGHTS),
    Manifest(),
)
