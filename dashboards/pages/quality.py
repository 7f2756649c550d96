"""`quality.html`: the checks of every period, the periods held back and why,
quarantined rows by reason and file, the units silent in the latest month and
week, every unit's latest data date, and how complete each period is.

Also the held-back note the period, overview, report and unit pages show
(`held_notes`)."""

from __future__ import annotations

from typing import Any, Iterator

import polars as pl

from dashboards import html
from dashboards.build import Data, Kind, Output, Read, Site
from dashboards.format import PCT, Fmt, date_text, fmt_date, fmt_int, texts
from dashboards.html import Head
from dashboards.i18n import (
    CHECKS, COLUMNS, INSIGHT_COLUMNS, LEVELS, PEER_GROUPS, PERIOD_TYPE_ORDER, QUARANTINE_REASONS, UI, WARNING_KINDS, Label,
)
from dashboards.pages.common import fmt_lab, page, plabel, pshort, same
from dashboards.pages.ingestion import file_table

HELD_COLUMNS = ("period_type", "period_key", "check", "blocked", "description_vi", "description_en")
QUALITY_COLUMNS = ("period_type", "period_key", "check", "success", "unexpected_count", "description_vi",
                   "description_en", "blocked")
UNIT_KEY = ["unit_code", "unit_valid_from"]


def check_label(check: str | None, vi: str | None, en: str | None) -> Label:
    """What a check found (its description), else what it checks (its label), else its code."""
    known = CHECKS.get(check or "") or same(check or "")
    return Label(vi or known.vi, en or (known.en if not vi else vi))


def held_notes(checks: pl.DataFrame) -> dict[str, Label]:
    """Period key -> "Số liệu mới của kỳ này đang bị giữ lại vì …", for periods with a blocking failure."""
    if checks.is_empty():
        return {}
    out = {}
    blocked = checks.filter(pl.col("blocked").fill_null(False)).sort("period_key", "check")
    for (key,), part in blocked.group_by("period_key", maintain_order=True):
        labels = [check_label(c, vi, en) for c, vi, en in part.select("check", "description_vi", "description_en").iter_rows()]
        vi = "; ".join(dict.fromkeys(lab.vi.rstrip(". ") for lab in labels))
        en = "; ".join(dict.fromkeys(lab.en.rstrip(". ") for lab in labels))
        out[key] = fmt_lab(UI["held_back"], reasons=Label(vi, en))
    return out


def newest_first(frame: pl.DataFrame) -> pl.DataFrame:
    """Months first, then weeks; the newest of each first."""
    return frame.with_columns(_t=pl.col("period_type").replace_strict({"month": 0, "week": 1}, default=2)).sort(
        ["_t", "period_key"], descending=[False, True], maintain_order=True
    ).drop("_t")


def period_heading(frame: pl.DataFrame, published: set[str], root: str = "") -> pl.Expr:
    """A row heading naming the row's period, linked to its page when it is published."""
    pairs = frame.select("period_type", "period_key").unique().iter_rows()
    cells = {}
    for ptype, key in pairs:
        lab = html.t(plabel(ptype or "", key or ""))
        cells[f"{ptype}\0{key}"] = (
            f'<th scope="row" class="t"><a href="{root}periods/{key}.html">{lab}</a></th>' if key in published
            else f'<th scope="row" class="t">{lab}</th>'
        )
    return pl.concat_str(pl.col("period_type"), pl.lit("\0"), pl.col("period_key")).replace_strict(
        cells, default="", return_dtype=pl.Utf8
    )


def labelled_td(values: pl.Expr, labels: dict[str, Label]) -> pl.Expr:
    return html.td_html(html.labelled(values, labels))


def _check_text(frame: pl.DataFrame) -> pl.DataFrame:
    """`_check`: the check's label as HTML (check_label), row by row."""
    triples = frame.select("check", "description_vi", "description_en").unique().iter_rows()
    labels = {f"{c or ''}\0{vi or ''}\0{en or ''}": html.t(check_label(c, vi, en)) for c, vi, en in triples}
    key = pl.concat_str(pl.col("check").fill_null(""), pl.lit("\0"), pl.col("description_vi").fill_null(""),
                        pl.lit("\0"), pl.col("description_en").fill_null(""))
    return frame.with_columns(_check=key.replace_strict(labels, default="", return_dtype=pl.Utf8))


def checks_tables(q: pl.DataFrame, published: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"checks": None, "failed": None, "latest_checks": []}
    yes_no = lambda e: html.td_status(~e, UI["no"], UI["yes"])  # noqa: E731  (✗ "Có" where it holds back)
    summary = newest_first(
        q.group_by("period_type", "period_key").agg(
            checks=pl.len(), passed=pl.col("success").sum(), failed=(~pl.col("success")).sum(),
            blocked=pl.col("blocked").any(),
        )
    )
    summary = pl.concat([summary, texts(summary, {f"_t_{c}": (c, Fmt("int")) for c in ("checks", "passed", "failed")})],
                        how="horizontal")
    out["checks"] = html.small_table(
        UI["checks_title"],
        [Head(COLUMNS["period_key"], "text"), Head(UI["check"]), Head(UI["passed"]), Head(UI["failed"]),
         Head(UI["blocking"], "text")],
        summary,
        [period_heading(summary, published), html.td_num(pl.col("_t_checks")), html.td_num(pl.col("_t_passed")),
         html.td_num(pl.col("_t_failed")), yes_no(pl.col("blocked"))],
    )
    failed = newest_first(q.filter(~pl.col("success"))).sort(
        ["period_type", "period_key", "check"], descending=[False, True, False], maintain_order=True
    )
    if failed.height:
        out["failed"] = _check_table(UI["checks_failed_title"], failed, published, with_period=True)
    for ptype in PERIOD_TYPE_ORDER:
        part = q.filter(pl.col("period_type") == ptype)
        if part.is_empty():
            continue
        key = part["period_key"].max()
        lab = plabel(ptype, key)
        out["latest_checks"].append(_check_table(
            Label(f"{UI['checks_latest'].vi} · {lab.vi}", f"{UI['checks_latest'].en} · {lab.en}"),
            part.filter(pl.col("period_key") == key).sort("check"), published, with_period=False,
        ))
    return out


def _check_table(caption: Label, rows: pl.DataFrame, published: set[str], *, with_period: bool) -> dict:
    rows = _check_text(rows)
    rows = pl.concat([rows, texts(rows, {"_t_n": ("unexpected_count", Fmt("int"))})], how="horizontal")
    head = [Head(COLUMNS["period_key"], "text")] if with_period else []
    head += [Head(UI["check"], "text"), Head(UI["check_result"], "text"), Head(UI["unexpected"]),
             Head(UI["blocking"], "text")]
    cells = [period_heading(rows, published)] if with_period else []
    cells += [
        html.td_html(pl.col("_check")) if with_period else html.th_row(pl.col("_check")),
        html.td_status(pl.col("success"), UI["passed"], UI["failed"]),
        html.td_num(pl.col("_t_n")),
        pl.when(pl.col("blocked")).then(pl.lit(f'<td class="t">{html.t(UI["yes"])}</td>'))
        .otherwise(pl.lit(f'<td class="t">{html.t(UI["no"])}</td>')),
    ]
    return html.small_table(caption, head, rows, cells)


def held_list(q: pl.DataFrame, held: dict[str, Label], published: set[str]) -> list[dict]:
    """The periods held back, months first, newest first; linked where published."""
    types = dict(q.select("period_key", "period_type").unique().iter_rows())
    keys = sorted(sorted(held, reverse=True), key=lambda k: types.get(k) != "month")
    return [{"key": k, "label": plabel(types.get(k, ""), k), "text": held[k], "linked": k in published} for k in keys]


def quarantine_tables(quarantine: pl.DataFrame) -> list[dict]:
    if quarantine.is_empty() or "reason" not in quarantine.columns:
        return []
    rows_col = next((c for c in ("rows", "count", "n") if c in quarantine.columns), None)
    agg = quarantine.group_by("reason").agg(rows=pl.col(rows_col).sum() if rows_col else pl.len()).sort(
        ["rows", "reason"], descending=[True, False]
    )
    agg = pl.concat([agg, texts(agg, {"_t_rows": ("rows", Fmt("int"))})], how="horizontal")
    out = [html.small_table(
        UI["quarantine_by_reason"],
        [Head(INSIGHT_COLUMNS.get("reason") or Label("Lý do", "Reason"), "text"), Head(Label("Số dòng", "Rows"))],
        agg,
        [html.th_row(html.labelled(pl.col("reason").cast(pl.Utf8).str.slice(0, 16), QUARANTINE_REASONS)),
         html.td_num(pl.col("_t_rows"))],
    )]
    by_file = file_table(quarantine, UI["quarantine_by_file"])
    if by_file is not None:
        out.append(by_file)
    return out


def warning_counts(warnings: pl.DataFrame, published: set[str]) -> dict | None:
    if warnings.is_empty():
        return None
    counts = newest_first(warnings.group_by("period_type", "period_key", "kind").len()).sort(
        ["period_type", "period_key", "kind"], descending=[False, True, False], maintain_order=True
    )
    counts = pl.concat([counts, texts(counts, {"_t_n": ("len", Fmt("int"))})], how="horizontal")
    return html.small_table(
        UI["warnings_by_period"],
        [Head(COLUMNS["period_key"], "text"), Head(UI["warning_kind"], "text"), Head(UI["count"])],
        counts,
        [period_heading(counts, published), labelled_td(pl.col("kind"), WARNING_KINDS), html.td_num(pl.col("_t_n"))],
    )


def unit_link(root: str = "") -> pl.Expr:
    return html.th_unit(pl.col("unit_name"), pl.col("unit_code"), pl.col("_slug"), root)


def silent_tables(latest: pl.DataFrame, last_active: pl.DataFrame, fresh: pl.DataFrame | None,
                  periods: list[tuple[str, str]]) -> list[dict]:
    """Units expected to report in the latest month and week (`expected`: not one
    listed only for late dossiers after it ceased to exist) that received nothing,
    with the last period they had some and (from `fresh`) their latest data date."""
    out = []
    for ptype, key in periods:
        silent = latest.filter(
            (pl.col("period_key") == key) & pl.col("expected") & (pl.col("received").fill_null(0) == 0)
        )
        silent = silent.join(last_active.filter(pl.col("period_type") == ptype).drop("period_type"), on=UNIT_KEY,
                             how="left", nulls_equal=True)
        head = [Head(COLUMNS["unit_name"], "text"), Head(COLUMNS["level"], "text"),
                Head(COLUMNS["peer_group"], "text"), Head(UI["last_active"], "text")]
        last = {k: html.t(pshort(ptype, k)) for k in silent["last_key"].drop_nulls().unique().to_list()}
        cells = [
            unit_link(),
            labelled_td(pl.col("level"), LEVELS),
            labelled_td(pl.col("peer_group"), PEER_GROUPS),
            html.td_html(pl.col("last_key").replace_strict(last, default="—", return_dtype=pl.Utf8).fill_null("—")),
        ]
        if fresh is not None:
            silent = silent.join(fresh.select(*UNIT_KEY, "latest_date"), on=UNIT_KEY, how="left", nulls_equal=True)
            silent = silent.with_columns(_t_date=date_text(pl.col("latest_date")))
            head.append(Head(UI["latest_data"], "text"))
            cells.append(html.td_date(pl.col("latest_date"), pl.col("_t_date"), UI["no_data_yet"]))
        out.append(html.small_table(plabel(ptype, key), head, silent, cells, peer=pl.col("peer_group")))
    return out


def completeness_table(per_period: pl.DataFrame, published: set[str]) -> dict | None:
    """Every period, newest first: the units the registry expects, those that sent
    dossiers, and how many were silent."""
    if per_period.is_empty():
        return None
    per_period = newest_first(per_period)
    per_period = pl.concat([per_period, texts(per_period, {
        "_t_e": ("expected_units", Fmt("int")), "_t_r": ("reporting_units", Fmt("int")),
        "_t_s": ("silent_count", Fmt("int")), "_t_p": ("reporting_share", PCT),
    })], how="horizontal")
    head = [Head(COLUMNS["period_key"], "text"), Head(UI["expected_units"]), Head(UI["reporting_units"]),
            Head(UI["silent_units"]), Head(UI["reporting_share"])]
    return html.small_table(UI["completeness_title"], head, per_period, [
        period_heading(per_period, published), html.td_num(pl.col("_t_e")), html.td_num(pl.col("_t_r")),
        html.td_num(pl.col("_t_s")), html.td_num(pl.col("_t_p")),
    ])


def freshness_table(fresh: pl.DataFrame, week: pl.DataFrame | None, week_label: Label | None) -> dict | None:
    """Every unit, stalest first: the date of its latest data, how many days that is
    behind the newest data of all, and what it received in the latest week (`week`:
    that week's scoreboard rows; a unit the registry expects that received nothing
    is silent)."""
    if fresh.is_empty():
        return None
    frame = fresh
    if week is not None and not week.is_empty():
        frame = frame.join(week.select(*UNIT_KEY, "received", "peer_group"), on=UNIT_KEY, how="left",
                           nulls_equal=True)
    else:
        frame = frame.with_columns(received=pl.lit(None, pl.Int64), peer_group=pl.lit(None, pl.Utf8))
    newest = frame["latest_date"].max()
    frame = pl.concat([frame, texts(frame, {
        "_t_date": ("latest_date", Fmt("date")), "_t_days": ("days_since", Fmt("int")), "_t_rec": ("received", Fmt("int")),
    })], how="horizontal")
    expected = pl.col("received").is_not_null()
    head = [Head(COLUMNS["unit_name"], "text"), Head(COLUMNS["level"], "text"), Head(UI["latest_data"], "text"),
            Head(UI["days_behind"]), Head(UI["received_latest_week"]), Head(UI["latest_week"], "text")]
    cells = [
        unit_link(),
        labelled_td(pl.col("level"), LEVELS),
        html.td_date(pl.col("latest_date"), pl.col("_t_date"), UI["no_data_yet"]),
        html.td_num(pl.col("_t_days")),
        html.td_num(pl.col("_t_rec")),
        pl.when(~expected).then(pl.lit('<td class="t">—</td>'))
        .otherwise(html.td_status(pl.col("received") > 0, UI["sent"], UI["silent_week"])),
    ]
    caption = fmt_lab(UI["fresh_caption"], d=fmt_date(newest)) if newest else UI["fresh_title"]
    note = None
    if week is not None and not week.is_empty() and week_label is not None:
        silent = frame.filter(pl.col("received") == 0).height
        note = fmt_lab(UI["silent_week_count"], n=fmt_int(silent), p=week_label)
    return html.small_table(caption, head, frame, cells, note, peer=pl.col("peer_group"))


def held_batches_table(held: pl.DataFrame) -> dict | None:
    """Files held as drifting (quality.holds.held_batches): file, unit, check, the reason
    with its figures (usual against this batch), and the months and periods held."""
    if held.is_empty():
        return None
    first = pl.col("first_period")
    months = (
        pl.when(first.is_null()).then(pl.lit(""))
        .when(first == pl.col("last_period")).then(first)
        .otherwise(pl.concat_str(first, pl.lit(" – "), pl.col("last_period")))
    )
    frame = held.with_columns(_months=months)
    frame = pl.concat([frame, texts(frame, {"_t_periods": ("periods", Fmt("int"))})], how="horizontal")
    message = pl.concat_str(pl.lit('<span data-en="'), html.esc(pl.col("message_en").fill_null("")), pl.lit('">'),
                            html.esc(pl.col("message_vi").fill_null("")), pl.lit("</span>"))
    return html.small_table(
        UI["held_batches_title"],
        [Head(UI["held_file"], "text"), Head(UI["held_unit"], "text"), Head(UI["check"], "text"),
         Head(UI["held_reason"], "text"), Head(UI["held_periods"], "text")],
        frame,
        [html.td_text(pl.col("source_file")),
         html.th_row(html.esc(pl.coalesce("unit_name", "unit_code")), html.esc(pl.col("unit_code"))),
         labelled_td(pl.col("check_name"), CHECKS),
         html.td_html(message),
         html.td_html(pl.concat_str(pl.col("_t_periods"), pl.lit(" · "), html.esc(pl.col("_months"))))],
        unranked=pl.lit(False),
    )


class QualityPage(Kind):
    name = "quality"
    reads = {
        "checks": Read("quality", QUALITY_COLUMNS),
        "quarantine": Read("quarantine", ("*",)),
        "warnings": Read("warnings", ("period_type", "period_key", "kind")),
        "latest": Read("scoreboard", ("period_type", "period_key", "unit_code", "unit_valid_from", "unit_name",
                                      "level", "peer_group", "received", "expected", "_slug"), by=("period_key",)),
        "last_active": Read("last_active", ("period_type", "unit_code", "unit_valid_from", "last_key")),
        "freshness": Read("freshness", ("*",)),
        "completeness": Read("completeness", ("period_type", "period_key", "expected_units", "reporting_units",
                                              "silent_count", "reporting_share")),
        "held_batches": Read("held_batches", ("*",)),
    }
    facts = ("nav", "published_keys", "has_freshness")
    owns = ("quality.html",)

    def outputs(self, site: Site) -> list[Output]:
        latest = [(t, site.facts["latest"][t]) for t in PERIOD_TYPE_ORDER if site.facts["latest"].get(t)]
        return [Output("quality.html", {"latest": latest}, {"latest": [(k,) for _t, k in latest]})]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        published = set(data.fact("published_keys"))
        q = data.frame("checks").with_columns(pl.col("success").fill_null(False), pl.col("blocked").fill_null(False))
        fresh = data.frame("freshness") if data.fact("has_freshness") else None
        for o in batch:
            latest = [tuple(p) for p in o.params["latest"]]
            ctx: dict[str, Any] = {"held": [], "checks": None, "failed": None, "latest_checks": [],
                                   "held_batches": held_batches_table(data.frame("held_batches"))}
            if q.height:
                ctx["held"] = held_list(q, held_notes(q), published)
                ctx.update(checks_tables(q, published))
            ctx["quarantine"] = quarantine_tables(data.frame("quarantine"))
            ctx["warnings"] = warning_counts(data.frame("warnings"), published)
            latest_rows = data.frame("latest")
            ctx["silent"] = silent_tables(latest_rows, data.frame("last_active"), fresh, latest)
            week = next(((t, k) for t, k in latest if t == "week"), None)
            week_rows = latest_rows.filter(pl.col("period_key") == week[1]) if week else None
            ctx["freshness"] = freshness_table(fresh, week_rows, plabel(*week, mid=True) if week else None) if fresh is not None else None
            ctx["completeness"] = completeness_table(data.frame("completeness"), published)
            yield o, page(data, "quality", root="", title=UI["quality_title"], **ctx)


KINDS = (QualityPage(),)
