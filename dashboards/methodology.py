"""What the methodology page says, made from the inputs in force.

`methodology_fact` turns the scoring profile (its groups, indicators, formulas,
maxima, thresholds, bands, minimum volume), the versions of every input (the
manifest's config versions) and the working-day calendar (the overlay of the
government's swaps, the holidays package's days) into plain values: the page
(dashboards.pages.methodology) shows them, and its cache key is made from them,
so a changed profile or calendar rewrites the page. `worked_example` recomputes
one unit's score by hand from its published row, step by step, as a unit can
from its own page and evidence file.

The rules that are the engine's and not configuration (how a dossier is
classified, how each rate is counted) are written out here in words
(scoreboard.md); the numbers in them come from the profile.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

import polars as pl

from dashboards.format import fmt_date, fmt_int, fmt_num, fmt_pct, fmt_score
from dashboards.i18n import Label
from transforms.profile import RATE_CATALOGUE, Profile

L = Label

# How each rate the engine computes is counted (scoreboard.md, "Counts and rates").
RATE_DEFINITIONS: dict[str, Label] = {
    "on_time_rate": L("(trước hạn + đúng hạn) / (trước hạn + đúng hạn + trễ hạn + quá hạn đang xử lý)",
                      "(early + on time) / (early + on time + overdue + pending overdue)"),
    "online_rate": L("hồ sơ tiếp nhận trực tuyến / hồ sơ tiếp nhận có ghi kênh nộp",
                     "dossiers received online / dossiers received with a known channel"),
    "paid_online_rate": L("hồ sơ có phí đã thanh toán trực tuyến / hồ sơ có phí biết cách thanh toán",
                          "dossiers with a fee paid online / dossiers with a fee whose payment is known"),
    "digitized_rate": L("hồ sơ tiếp nhận được số hóa / hồ sơ tiếp nhận có ghi việc số hóa",
                        "dossiers received digitised / dossiers received where digitisation is known"),
    "e_result_rate": L("hồ sơ giải quyết xong trong kỳ có kết quả điện tử / hồ sơ giải quyết xong có ghi việc này",
                       "dossiers finished in the period with an electronic result / those where it is known"),
    "synced_rate": L("hồ sơ tiếp nhận đã đồng bộ lên Cổng DVCQG / hồ sơ tiếp nhận có ghi việc đồng bộ",
                     "dossiers received synchronised to the national portal / those where it is known"),
    "complaint_rate": L(
        "hồ sơ giải quyết xong trong kỳ có phản ánh hoặc đánh giá không hài lòng / hồ sơ giải quyết xong có ghi phản ánh hoặc đánh giá",
        "dossiers finished in the period with a complaint or a dissatisfied rating / those with a complaint or rating known"),
    "satisfaction_rate": L(
        "max(0; 1 − (1 − tỷ lệ đúng hạn) − tỷ lệ phản ánh); không có tỷ lệ đúng hạn: max(0; 1 − tỷ lệ phản ánh)",
        "max(0, 1 − (1 − on-time rate) − complaint rate); without an on-time rate: max(0, 1 − complaint rate)"),
    "apology_rate": L("hồ sơ trễ hạn có thư xin lỗi / hồ sơ trễ hạn có ghi việc này (chỉ hiển thị, không tính điểm)",
                      "overdue dossiers with an apology / those where it is known (shown only, never scored)"),
}
assert set(RATE_DEFINITIONS) == {r.name for r in RATE_CATALOGUE}, "a rate without its definition"

# The inputs a publication records (the manifest's config versions), in the order shown.
INPUTS: dict[str, Label] = {
    "profile": L("Bộ chỉ số (profile)", "Scoring profile"),
    "registry": L("Danh mục đơn vị", "Registry of units"),
    "calendar": L("Lịch ngày làm việc", "Working-day calendar"),
    "quality": L("Ngưỡng kiểm tra chất lượng", "Quality thresholds"),
    "aliases": L("Bảng tên cột", "Header aliases"),
    "mappings": L("Tệp ánh xạ theo nguồn", "Per-source mappings"),
    "catalogue": L("Danh mục thủ tục (thời hạn luật định)", "Procedure catalogue (legal time limits)"),
    "software": L("Phần mềm", "Software"),
    "scoring_code": L("Mã nguồn tính điểm (mã băm)", "Scoring code (digest)"),
}


def _num(x: float) -> str:
    """A profile's number as pages write it: `12`, `0,5`, `22,5`."""
    return fmt_num(x, 0) if float(x).is_integer() else fmt_num(x, 2).rstrip("0").rstrip(",")


def formula(kind: str, max_points: float, threshold: float | None, rate: str = "r") -> str:
    """`18 × r`; `12 × min(1; r / 0,5)`."""
    if kind == "linear":
        return f"{_num(max_points)} × {rate}"
    return f"{_num(max_points)} × min(1; {rate} / {_num(threshold)})"


def formula_words(kind: str, max_points: float, threshold: float | None) -> Label:
    if kind == "linear":
        return L(f"tỷ lệ nhân {_num(max_points)} điểm (tuyến tính)", f"the rate times {_num(max_points)} points (linear)")
    pct = fmt_pct(threshold, 0)
    return L(
        f"đủ {_num(max_points)} điểm từ tỷ lệ {pct} trở lên; dưới đó tỷ lệ nhân {_num(max_points)}, chia {_num(threshold)} (bão hòa)",
        f"the full {_num(max_points)} points from a rate of {pct}; below it the rate times {_num(max_points)}, over "
        f"{_num(threshold)} (saturating)",
    )


def points(kind: str, max_points: float, threshold: float | None, rate: float) -> float:
    """The points of an indicator, as transforms.profile.Indicator.points."""
    return rate * max_points if kind == "linear" else min(1.0, rate / threshold) * max_points


def _version_text(value: Any) -> str:
    if value is None or value == []:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(_version_text(v) for v in value)
    if isinstance(value, dict):
        if "file" in value:
            return f"{value['file']} (sha256 {value.get('sha256', '')})"
        if "name" in value and "version" in value:
            return f"{value['name']} {value['version']} (sha256 {value.get('sha256', '')})"
        return "; ".join(f"{k} {_version_text(v)}" for k, v in sorted(value.items()))
    return str(value)


# A day the calendar swaps, in words: what a note of the overlay left empty is shown as,
# in either language (config/calendar/README.md: its `note` and `note_en` are optional).
SWAPS: dict[bool, Label] = {
    True: L("Làm bù", "Worked in exchange"),
    False: L("Nghỉ hoán đổi", "Day off in exchange"),
}


def _overlay_notes(overlay: pl.DataFrame) -> dict[date, list[str]]:
    """Each overlay date's note, [Vietnamese, English]: the overlay's own words, else
    what kind of swap it is (an overlay given in code may lack `note_en`)."""
    english = overlay["note_en"] if "note_en" in overlay.columns else [None] * overlay.height
    return {
        d: [vi or SWAPS[k == "working_day"].vi, en or SWAPS[k == "working_day"].en]
        for d, k, vi, en in zip(overlay["date"], overlay["kind"], overlay["note"], english)
    }


def _calendar(overlay: pl.DataFrame, years: list[int], calendar_version: str) -> dict:
    """The overlay's rows, and per year of published data the weekdays off and the
    weekend days worked (what a unit needs to count working days by hand)."""
    import holidays

    from transforms.calendar import working_calendar

    notes = _overlay_notes(overlay)
    rows = [
        {"date": fmt_date(d), "kind": list(L("Nghỉ", "Day off") if k == "day_off" else L("Làm bù", "Worked")),
         "note": notes[d]}
        for d, k in overlay.select("date", "kind").iter_rows()
    ]
    changes = []
    if years:
        cal = working_calendar(date(min(years), 1, 1), date(max(years), 12, 31), overlay)
        span = range(min(years), max(years) + 1)
        vi = holidays.country_holidays("VN", years=span, language="vi")
        en = holidays.country_holidays("VN", years=span, language="en_US")
        weekday = pl.col("date").dt.weekday() <= 5
        odd = cal.filter(weekday != pl.col("is_working_day"))
        for d, working in odd.select("date", "is_working_day").iter_rows():
            name = [vi.get(d), en.get(d)] if d in vi else notes.get(d) or list(SWAPS[working])
            changes.append({"date": fmt_date(d), "year": d.year, "working": working, "name": name})
    return {
        "version": calendar_version,
        "package": f"holidays {holidays.__version__}",
        "overlay": rows,
        "overlay_years": sorted({int(r["date"][-4:]) for r in rows}),
        "years": years,
        "changes": changes,
    }


def methodology_fact(profile: Profile, versions: Mapping[str, Any], overlay: pl.DataFrame, years: list[int]) -> dict:
    """The page's plain values (they go into its cache key as they are)."""
    groups = []
    for g in profile.groups:
        groups.append({
            "key": g.key, "label": [g.label_vi, g.label_en], "max": _num(g.max_points),
            "indicators": [
                {"rate": i.rate, "label": [i.label_vi, i.label_en], "kind": i.kind, "max": _num(i.max_points),
                 "max_value": i.max_points, "threshold": i.threshold,
                 "threshold_text": fmt_pct(i.threshold, 0) if i.threshold else None,
                 "formula": formula(i.kind, i.max_points, i.threshold),
                 "words": list(formula_words(i.kind, i.max_points, i.threshold)),
                 "definition": list(RATE_DEFINITIONS[i.rate])}
                for i in g.indicators
            ],
        })
    scored = {i.rate for i in profile.indicators}
    bands, upper = [], None
    for b in profile.bands:
        low = fmt_score(b.min_score) if b.min_score is not None else None
        bands.append({"label": [b.label, b.label_en], "min": low, "below": upper})
        upper = low
    return {
        "profile": {
            "name": profile.name, "version": profile.version, "sha256": profile.digest,
            "title": [profile.title_vi or profile.name, profile.title_en or profile.title_vi or profile.name],
            "min_volume": fmt_int(profile.min_volume), "max_total": _num(profile.max_total),
        },
        "groups": groups,
        "rates": [
            {"rate": r.name, "label": list(profile.rate_label(r.name)), "definition": list(RATE_DEFINITIONS[r.name]),
             "scored": r.name in scored}
            for r in RATE_CATALOGUE
        ],
        "bands": bands,
        "versions": [
            {"input": list(lab), "value": _version_text(versions.get(k))} for k, lab in INPUTS.items() if k in versions
        ],
        "calendar": _calendar(overlay, years, str(versions.get("calendar") or "")),
    }


def worked_example(row: Mapping[str, Any], fact: dict) -> dict | None:
    """One unit's score recomputed from its published row with the profile's formulas:
    its on-time rate from its counts, each indicator's points, each group's sum, the
    score, its rounding and band. None without a row."""
    if row is None:
        return None
    early, on_time, overdue, pending = (row[c] or 0 for c in ("early", "on_time", "overdue", "pending_overdue"))
    base = early + on_time + overdue + pending
    steps, earned_all, max_all, groups = [], [], [], []
    for g in fact["groups"]:
        earned, maxima = [], []
        for i in g["indicators"]:
            rate = row.get(i["rate"])
            if rate is None:
                steps.append({"label": i["label"], "rate": "—", "formula": i["formula"], "points": "—", "max": "—",
                              "applies": False})
                continue
            p = points(i["kind"], i["max_value"], i["threshold"], rate)
            earned.append(p)
            maxima.append(i["max_value"])
            steps.append({"label": i["label"], "rate": fmt_pct(rate, 2), "rate_value": rate,
                          "formula": formula(i["kind"], i["max_value"], i["threshold"], fmt_num(rate, 4)),
                          "points": fmt_num(p, 4), "max": _num(i["max_value"]), "applies": True})
        if earned:
            groups.append({"label": g["label"], "points": fmt_num(sum(earned), 4), "max": _num(sum(maxima)),
                           "published": fmt_num(row.get(f"points_{g['key']}"), 4)})
        earned_all += earned
        max_all += maxima
    score = 100 * sum(earned_all) / sum(max_all) if max_all else None
    return {
        "on_time": {
            "early": fmt_int(early), "on_time": fmt_int(on_time), "overdue": fmt_int(overdue),
            "pending": fmt_int(pending), "late": fmt_int(overdue + pending), "base": fmt_int(base),
            "rate": fmt_pct(row.get("on_time_rate"), 2),
        },
        "steps": steps,
        "groups": groups,
        "earned": fmt_num(sum(earned_all), 4),
        "max": _num(sum(max_all)) if max_all else "—",
        "score": fmt_num(score, 4) if score is not None else "—",
        "rounded": fmt_score(row.get("score")),
        # the band's labels, the profile's (as the fact lists them); as written when it has none such
        "band": next((b["label"] for b in fact["bands"] if b["label"][0] == row.get("band")),
                     [row["band"], row["band"]] if row.get("band") else None),
        "rank": row.get("rank"),
    }


# The page's words (the rules of scoreboard.md); {placeholders} come from the fact.
TEXT: dict[str, Label] = {
    "title": L("Phương pháp tính", "Methodology"),
    "intro": L(
        "Trang này được sinh tự động từ bộ chỉ số đang áp dụng và các dữ liệu đầu vào ghi ở cuối trang. "
        "Với số liệu trên trang đơn vị và tệp bằng chứng (danh sách hồ sơ trễ hạn), mỗi đơn vị có thể tự tính lại điểm của mình.",
        "This page is generated from the scoring profile in force and the inputs listed at its end. "
        "With the figures of its page and its evidence file (the list of its late dossiers), a unit can recompute its own score by hand.",
    ),
    "profile_line": L("Bộ chỉ số: {title} ({name}, phiên bản {version}); tổng điểm tối đa {max}.",
                      "Profile: {title} ({name}, version {version}); {max} points in all."),
    "periods_h": L("Kỳ tính", "Periods"),
    "periods": L(
        "Tuần tính từ 00:00 thứ Hai đến 00:00 thứ Hai kế tiếp (giờ Việt Nam), mã theo tuần ISO (2024-W07); tháng từ 00:00 ngày 1 "
        "đến 00:00 ngày 1 tháng sau (2024-02). Kỳ đã kết thúc là kỳ chính thức.",
        "A week runs from Monday 00:00 to the next Monday 00:00 (Vietnam time), keyed by ISO week (2024-W07); a month from the "
        "1st 00:00 to the next 1st 00:00 (2024-02). A period that has ended is final.",
    ),
    "classes_h": L("Phân loại hồ sơ", "How each dossier is classified"),
    "kind": L(
        "Trạng thái của hồ sơ quyết định: đã giải quyết (trạng thái 9, 10; hoặc không có trạng thái nhưng có ngày hoàn thành "
        "hay ngày trả kết quả), kết thúc là ngày hoàn thành, nếu không có thì ngày trả; bị từ chối, trả lại (3, 7, 8; hoặc không có "
        "trạng thái nhưng có ngày từ chối), kết thúc là ngày từ chối, nếu không có thì ngày hoàn thành, nếu không có thì ngày tiếp nhận; "
        "đang xử lý (mọi trạng thái khác), chưa kết thúc.",
        "A dossier's status decides: finished (status 9 or 10; or no status and a finished or returned date), ending at its "
        "finished date, else its returned date; rejected (3, 7 or 8; or no status and a rejected date), ending at its rejected "
        "date, else its finished date, else its date of receipt; pending (any other status), with no end.",
    ),
    "due_end": L(
        "Hạn trả: nếu hạn trả có giờ khác 00:00:00 thì hạn là đúng thời điểm đó; nếu chỉ có ngày (hoặc đúng 00:00:00) thì hạn là "
        "hết ngày đó, 23:59:59. Hồ sơ không có hạn trả xuất ra thì lấy hạn theo số ngày làm việc luật định của thủ tục, nếu có danh mục thủ tục.",
        "Due end: a due time other than 00:00:00 is that instant; a date alone (or exactly 00:00:00) means the end of that day, "
        "23:59:59. A dossier exported without a due date gets one from the procedure's legal working days, where a procedure "
        "catalogue is given.",
    ),
    "class_early": L("kết thúc trong kỳ, trước ngày hẹn trả (so theo ngày).", "finished in the period, on a day before its due day."),
    "class_on_time": L("kết thúc trong kỳ, không trước hạn, không muộn hơn hạn trả.", "finished in the period, not early, no later than its due end."),
    "class_overdue": L("kết thúc trong kỳ, sau hạn trả.", "finished in the period, after its due end."),
    "class_no_deadline": L("kết thúc trong kỳ, không có hạn trả.", "finished in the period, with no due date."),
    "class_rejected": L("bị từ chối, trả lại trong kỳ.", "rejected in the period."),
    "class_pending_overdue": L(
        "tiếp nhận trước khi kỳ kết thúc, chưa kết thúc khi kỳ kết thúc và đã quá hạn trả trước khi kỳ kết thúc. "
        "Hồ sơ này là quá hạn đang xử lý ở mọi kỳ cho đến khi kết thúc, rồi là trễ hạn (hoặc bị từ chối) ở kỳ nó kết thúc.",
        "received before the period's end, not ended by then, and past its due end before then. It stays pending overdue in "
        "every period until it ends, and is then overdue (or rejected) in the period it ends in.",
    ),
    "classes_note": L("Mỗi hồ sơ thuộc nhiều nhất một loại trong một kỳ.", "A dossier counts in at most one class of a period."),
    "counts_h": L("Số liệu và tỷ lệ", "Counts and rates"),
    "counts": L(
        "Tiếp nhận: hồ sơ có ngày tiếp nhận trong kỳ. Cơ sở tính tiến độ = trước hạn + đúng hạn + trễ hạn + quá hạn đang xử lý. "
        "Mỗi tỷ lệ chỉ tính các hồ sơ có ghi thông tin của nó; tỷ lệ không có hồ sơ nào như vậy là không áp dụng (để trống), không phải 0. "
        "Số liệu của cấp huyện gồm cả hồ sơ của các xã trực thuộc.",
        "Received: dossiers received in the period. Timeliness base = early + on time + overdue + pending overdue. "
        "Each rate counts only the dossiers whose fields in it are known; a rate with no such dossier is not applicable "
        "(empty), not zero. A district's figures include the dossiers of its communes.",
    ),
    "rate_col": L("Tỷ lệ", "Rate"),
    "definition_col": L("Cách tính", "Definition"),
    "scored_col": L("Tính điểm", "Scored"),
    "yes": L("có", "yes"),
    "no": L("không", "no"),
    "groups_h": L("Nhóm chỉ số và cách cho điểm", "Groups, indicators and points"),
    "groups_note": L(
        "r là tỷ lệ của đơn vị trong kỳ (từ 0 đến 1). Chỉ tiêu có tỷ lệ không áp dụng bị bỏ khỏi cả điểm đạt và điểm tối đa; "
        "điểm của nhóm là tổng điểm các chỉ tiêu áp dụng, để trống khi không chỉ tiêu nào áp dụng.",
        "r is the unit's rate in the period (from 0 to 1). An indicator whose rate is not applicable is left out of both the "
        "points earned and the maximum; a group's points are the sum of its applicable indicators', empty when none applies.",
    ),
    "group_col": L("Nhóm", "Group"),
    "indicator_col": L("Chỉ tiêu", "Indicator"),
    "words_col": L("Cách cho điểm", "In words"),
    "formula_col": L("Công thức", "Formula"),
    "max_col": L("Điểm tối đa", "Maximum"),
    "threshold_col": L("Ngưỡng", "Threshold"),
    "group_total": L("Cả nhóm", "Whole group"),
    "score_h": L("Điểm tổng hợp", "Score"),
    "score": L(
        "Điểm = 100 × (tổng điểm đạt) / (tổng điểm tối đa của các chỉ tiêu áp dụng); để trống khi không chỉ tiêu nào áp dụng. "
        "Điểm được xếp hạng và xếp loại sau khi làm tròn 2 chữ số thập phân (nửa làm tròn lên, sau khi làm tròn 9 chữ số); "
        "tệp dữ liệu giữ đủ độ chính xác.",
        "Score = 100 × (sum of points earned) / (sum of the maximum points of the applicable indicators); empty when nothing "
        "applies. It is ranked and banded rounded to 2 decimals (halves away from zero, after rounding to 9); the data files "
        "keep full precision.",
    ),
    "bands_h": L("Xếp loại", "Bands"),
    "band_col": L("Xếp loại", "Band"),
    "from_col": L("Từ (điểm)", "From (score)"),
    "below_col": L("Dưới (điểm)", "Below (score)"),
    "ranking_h": L("Xếp hạng", "Ranking"),
    "ranking": L(
        "Đơn vị được xếp hạng khi tiếp nhận + cơ sở tính tiến độ ≥ {min} (khối lượng tối thiểu) và có điểm; các đơn vị khác vẫn được "
        "liệt kê. Đơn vị chỉ so với đơn vị cùng cấp (cấp huyện, cấp xã, sở ban ngành) trong cùng kỳ. Điểm làm tròn bằng nhau thì cùng hạng, "
        "hạng sau bỏ qua (1, 2, 2, 4). Thay đổi hạng so với kỳ cùng loại liền trước.",
        "A unit is ranked when received + timeliness base ≥ {min} (the minimum volume) and it has a score; the others are still "
        "listed. Units are ranked against the units of their level (districts, wards and communes, departments) in the same "
        "period. Equal rounded scores share a rank and the next rank skips (1, 2, 2, 4). Rank change is against the previous "
        "period of the same kind.",
    ),
    "peers": L(
        "Nhóm so sánh (xếp hạng trong nhóm, trung vị nhóm): đô thị (quận, thị xã, thành phố, phường, thị trấn, đặc khu), "
        "nông thôn (huyện, xã), và các sở, ban, ngành là một nhóm riêng. Sau sắp xếp 01/07/2025, Nghị định 307/2025/NĐ-CP phân loại "
        "xã, phường theo loại I, II, III; danh sách loại của từng đơn vị chưa tìm được nguồn công bố, nên vẫn dùng đô thị/nông thôn "
        "theo tên gọi của đơn vị. Khi có quyết định phân loại, loại được ghi vào danh mục đơn vị.",
        "Peer groups (rank in peer group, peer median): urban (quận, thị xã, cities, wards, towns, special zones), rural "
        "(huyện, communes), and departments as a group of their own. After the reform of 01/07/2025, Decree 307/2025/NĐ-CP "
        "types communes and wards as class I, II or III; no list of each unit's type could be sourced, so urban/rural, from "
        "the word naming the unit, is still used. Once the types are decided they go in the registry.",
    ),
    "what_if": L(
        "“Nếu đúng hạn thêm”: với đơn vị được xếp hạng, số hồ sơ ít nhất trong số hồ sơ trễ hạn và quá hạn đang xử lý của đơn vị mà, "
        "nếu đúng hạn, sẽ đưa điểm làm tròn vượt đơn vị xếp ngay trên, hoặc lên xếp loại kế tiếp. Các hồ sơ đó chính là các dòng "
        "của tệp bằng chứng; hồ sơ nào trong số đó cũng được tính như nhau, vì mỗi hồ sơ làm tỷ lệ đúng hạn tăng như nhau "
        "(và tỷ lệ hài lòng theo).",
        "What-if: for a ranked unit, the fewest of its overdue and pending-overdue dossiers that, had they been on time, would "
        "lift its rounded score above the unit ranked just above it, or into the next band. Those dossiers are the rows of its "
        "evidence file; any of them counts alike, since each raises the on-time rate (and the satisfaction rate with it) by "
        "the same amount.",
    ),
    "calendar_h": L("Ngày làm việc", "Working days"),
    "calendar": L(
        "Ngày làm việc là thứ Hai đến thứ Sáu, trừ các ngày nghỉ lễ, Tết (kể cả ngày nghỉ bù) và ngày nghỉ hoán đổi của cán bộ, "
        "công chức, cộng thêm các thứ Bảy làm bù. Nguồn: gói {package} (ngày lễ theo Bộ luật Lao động và ngày nghỉ bù), và bảng "
        "bổ sung các ngày hoán đổi theo thông báo của Chính phủ (config/calendar/vn_overlay.csv, năm có dòng: {years}; nguồn từng "
        "năm 2016–2026 ghi trong config/calendar/README.md). Bảng bổ sung được ưu tiên. Phiên bản lịch: {version}.",
        "Working days are Monday to Friday, minus public holidays and Tết (with their in-lieu days) and the days off granted "
        "to public servants in exchange, plus the Saturdays worked back. Sources: the {package} package (the Labour Code's "
        "holidays and in-lieu days), and an overlay of the swaps the government announced (config/calendar/vn_overlay.csv, "
        "years with rows: {years}; the sources of every year 2016–2026 in config/calendar/README.md). The overlay wins. "
        "Calendar version: {version}.",
    ),
    "overlay_h": L("Các ngày hoán đổi (bảng bổ sung)", "Swapped days (the overlay)"),
    "changes_h": L("Ngày thường nghỉ và ngày cuối tuần làm việc, năm {year}", "Weekdays off and weekend days worked, {year}"),
    "date_col": L("Ngày", "Date"),
    "kind_col": L("Loại", "Kind"),
    "note_col": L("Ghi chú, văn bản", "Note, notice"),
    "name_col": L("Ngày", "Day"),
    "off": L("Nghỉ", "Off"),
    "worked": L("Làm việc", "Worked"),
    "days_late": L(
        "Số ngày làm việc trễ của một hồ sơ (tệp bằng chứng): số ngày làm việc sau ngày hẹn trả, đến hết ngày kết thúc; hồ sơ còn "
        "đang xử lý tính đến ngày cuối của kỳ (kỳ đang diễn ra: đến ngày của thời điểm cắt số liệu). Hồ sơ trễ ngay trong ngày hẹn trả: 0.",
        "A dossier's working days late (evidence file): the working days after its due date up to the day it ended; one still "
        "open counts to the last day of the period (a period in progress: the day of its cut-off). Late on its due day itself: 0.",
    ),
    "status_h": L("Tạm tính và điều chỉnh", "Provisional and revised"),
    "provisional": L(
        "Tạm tính: kỳ đang diễn ra được tính như thể kết thúc ở thời điểm mới nhất có trong dữ liệu (thời điểm cắt số liệu), và thay đổi "
        "khi có dữ liệu mới, không ghi là điều chỉnh.",
        "Provisional: the period in progress is scored as if it ended at the latest time in the data (its cut-off), and "
        "changes as data arrive, without a revision mark.",
    ),
    "revised": L(
        "Điều chỉnh: một kỳ đã chính thức mà số liệu thay đổi do dữ liệu đến muộn được công bố như một lần điều chỉnh; phiên bản công bố trước vẫn được giữ lại.",
        "Revised: a final period changed by data arriving later is published as a revision, with the earlier version kept.",
    ),
    "evidence_h": L("Bằng chứng: các hồ sơ trễ hạn", "Evidence: the late dossiers"),
    "evidence": L(
        "Với mỗi đơn vị và mỗi kỳ, tệp data/evidence-<kỳ>.csv (và Excel) liệt kê từng hồ sơ trễ hạn và quá hạn đang xử lý: mã hồ sơ, "
        "mã và tên thủ tục, ngày tiếp nhận, hạn trả, ngày kết thúc, loại, số ngày làm việc trễ, đơn vị tiếp nhận. Số dòng của một đơn vị "
        "đúng bằng trễ hạn + quá hạn đang xử lý của đơn vị trong bảng xếp hạng. Trang đơn vị có danh sách của kỳ chi tiết, lọc được. "
        "Chỉ có mã hồ sơ, mã và tên thủ tục, không có thông tin cá nhân.",
        "For every unit and period, data/evidence-<period>.csv (and Excel) lists each overdue and pending-overdue dossier: its "
        "id, procedure code and name, received, due and end dates, class, working days late and receiving unit. A unit's rows "
        "are exactly its overdue + pending overdue in the scoreboard. Each unit page lists those of its detail period, "
        "filterable. Dossier ids and procedures only, no personal data.",
    ),
    "example_h": L("Ví dụ tính lại: {unit}, {period}", "Worked example: {unit}, {period}"),
    "example_intro": L(
        "Từ dòng của đơn vị trong bảng xếp hạng đã công bố (data/scoreboard-{key}.csv) và tệp bằng chứng của đơn vị:",
        "From the unit's row of the published scoreboard (data/scoreboard-{key}.csv) and its evidence file:",
    ),
    "example_on_time": L(
        "Tỷ lệ đúng hạn = ({early} trước hạn + {on_time} đúng hạn) / ({early} + {on_time} + {overdue} trễ hạn + {pending} quá hạn đang "
        "xử lý) = {rate}; {late} hồ sơ trễ hạn và quá hạn đang xử lý là {late} dòng của tệp bằng chứng.",
        "On-time rate = ({early} early + {on_time} on time) / ({early} + {on_time} + {overdue} overdue + {pending} pending "
        "overdue) = {rate}; the {late} overdue and pending-overdue dossiers are the {late} rows of its evidence file.",
    ),
    "example_points": L("Điểm từng chỉ tiêu", "Each indicator's points"),
    "example_groups": L("Điểm từng nhóm (đối chiếu với số đã công bố)", "Each group's points (against the published ones)"),
    "points_col": L("Điểm", "Points"),
    "published_col": L("Đã công bố", "Published"),
    "not_applicable": L("không áp dụng", "not applicable"),
    "example_score": L(
        "Điểm = 100 × {earned} / {max} = {score}; làm tròn: {rounded}; xếp loại: {band}; hạng {rank}.",
        "Score = 100 × {earned} / {max} = {score}; rounded: {rounded}; band: {band}; rank {rank}.",
    ),
    "example_unit_link": L("Trang đơn vị và danh sách hồ sơ trễ hạn", "The unit's page and its late dossiers"),
    "no_example": L("Chưa có đơn vị được xếp hạng để làm ví dụ.", "No ranked unit to take as an example yet."),
    "versions_h": L("Phiên bản dữ liệu đầu vào", "Versions of the inputs"),
    "versions": L(
        "Mỗi lần công bố ghi các dữ liệu đầu vào (data/manifest.json): tệp nguồn và mã băm, và phiên bản của:",
        "Every publication records what it was made from (data/manifest.json): the input files and their hashes, and the "
        "versions of:",
    ),
    "input_col": L("Đầu vào", "Input"),
    "version_col": L("Phiên bản", "Version"),
}


# A unit page writes its groups' points to this many decimals (as the worked example
# of the methodology page), more where fewer would not lead to the published score.
SCORE_LINE_DIGITS = range(4, 13)


def _written(x: float, digits: int) -> Decimal:
    """A number as a page writes it with `digits` decimals (fmt_num's rounding: half
    away from zero on the float's decimal form), as an exact decimal."""
    return Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def score_line(row: Mapping[str, Any], groups) -> Label | None:
    """A unit page's score as its groups make it (the groups that apply; dashboards.groups):
    `Điểm ≈ 100 × (18,0000 + 17,1429 + …) / (18 + 20 + …) = 100 × 90,0001 / 100 =
    90,0001; làm tròn: 90,00`.

    A reader checks it with a calculator, so every `=` holds exactly for the numbers as
    written, and `≈` marks each place a number was rounded: the groups' points (to 4
    decimals, or more where 4 would not do), and the quotient. The sum written is the
    exact sum of the terms written; 100 × sum / maximum, rounded to 2 decimals, is the
    published score the unit is ranked and banded on. Terms rounded separately from the
    total (2 decimals each, as this line once wrote them) could add up to 89,99 beside
    a total of 90,00, or give 73,80 for a published 73,81.

    Only where the unrounded score sits on a half to within 10⁻¹² (the score is ranked
    on its floating-point value, round(round(score, 9), 2)) can no number of decimals
    lead there; the line then keeps 4 decimals and still ends on the published score."""
    applied = [(row.get(g.column), row.get(g.max_column)) for g in groups
               if row.get(g.column) is not None and row.get(g.max_column)]
    if not applied or row.get("score") is None:
        return None
    published = fmt_score(row["score"])
    maxima = sum(Decimal(repr(float(m))) for _, m in applied)
    # the fewest decimals that lead to the published score; none does: the first again
    for digits in (*SCORE_LINE_DIGITS, SCORE_LINE_DIGITS[0]):
        terms = [_written(p, digits) for p, _ in applied]
        earned = sum(terms)
        quotient = 100 * earned / maxima
        shown = quotient.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
        if fmt_num(quotient, 2) == fmt_num(shown, 2) == published:
            break
    rounded = any(t != Decimal(repr(float(p))) for t, (p, _) in zip(terms, applied))
    text = (
        f"{'≈' if rounded else '='} 100 × ({' + '.join(fmt_num(t, digits) for t in terms)}) / "
        f"({' + '.join(_num(m) for _, m in applied)}) = 100 × {fmt_num(earned, digits)} / {_num(float(maxima))} "
        f"{'=' if shown == quotient else '≈'} {fmt_num(shown, digits)}"
    )
    return L(f"Điểm {text}; làm tròn: {published}.", f"Score {text}; rounded: {published}.")
