"""The HTML of the site's tables, a column at a time.

A table is a frame, a list of header cells and one expression per column that
writes the column's `<td>`/`<th>` for every row at once (Polars string
kernels); the rows are then joined per table. The templates place the
headers and the body and escape everything else. Every text from the data is
escaped here as markupsafe would (`&`, `<`, `>`, `"`, `'`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable, Mapping

import polars as pl
from markupsafe import Markup, escape

from dashboards.i18n import NO_BAND, UI, Band, Label

_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"), ("'", "&#39;"))


def esc(expr: pl.Expr) -> pl.Expr:
    """HTML-escape a text column (nulls stay null)."""
    for raw, safe in _ESCAPES:
        expr = expr.str.replace_all(raw, safe, literal=True)
    return expr


def lit(text: str) -> pl.Expr:
    return pl.lit(text, dtype=pl.Utf8)


def t(lab: Label | tuple[str, str]) -> str:
    """A label in Vietnamese, with its English in data-en when they differ."""
    vi, en = escape(lab[0]), lab[1]
    if en and en != lab[0]:
        return f'<span data-en="{escape(en)}">{vi}</span>'
    return str(vi)


def t_columns(vi: pl.Expr, en: pl.Expr) -> pl.Expr:
    """`t` of two text columns: the Vietnamese, with the English in data-en when it is
    given and differs (a null as empty)."""
    vi, en = vi.fill_null(""), en.fill_null("")
    return pl.when((en != "") & (en != vi)).then(
        pl.concat_str(lit('<span data-en="'), esc(en), lit('">'), esc(vi), lit("</span>"))
    ).otherwise(esc(vi))


def tattr(name: str, lab: Label | tuple[str, str]) -> str:
    out = f'{name}="{escape(lab[0])}"'
    if lab[1] != lab[0]:
        out += f' data-en-{name}="{escape(lab[1])}"'
    return out


def labelled(expr: pl.Expr, labels: Mapping[str, Label], *, null: str = "") -> pl.Expr:
    """A code column as its label's HTML (`t`); a code without a label is shown as
    written (escaped), a null as `null`."""
    known = {k: t(v) for k, v in labels.items()}
    return (
        expr.replace_strict(known, default=esc(expr), return_dtype=pl.Utf8)
        .fill_null(null)
    ) if known else esc(expr).fill_null(null)


# --------------------------------------------------------------------------- cells


def td_num(text: pl.Expr) -> pl.Expr:
    """A number already formatted (format.texts): digits, `,`, `.`, `%`, `—` only."""
    return pl.concat_str(lit("<td>"), text, lit("</td>"))


def td_text(value: pl.Expr) -> pl.Expr:
    return pl.concat_str(lit('<td class="t">'), esc(value).fill_null(""), lit("</td>"))


def td_html(html: pl.Expr, cls: str = "t") -> pl.Expr:
    return pl.concat_str(lit(f'<td class="{cls}">'), html, lit("</td>"))


def th_row(html: pl.Expr, sub: pl.Expr | None = None) -> pl.Expr:
    """A row heading; `sub` (HTML, may be null) in a muted span after it."""
    parts = [lit('<th scope="row" class="t">'), html]
    if sub is not None:
        parts.append(pl.when(sub.is_not_null() & (sub != "")).then(
            pl.concat_str(lit(' <span class="code">'), sub, lit("</span>"))).otherwise(lit("")))
    parts.append(lit("</th>"))
    return pl.concat_str(parts)


def th_link(href: pl.Expr, html: pl.Expr, badge: pl.Expr | None = None) -> pl.Expr:
    parts = [lit('<th scope="row" class="t"><a href="'), href, lit('">'), html, lit("</a>")]
    if badge is not None:
        parts.append(pl.when(badge.is_not_null()).then(
            pl.concat_str(lit(' <span class="badge">'), badge, lit("</span>"))).otherwise(lit("")))
    parts.append(lit("</th>"))
    return pl.concat_str(parts)


def until(day: pl.Expr) -> pl.Expr:
    """`(đến 06/2025)` / `(until 06/2025)`: the month of an ended unit's last day (a
    date column; an empty text where it is null)."""
    month = day.dt.strftime("%m/%Y")
    lab = UI["until"]
    vi_before, vi_after = lab.vi.split("{m}")
    en_before, en_after = lab.en.split("{m}")
    return pl.concat_str(
        lit(f' <span class="code until" data-en="{escape(en_before)}'), month, lit(f'{escape(en_after)}">'
                                                                              f'{escape(vi_before)}'),
        month, lit(f"{escape(vi_after)}</span>"),
    ).fill_null("")


def th_unit(name: pl.Expr, code: pl.Expr, slug: pl.Expr | None, root: str, ended: pl.Expr | None = None) -> pl.Expr:
    """`<th>` with the unit's name (linked to its page when it has a slug) and code, and
    (`ended`: a date, or null) the month it ended (`until`)."""
    shown = esc(name).fill_null("")
    if slug is not None:
        shown = pl.when(slug.is_not_null()).then(
            pl.concat_str(lit(f'<a href="{escape(root)}units/'), esc(slug), lit('.html">'), shown, lit("</a>"))
        ).otherwise(shown)
    return pl.concat_str(
        lit('<th scope="row" class="unit">'), shown, lit(' <span class="code">'), esc(code).fill_null(""),
        lit("</span>"), until(ended) if ended is not None else lit(""), lit("</th>"),
    )


NOT_RANKED_TD = f'<td {tattr("title", UI["not_ranked"])}>—</td>'


def td_rank(text: pl.Expr, shown: pl.Expr) -> pl.Expr:
    """A rank (formatted), or the "not ranked" dash where `shown` is false."""
    return pl.when(shown).then(td_num(text)).otherwise(lit(NOT_RANKED_TD))


def band_html(label: Label, css: str, order: int | None) -> str:
    data_v = f' data-v="{order}"' if order is not None else ""
    return f'<td class="t"{data_v}><span class="band band-{css}">{t(label)}</span></td>'


def td_band(band: pl.Expr, bands: tuple[Band, ...]) -> pl.Expr:
    """The band's colour square and name, sorted best first (`bands`: the profile's,
    dashboards.i18n.site_bands); a value that is none of them as written, after them."""
    known = {b.vi: band_html(b.label, b.css, i) for i, b in enumerate(bands)}
    unknown = pl.concat_str(
        lit(f'<td class="t" data-v="{len(bands)}"><span class="band band-none">'), esc(band), lit("</span></td>")
    )
    return (
        pl.when(band.is_null()).then(lit(band_html(NO_BAND, "none", None)))
        .otherwise(band.replace_strict(known, default=unknown, return_dtype=pl.Utf8))
    )


def td_change(change: pl.Expr) -> pl.Expr:
    """`▲2` up two places, `▼1` down one, `=`; the words in the title (format.rank_change_text)."""
    n = change.abs().cast(pl.Utf8)

    def span(css: str, vi: pl.Expr, en: pl.Expr, text: pl.Expr) -> pl.Expr:
        return pl.concat_str(
            lit(f'<td><span class="chg {css}" title="'), vi, lit('" data-en-title="'), en, lit('">'), text,
            lit("</span></td>"),
        )

    up, down, same = UI["up"], UI["down"], UI["same"]
    return (
        pl.when(change.is_null()).then(lit("<td></td>"))
        .when(change > 0).then(span(
            "up", _filled(up.vi, n), _filled(up.en, n), pl.concat_str(lit("▲"), n)))
        .when(change < 0).then(span(
            "down", _filled(down.vi, n), _filled(down.en, n), pl.concat_str(lit("▼"), n)))
        .otherwise(lit(f'<td><span class="chg same" {tattr("title", same)}>=</span></td>'))
    )


def _filled(template: str, n: pl.Expr) -> pl.Expr:
    """`"Tăng {n} bậc"` with the column `n` in place of {n} (escaped template)."""
    before, _, after = str(escape(template)).partition("{n}")
    return pl.concat_str(lit(before), n, lit(after))


def td_date(day: pl.Expr, text: pl.Expr, missing: Label) -> pl.Expr:
    """dd/mm/yyyy sorted on the ISO date; `missing` where there is no date."""
    return pl.when(day.is_null()).then(lit(f'<td class="t" data-v="">{t(missing)}</td>')).otherwise(
        pl.concat_str(lit('<td class="t" data-v="'), day.dt.strftime("%Y-%m-%d"), lit('">'), text, lit("</td>"))
    )


def status_html(ok: bool, label: Label) -> str:
    return (
        f'<td class="t"><span class="status {"ok" if ok else "fail"}"><span aria-hidden="true">'
        f'{"✓" if ok else "✗"}</span> {t(label)}</span></td>'
    )


def td_status(ok: pl.Expr, yes: Label, no: Label) -> pl.Expr:
    return pl.when(ok).then(lit(status_html(True, yes))).otherwise(lit(status_html(False, no)))


def td_meter(value: pl.Expr, text: pl.Expr) -> pl.Expr:
    """A meter of a share in [0, 1] with its text; `—` where there is none."""
    return pl.when(value.is_null()).then(lit('<td class="t">—</td>')).otherwise(pl.concat_str(
        lit('<td class="t"><meter min="0" max="1" value="'), value.round(4).cast(pl.Utf8),
        lit('" aria-hidden="true"></meter> '), text, lit("</td>"),
    ))


def crossing_html(up: bool) -> str:
    arrow, css = ("▲", "up") if up else ("▼", "down")
    return (
        f'<td class="t"><span class="chg {css}"><span aria-hidden="true">{arrow}</span> '
        f'{t(UI["crossing_up" if up else "crossing_down"])}</span></td>'
    )


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Head:
    """A column heading: its label, how site.js sorts it, a second line under it."""

    label: Label
    sort: str = "num"
    sub: Label | None = None
    title: Label | None = None


def rows(
    frame: pl.DataFrame,
    cells: Iterable[pl.Expr],
    *,
    id: pl.Expr | None = None,
    peer: pl.Expr | None = None,
    unranked: pl.Expr | None = None,
) -> pl.Expr:
    """One `<tr>…</tr>` line per row of `frame` (an expression over its columns)."""
    attrs: list[pl.Expr] = []
    if id is not None:
        attrs.append(pl.when(id.is_not_null()).then(pl.concat_str(lit(' id="'), esc(id), lit('"'))).otherwise(lit("")))
    if peer is not None:
        attrs.append(pl.concat_str(lit(' data-peer="'), esc(peer).fill_null(""), lit('"')))
    if unranked is not None:
        attrs.append(pl.when(unranked).then(lit(' class="unranked"')).otherwise(lit("")))
    return pl.concat_str([lit("<tr"), *attrs, lit(">"), *cells, lit("</tr>\n")])


def body(frame: pl.DataFrame, row: pl.Expr) -> Markup:
    """The `<tr>` lines of a whole frame, as one block."""
    if frame.height == 0:
        return Markup("")
    return Markup(frame.select(row.str.join("")).item())


def table(caption: Label, head: list[Head], html: Markup | str, n: int, note: Label | None = None,
          *, collapsed: bool = False) -> dict:
    """A table as the templates place it (`table_html`)."""
    return {"caption": caption, "note": note, "columns": head, "body": Markup(html), "n": n, "collapsed": collapsed}


@functools.lru_cache(maxsize=256)
def _head_html(head: tuple[Head, ...]) -> str:
    """The heading row (the same for every page's table of a kind: made once)."""
    cells = []
    for c in head:
        title = f" {tattr('title', c.title)}" if c.title else ""
        sub = f"<small>{t(c.sub)}</small>" if c.sub else ""
        cells.append(f'<th scope="col" data-sort="{escape(c.sort)}"{title}>{t(c.label)}{sub}</th>\n')
    return "<thead><tr>\n" + "".join(cells) + "</tr></thead>\n"


def table_html(tb: dict, cls: str = "ranking sortable") -> Markup:
    """A whole table: caption, headings, body, the "no match" note of the search; a
    table marked `collapsed` (a level with no ranked unit) folded in a <details>."""
    note = f' <span class="meta">· {t(tb["note"])}</span>' if tb.get("note") else ""
    if tb.get("collapsed"):
        start = (f'<details class="ranking-block">\n<summary>{t(tb["caption"])} · {t(tb["note"])} — '
                 f'{t(UI["none_ranked"])}</summary>\n')
        end = "</details>"
    else:
        start, end = '<div class="ranking-block">', "</div>"
    return Markup(
        f'{start}<div class="table-wrap">\n<table class="{escape(cls)}">\n<caption>{t(tb["caption"])}{note}</caption>\n'
        f'{_head_html(tuple(tb["columns"]))}<tbody>\n{tb["body"]}</tbody>\n</table>\n</div>\n'
        f'<p class="no-match" hidden>{t(UI["no_match"])}</p>\n{end}'
    )


def small_table(caption: Label, head: list[Head], frame: pl.DataFrame, cells: list[pl.Expr],
                note: Label | None = None, **row_attrs: pl.Expr) -> dict:
    """A whole frame as one table."""
    return table(caption, head, body(frame, rows(frame, cells, **row_attrs)), frame.height, note)
