"""`units/<code>-<valid_from>.html`: one unit. Its score and rank over every week
and month (charts and tables), and the period it is detailed on — its latest
month with data of its own — in detail: the groups against their maximum and
the peer median, weak points, bottleneck procedures, early warnings, counts,
what-if.

A unit page reads only its own rows: its history, its detail period's rows of
each table, its peers' medians and its level's ranked count in that period
(the derived tables `units`, `peer_medians`, `ranked_counts`, `rebuilt` made by
dashboards.site). So a new week re-renders the units whose rows changed, and
the pages of a batch are written a column at a time: every table body of every
unit of the batch is one Polars pass, each page then one template render.
"""

from __future__ import annotations

from typing import Iterator

import polars as pl
from markupsafe import Markup

from dashboards import html
from dashboards.build import Data, Kind, Output, Read, Site
from dashboards.charts import VI_FORMAT_LOCALE
from dashboards.format import PCT, SCORE, Fmt, fmt_date, fmt_int, fmt_rank_change, fmt_score, rank_change_text, texts
from dashboards.html import Head
from dashboards.i18n import COLUMNS, INDICATORS, INSIGHT_COLUMNS, NO_BAND, UI, Band, Label, band_text
from dashboards.pages.city import WARNING_READ, early_warning_table
from dashboards.pages.evidence import section as evidence_section
from dashboards.methodology import score_line
from dashboards.pages.common import (
    COUNT_COLUMNS, RATE_COLUMNS, all_files, chart_json, figure, fmt_lab, level_lab, page, peer_lab, plabel, pshort,
    same,
)
from dashboards.pages.quality import HELD_COLUMNS, held_notes
from dashboards.pages import revisions
from transforms.insights import BOTTLENECK_SCHEMA, WEAK_POINT_SCHEMA, WHAT_IF_SCHEMA
from transforms.score import round_score

UNIT = ("unit_code", "unit_valid_from")
DETAIL = (*UNIT, "period_key")
HISTORY_COLUMNS = ("score", "band", "rank", "rank_change", "received", "overdue", "pending_overdue")
# A unit page lists every month but only the latest weeks (the chart shows them all),
# so that pages stay small as years of weeks pile up.
HISTORY_WEEKS = 26
HISTORY_READ = ("period_type", "period_key", "period_start", "provisional", "ranked", *HISTORY_COLUMNS, "_slug")
DETAIL_READ = (
    "period_type", "period_key", "level", "peer_group", "score", "band", "ranked", "rank", "rank_in_peer",
    "rank_change", "provisional", *COUNT_COLUMNS, *RATE_COLUMNS, "avg_working_days", "points_*", "max_points_*",
)


def bodies(frame: pl.DataFrame, row: pl.Expr, by: list[str]) -> dict[tuple, tuple[Markup, int]]:
    """Per key of `by`: the `<tr>` lines of its rows (in the frame's order) and how many."""
    if frame.height == 0:
        return {}
    agg = frame.with_columns(_row=row).group_by(by, maintain_order=True).agg(pl.col("_row").str.join(""), _n=pl.len())
    return {tuple(r[:-2]): (Markup(r[-2]), r[-1]) for r in agg.iter_rows()}


def history_bodies(history: pl.DataFrame, bands: tuple[Band, ...]) -> dict[tuple, list[dict]]:
    """Per unit: its months, then its weeks (the latest HISTORY_WEEKS), newest first,
    each linked to its row in the period's table (`bands`: the profile's)."""
    if history.height == 0:
        return {}
    h = history.sort([*UNIT, "period_type", "period_start"], descending=[False, False, False, True], maintain_order=True)
    h = h.with_columns(_i=pl.int_range(pl.len()).over([*UNIT, "period_type"]),
                       _count=pl.len().over([*UNIT, "period_type"]))
    h = h.filter((pl.col("period_type") != "week") | (pl.col("_i") < HISTORY_WEEKS))
    short = {f"{t}\0{k}": html.t(pshort(t, k)) for t, k in h.select("period_type", "period_key").unique().iter_rows()}
    spec = {"_t_score": ("score", SCORE), "_t_rank": ("rank", Fmt("int"))}
    spec.update({f"_t_{c}": (c, Fmt("int")) for c in ("received", "overdue", "pending_overdue")})
    h = pl.concat([h, texts(h, spec)], how="horizontal")
    link = html.th_link(
        pl.concat_str(pl.lit("../periods/"), pl.col("period_key"), pl.lit(".html#u-"), pl.col("_slug")),
        pl.concat_str(pl.col("period_type"), pl.lit("\0"), pl.col("period_key")).replace_strict(short, return_dtype=pl.Utf8),
        pl.when(pl.col("provisional")).then(pl.lit(html.t(COLUMNS["provisional"]))),
    )
    cells = [
        link, html.td_num(pl.col("_t_score")), html.td_band(pl.col("band"), bands),
        html.td_rank(pl.col("_t_rank"), pl.col("ranked") & pl.col("rank").is_not_null()),
        html.td_change(pl.col("rank_change")),
        *[html.td_num(pl.col(f"_t_{c}")) for c in ("received", "overdue", "pending_overdue")],
    ]
    head = [Head(COLUMNS["period_key"], "text"), *[Head(COLUMNS[c]) for c in HISTORY_COLUMNS]]
    found = bodies(h, html.rows(h, cells, unranked=~pl.col("ranked")), [*UNIT, "period_type", "_count"])
    out: dict[tuple, list[dict]] = {}
    for (code, vf, ptype, count), (body, n) in sorted(found.items(), key=lambda kv: (kv[0][:2], kv[0][2] != "month")):
        note = fmt_lab(UI["history_weeks"], n=HISTORY_WEEKS) if ptype == "week" and count > HISTORY_WEEKS else None
        out.setdefault((code, vf), []).append(html.table(UI["months" if ptype == "month" else "weeks"], head, body, n, note))
    return out


def history_json(history: pl.DataFrame, rebuilt: pl.DataFrame) -> dict[tuple, tuple[str, bool, bool]]:
    """Per unit: its chart data (`[{d, t, s, r}, …]`, months then weeks, oldest first;
    `x: 1` on a point reconstructed from the units before a reform), whether any
    reconstructed point has a score drawn and whether any point has a rank. A point's
    score is rounded as the score that ranks (transforms.score.round_score): a
    reconstructed mean on a half, as the mean of two scores often is, then gives one
    value however its sum was ordered. A reconstructed point whose figures would not
    be ranked (not `rankable`: transforms.crosswalk) has no score, as the chart draws
    none for an own period not ranked: a gap, not the 0 of a few late dossiers."""
    own = history.select(
        *UNIT, "period_type", "period_start",
        _j=pl.concat_str(
            pl.lit('{"d":"'), pl.col("period_start").dt.strftime("%Y-%m-%d"), pl.lit('","r":'),
            pl.when(pl.col("ranked")).then(pl.col("rank").cast(pl.Utf8)).fill_null(pl.lit("null")),
            pl.lit(',"s":'), round_score(pl.col("score")).cast(pl.Utf8).fill_null(pl.lit("null")),
            pl.lit(',"t":"'), pl.col("period_type"), pl.lit('"}'),
        ),
        _x=pl.lit(False), _r=(pl.col("ranked") & pl.col("rank").is_not_null()),
    )
    parts = [own]
    if rebuilt.height:
        parts.append(rebuilt.select(
            *UNIT, "period_type", "period_start",
            _j=pl.concat_str(
                pl.lit('{"d":"'), pl.col("period_start").dt.strftime("%Y-%m-%d"), pl.lit('","r":null,"s":'),
                pl.when(pl.col("rankable")).then(round_score(pl.col("score")).cast(pl.Utf8)).fill_null(pl.lit("null")),
                pl.lit(',"t":"'), pl.col("period_type"), pl.lit('","x":1}'),
            ),
            _x=pl.col("rankable").fill_null(False), _r=pl.lit(False),
        ))
    both = pl.concat(parts).sort([*UNIT, "period_type", "period_start", "_x"], descending=[False, False, False, False, True])
    agg = both.group_by(UNIT, maintain_order=True).agg(
        _j=pl.concat_str(pl.lit("["), pl.col("_j").str.join(","), pl.lit("]")), _x=pl.col("_x").any(), _r=pl.col("_r").any()
    )
    return {(c, vf): (j, x, r) for c, vf, j, x, r in agg.iter_rows()}


def groups_bodies(detail: pl.DataFrame, medians: pl.DataFrame, groups) -> tuple[list[Head], dict]:
    """Per unit: each group's points earned, applicable maximum, peer median, share."""
    head = [Head(INSIGHT_COLUMNS["group"], "text"), Head(UI["earned"]), Head(UI["max"]), Head(UI["peer_median"]),
            Head(UI["share_of_max"], sub=same("%"))]
    if detail.height == 0 or not groups:
        return head, {}
    joined = detail.join(medians, on=["period_key", "level", "peer_group"], how="left", nulls_equal=True)
    long = pl.concat([
        joined.select(
            *UNIT, _g=pl.lit(i), _label=pl.lit(html.t(g.label)),
            earned=pl.col(g.column) if g.column in joined.columns else pl.lit(None, pl.Float64),
            mx=pl.col(g.max_column) if g.max_column in joined.columns else pl.lit(None, pl.Float64),
            median=pl.col(f"_median_{g.column}") if f"_median_{g.column}" in joined.columns else pl.lit(None, pl.Float64),
        )
        for i, g in enumerate(groups)
    ]).sort([*UNIT, "_g"], maintain_order=True)
    long = long.with_columns(
        share=pl.when(pl.col("earned").is_not_null() & (pl.col("mx") > 0)).then(pl.col("earned") / pl.col("mx")),
        _whole=pl.col("mx").is_null() | (pl.col("mx") == pl.col("mx").round(0)),
    )
    long = pl.concat([long, texts(long, {
        "_t_e": ("earned", Fmt("num", 1)), "_t_m0": ("mx", Fmt("num", 0)), "_t_m1": ("mx", Fmt("num", 1)),
        "_t_med": ("median", Fmt("num", 1)), "_t_s": ("share", PCT),
    })], how="horizontal")
    cells = [
        html.th_row(pl.col("_label")), html.td_num(pl.col("_t_e")),
        html.td_num(pl.when(pl.col("_whole")).then(pl.col("_t_m0")).otherwise(pl.col("_t_m1"))),
        html.td_num(pl.col("_t_med")), html.td_meter(pl.col("share"), pl.col("_t_s")),
    ]
    return head, bodies(long, html.rows(long, cells), list(UNIT))


def weak_bodies(weak: pl.DataFrame, groups, rates: dict[str, Label]) -> tuple[list[Head], dict]:
    """Per unit: its weak points (`rates`: the profile's labels of the rates)."""
    head = [
        Head(INSIGHT_COLUMNS["indicator"], "text"), Head(INSIGHT_COLUMNS["rate"], sub=same("%")),
        *[Head(INSIGHT_COLUMNS[c]) for c in ("points_earned", "points_max", "points_lost", "peer_median_points",
                                             "gap_to_peer_median", "leader_points", "gap_to_leader")],
    ]
    if weak.height == 0:
        return head, {}
    w = weak.sort([*UNIT, "position"], maintain_order=True).with_columns(
        _whole=pl.col("points_max").fill_null(0) == pl.col("points_max").fill_null(0).round(0)
    )
    w = pl.concat([w, texts(w, {
        "_t_rate": ("rate", PCT), "_t_earned": ("points_earned", Fmt("num", 1)),
        "_t_m0": ("points_max", Fmt("num", 0)), "_t_m1": ("points_max", Fmt("num", 1)),
        "_t_lost": ("points_lost", Fmt("num", 1)), "_t_med": ("peer_median_points", Fmt("num", 1)),
        "_t_gm": ("gap_to_peer_median", Fmt("signed", 1)), "_t_lead": ("leader_points", Fmt("num", 1)),
        "_t_gl": ("gap_to_leader", Fmt("signed", 1)),
    })], how="horizontal")
    group_html = {g.key: html.t(g.label) for g in groups}
    cells = [
        html.th_row(html.labelled(pl.col("indicator"), {**INDICATORS, **COLUMNS, **rates}),
                    pl.col("group").replace_strict(group_html, default=html.esc(pl.col("group")), return_dtype=pl.Utf8)),
        html.td_num(pl.col("_t_rate")), html.td_num(pl.col("_t_earned")),
        html.td_num(pl.when(pl.col("_whole")).then(pl.col("_t_m0")).otherwise(pl.col("_t_m1"))),
        *[html.td_num(pl.col(c)) for c in ("_t_lost", "_t_med", "_t_gm", "_t_lead", "_t_gl")],
    ]
    return head, bodies(w, html.rows(w, cells), list(UNIT))


def bottleneck_bodies(b: pl.DataFrame) -> tuple[list[Head], dict]:
    head = [
        Head(INSIGHT_COLUMNS["procedure_code"], "text"), Head(INSIGHT_COLUMNS["procedure_name"], "text"),
        Head(COLUMNS["overdue"]), Head(COLUMNS["pending_overdue"]), Head(INSIGHT_COLUMNS["late"]),
        Head(INSIGHT_COLUMNS["share_of_late"], sub=same("%")),
    ]
    if b.height == 0:
        return head, {}
    b = b.sort([*UNIT, "position"], maintain_order=True)
    b = pl.concat([b, texts(b, {
        "_t_o": ("overdue", Fmt("int")), "_t_p": ("pending_overdue", Fmt("int")), "_t_l": ("late", Fmt("int")),
        "_t_s": ("share_of_late", PCT),
    })], how="horizontal")
    cells = [
        html.th_row(html.esc(pl.col("procedure_code")).fill_null("")), html.td_text(pl.col("procedure_name")),
        *[html.td_num(pl.col(c)) for c in ("_t_o", "_t_p", "_t_l", "_t_s")],
    ]
    return head, bodies(b, html.rows(b, cells), list(UNIT))


COUNTS = (*COUNT_COLUMNS, *RATE_COLUMNS, "avg_working_days")


def counts_bodies(detail: pl.DataFrame, rates: dict[str, Label]) -> tuple[list[Head], dict]:
    """Per unit: the counts and rates of its detail period, one per row (`rates`: the
    profile's labels of the rates)."""
    head = [Head(UI["indicator"], "text"), Head(UI["value"])]
    if detail.height == 0:
        return head, {}
    fmts = {c: Fmt("int") if c in COUNT_COLUMNS else PCT if c in RATE_COLUMNS else Fmt("num", 1)
            for c in COUNTS}
    t = pl.concat([detail.select(UNIT), texts(detail, {c: (c, f) for c, f in fmts.items()})], how="horizontal")
    long = t.unpivot(index=list(UNIT), on=list(COUNTS), variable_name="_c", value_name="_v").with_columns(
        _o=pl.col("_c").replace_strict({c: i for i, c in enumerate(COUNTS)}, return_dtype=pl.Int32)
    ).sort([*UNIT, "_o"], maintain_order=True)
    labels = {c: html.t(rates[c] if c in RATE_COLUMNS else COLUMNS[c]) for c in COUNTS}
    cells = [html.th_row(pl.col("_c").replace_strict(labels, return_dtype=pl.Utf8)), html.td_num(pl.col("_v"))]
    return head, bodies(long, html.rows(long, cells), list(UNIT))


def what_if_sentences(w: dict | None, ranked: bool, have_table: bool, bands: tuple[Band, ...]) -> list[Label]:
    """The what-if sentences of one unit and period (scoreboard.md, Ranking: What-if;
    `bands`: the profile's)."""
    if not have_table:
        return []
    if w is None or not ranked:
        return [UI["what_if_unranked"]]
    late = w["late_dossiers"] or 0
    if late == 0:
        out = [UI["no_late"]]
        if w["target_rank"] is None:
            out.insert(0, UI["what_if_top_rank"])
        return out

    def dossiers(n: int) -> str:
        return "dossier" if n == 1 else "dossiers"

    def step(what: str, target: Label | str | None, needed: int | None, **arg: str) -> Label:
        """The unit ranked just above (`what` = rank) or the next band up: passed with `needed`
        more on time, or not even with all."""
        if target is None:
            return UI[f"what_if_top_{what}"]
        arg["r" if what == "rank" else "b"] = target
        if needed is not None:
            return fmt_lab(UI[f"what_if_{what}"], n=fmt_int(needed), dossiers=dossiers(needed), **arg)
        return fmt_lab(UI[f"what_if_{what}_none"], n=fmt_int(late), dossiers=dossiers(late), **arg)

    return [
        step("rank", None if w["target_rank"] is None else fmt_int(w["target_rank"]), w["dossiers_for_rank"],
             s=fmt_score(w["target_rank_score"])),
        step("band", None if w["target_band"] is None else band_text(w["target_band"], bands), w["dossiers_for_band"]),
    ]


def facts_of(r: dict, n_ranked: int, bands: tuple[Band, ...]) -> list[dict]:
    """Score, band (`bands`: the profile's), rank of n, rank in the peer group, rank change."""
    ranked = bool(r["ranked"]) and r["rank"] is not None
    rank = (Label(f"{fmt_int(r['rank'])}/{fmt_int(n_ranked)}", f"{fmt_int(r['rank'])} of {fmt_int(n_ranked)}")
            if ranked else UI["not_ranked"])
    peer_rank = same(fmt_int(r["rank_in_peer"])) if r["ranked"] and r["rank_in_peer"] is not None else UI["not_ranked"]
    band = next((b for b in bands if b.vi == r["band"]), None)
    band_cell = ({"css": "none", "label": NO_BAND} if r["band"] is None else
                 {"css": band.css, "label": band.label} if band else {"css": "none", "label": same(r["band"])})
    v = r["rank_change"]
    change = {"text": fmt_rank_change(v), "css": "" if v is None else ("up" if v > 0 else "down" if v < 0 else "same"),
              "title": Label(rank_change_text(v, "vi"), rank_change_text(v, "en"))}
    return [
        {"label": COLUMNS["score"], "value": same(fmt_score(r["score"])), "band": None, "change": None},
        {"label": COLUMNS["band"], "value": None, "band": band_cell, "change": None},
        {"label": COLUMNS["rank"], "value": rank, "band": None, "change": None},
        {"label": COLUMNS["rank_in_peer"], "value": peer_rank, "band": None, "change": None},
        {"label": COLUMNS["rank_change"], "value": None, "band": None, "change": change},
    ]


def unit_context(u: dict, successors: pl.DataFrame) -> dict:
    """What the page's heading says of the unit (`u`: its row of the `units` table): its
    name, code, level, peer group, validity and, when it has ended, the month it ended
    (the ranking tables' `(đến 06/2025)`, telling it from a unit that took its code)
    and the units that took over its area (the crosswalk's, linked to their pages)."""
    end = u["valid_to"]
    return {
        "name": u["unit_name"] or "", "code": u["unit_code"] or "", "level": level_lab(u["level"]),
        "peer": peer_lab(u["peer_group"]) if u["peer_group"] else None,
        "valid_from": fmt_date(u["unit_valid_from"]), "valid_to": fmt_date(end) if end is not None else None,
        "until": fmt_lab(UI["until"], m=f"{end:%m/%Y}") if end is not None else None,
        "successors": [
            {"name": name or code, "code": code, "href": f"{slug}.html" if slug else None}
            for code, name, slug in successors.select("new_code", "new_name", "new_slug").iter_rows()
        ],
    }


class UnitPage(Kind):
    name = "unit pages"
    reads = {
        "unit": Read("units", ("unit_code", "unit_valid_from", "unit_name", "level", "peer_group", "_slug",
                               "detail_key", "valid_to"), by=UNIT),
        "successors": Read("successors", ("new_code", "new_valid_from", "new_name", "new_slug"), by=UNIT),
        "history": Read("scoreboard", HISTORY_READ, by=UNIT),
        "detail": Read("scoreboard", DETAIL_READ, by=DETAIL),
        "weak": Read("weak_points", tuple(WEAK_POINT_SCHEMA), by=DETAIL),
        "bottlenecks": Read("bottlenecks", tuple(BOTTLENECK_SCHEMA), by=DETAIL),
        "what_if": Read("what_if", tuple(WHAT_IF_SCHEMA), by=DETAIL),
        "warnings": Read("warnings", WARNING_READ, by=DETAIL),
        "rebuilt": Read("rebuilt", ("period_type", "period_start", "score", "rankable"), by=UNIT),
        "medians": Read("peer_medians", ("*",), by=("period_key", "level", "peer_group")),
        "ranked": Read("ranked_counts", ("n",), by=("period_key", "level")),
        "checks": Read("quality", HELD_COLUMNS, by=("period_key",)),
        "revisions": Read("revisions", revisions.NOTE_COLUMNS, by=UNIT),
    }
    facts = ("groups", "bands", "rates", "nav", "published")
    owns = ("units/*.html",)
    batch = 200  # pages formatted together: the tables of a batch are held in memory at once
    apart = True  # Jinja and Markup: a first build renders its batches in the second process

    def outputs(self, site: Site) -> list[Output]:
        out = []
        for code, vf, slug, key, level, peer in site.tables["units"].select(
            *UNIT, "_slug", "detail_key", "detail_level", "detail_peer"
        ).iter_rows():
            unit, detail = (code, vf), (code, vf, key)
            out.append(Output(f"units/{slug}.html", {"slug": slug, "detail": key}, {
                "unit": [unit], "history": [unit], "detail": [detail], "weak": [detail], "bottlenecks": [detail],
                "what_if": [detail], "warnings": [detail], "rebuilt": [unit], "medians": [(key, level, peer)],
                "ranked": [(key, level)], "checks": [(key,)], "revisions": [unit], "successors": [unit],
            }))
        return out

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        groups, bands, rates = data.fact("groups"), data.fact("bands"), data.fact("rates")
        published = data.fact("published")
        history = data.frame("history")
        detail = data.frame("detail")
        medians = data.frame("medians").rename(
            {g.column: f"_median_{g.column}" for g in groups if g.column in data.frame("medians").columns}
        )
        hist_tables = history_bodies(history, bands)
        charts = history_json(history, data.frame("rebuilt"))
        group_head, group_rows = groups_bodies(detail, medians, groups)
        weak_head, weak_rows = weak_bodies(data.frame("weak"), groups, rates)
        bn_head, bn_rows = bottleneck_bodies(data.frame("bottlenecks"))
        count_head, count_rows = counts_bodies(detail, rates)
        ranked = {(k, lv): n for k, lv, n in data.frame("ranked").select("period_key", "level", "n").iter_rows()}
        what_ifs = {(r["unit_code"], r["unit_valid_from"]): r for r in data.frame("what_if").iter_rows(named=True)}
        details = {(r["unit_code"], r["unit_valid_from"]): r for r in detail.iter_rows(named=True)}
        units = {(r["unit_code"], r["unit_valid_from"]): r for r in data.frame("unit").iter_rows(named=True)}
        held = held_notes(data.frame("checks"))
        for o in batch:
            (ukey,) = o.rows["unit"]
            u, r, key, slug = units[ukey], details[ukey], o.params["detail"], o.params["slug"]
            empty = (Markup(""), 0)
            w = data.part("warnings", (*ukey, key))
            detail_ctx = {
                "heading": UI["latest_detail"] if r["period_type"] == "month" else UI["latest_week"],
                "label": plabel(r["period_type"], key),
                "provisional": bool(r["provisional"]),
                "held_back": held.get(key),
                "period_href": f"../periods/{key}.html#u-{slug}",
                "facts": facts_of(r, ranked.get((key, r["level"]), 0), bands),
                "what_if": what_if_sentences(what_ifs.get(ukey), bool(r["ranked"]), "what_if" in published, bands),
                "groups": html.table(UI["groups_title"], group_head, *group_rows.get(ukey, empty)),
                "weak": html.table(UI["weak_title"], weak_head, *weak_rows[ukey])
                if "weak_points" in published and ukey in weak_rows else None,
                "bottlenecks": (
                    html.table(UI["bottleneck_title"], bn_head, *bn_rows[ukey]) if ukey in bn_rows else
                    html.table(UI["bottleneck_title"], [Head(UI["bottleneck_title"], "text")],
                               f'<tr><th scope="row" class="t">{html.t(UI["no_rows"])}</th></tr>\n', 1)
                ) if "bottlenecks" in published else None,
                "warnings": early_warning_table(w, UI["warnings_title"], rates, with_unit=False, root="../")
                if w.height else None,
                "counts": html.table(UI["counts_title"], count_head, *count_rows.get(ukey, empty)),
                "files": all_files(key, "../", published),
                "evidence": evidence_section(r, key, slug, published),
                "score_line": score_line(r, groups),
            }
            history_json_text, reconstructed, has_rank = charts.get(ukey, ("[]", False, False))
            ucharts = [{"id": "chart-unit-score", "spec": "unit-score-reconstructed" if reconstructed else "unit-score"}]
            figs = [figure("chart-unit-score", UI["chart_unit_score"], note=UI["chart_gaps"])]
            if has_rank:
                ucharts.append({"id": "chart-unit-rank", "spec": "unit-rank"})
                figs.append(figure("chart-unit-rank", UI["chart_unit_rank"]))
            holder = chart_json({"history": "\0history\0"}, ucharts, VI_FORMAT_LOCALE)
            chart_text = Markup(str(holder).replace('"\\u0000history\\u0000"', history_json_text))
            unit = unit_context(u, data.part("successors", ukey))
            ended = unit["until"]
            title = same(unit["name"]) if ended is None else Label(f"{unit['name']} {ended.vi}",
                                                                   f"{unit['name']} {ended.en}")
            yield o, page(
                data, "unit", root="../", title=title, charts=figs, chart_json=chart_text,
                shared_specs=True, unit=unit, detail=detail_ctx, history=hist_tables.get(ukey, []),
                revisions=revisions.context(revisions.unit_notes(data.part("revisions", ukey), "../", bands)),
            )


KINDS = (UnitPage(),)
