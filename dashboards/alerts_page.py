"""Alert digests in words: the page alerts/<period>.html, the e-mail text and the
webhook's JSON, from transforms.alerts.digest rows.

The pages are kinds of the site's catalogue (dashboards/pages/alerts.py); the
templates are templates/alerts_page.html.j2, alerts_index.html.j2 and
alert_message.txt.j2.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from dashboards.format import fmt_int, fmt_score, period_label
from dashboards.i18n import BAND_BY_VI, COLUMNS, LEVELS, Label
from dashboards.j2 import render

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
}
KIND_LABELS = {
    "band_drop": Label("Tụt xếp loại", "Dropped a band"),
    "rank_fall": Label("Tụt hạng", "Fell in rank"),
    "early_warning": Label("Cảnh báo sớm", "Early warning"),
    "silent": Label("Ngừng gửi hồ sơ", "Went silent"),
}


def band_name(band: str | None, lang: str) -> str:
    if band is None:
        return "—"
    b = BAND_BY_VI.get(band)
    return (b.en if lang == "en" else b.vi) if b else band


def sentence(row: dict, lang: str) -> str:
    """One alert in words, with its numbers (decimal comma, as on every page)."""
    kind = row["kind"]
    if kind == "band_drop":
        before, after = band_name(row["band_before"], lang), band_name(row["band_after"], lang)
        scores = f"{fmt_score(row['score_before'])} → {fmt_score(row['score_after'])}"
        if lang == "en":
            return f"Band fell from {before} to {after} (score {scores})."
        return f"Xếp loại giảm từ {before} xuống {after} (điểm {scores})."
    if kind == "rank_fall":
        n = (row["rank_after"] or 0) - (row["rank_before"] or 0)
        if lang == "en":
            return f"Fell {n} places, from rank {row['rank_before']} to {row['rank_after']} (score {fmt_score(row['score_after'])})."
        return f"Tụt {n} bậc, từ hạng {row['rank_before']} xuống hạng {row['rank_after']} (điểm {fmt_score(row['score_after'])})."
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


def _pair(before: Any, after: Any, fmt) -> str:
    return f"{fmt(before)} → {fmt(after)}" if before is not None or after is not None else "—"


def page_bytes(rows: pl.DataFrame, period_type: str, period_key: str) -> bytes:
    plab = Label(period_label(period_type, period_key, "vi"), period_label(period_type, period_key, "en"))
    units = []
    for u in _units(rows):
        r = u["alerts"][0]  # a unit's rows share its before/after figures
        units.append(dict(
            u, level=_level(u["level"]),
            kinds=[KIND_LABELS[a["kind"]] for a in u["alerts"]],
            texts=[Label(sentence(a, "vi"), sentence(a, "en")) for a in u["alerts"]],
            score=_pair(r["score_before"], r["score_after"], fmt_score),
            band=Label(f"{band_name(r['band_before'], 'vi')} → {band_name(r['band_after'], 'vi')}",
                       f"{band_name(r['band_before'], 'en')} → {band_name(r['band_after'], 'en')}"),
            rank=_pair(r["rank_before"], r["rank_after"], lambda x: "—" if x is None else str(x)),
            received=_pair(r["received_before"], r["received_after"], fmt_int),
        ))
    html = render(
        "alerts_page.html.j2",
        root="../", title=Label(f"{L['title'].vi} · {plab.vi}", f"{L['title'].en} · {plab.en}"), L=L, COLUMNS=COLUMNS,
        period=plab, units=units, count=rows.height, nav=_nav(),
    )
    return html.encode("utf-8")


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


def message(rows: pl.DataFrame, period_type: str, period_key: str, lang: str, site_url: str = "") -> dict:
    """The digest for one recipient: subject, plain text and the webhook's JSON."""
    plab = period_label(period_type, period_key, lang)
    units = _units(rows)
    n = len(units)
    if lang == "en":
        subject = f"[PAR scoreboard] Alerts, {plab}: {n} unit{'s' if n != 1 else ''}"
    else:
        subject = f"[Bảng xếp hạng CCHC] Cảnh báo {plab}: {n} đơn vị"
    shown = [
        {
            "name": u["name"], "code": u["code"],
            "level": _level(u["level"]).get(lang),
            "url": _url(site_url, u["path"]),
            "lines": [sentence(r, lang) for r in u["alerts"]],
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
                "text": sentence(r, lang), "url": _url(site_url, unit_path(r)),
                **{k: r[k] for k in ("band_before", "band_after", "score_before", "score_after", "rank_before",
                                     "rank_after", "received_before", "received_after")},
            }
            for u in units for r in u["alerts"]
        ],
    }
    return {"subject": subject, "body": text, "payload": payload}
