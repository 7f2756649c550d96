"""Vietnamese-first labels (with English) for every published column and value.

Pages are written in Vietnamese; each label also carries its English text,
which the site's language switch puts in place on the client. The indicator
groups' labels and maximum points, the rates' labels and the bands are the
scoring profile's (dashboards.groups, `rate_labels` and `site_bands` read them),
never repeated here: this module adds only how a band looks (its colour).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

from transforms.periods import PERIOD_TYPES
from transforms.profile import RATE_CATALOGUE, RATE_COLUMNS
from transforms.schema import LEVELS as _LEVELS


class Label(NamedTuple):
    vi: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


# One label per column of SCOREBOARD_COLUMNS but the groups' points, whose labels are
# the profile's (a test checks none is missing).
COLUMNS: dict[str, Label] = {
    "period_type": Label("Loại kỳ", "Period type"),
    "period_key": Label("Kỳ", "Period"),
    "period_start": Label("Ngày bắt đầu kỳ", "Period start"),
    "level": Label("Cấp", "Level"),
    "unit_code": Label("Mã đơn vị", "Unit code"),
    "unit_name": Label("Đơn vị", "Unit"),
    "peer_group": Label("Nhóm so sánh", "Peer group"),
    "received": Label("Tiếp nhận", "Received"),
    "finished": Label("Đã giải quyết", "Finished"),
    "early": Label("Trước hạn", "Early"),
    "on_time": Label("Đúng hạn", "On time"),
    "overdue": Label("Trễ hạn", "Overdue"),
    "no_deadline": Label("Không có hạn", "No deadline"),
    "pending_overdue": Label("Quá hạn đang xử lý", "Pending overdue"),
    "rejected": Label("Từ chối, trả lại", "Rejected"),
    "timeliness_base": Label("Cơ sở tính tiến độ", "Timeliness base"),
    # the catalogue's labels of the rates (transforms.profile.RATE_CATALOGUE); a page's
    # tables show the profile's (`rate_labels`), which may relabel the rates it scores
    **{r.name: Label(r.label_vi, r.label_en) for r in RATE_CATALOGUE},
    "avg_working_days": Label("Số ngày làm việc bình quân", "Average working days"),
    "score": Label("Điểm", "Score"),
    "band": Label("Xếp loại", "Band"),
    "ranked": Label("Được xếp hạng", "Ranked"),
    "rank": Label("Hạng", "Rank"),
    "rank_in_peer": Label("Hạng trong nhóm", "Rank in peer group"),
    "rank_change": Label("Thay đổi hạng", "Rank change"),
    "unit_valid_from": Label("Hiệu lực từ", "Valid from"),
    "provisional": Label("Tạm tính", "Provisional"),
}


class Band(NamedTuple):
    """A band as the pages show it: the profile's labels and the colour of its position."""

    vi: str  # the profile's label: the value published in the `band` column
    en: str
    css: str  # class suffix: band-<css> (static/site.css)
    colour: str  # the charts' colour; shown next to the text, never alone

    @property
    def label(self) -> Label:
        return Label(self.vi, self.en)


# The bands' colours, best first: (class suffix, colour). The colours are written once, as
# static/site.css's variables --<suffix>, which its band-<suffix> classes use; the charts
# read them from there. A band's colour is that of its position among the profile's bands,
# spread evenly from the first colour (the best band) to the last (the worst): band i of
# n takes colour i × (k − 1) / (n − 1) of these k (counting from 0), rounded half up; a
# lone band the first. Five bands take one each; three the first, the middle and the
# last; six or more keep the best and the worst colours for the first and the last band
# and share the others (the label beside each colour tells them apart).
BAND_CSS = ("xs", "tot", "kha", "tb", "yeu")
SITE_CSS = Path(__file__).parent / "static" / "site.css"


def _css_colours(css: str, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    found = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})\b", css))
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"{SITE_CSS}: no colour for the band variable(s) {', '.join('--' + n for n in missing)}")
    return tuple((n, found[n]) for n in names)


BAND_COLOURS: tuple[tuple[str, str], ...] = _css_colours(SITE_CSS.read_text(encoding="utf-8"), BAND_CSS)
NO_BAND = Label("Chưa có điểm", "No score")

# The levels a unit can have (transforms.score.LEVEL_ORDER): districts until the
# 2025 reform (2025-06-30), then wards and communes; the city's departments and
# agencies (sở, ban, ngành) throughout. Each is ranked in its own table.
LEVELS: dict[str, Label] = {
    "district": Label("Cấp huyện", "Districts"),
    "commune": Label("Cấp xã", "Wards and communes"),
    "department": Label("Sở, ban, ngành", "Departments"),
}
LEVEL_ORDER: tuple[str, ...] = _LEVELS
assert set(LEVELS) == set(LEVEL_ORDER), "a level without a label"

# Peer groups are configuration (the registry's `peer_group`). Every group a shipped
# registry uses has a label here (tests/test_site_wording.py reads config/registry/),
# so no page shows a code such as `department` in place of words. A group an office
# adds of its own is shown as its registry writes it, in both languages: the office
# names it (`Loại I`), and a name is better shown as written than guessed.
PEER_GROUPS: dict[str, Label] = {
    "urban": Label("Đô thị", "Urban"),
    "rural": Label("Nông thôn", "Rural"),
    "mountain": Label("Miền núi", "Mountainous"),
    "mountainous": Label("Miền núi", "Mountainous"),
    "island": Label("Hải đảo", "Island"),
    # the city's departments and agencies: a group of their own, as their level (LEVELS)
    "department": LEVELS["department"],
}

PERIOD_TYPE_LABELS: dict[str, Label] = {
    "month": Label("Tháng", "Month"),
    "week": Label("Tuần", "Week"),
}
assert set(PERIOD_TYPE_LABELS) == set(PERIOD_TYPES), "a period type without a label"
# Pages list months before weeks.
PERIOD_TYPE_ORDER: tuple[str, ...] = tuple(sorted(PERIOD_TYPES, key=lambda t: t != "month"))

QUARANTINE_REASONS: dict[str, Label] = {
    "misaligned_row": Label("Dòng lệch cột (nhiều ô hơn tiêu đề)", "Misaligned row (more cells than the header)"),
    "missing_id": Label("Thiếu mã hồ sơ", "Missing dossier id"),
    "missing_field": Label("Thiếu trường bắt buộc", "Missing required field"),
    "bad_date": Label("Ngày giờ không hợp lệ", "Invalid date"),
    "unknown_unit": Label("Đơn vị không có trong danh mục", "Unknown unit"),
    "ambiguous_unit": Label("Đơn vị không xác định duy nhất", "Ambiguous unit"),
    "future_date": Label("Ngày trong tương lai", "Date in the future"),
    "chronology": Label("Thứ tự thời gian sai", "Dates out of order"),
    "finished_no_end": Label("Đã giải quyết nhưng thiếu ngày kết thúc", "Finished without an end date"),
}

# Columns of the ingestion / quarantine summaries the site may show.
INGESTION_COLUMNS: dict[str, Label] = {
    "source_file": Label("Tệp", "File"),
    "format": Label("Định dạng", "Format"),
    "status": Label("Trạng thái", "Status"),
    "content_hash": Label("Mã băm SHA-256", "SHA-256 hash"),
    "rows_read": Label("Số dòng đọc", "Rows read"),
    "rows_accepted": Label("Được nhận", "Accepted"),
    "rows_quarantined": Label("Cách ly", "Quarantined"),
    "rows_superseded": Label("Bị thay thế", "Superseded"),
    "rows_duplicate": Label("Trùng lặp", "Duplicates"),
    "reason": Label("Lý do", "Reason"),
    "rows": Label("Số dòng", "Rows"),
    "count": Label("Số dòng", "Rows"),
    "n": Label("Số dòng", "Rows"),
}

FILE_STATUSES: dict[str, Label] = {
    "loaded": Label("Đã nạp", "Loaded"),
    "rejected": Label("Bị từ chối", "Rejected"),
    "duplicate": Label("Trùng tệp đã nạp", "Duplicate file"),
    "skipped": Label("Bỏ qua", "Skipped"),
}

MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)

# Interface text.
UI: dict[str, Label] = {
    "site_title": Label("Bảng xếp hạng chỉ số phục vụ người dân, doanh nghiệp", "Public service scoreboard"),
    "site_subtitle": Label(
        "Tính từ nhật ký hồ sơ một cửa, theo cấu trúc Quyết định 766/QĐ-TTg",
        "Computed from one-stop-shop dossier logs, following Decision 766/QĐ-TTg",
    ),
    "nav_overview": Label("Tổng quan", "Overview"),
    "nav_periods": Label("Các kỳ", "Periods"),
    "nav_data": Label("Dữ liệu", "Data"),
    "nav_ingestion": Label("Nhập dữ liệu", "Ingestion"),
    "lang_switch": Label("Ngôn ngữ", "Language"),
    "latest_month": Label("Tháng gần nhất", "Latest month"),
    "latest_week": Label("Tuần gần nhất", "Latest week"),
    "headline_month": Label("Tháng gần nhất đủ số liệu để xếp hạng", "Latest month complete enough to rank"),
    "headline_week": Label("Tuần gần nhất đủ số liệu để xếp hạng", "Latest week complete enough to rank"),
    "in_progress_month": Label("Tháng đang diễn ra (tạm tính)", "Month in progress (provisional)"),
    "in_progress_week": Label("Tuần đang diễn ra (tạm tính)", "Week in progress (provisional)"),
    "provisional_cutoff": Label(
        "Kỳ đang diễn ra: số liệu tạm tính đến {t}, thời điểm mới nhất trong dữ liệu.",
        "Period in progress: provisional figures up to {t}, the latest time in the data.",
    ),
    "headline_rule": Label(
        "Kỳ đứng đầu trang là kỳ đã kết thúc gần nhất mà đa số đơn vị được xếp hạng có tiếp nhận hồ sơ trong kỳ.",
        "The period shown first is the latest finished one in which most ranked units received dossiers.",
    ),
    "months": Label("Theo tháng", "Monthly"),
    "weeks": Label("Theo tuần", "Weekly"),
    "search": Label("Tìm đơn vị", "Find a unit"),
    "search_hint": Label("Gõ tên hoặc mã, có dấu hoặc không dấu", "Type a name or code, with or without diacritics"),
    "no_match": Label("Không có đơn vị phù hợp", "No matching unit"),
    "none_ranked": Label(
        "không đơn vị nào đủ điều kiện xếp hạng (đã kết thúc, chỉ còn hồ sơ được tính, hoặc quá ít hồ sơ)",
        "no unit qualifies for a rank (ended, listed only for dossiers still counted, or too few dossiers)",
    ),
    "provisional_note": Label(
        "Kỳ đang diễn ra: số liệu tạm tính đến thời điểm mới nhất trong dữ liệu.",
        "Period in progress: provisional figures, up to the latest time in the data.",
    ),
    "not_ranked": Label("Chưa xếp hạng", "Not ranked"),
    "not_ranked_note": Label(
        # {n}: the profile's min_volume (dashboards.pages.common.page)
        "Đơn vị được xếp hạng khi tiếp nhận + cơ sở tính tiến độ ≥ {n} và có điểm.",
        "A unit is ranked when received + timeliness base ≥ {n} and it has a score.",
    ),
    "downloads": Label("Tải dữ liệu", "Download data"),
    "download_note": Label(
        "Tệp dữ liệu giữ dấu chấm thập phân và tỷ lệ dạng phân số (0–1).",
        "Data files keep decimal points and rates as fractions (0–1).",
    ),
    "manifest": Label("Nguồn gốc dữ liệu (manifest.json)", "Provenance (manifest.json)"),
    "full_ranking": Label("Xem bảng đầy đủ", "Full ranking"),
    "previous": Label("Kỳ trước", "Previous"),
    "next": Label("Kỳ sau", "Next"),
    "points": Label("Điểm thành phần", "Points by group"),
    "late": Label("Trễ hạn + quá hạn đang xử lý", "Overdue + pending overdue"),
    "chart_bands": Label("Phân bố xếp loại (đơn vị được xếp hạng)", "Bands (ranked units)"),
    "chart_trend": Label("Điểm theo tháng", "Scores by month"),
    "chart_count": Label("Số đơn vị", "Units"),
    "chart_month": Label("Tháng", "Month"),
    # a unit in a chart beside another of the same code (a code reused after a reform)
    "chart_unit_since": Label("{name} ({code}, từ {since})", "{name} ({code}, from {since})"),
    "chart_gaps": Label(
        "Kỳ đơn vị không được xếp hạng (quá ít hồ sơ, đã giải thể…) để trống, không vẽ như một điểm số.",
        "A period in which the unit is not ranked (too few dossiers, dissolved…) is left blank, not drawn as a score.",
    ),
    "chart_note": Label(
        "Biểu đồ cần JavaScript; số liệu đầy đủ có trong các bảng.",
        "Charts need JavaScript; every figure is also in the tables.",
    ),
    "ingestion_title": Label("Tình hình nhập dữ liệu", "Ingestion report"),
    "ingestion_files": Label("Theo tệp", "By file"),
    "quarantine_title": Label("Dòng bị cách ly theo lý do", "Quarantined rows by reason"),
    "ingestion_note": Label(
        "Chỉ hiển thị tên tệp và số dòng, không hiển thị nội dung hồ sơ.",
        "Only file names and row counts are shown, never dossier contents.",
    ),
    "up": Label("Tăng {n} bậc", "Up {n}"),
    "down": Label("Giảm {n} bậc", "Down {n}"),
    "same": Label("Giữ nguyên", "Unchanged"),
    "file_csv": Label("CSV (UTF-8)", "CSV (UTF-8)"),
    "file_xlsx": Label("Excel", "Excel"),
    "file_parquet": Label("Parquet", "Parquet"),
    "empty": Label("Không có dữ liệu", "No data"),
}


def label(key: str, lang: str = "vi") -> str:
    """The label of a column, level or interface text."""
    for table in (COLUMNS, UI, LEVELS, PERIOD_TYPE_LABELS, INGESTION_COLUMNS):
        if key in table:
            return table[key].get(lang)
    return key


def site_bands(profile: Any) -> tuple[Band, ...]:
    """The profile's bands (transforms.profile.Profile.bands), best first, with their
    colours (BAND_COLOURS): the site fact `bands`."""
    n, k = len(profile.bands), len(BAND_COLOURS)
    # round(i × (k − 1) / (n − 1)), halves up, in integers
    position = [0 if n == 1 else (2 * i * (k - 1) + n - 1) // (2 * (n - 1)) for i in range(n)]
    return tuple(Band(b.label, b.label_en, *BAND_COLOURS[c]) for b, c in zip(profile.bands, position))


def band_text(band: str | None, bands: tuple[Band, ...]) -> Label:
    """A value of the `band` column in words: its band's labels; NO_BAND for none; as
    written for a value that is none of `bands` (scored with another profile)."""
    if band is None:
        return NO_BAND
    for b in bands:
        if b.vi == band:
            return b.label
    return Label(band, band)


def rate_labels(profile: Any) -> dict[str, Label]:
    """Every rate column's label: the profile's where it relabels a rate it scores, else
    the catalogue's (transforms.profile.Profile.rate_label): the site fact `rates`."""
    return {r: Label(*profile.rate_label(r)) for r in RATE_COLUMNS}


def level_label(level: str, lang: str = "vi") -> str:
    lab = LEVELS.get(level)
    return level if lab is None else lab.get(lang)


def peer_group_label(group: str | None, lang: str = "vi") -> str:
    if group is None:
        return ""
    lab = PEER_GROUPS.get(group)
    return group if lab is None else lab.get(lang)


# --------------------------------------------------------------------------- insights, quality

# Indicators by the rate they score (their column labels; the pages put the profile's
# labels of the rates over these: `rate_labels`).
INDICATORS: dict[str, Label] = {
    k: COLUMNS[k]
    for k in (*RATE_COLUMNS, "score", "received", "overdue", "pending_overdue", "avg_working_days")
}

# Labels of the columns of the weak-point, bottleneck and what-if tables
# (the legend sheet of their workbooks; a test checks none is missing).
INSIGHT_COLUMNS: dict[str, Label] = {
    "position": Label("Thứ tự", "Position"),
    "group": Label("Nhóm chỉ số", "Group"),
    "indicator": Label("Chỉ tiêu", "Indicator"),
    "rate": Label("Tỷ lệ", "Rate"),
    "points_earned": Label("Điểm đạt", "Points earned"),
    "points_max": Label("Điểm tối đa", "Maximum points"),
    "points_lost": Label("Điểm bị mất", "Points lost"),
    "peer_median_points": Label("Trung vị nhóm so sánh", "Peer median"),
    "gap_to_peer_median": Label("Chênh lệch với trung vị nhóm", "Gap to peer median"),
    "leader_points": Label("Điểm của đơn vị dẫn đầu", "Leader's points"),
    "gap_to_leader": Label("Chênh lệch với đơn vị dẫn đầu", "Gap to the leader"),
    "procedure_code": Label("Mã thủ tục", "Procedure code"),
    "procedure_name": Label("Tên thủ tục", "Procedure"),
    "late": Label("Trễ hạn + quá hạn đang xử lý", "Overdue + pending overdue"),
    "share_of_late": Label("Tỷ trọng trong số hồ sơ trễ", "Share of late dossiers"),
    "late_dossiers": Label("Số hồ sơ trễ hạn, quá hạn", "Late dossiers"),
    "target_rank": Label("Hạng kế trên", "Next rank up"),
    "target_rank_score": Label("Điểm của hạng kế trên", "Score of the next rank up"),
    "dossiers_for_rank": Label("Số hồ sơ cần đúng hạn để vượt hạng kế trên", "Dossiers on time to pass the next rank up"),
    "target_band": Label("Xếp loại kế trên", "Next band up"),
    "dossiers_for_band": Label("Số hồ sơ cần đúng hạn để lên xếp loại", "Dossiers on time to move up a band"),
}

# Checks the pipeline runs before publishing a period; others are shown by their code.
CHECKS: dict[str, Label] = {
    "scoreboard_valid": Label("Bảng xếp hạng đạt các kiểm tra số liệu", "The scoreboard passes its data checks"),
    "batch_quarantine_share": Label("Tỷ lệ dòng bị cách ly trong lô nạp ở mức cho phép",
                                    "The share of quarantined rows in the batch is acceptable"),
    "batch_drift": Label("Không tệp nào lệch xa dữ liệu thường lệ của đơn vị",
                         "No file drifts far from its units' usual data"),
    # quality/drift's checks (the same labels as quality.drift.DRIFT_CHECKS)
    "batch_promised_duration": Label("Thời hạn hẹn trả so với thường lệ", "Promised duration against the unit's usual"),
    "batch_clock_shift": Label("Giờ của các mốc thời gian so với thường lệ", "Times of day against the unit's usual"),
    "batch_volume": Label("Số hồ sơ tiếp nhận so với thường lệ", "Received volume against the unit's usual"),
    "batch_status_mix": Label("Cơ cấu trạng thái so với thường lệ", "Status mix against the unit's usual"),
    "batch_history_rewrite": Label("Hồ sơ đã kết thúc của kỳ đã đóng không bị viết lại",
                                   "Final dossiers of closed periods are not rewritten"),
}

# Early-warning kinds the engine may write; others are shown as written.
WARNING_KINDS: dict[str, Label] = {
    "drop": Label("Giảm bất thường", "Unusual drop"),
    "rise": Label("Tăng bất thường", "Unusual rise"),
    "spike": Label("Tăng đột biến", "Spike"),
    "band_at_risk": Label("Nguy cơ tụt xếp loại", "Band at risk"),
    "silent": Label("Không gửi dữ liệu", "Sent no data"),
    "low": Label("Thấp bất thường", "Unusually low"),
    "high": Label("Cao bất thường", "Unusually high"),
}

# Interface text of the unit, city, quality and report pages.
UI.update(
    {
        "nav_city": Label("Toàn thành phố", "City"),
        "nav_quality": Label("Chất lượng dữ liệu", "Data quality"),
        "nav_report": Label("Báo cáo tháng", "Monthly report"),
        "nav_alerts": Label("Cảnh báo", "Alerts"),
        "nav_reconciliation": Label("Đối chiếu Cổng DVCQG", "Portal reconciliation"),
        # an ended unit, after its name, where the unit that took its code may be listed too
        "until": Label("(đến {m})", "(until {m})"),
        "valid_to": Label("đến", "to"),
        "successors": Label("Địa bàn nay thuộc", "Its area is now part of"),
        "warnings_alerts": Label(
            "Các đơn vị tụt loại, giảm hạng, vượt ngưỡng cảnh báo hoặc ngừng báo cáo sau mỗi kỳ:",
            "Units that dropped a band, fell in rank, crossed a warning or went silent after each period:",
        ),
        "peer_filter": Label("Nhóm so sánh", "Peer group"),
        "peer_all": Label("Tất cả", "All"),
        "unit_page": Label("Trang đơn vị", "Unit page"),
        "unit_detail": Label("Chi tiết kỳ", "Period detail"),
        "unit_history": Label("Điểm và hạng qua các kỳ", "Score and rank over time"),
        "unit_periods": Label("Tất cả các kỳ của đơn vị", "Every period of this unit"),
        "chart_unit_score": Label("Điểm theo kỳ", "Score by period"),
        "chart_unit_rank": Label("Hạng theo kỳ (trong cấp)", "Rank by period (within its level)"),
        "chart_period": Label("Kỳ", "Period"),
        "chart_figures": Label("Số liệu", "Figures"),
        "figures_own": Label("Của đơn vị", "This unit's own"),
        "figures_reconstructed": Label("Dựng lại từ các đơn vị trước sắp xếp (không xếp hạng)",
                                       "Reconstructed from the units before the reform (not ranked)"),
        "groups_title": Label("Các nhóm chỉ số: điểm đạt, tối đa và trung vị nhóm so sánh",
                              "The indicator groups: earned, maximum and peer median"),
        "earned": Label("Điểm đạt", "Earned"),
        "max": Label("Tối đa", "Maximum"),
        "peer_median": Label("Trung vị nhóm so sánh", "Peer median"),
        "share_of_max": Label("Tỷ lệ đạt", "Share of maximum"),
        "weak_title": Label("Điểm yếu", "Weak points"),
        "weak_note": Label(
            "Các chỉ tiêu xếp theo số điểm bị mất; chênh lệch dương là số điểm kém đơn vị dẫn đầu cấp hoặc trung vị nhóm so sánh.",
            "Indicators ordered by points lost; a positive gap is how many points the unit trails the leader of its level or its peer median by.",
        ),
        "bottleneck_title": Label("Thủ tục gây chậm", "Bottleneck procedures"),
        "bottleneck_note": Label(
            "Thủ tục có nhiều hồ sơ trễ hạn và quá hạn đang xử lý nhất trong kỳ.",
            "Procedures with the most overdue and pending-overdue dossiers in the period.",
        ),
        "counts_title": Label("Số liệu của kỳ", "Figures of the period"),
        "what_if_title": Label("Nếu đúng hạn thêm", "What if"),
        "no_late": Label("Đơn vị không có hồ sơ trễ hạn hay quá hạn trong kỳ.",
                         "The unit had no overdue or pending-overdue dossier in the period."),
        # scoreboard.md's what-if counts the dossiers that lift the unit's score above the
        # unit ranked just above it ({r}, its score {s}), not those that reach a rank: a
        # score above it may pass several others, so no sentence names the rank reached
        "what_if_rank": Label("{n} hồ sơ nữa đúng hạn sẽ đưa điểm của đơn vị vượt điểm của đơn vị đang xếp hạng {r} ({s}).",
                              "{n} more {dossiers} on time would have lifted your score above that of the unit now "
                              "ranked {r} ({s})."),
        "what_if_band": Label("{n} hồ sơ nữa đúng hạn sẽ đưa đơn vị lên xếp loại {b}.",
                              "{n} more {dossiers} on time would have lifted you to band {b}."),
        "what_if_rank_none": Label(
            "Kể cả {n} hồ sơ trễ hạn, quá hạn đều đúng hạn cũng chưa đưa điểm của đơn vị vượt điểm của đơn vị đang xếp hạng {r} ({s}).",
            "Even all {n} late {dossiers} on time would not have lifted your score above that of the unit now ranked {r} ({s})."),
        "what_if_band_none": Label("Kể cả {n} hồ sơ trễ hạn, quá hạn đều đúng hạn cũng chưa đưa đơn vị lên xếp loại {b}.",
                                   "Even all {n} late {dossiers} on time would not have lifted you to band {b}."),
        "what_if_top_rank": Label("Đơn vị đang đứng đầu cấp.", "The unit ranks first in its level."),
        "what_if_top_band": Label("Đơn vị đã ở xếp loại cao nhất.", "The unit is in the top band."),
        "what_if_unranked": Label("Đơn vị chưa được xếp hạng trong kỳ này.", "The unit is not ranked in this period."),
        "no_rows": Label("Không có", "None"),
        "latest_detail": Label("Số liệu tháng gần nhất của đơn vị", "The unit's latest month"),
        "other_periods": Label("Xem các kỳ khác trong bảng dưới.", "Other periods are listed below."),
        "open_period": Label("Bảng xếp hạng kỳ", "Ranking of the period"),
        "city_title": Label("Toàn thành phố", "City overview"),
        "heatmap_title": Label("Tỷ lệ điểm đạt theo nhóm chỉ số", "Share of the maximum points by group"),
        "heatmap_note": Label(
            "Các đơn vị được xếp hạng; mỗi ô là điểm đạt của nhóm chia cho điểm tối đa của các chỉ tiêu áp dụng, ghi bằng số (%); ô trống: không áp dụng.",
            "The ranked units; each cell is the group's points earned over the maximum of its applicable indicators, written as a number (%); empty: not applicable.",
        ),
        "crossings_title": Label("Đơn vị thay đổi xếp loại", "Units that changed band"),
        "crossings_note": Label("So với kỳ cùng loại liền trước: {p}.", "Against the previous period of the same kind: {p}."),
        "crossing_up": Label("Lên", "Up"),
        "crossing_down": Label("Xuống", "Down"),
        "band_before": Label("Xếp loại kỳ trước", "Previous band"),
        "band_now": Label("Xếp loại kỳ này", "Band now"),
        "score_before": Label("Điểm kỳ trước", "Previous score"),
        "direction": Label("Chiều", "Direction"),
        "warnings_title": Label("Cảnh báo sớm", "Early warnings"),
        "warnings_note": Label(
            "Chỉ tiêu lệch xa mức thường thấy của chính đơn vị (z là số độ lệch chuẩn).",
            "Indicators far from the unit's own usual level (z is the number of standard deviations).",
        ),
        "warning_kind": Label("Loại cảnh báo", "Kind"),
        "warning_message": Label("Nội dung", "Message"),
        "indicator": Label("Chỉ tiêu", "Indicator"),
        "value": Label("Giá trị", "Value"),
        "baseline": Label("Mức thường thấy", "Baseline"),
        "quality_title": Label("Chất lượng dữ liệu", "Data quality"),
        "quality_note": Label(
            "Kết quả kiểm tra số liệu của từng kỳ trước khi công bố, dòng bị cách ly và đơn vị không gửi dữ liệu.",
            "The checks run on each period before publishing, quarantined rows and units that sent nothing.",
        ),
        "held_back": Label("Số liệu mới của kỳ này đang bị giữ lại vì: {reasons}.",
                           "New figures for this period are held back because: {reasons}."),
        "held_back_title": Label("Kỳ đang bị giữ lại", "Periods held back"),
        "held_batches_title": Label("Tệp đang bị giữ lại", "Files held back"),
        "held_batches_note": Label(
            "Các dòng của tệp hợp lệ từng dòng nhưng lệch xa dữ liệu thường lệ của đơn vị: chúng được lưu riêng và "
            "chưa làm thay đổi số liệu nào đã công bố. Thay tệp bằng bản đã sửa, hoặc nếu tệp đúng, chạy "
            "scoreboard release TỆP --reason \"lý do\" (được ghi vào manifest.json) để công bố.",
            "Its rows are valid one by one but drift far from the unit's usual data: they are stored aside and change "
            "no published figure yet. Replace the file with a corrected one or, if it is right, run "
            "scoreboard release FILE --reason \"why\" (recorded in manifest.json) to publish it.",
        ),
        "held_file": Label("Tệp", "File"),
        "held_unit": Label("Đơn vị", "Unit"),
        "held_reason": Label("Lý do (thường lệ và lô này)", "Reason (usual and this batch)"),
        "held_periods": Label("Kỳ bị giữ", "Periods held"),
        "checks_title": Label("Kết quả kiểm tra theo kỳ", "Checks by period"),
        "checks_failed_title": Label("Các kiểm tra không đạt", "Failed checks"),
        "checks_latest": Label("Chi tiết kiểm tra kỳ gần nhất", "Checks of the latest periods"),
        "check": Label("Kiểm tra", "Check"),
        "check_result": Label("Kết quả", "Result"),
        "unexpected": Label("Số giá trị bất thường", "Unexpected values"),
        "blocking": Label("Giữ lại số liệu", "Holds figures back"),
        "passed": Label("Đạt", "Passed"),
        "failed": Label("Không đạt", "Failed"),
        "yes": Label("Có", "Yes"),
        "no": Label("Không", "No"),
        "quarantine_by_reason": Label("Dòng bị cách ly theo lý do", "Quarantined rows by reason"),
        "quarantine_by_file": Label("Dòng bị cách ly theo tệp và lý do", "Quarantined rows by file and reason"),
        "silent_title": Label("Đơn vị không tiếp nhận hồ sơ nào", "Units that received no dossier"),
        "silent_note": Label("Đơn vị có trong danh mục nhưng không có hồ sơ tiếp nhận trong kỳ.",
                             "Units in the registry with no dossier received in the period."),
        "last_active": Label("Kỳ gần nhất có hồ sơ", "Last period with dossiers"),
        "completeness_title": Label("Mức độ đầy đủ theo kỳ", "Completeness by period"),
        "completeness_note": Label(
            "Mỗi kỳ: số đơn vị trong danh mục phải báo cáo, số đơn vị có hồ sơ tiếp nhận (cấp huyện tính cả các xã trực thuộc) và số đơn vị không gửi dữ liệu.",
            "Each period: the units the registry expects, the units that received dossiers (a district counts its communes') and the units that sent nothing.",
        ),
        "expected_units": Label("Đơn vị phải báo cáo", "Units expected"),
        "reporting_units": Label("Đơn vị có dữ liệu", "Units reporting"),
        "silent_units": Label("Đơn vị không gửi dữ liệu", "Units silent"),
        "reporting_share": Label("Tỷ lệ đơn vị có dữ liệu", "Share reporting"),
        "fresh_title": Label("Dữ liệu mới nhất", "Latest data"),
        "fresh_caption": Label("Dữ liệu mới nhất của từng đơn vị, tính đến {d}", "Latest data of each unit, as of {d}"),
        "fresh_note": Label(
            "Ngày của sự kiện mới nhất (tiếp nhận, kết thúc, trả, từ chối) trong hồ sơ của đơn vị (cấp huyện tính cả các xã trực thuộc), "
            "số ngày chậm so với ngày dữ liệu mới nhất của toàn bộ dữ liệu, và số hồ sơ tiếp nhận trong tuần gần nhất. Đơn vị lâu nhất chưa có dữ liệu đứng đầu.",
            "The date of the latest event (received, finished, returned, rejected) in the unit's dossiers (a district counts its communes'), "
            "how many days that is behind the newest data of all, and the dossiers received in the latest week. The stalest units come first.",
        ),
        "latest_data": Label("Dữ liệu mới nhất", "Latest data"),
        "no_data_yet": Label("Chưa có dữ liệu", "No data yet"),
        "days_behind": Label("Số ngày chậm", "Days behind"),
        "received_latest_week": Label("Hồ sơ tiếp nhận tuần gần nhất", "Received in the latest week"),
        "latest_week": Label("Tuần gần nhất", "Latest week"),
        "sent": Label("Có tiếp nhận hồ sơ", "Received dossiers"),
        "silent_week": Label("Không tiếp nhận hồ sơ nào", "Received none"),
        "silent_week_count": Label("{n} đơn vị không tiếp nhận hồ sơ nào trong {p}.", "{n} units received no dossier in {p}."),
        "warnings_by_period": Label("Cảnh báo sớm theo kỳ", "Early warnings by period"),
        "count": Label("Số lượng", "Count"),
        "images": Label("Tải ảnh", "Download image"),
        "report_title": Label("Báo cáo kết quả chỉ số phục vụ người dân, doanh nghiệp",
                              "Report on the public service scoreboard"),
        "report_issuer": Label("BẢNG XẾP HẠNG CẢI CÁCH HÀNH CHÍNH", "ADMINISTRATIVE REFORM SCOREBOARD"),
        "report_nation": Label("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "SOCIALIST REPUBLIC OF VIETNAM"),
        "report_motto": Label("Độc lập - Tự do - Hạnh phúc", "Independence - Freedom - Happiness"),
        "report_bands": Label("Tổng hợp xếp loại (đơn vị được xếp hạng)", "Bands (ranked units)"),
        "report_weak": Label("Điểm yếu phổ biến", "Most common weak points"),
        "report_weak_units": Label("Số đơn vị có điểm yếu lớn nhất ở chỉ tiêu này",
                                   "Units whose largest weak point it is"),
        "report_weak_lost": Label("Điểm bị mất bình quân", "Average points lost"),
        "report_ranking": Label("Bảng xếp hạng", "Ranking"),
        "report_print": Label("In báo cáo", "Print the report"),
        "report_pdf": Label("Tải PDF", "Download PDF"),
        "ranked_units": Label("Số đơn vị được xếp hạng", "Units ranked"),
        "total": Label("Tổng", "Total"),
        "all_periods": Label("Tất cả các kỳ", "All periods"),
        "leader": Label("Dẫn đầu", "Leader"),
        "history_weeks": Label(
            "{n} tuần gần nhất; biểu đồ và trang của từng tuần có các tuần trước",
            "the latest {n} weeks; the chart and each week's page have the earlier ones",
        ),
    }
)


# The evidence behind the late counts (transforms.evidence): its columns and the
# unit page's section.
INSIGHT_COLUMNS.update(
    {
        "class": Label("Loại", "Class"),
        "dossier_id": Label("Mã hồ sơ", "Dossier id"),
        "received_at": Label("Ngày tiếp nhận", "Received"),
        "due_at": Label("Hạn trả", "Due"),
        "end_at": Label("Ngày kết thúc", "Ended"),
        "working_days_late": Label("Số ngày làm việc trễ", "Working days late"),
        "receiving_unit_code": Label("Đơn vị tiếp nhận", "Receiving unit"),
    }
)
UI.update(
    {
        "nav_methodology": Label("Phương pháp", "Methodology"),
        "how_computed": Label("Cách tính", "How it is computed"),
        "evidence_title": Label("Hồ sơ trễ hạn", "Late dossiers"),
        "evidence_heading": Label("Hồ sơ trễ hạn và quá hạn đang xử lý", "Overdue and pending-overdue dossiers"),
        "evidence_summary": Label(
            "{n} hồ sơ: {o} trễ hạn, {p} quá hạn đang xử lý.",
            "{n} dossiers: {o} overdue, {p} pending overdue.",
        ),
        "evidence_none": Label("Không có hồ sơ trễ hạn hay quá hạn trong kỳ.",
                               "No overdue or pending-overdue dossier in the period."),
        "evidence_what_if": Label(
            "Phần “Nếu đúng hạn thêm” tính trên chính các hồ sơ này: bất kỳ k hồ sơ nào trong số đó đúng hạn đều nâng tỷ lệ đúng hạn như nhau.",
            "The what-if above counts exactly these dossiers: any k of them on time would raise the on-time rate alike.",
        ),
        "evidence_note": Label(
            "Số ngày làm việc trễ: các ngày làm việc sau ngày hẹn trả đến hết ngày kết thúc; hồ sơ đang xử lý tính đến hết kỳ. Chỉ có mã hồ sơ và thủ tục, không có thông tin cá nhân.",
            "Working days late: the working days after the due date up to the day it ended; a dossier still open counts to the end of the period. Dossier ids and procedures only, no personal data.",
        ),
        "evidence_show": Label("Xem danh sách hồ sơ", "Show the dossiers"),
        "evidence_filter": Label("Lọc", "Filter"),
        "evidence_filter_hint": Label("Mã hồ sơ, thủ tục, ngày…, có dấu hoặc không dấu",
                                      "Dossier id, procedure, date…, with or without diacritics"),
        "evidence_class": Label("Loại", "Class"),
        "evidence_all_classes": Label("Tất cả", "All"),
        "evidence_shown": Label("Đang hiện", "Shown"),
        "evidence_loading": Label("Đang tải…", "Loading…"),
        "evidence_noscript": Label(
            "Danh sách cần JavaScript; không có JavaScript, hãy tải tệp CSV của kỳ (mọi đơn vị) ở dưới.",
            "The list needs JavaScript; without it, download the period's CSV (every unit) below.",
        ),
        "evidence_more": Label(
            "Bảng hiện {n} hồ sơ đầu tiên phù hợp; lọc thêm để thu hẹp, hoặc tải tệp CSV, Excel để có đủ.",
            "The table shows the first {n} matching dossiers; filter further, or download the CSV or Excel file for all.",
        ),
        "evidence_csv": Label("Các hồ sơ này: CSV (UTF-8)", "These dossiers: CSV (UTF-8)"),
        "evidence_xlsx": Label("Các hồ sơ này: Excel", "These dossiers: Excel"),
    }
)
