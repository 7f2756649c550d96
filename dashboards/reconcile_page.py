"""The reconciliation page of a month: our score and the national portal's side by
side, group by group, the difference, what in our data explains the largest
gaps, and every unit or record that could not be compared (reconciliation/<month>.html).

Self-contained (templates reconcile_page.html.j2, reconcile_index.html.j2 beside
this module) so that it can move into the site's page catalogue as it is.
"""

from __future__ import annotations

from typing import Any

from dashboards.format import fmt_int, fmt_num, fmt_pct, fmt_score, period_label
from dashboards.i18n import COLUMNS, LEVELS, UI, Label
from dashboards.j2 import render

FOLDER = "reconciliation"

L = {
    "title": Label("Đối chiếu với Cổng Dịch vụ công quốc gia", "Reconciliation with the national portal"),
    "nav": UI["nav_reconciliation"],
    "intro": Label(
        "Điểm do Cổng Dịch vụ công quốc gia công bố đặt cạnh điểm tính từ dữ liệu hồ sơ của ta, từng nhóm chỉ số. "
        "Chênh lệch = của ta − Cổng.",
        "The scores the national public service portal publishes beside the scores computed from our dossiers, "
        "group by group. Difference = ours − portal.",
    ),
    "source": Label("Tệp của Cổng", "Portal file"),
    "records": Label("Bản ghi", "Records"),
    "matched": Label("Đối chiếu được", "Matched"),
    "missing": Label("Đơn vị của ta không có trên Cổng", "Our units missing from the portal"),
    "extra": Label("Bản ghi của Cổng không khớp đơn vị nào", "Portal records matching none of our units"),
    "unmatched": Label("Bản ghi không đối chiếu được", "Records that could not be matched"),
    "gaps": Label("Chênh lệch lớn nhất và nguyên nhân", "Largest gaps and what explains them"),
    "gaps_note": Label(
        "Giải thích từ dữ liệu của ta: hồ sơ chưa đồng bộ, nhóm không áp dụng vì thiếu dữ liệu, số hồ sơ ít…",
        "Explained from our own data: dossiers not synced, a group not applicable for lack of data, low volume…",
    ),
    "compared": Label("Từng đơn vị, từng nhóm", "Unit by unit, group by group"),
    "ours": Label("Của ta", "Ours"),
    "portal": Label("Cổng", "Portal"),
    "diff": Label("Chênh lệch", "Difference"),
    "matched_by": Label("Khớp theo", "Matched by"),
    "record": Label("Dòng", "Line"),
    "record_json": Label("Bản ghi", "Record"),
    "name": Label("Tên trên Cổng", "Name on the portal"),
    "code": Label("Mã trên Cổng", "Code on the portal"),
    "reason": Label("Lý do", "Reason"),
    "none": Label("Không có", "None"),
    "all": Label("Mọi tháng đã đối chiếu", "Every month reconciled"),
    "index_note": Label(
        "Nhập tệp điểm của Cổng bằng lệnh scoreboard reconcile TỆP --period YYYY-MM.",
        "Import the portal's scores with scoreboard reconcile FILE --period YYYY-MM.",
    ),
    "provisional": Label("Tháng này còn đang diễn ra: điểm của ta là tạm tính.", "This month is still in progress: our scores are provisional."),
}
MATCHED_BY = {
    "agency_code": Label("mã định danh", "agency code"),
    "unit_code": Label("mã đơn vị", "unit code"),
    "name": Label("tên", "name"),
    "name_alt": Label("tên cơ quan", "agency name"),
    "bare_name": Label("tên (bỏ cấp)", "name without level"),
}


def item_label(item: str, profile: Any = None) -> Label:
    """A portal item's label: the total, or its groups by the profile's labels (a
    group the profile does not have by its key)."""
    if item == "total":
        return Label("Tổng điểm", "Total score")
    known = {g.key: Label(g.label_vi, g.label_en) for g in (profile.groups if profile is not None else ())}
    labs = [known.get(g, Label(g, g)) for g in item.split("+")]
    return Label(" + ".join(x.vi for x in labs), " + ".join(x.en for x in labs))


def _points(x: float | None) -> str:
    return fmt_num(x, 2)


def _signed(x: float | None) -> str:
    if x is None:
        return "—"
    text = fmt_num(x, 2)
    return f"+{text}" if x > 0 and text.strip("0,") else text


def explanation(row: dict, profile: Any = None) -> Label:
    """One explanation (transforms.reconcile.explain_gaps) in words, its group named by
    `profile`'s labels."""
    kind, a, b = row["kind"], row["a"], row["b"]
    g = item_label(row["item"], profile) if row["item"] else Label("", "")
    if kind == "largest_group":
        return Label(f"Chênh lệch lớn nhất ở nhóm {g.vi}: của ta {_points(a)}, Cổng {_points(b)}.",
                     f"Largest gap in {g.en}: ours {_points(a)}, portal {_points(b)}.")
    if kind == "not_synced":
        return Label(
            f"Chỉ {fmt_pct(a)} trong {fmt_int(int(b))} hồ sơ tiếp nhận được đồng bộ lên Cổng: Cổng chỉ tính hồ sơ đã đồng bộ.",
            f"Only {fmt_pct(a)} of the {fmt_int(int(b))} dossiers received were synced to the portal, which counts synced dossiers only.",
        )
    if kind == "group_not_applicable":
        return Label(
            f"Nhóm {g.vi} không áp dụng trong dữ liệu của ta (không hồ sơ nào có đủ thông tin), Cổng cho {_points(b)} điểm.",
            f"{g.en} does not apply in our data (no dossier carries the fields it needs); the portal gives it {_points(b)} points.",
        )
    if kind == "portal_no_value":
        return Label(f"Cổng không có điểm nhóm {g.vi}; của ta {_points(a)}.",
                     f"The portal gives no value for {g.en}; ours is {_points(a)}.")
    if kind == "rescaled":
        return Label(
            f"Điểm của ta quy về thang 100 trên {fmt_num(a, 0)} điểm áp dụng được (trong {fmt_num(b, 0)}); "
            "tổng điểm của Cổng là tổng cộng các nhóm.",
            f"Our score is rescaled to 100 over the {fmt_num(a, 0)} points that apply (of {fmt_num(b, 0)}); "
            "the portal's total is the plain sum of its groups.",
        )
    if kind == "low_volume":
        return Label(
            f"Chỉ {fmt_num(a, 0)} hồ sơ (tiếp nhận + cơ sở tính tiến độ), dưới mức {fmt_num(b, 0)} để được xếp hạng: "
            "điểm tính trên ít hồ sơ dao động mạnh.",
            f"Only {fmt_num(a, 0)} dossiers (received + timeliness base), below the {fmt_num(b, 0)} needed to be ranked: "
            "a score on few dossiers swings widely.",
        )
    if kind == "provisional":
        return L["provisional"]
    return Label(
        "Dữ liệu của ta không cho thấy hồ sơ chưa đồng bộ, nhóm không áp dụng hay số hồ sơ ít: chênh lệch đến từ "
        "cách tính của mỗi bên (quy tắc đúng hạn, thời điểm chốt số liệu).",
        "Our data shows no unsynced dossiers, inapplicable group or low volume: the gap comes from how each side "
        "calculates (the on-time rule, when figures are cut off).",
    )


def file_warning(w: dict, profile: Any = None) -> Label:
    item = item_label(w["item"], profile)
    if w["kind"] == "above_max":
        return Label(
            f"{w['count']} bản ghi cho {item.vi} trên {fmt_num(w['limit'], 0)} điểm, mức tối đa của nhóm "
            f"(ví dụ {w['example']}: {_points(w['value'])}): ánh xạ trường trong config/portal_fields.csv có thể không hợp với tệp này.",
            f"{w['count']} records give {item.en} above {fmt_num(w['limit'], 0)} points, the group's maximum "
            f"(e.g. {w['example']}: {_points(w['value'])}): the field mapping in config/portal_fields.csv may not fit this file.",
        )
    return Label(
        f"{w['count']} bản ghi có tổng các nhóm khác tổng điểm: có thể thiếu hoặc nhầm một trường.",
        f"{w['count']} records have groups that do not add up to the total: a field may be missing or mismapped.",
    )


def _unit_path(code: str, valid_from: Any) -> str:
    from dashboards.site import unit_slug

    return f"../units/{unit_slug(code, valid_from)}.html"


def _level(level: str | None) -> Label:
    return LEVELS.get(level or "", Label(level or "", level or ""))


def page_context(rec, profile: Any = None) -> dict:
    """What the page shows, as plain values (labels in both languages, numbers formatted)."""
    safe = {i: i.replace("+", "_") for i in rec.items}
    columns = [item_label(i, profile) for i in rec.items]
    rows = []
    for r in rec.compared.iter_rows(named=True):
        rows.append({
            "name": r["unit_name"], "code": r["unit_code"], "href": _unit_path(r["unit_code"], r["unit_valid_from"]),
            "level": _level(r["level"]), "matched_by": MATCHED_BY.get(r["matched_by"], Label(r["matched_by"], r["matched_by"])),
            "cells": [
                {"ours": _points(r[f"ours_{safe[i]}"]), "portal": _points(r[f"portal_{safe[i]}"]),
                 "diff": _signed(r[f"diff_{safe[i]}"]), "diff_v": r[f"diff_{safe[i]}"]}
                for i in rec.items
            ],
        })
    by_unit: dict[tuple, list] = {}
    for e in rec.explanations.sort("order").iter_rows(named=True):
        by_unit.setdefault((e["unit_code"], e["unit_valid_from"]), []).append(explanation(e, profile))
    gaps = []
    for r in rec.compared.iter_rows(named=True):
        key = (r["unit_code"], r["unit_valid_from"])
        if key in by_unit:
            gaps.append({
                "name": r["unit_name"], "code": r["unit_code"], "href": _unit_path(*key),
                "ours": fmt_score(r.get("ours_total")), "portal": _points(r.get("portal_total")),
                "diff": _signed(r.get("diff_total")), "reasons": by_unit[key],
            })
    missing = [
        {"name": r["unit_name"], "code": r["unit_code"], "href": _unit_path(r["unit_code"], r["unit_valid_from"]),
         "level": _level(r["level"]), "score": fmt_score(r["score"]), "received": fmt_int(r["received"])}
        for r in rec.missing.iter_rows(named=True)
    ]
    extra = [
        {"record": r["record"], "name": r["unit_name"] or r["unit_name_alt"] or "—", "code": r["agency_code"] or r["unit_id"] or "—",
         "total": _points(r["portal_total"])}
        for r in rec.extra.iter_rows(named=True)
    ]
    unmatched = []
    for r in rec.unmatched.iter_rows(named=True):
        codes = ", ".join(r["candidates"] or [])
        if r["status"] == "ambiguous":
            reason = Label(f"khớp nhiều đơn vị ({MATCHED_BY[r['matched_by']].vi}): {codes}",
                           f"matches several units (by {MATCHED_BY[r['matched_by']].en}): {codes}")
        else:
            reason = Label(f"một bản ghi khác cũng chỉ đơn vị {codes}", f"another record names unit {codes} too")
        unmatched.append({"record": r["record"], "name": r["unit_name"] or "—", "code": r["agency_code"] or "—",
                          "reason": reason, "total": _points(r["portal_total"])})
    plab = Label(period_label("month", rec.period_key, "vi"), period_label("month", rec.period_key, "en"))
    counts = rec.counts()
    return {
        "period": plab, "source": rec.source_file, "sha": rec.content_hash[:12], "counts": counts,
        "columns": columns, "rows": rows, "gaps": gaps, "missing": missing, "extra": extra, "unmatched": unmatched,
        "warnings": [file_warning(w, profile) for w in rec.warnings], "provisional": rec.provisional,
        "record_label": L["record"] if rec.where == "line" else L["record_json"],
        "month": rec.period_key,
    }


def _nav() -> list[dict]:
    return [{"href": f"{FOLDER}/index.html", "label": L["nav"]}]


def page_bytes(ctx: dict) -> bytes:
    """A month's page from its page_context."""
    title = Label(f"{L['title'].vi} · {ctx['period'].vi}", f"{L['title'].en} · {ctx['period'].en}")
    return render("reconcile_page.html.j2", root="../", title=title, L=L, COLUMNS=COLUMNS, nav=_nav(), **ctx).encode("utf-8")


def index_bytes(contexts: list[dict]) -> bytes:
    """reconciliation/index.html: every month reconciled, newest first."""
    months = [
        {"href": f"{c['month']}.html", "label": c["period"], "source": c["source"], **c["counts"]}
        for c in sorted(contexts, key=lambda c: c["month"], reverse=True)
    ]
    return render("reconcile_index.html.j2", root="../", title=L["title"], L=L, months=months, nav=_nav()).encode("utf-8")
