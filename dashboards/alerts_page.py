"""Alert digests in words: the page alerts/<period>.html, the e-mail text and the
webhook's JSON, from transforms.alerts.digest rows.

The pages are kinds of the site's catalogue (dashboards/pages/alerts.py); the
templates are templates/alerts_page.html.j2, alerts_index.html.j2 and
alert_message.txt.j2.
"""

from __future__ import annotations

import functools

import polars as pl
from markupsafe import Markup

from dashboards import html
from dashboards.format import SCORE, Fmt, fmt_int, fmt_score, period_label, texts
from dashboards.i18n import COLUMNS, LEVELS, Band, Label, band_text, site_bands
from dashboards.j2 import render
from transforms.profile import DEFAULT_PROFILE_PATH, load_profile

FOLDER = "alerts"

L = {
    "title": Label("Cảnh báo", "Alerts"),
    "index_title": Label("Cảnh báo sau mỗi kỳ công bố", "Alerts after each publication"),
    "index_note": Label(
        "Sau mỗi tuần và mỗi tháng đã khép lại: đơn vị tụt xếp loại, tụt nhiều bậc, vượt ngưỡng cảnh báo sớm "
        "hoặc ngừng gửi hồ sơ. Cùng nội dung được gửi qua thư điện tử hoặc webhook cho người nhận đã đăng ký.",
        "After each closed week and month: units that dropped a band, fell several places, crossed an "
        "early-warning threshold or stopped sending dossiers. The same digest goes by e-mail or webhook to "
        "the recipients registered.",
    ),
    "none": Label("Không có đơn vị nào cần cảnh báo trong kỳ này.", "No unit to warn about in this period."),
    "index_none": Label(
        "Chưa có đơn vị nào cần cảnh báo trong các tuần và tháng đã khép lại.",
        "No unit to warn about in any closed week or month yet.",
    ),
    "kind": Label("Cảnh báo", "Alert"),
    "detail": Label("Chi tiết", "Detail"),
    "period": Label("Kỳ", "Period"),
    "count": Label("Số cảnh báo", "Alerts"),
    "units": Label("Số đơn vị", "Units"),
    "before_after": Label("trước → nay", "before → now"),
    "all_alerts": Label("Tất cả cảnh báo", "All alerts"),
    "unit_page": Label("Trang đơn vị", "Unit page"),
    "whole_digest": Label("Toàn bộ cảnh báo", "All alerts of this period"),
    "intro": Label("cảnh báo sau khi công bố", "alerts after the publication of"),
    "late_procedures": Label("Thủ tục có nhiều hồ sơ trễ hạn nhất", "Procedures with the most late dossiers"),
}
KIND_LABELS = {
    "band_drop": Label("Tụt xếp loại", "Dropped a band"),
    "rank_fall": Label("Tụt hạng", "Fell in rank"),
    "early_warning": Label("Cảnh báo sớm", "Early warning"),
    "silent": Label("Ngừng gửi hồ sơ", "Went silent"),
}


@functools.cache
def default_bands() -> tuple[Band, ...]:
    """The bands of the shipped default profile: the words of a caller that does not
    name the profile in force (the site always does: its fact `bands`)."""
    return site_bands(load_profile(DEFAULT_PROFILE_PATH))


def _band_word(band: str | None, lang: str, bands: tuple[Band, ...]) -> str:
    return "—" if band is None else band_text(band, bands).get(lang)


def procedures_text(procedures: list[dict] | None, lang: str) -> str:
    """The procedures behind a unit's alerts about timeliness, most late dossiers first
    (transforms.alerts' `late_procedures`): code, name and count; "" when none. Said
    once a unit: they are its period's, whichever of its alerts they explain."""
    if not procedures:
        return ""
    unit = "dossiers" if lang == "en" else "hồ sơ"
    named = "; ".join(
        " ".join(x for x in (p["procedure_code"], p["procedure_name"]) if x) + f" ({fmt_int(p['late'])} {unit})"
        for p in procedures
    )
    return f"{L['late_procedures'].get(lang)}: {named}."


def _unit_procedures(alerts: list[dict]) -> list[dict] | None:
    """A unit's late procedures: those of the first of its alerts that has them."""
    return next((r["late_procedures"] for r in alerts if r.get("late_procedures")), None)


def sentence(row: dict, lang: str, bands: tuple[Band, ...] | None = None) -> str:
    """One alert in words, with its numbers (decimal comma, as on every page); `bands`:
    the profile's (dashboards.i18n.site_bands), by default the default profile's."""
    bands = bands if bands is not None else default_bands()
    kind = row["kind"]
    if kind == "band_drop":
        before, after = _band_word(row["band_before"], lang, bands), _band_word(row["band_after"], lang, bands)
        scores = f"{fmt_score(row['score_before'])} → {fmt_score(row['score_after'])}"
        if lang == "en":
            return f"Band fell from {before} to {after} (score {scores})."
        return f"Xếp loại giảm từ {before} xuống {after} (điểm {scores})."
    if kind == "rank_fall":
        n = (row["rank_after"] or 0) - (row["rank_before"] or 0)
        before, after = ("—" if r is None else r for r in (row["rank_before"], row["rank_after"]))
        if lang == "en":
            return f"Fell {n} places, from rank {before} to {after} (score {fmt_score(row['score_after'])})."
        return f"Tụt {n} bậc, từ hạng {before} xuống hạng {after} (điểm {fmt_score(row['score_after'])})."
    if kind == "silent":
        if lang == "en":
            return f"Sent no dossier in this period ({fmt_int(row['received_before'])} the period before)."
        return f"Không gửi hồ sơ nào trong kỳ (kỳ trước: {fmt_int(row['received_before'])} hồ sơ)."
    return (row["message_en"] if lang == "en" else row["message_vi"]) or ""


def _level(level: str | None) -> Label:
    return LEVELS.get(level or "", Label(level or "", level or ""))


def unit_path(row: dict) -> str:
    from dashboards.site import unit_slug

    return f"units/{unit_slug(row['unit_code'], row['unit_valid_from'])}.html"


def _units(rows: pl.DataFrame) -> list[dict]:
    """The digest grouped by unit, in the digest's order."""
    units: dict[tuple, dict] = {}
    for r in rows.iter_rows(named=True):
        key = (r["unit_code"], r["unit_valid_from"])
        u = units.setdefault(key, {
            "code": r["unit_code"], "name": r["unit_name"], "level": r["level"], "path": unit_path(r), "alerts": [],
        })
        u["alerts"].append(r)
    return list(units.values())


def sentences(rows: pl.DataFrame, bands: tuple[Band, ...] | None = None) -> pl.DataFrame:
    """`sentence` of every row, in both languages (`vi`, `en`), a column at a time:
    the same words (tests/test_alerts.py holds them equal)."""
    bands = bands if bands is not None else default_bands()
    nums = texts(rows, {"sb": ("score_before", SCORE), "sa": ("score_after", SCORE),
                        "rb": ("received_before", Fmt("int"))})
    rank = {c: pl.col(c).cast(pl.Utf8).fill_null("—") for c in ("rank_before", "rank_after")}
    fell = (pl.col("rank_after").fill_null(0) - pl.col("rank_before").fill_null(0)).cast(pl.Utf8)
    sb, sa, rb = pl.col("sb"), pl.col("sa"), pl.col("rb")

    def words(lang: str) -> pl.Expr:
        before, after = (_band_names(pl.col(c), lang, bands) for c in ("band_before", "band_after"))
        if lang == "en":
            drop = pl.concat_str(pl.lit("Band fell from "), before, pl.lit(" to "), after, pl.lit(" (score "), sb,
                                 pl.lit(" → "), sa, pl.lit(")."))
            fall = pl.concat_str(pl.lit("Fell "), fell, pl.lit(" places, from rank "), rank["rank_before"],
                                 pl.lit(" to "), rank["rank_after"], pl.lit(" (score "), sa, pl.lit(")."))
            silent = pl.concat_str(pl.lit("Sent no dossier in this period ("), rb, pl.lit(" the period before)."))
        else:
            drop = pl.concat_str(pl.lit("Xếp loại giảm từ "), before, pl.lit(" xuống "), after, pl.lit(" (điểm "), sb,
                                 pl.lit(" → "), sa, pl.lit(")."))
            fall = pl.concat_str(pl.lit("Tụt "), fell, pl.lit(" bậc, từ hạng "), rank["rank_before"],
                                 pl.lit(" xuống hạng "), rank["rank_after"], pl.lit(" (điểm "), sa, pl.lit(")."))
            silent = pl.concat_str(pl.lit("Không gửi hồ sơ nào trong kỳ (kỳ trước: "), rb, pl.lit(" hồ sơ)."))
        kind = pl.col("kind")
        return (pl.when(kind == "band_drop").then(drop).when(kind == "rank_fall").then(fall)
                .when(kind == "silent").then(silent).otherwise(pl.col(f"message_{lang}").fill_null("")).alias(lang))

    return pl.concat([rows, nums], how="horizontal").select(words("vi"), words("en"))


def _band_names(band: pl.Expr, lang: str, bands: tuple[Band, ...]) -> pl.Expr:
    """`_band_word` of a column."""
    names = {b.vi: b.label.get(lang) for b in bands}
    return band.replace_strict(names, default=band, return_dtype=pl.Utf8).fill_null("—")


def _pair_text(before: pl.Expr, after: pl.Expr, before_null: pl.Expr, after_null: pl.Expr) -> pl.Expr:
    """`before → after` of two formatted columns, `—` when both values are missing."""
    return pl.when(before_null & after_null).then(pl.lit("—")).otherwise(pl.concat_str(before, pl.lit(" → "), after))


def table_rows(rows: pl.DataFrame, bands: tuple[Band, ...] | None = None) -> dict[tuple[str, str], str]:
    """The `<tr>` of every unit of each period's digest in `rows` (period_type,
    period_key → HTML), the units in the digest's order, a column at a time (`bands`:
    the profile's, by default the default profile's)."""
    from dashboards.site import unit_slug

    if rows.is_empty():
        return {}
    bands = bands if bands is not None else default_bands()
    units = rows.select("unit_code", "unit_valid_from").unique(maintain_order=True)
    slugs = units.with_columns(_path=pl.Series(
        [f"units/{unit_slug(c, vf)}.html" for c, vf in units.iter_rows()], dtype=pl.Utf8))
    said = sentences(rows, bands)
    nums = texts(rows, {"_s0": ("score_before", SCORE), "_s1": ("score_after", SCORE),
                        "_n0": ("received_before", Fmt("int")), "_n1": ("received_after", Fmt("int"))})
    frame = pl.concat([rows, said, nums], how="horizontal").join(
        slugs, on=["unit_code", "unit_valid_from"], how="left", nulls_equal=True, maintain_order="left")
    col = pl.col
    band = {lang: pl.concat_str(_band_names(col("band_before"), lang, bands), pl.lit(" → "),
                                _band_names(col("band_after"), lang, bands))
            for lang in ("vi", "en")}
    rank = {c: col(c).cast(pl.Utf8).fill_null("—") for c in ("rank_before", "rank_after")}
    cells = frame.select(
        "period_type", "period_key", "unit_code", "unit_valid_from",
        _kind=html.labelled(col("kind"), KIND_LABELS),
        _text=html.t_columns(col("vi"), col("en")),
        _procs=_procedures_html(rows),
        _head=pl.concat_str(
            pl.lit('<tr id="u-'), html.esc(col("unit_code")), pl.lit('"><th scope="row" class="t"><a href="../'),
            html.esc(col("_path")), pl.lit('">'), html.esc(col("unit_name")).fill_null(""), pl.lit('</a> <span class="code">'),
            html.esc(col("unit_code")), pl.lit('</span><small class="meta"> · '), html.labelled(col("level"), LEVELS),
            pl.lit("</small></th>\n"),
        ),
        _tail=pl.concat_str(
            pl.lit("<td>"), _pair_text(col("_s0"), col("_s1"), col("score_before").is_null(), col("score_after").is_null()),
            pl.lit('</td><td class="t">'), html.t_columns(band["vi"], band["en"]),
            pl.lit("</td><td>"), _pair_text(rank["rank_before"], rank["rank_after"], col("rank_before").is_null(),
                                             col("rank_after").is_null()),
            pl.lit("</td><td>"), _pair_text(col("_n0"), col("_n1"), col("received_before").is_null(),
                                             col("received_after").is_null()),
            pl.lit("</td></tr>\n"),
        ),
    )
    # a unit's rows in one <tr>: its alerts one under the other, its figures from its first row
    grouped = cells.group_by("period_type", "period_key", "unit_code", "unit_valid_from", maintain_order=True).agg(
        _head=col("_head").first(), _kind=col("_kind").str.join("<br>"), _text=col("_text").str.join("<br>"),
        _procs=col("_procs").drop_nulls().first(), _tail=col("_tail").first(),
    ).select("period_type", "period_key", _tr=pl.concat_str(
        col("_head"), pl.lit('<td class="t">'), col("_kind"), pl.lit('</td>\n<td class="t">'), col("_text"),
        pl.concat_str(pl.lit("<br>"), col("_procs")).fill_null(""), pl.lit("</td>\n"), col("_tail"),
    ))
    bodies = grouped.group_by("period_type", "period_key", maintain_order=True).agg(col("_tr").str.join(""))
    return {(t, k): body for t, k, body in bodies.iter_rows()}


def _procedures_html(rows: pl.DataFrame) -> pl.Series:
    """Each row's `procedures_text` in both languages (the page's `t`), null when none:
    in Python, as few rows have them and procedures_text is their one wording."""
    said = {lang: pl.Series([procedures_text(p, lang) or None for p in rows["late_procedures"].to_list()],
                            dtype=pl.Utf8) for lang in ("vi", "en")}
    frame = pl.DataFrame(said)
    shown = pl.when(pl.col("vi").is_not_null()).then(html.t_columns(pl.col("vi"), pl.col("en")))
    return frame.select(shown.alias("_procs")).to_series()


def page_bytes(body: str, period_type: str, period_key: str) -> bytes:
    """alerts/<period>.html: its digest's table body (`table_rows`) in the page."""
    plab = Label(period_label(period_type, period_key, "vi"), period_label(period_type, period_key, "en"))
    page = render(
        "alerts_page.html.j2",
        root="../", title=Label(f"{L['title'].vi} · {plab.vi}", f"{L['title'].en} · {plab.en}"), L=L, COLUMNS=COLUMNS,
        period=plab, rows=Markup(body), nav=_nav(),
    )
    return page.encode("utf-8")


def _nav() -> list[dict]:
    return [{"href": f"{FOLDER}/index.html", "label": L["title"]}]


def index_bytes(periods: list[dict]) -> bytes:
    """alerts/index.html: every period with a digest, newest first."""
    shown = [
        dict(p, label=Label(period_label(p["period_type"], p["period_key"], "vi"),
                            period_label(p["period_type"], p["period_key"], "en")))
        for p in periods
    ]
    html = render("alerts_index.html.j2", root="../", title=L["index_title"], L=L, periods=shown, nav=_nav())
    return html.encode("utf-8")


# --------------------------------------------------------------------------- messages


def _url(site_url: str, path: str) -> str:
    return f"{site_url.rstrip('/')}/{path}" if site_url else path


def message(rows: pl.DataFrame, period_type: str, period_key: str, lang: str, site_url: str = "",
            bands: tuple[Band, ...] | None = None) -> dict:
    """The digest for one recipient: subject, plain text and the webhook's JSON (`bands`:
    the profile's, dashboards.i18n.site_bands; by default the default profile's)."""
    plab = period_label(period_type, period_key, lang)
    in_sentence = period_label(period_type, period_key, lang, mid=True)
    units = _units(rows)
    n = len(units)
    if lang == "en":
        subject = f"[PAR scoreboard] Alerts, {in_sentence}: {n} unit{'s' if n != 1 else ''}"
    else:
        subject = f"[Bảng xếp hạng CCHC] Cảnh báo {in_sentence}: {n} đơn vị"
    shown = [
        {
            "name": u["name"], "code": u["code"],
            "level": _level(u["level"]).get(lang),
            "url": _url(site_url, u["path"]),
            "lines": [sentence(r, lang, bands) for r in u["alerts"]],
            "procedures": procedures_text(_unit_procedures(u["alerts"]), lang),
        }
        for u in units
    ]
    page = _url(site_url, f"{FOLDER}/{period_key}.html")
    text = render("alert_message.txt.j2", lang=lang, period=plab, units=shown, page=page,
                  L={k: v.get(lang) for k, v in L.items()})
    payload = {
        "text": text,
        "title": subject,
        "period_type": period_type,
        "period_key": period_key,
        "page": page,
        "alerts": [
            {
                "unit_code": r["unit_code"], "unit_name": r["unit_name"], "level": r["level"], "kind": r["kind"],
                "text": sentence(r, lang, bands), "url": _url(site_url, unit_path(r)),
                **{k: r[k] for k in ("band_before", "band_after", "score_before", "score_after", "rank_before",
                                     "rank_after", "received_before", "received_after", "severity")},
                "late_procedures": r["late_procedures"] or [],
            }
            for u in units for r in u["alerts"]
        ],
    }
    return {"subject": subject, "body": text, "payload": payload}
