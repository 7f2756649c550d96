"""`report-<YYYY-MM>.html`: the printable monthly report (A4) of every month;
`report.html`, the headline month's report (so the menu's link never changes);
and that report as PDF where Chromium is installed."""

from __future__ import annotations

from typing import Iterator

import polars as pl

from dashboards import html
from dashboards.build import Data, Kind, Later, Output, Read, Site
from dashboards.format import Fmt, texts
from dashboards.html import Head
from dashboards.i18n import INDICATORS, INSIGHT_COLUMNS, LEVELS, UI, Band, Label
from dashboards.images import chromium_path, print_report_pdf
from dashboards.pages.common import (
    REPORT_COLUMNS, cutoff_note, level_lab, levels_of, page, ranking_tables, with_labels,
)
from dashboards.pages import revisions
from dashboards.pages.quality import HELD_COLUMNS, held_notes

ROWS = (*REPORT_COLUMNS, "period_type", "level", "unit_code", "unit_valid_from", "ranked", "peer_group", "_slug", "_until")
WEAK = ("unit_code", "unit_valid_from", "level", "indicator", "group", "position", "points_lost")


def band_summary(month: pl.DataFrame, bands: tuple[Band, ...]) -> dict:
    """Per level: ranked units per band (`bands`: the profile's, best first), units
    listed but not ranked, ranked, in all. The band of a unit not ranked (too few
    dossiers, or listed only for late dossiers after it ceased to exist) is not counted."""
    cols = [f"_b{i}" for i in range(len(bands))]
    ranked = pl.col("ranked").fill_null(False)
    counts = (
        month.group_by("level", maintain_order=True)
        .agg(
            *[((pl.col("band") == b.vi) & ranked).sum().alias(c) for b, c in zip(bands, cols)],
            _unranked=(~ranked).sum(), _ranked=ranked.sum(), _total=pl.len(),
        )
    )
    order = {lv: i for i, lv in enumerate(levels_of(counts["level"].to_list()))}
    counts = counts.sort(pl.col("level").replace_strict(order, return_dtype=pl.Int32))
    numbers = [*cols, "_unranked", "_ranked", "_total"]
    counts = counts.with_columns(pl.col(c).cast(pl.Int64) for c in numbers)
    counts = pl.concat([counts, texts(counts, {f"_t{c}": (c, Fmt("int")) for c in numbers})], how="horizontal")
    head = [Head(Label("Cấp", "Level"), "text"), *[Head(b.label) for b in bands], Head(UI["not_ranked"]),
            Head(UI["ranked_units"]), Head(UI["total"])]
    cells = [html.th_row(html.labelled(pl.col("level"), LEVELS)), *[html.td_num(pl.col(f"_t{c}")) for c in numbers]]
    return html.small_table(UI["report_bands"], head, counts, cells)


def common_weak_points(month: pl.DataFrame, weak: pl.DataFrame, groups, rates: dict[str, Label]) -> list[dict]:
    """Per level: the indicators that are most often a ranked unit's largest weak point
    (`rates`: the profile's labels of the rates)."""
    if weak.is_empty():
        return []
    ranked = month.filter(pl.col("ranked")).select("unit_code", "unit_valid_from", "level")
    w = weak.join(ranked, on=["unit_code", "unit_valid_from", "level"], how="semi").filter(pl.col("points_lost") > 0)
    out = []
    for level in levels_of(w["level"].to_list()):
        part = w.filter(pl.col("level") == level)
        firsts = part.filter(pl.col("position") == pl.col("position").min().over("unit_code", "unit_valid_from"))
        agg = (
            part.group_by("indicator", "group")
            .agg(lost=pl.col("points_lost").mean())
            .join(firsts.group_by("indicator").agg(units=pl.len()), on="indicator", how="left")
            .with_columns(pl.col("units").fill_null(0).cast(pl.Int64))
            .sort(["units", "lost", "indicator"], descending=[True, True, False])
        )
        agg = pl.concat([agg, texts(agg, {"_t_units": ("units", Fmt("int")), "_t_lost": ("lost", Fmt("num", 1))})],
                        how="horizontal")
        group_html = {g.key: html.t(g.label) for g in groups}
        cells = [
            html.th_row(html.labelled(pl.col("indicator"), {**INDICATORS, **rates}),
                        pl.col("group").replace_strict(group_html, default=html.esc(pl.col("group")),
                                                       return_dtype=pl.Utf8)),
            html.td_num(pl.col("_t_units")),
            html.td_num(pl.col("_t_lost")),
        ]
        head = [Head(INSIGHT_COLUMNS["indicator"], "text"), Head(UI["report_weak_units"]), Head(UI["report_weak_lost"])]
        lv = level_lab(level)
        out.append(html.small_table(
            Label(f"{UI['report_weak'].vi} · {lv.vi}", f"{UI['report_weak'].en} · {lv.en}"), head, agg, cells))
    return out


def revised_section(rows: pl.DataFrame, key: str, bands: tuple[Band, ...]) -> dict | None:
    """What a revised month's report says of its revisions (`rows`: the month's): that
    it is a revised edition (its version, date and cause) under its title, and section
    4, the period page's list of revisions (the units link to their rows there). None:
    the month was never revised, and its report is the one first published."""
    notes = revisions.context(revisions.period_notes(rows, "", bands, page=f"periods/{key}.html"))
    if notes is None:
        return None
    title = revisions.TITLE
    return {"badge": revisions.REVISED, "edition": revisions.edition(rows),
            "notes": dict(notes, title=Label(f"4. {title.vi}", f"4. {title.en}"))}


class Report(Kind):
    name = "reports"
    reads = {
        "rows": Read("scoreboard", ROWS, by=("period_key",)),
        "weak": Read("weak_points", WEAK, by=("period_key",)),
        "checks": Read("quality", HELD_COLUMNS, by=("period_key",)),
        "revisions": Read("revisions", revisions.NOTE_COLUMNS, by=("period_key",)),
    }
    facts = ("groups", "bands", "rates", "nav", "published", "authority")
    owns = ("report-*.html", "report.html")
    batch = 24  # pages formatted together: the tables of a batch are held in memory at once

    def outputs(self, site: Site) -> list[Output]:
        months = [p for p in site.facts["periods"] if p["type"] == "month"]
        headline = site.facts["headline"]["month"]["headline"]
        pdf = site.facts["pdf"]
        out = []
        for i, p in enumerate(months):
            params = {
                "period": p,
                "prev": {"key": months[i - 1]["key"], "short": months[i - 1]["short"]} if i > 0 else None,
                "next": {"key": months[i + 1]["key"], "short": months[i + 1]["short"]} if i + 1 < len(months) else None,
                "pdf": f"report-{p['key']}.pdf" if pdf and p["key"] == headline else None,
                # the cut-off moves with every run: only a report that names it is made again
                "cutoff": site.facts["cutoff"] if p["provisional"] else None,
            }
            rows = {"rows": [(p["key"],)], "weak": [(p["key"],)], "checks": [(p["key"],)], "revisions": [(p["key"],)]}
            out.append(Output(f"report-{p['key']}.html", params, rows))
            if p["key"] == headline:  # the menu's report: the same page
                out.append(Output("report.html", params, rows))
        return out

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        tables = self.tables(data)
        for o in batch:
            yield o, self.page(o, data, tables)

    @staticmethod
    def tables(data: Data) -> dict[str, list[dict]]:
        return ranking_tables(data.frame("rows"), REPORT_COLUMNS, data.fact("groups"), bands=data.fact("bands"),
                              root="")

    def page(self, o: Output, data: Data, tables: dict) -> bytes:
        p = with_labels(o.params["period"])
        key = p["key"]
        month = data.part("rows", (key,))
        held = held_notes(data.part("checks", (key,))).get(key)
        nav = {n: o.params[n] and {"href": f"report-{o.params[n]['key']}.html", "short": Label(*o.params[n]["short"])}
               for n in ("prev", "next")}
        title = Label(f"{UI['nav_report'].vi} {p['short'].vi}", f"{UI['nav_report'].en} {p['short'].en}")
        authority = data.fact("authority")
        revised = data.part("revisions", (key,))
        return page(
            data, "report", root="", title=title, body_class="report", pdf=o.params["pdf"],
            authority=Label(*authority) if authority else None,
            period=dict(p, held_back=held, cutoff=cutoff_note(o.params["cutoff"], p["provisional"])),
            revised=revised_section(revised, key, data.fact("bands")),
            bands=band_summary(month, data.fact("bands")),
            weak=common_weak_points(month, data.part("weak", (key,)), data.fact("groups"), data.fact("rates"))
            if "weak_points" in data.fact("published") else [],
            tables=tables.get(key, []), prev=nav["prev"], next=nav["next"],
        )


class ReportPdf(Kind):
    """`report-<YYYY-MM>.pdf` of the headline month, printed by Chromium from its page.
    Where printing fails, the page is made again without its link to the PDF."""

    name = "report pdf"
    owns = ("report-*.pdf",)

    def __init__(self, report: Report):
        self.report = report

    def outputs(self, site: Site) -> list[Output]:
        headline = site.facts["headline"]["month"]["headline"]
        if not (site.facts["pdf"] and headline):
            return []
        page_path = f"report-{headline}.html"
        return [Output(f"report-{headline}.pdf", {"page": page_path, "page_key": site.keys.get(page_path)})]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, Later]]:
        site = data._site
        for o in batch:
            yield o, Later(lambda o=o: self.print(site, o))

    def print(self, site: Site, o: Output) -> list[tuple[str, bytes, str]]:
        """Chromium prints the page (on a thread, while the other pages render)."""
        pdf = site.root / f".{o.path}.printing"
        if print_report_pdf(site.root / o.params["page"], pdf):
            data = pdf.read_bytes()
            pdf.unlink(missing_ok=True)
            return [(o.path, data, o.key)]
        # no PDF after all: no link to it, in the page and in report.html
        out = []
        for rel in (o.params["page"], "report.html"):
            page_out = next(x for x in self.report.outputs(site) if x.path == rel)
            page_out.params = dict(page_out.params, pdf=None)
            rdata = Data(site, self.report, [page_out])
            body = self.report.page(page_out, rdata, self.report.tables(rdata))
            out.append((rel, body, "no pdf"))
        return out


def pdf_wanted(report_pdf: bool) -> bool:
    return bool(report_pdf and chromium_path())


_REPORT = Report()
KINDS = (_REPORT, ReportPdf(_REPORT))
