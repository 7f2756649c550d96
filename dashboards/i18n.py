"""Vietnamese-first labels (with English) for every published column and value.

Pages are written in Vietnamese; each label also carries its English text,
which the site's language switch puts in place on the client.
"""

from __future__ import annotations

from typing import NamedTuple

LANGS = ("vi", "en")


class Label(NamedTuple):
    vi: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


# One label per column of SCOREBOARD_COLUMNS (a test checks none is missing).
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
    "on_time_rate": Label("Tỷ lệ đúng hạn", "On-time rate"),
    "online_rate": Label("Tỷ lệ trực tuyến", "Online rate"),
    "paid_online_rate": Label("Tỷ lệ thanh toán trực tuyến", "Online payment rate"),
    "digitized_rate": Label("Tỷ lệ số hóa hồ sơ", "Digitised rate"),
    "e_result_rate": Label("Tỷ lệ trả kết quả điện tử", "E-result rate"),
    "synced_rate": Label("Tỷ lệ đồng bộ", "Synchronised rate"),
    "complaint_rate": Label("Tỷ lệ phản ánh, không hài lòng", "Complaint rate"),
    "satisfaction_rate": Label("Tỷ lệ hài lòng", "Satisfaction rate"),
    "apology_rate": Label("Tỷ lệ xin lỗi khi trễ hạn", "Apology rate"),
    "avg_working_days": Label("Số ngày làm việc bình quân", "Average working days"),
    "points_transparency": Label("Công khai, minh bạch", "Transparency"),
    "points_timeliness": Label("Tiến độ giải quyết", "Timeliness"),
    "points_online": Label("Dịch vụ công trực tuyến", "Online service"),
    "points_payment": Label("Thanh toán trực tuyến", "Online payment"),
    "points_digitization": Label("Số hóa hồ sơ", "Digitisation"),
    "points_satisfaction": Label("Mức độ hài lòng", "Satisfaction"),
    "score": Label("Điểm", "Score"),
    "band": Label("Xếp loại", "Band"),
    "ranked": Label("Được xếp hạng", "Ranked"),
    "rank": Label("Hạng", "Rank"),
    "rank_in_peer": Label("Hạng trong nhóm", "Rank in peer group"),
    "rank_change": Label("Thay đổi hạng", "Rank change"),
    "unit_valid_from": Label("Hiệu lực từ", "Valid from"),
    "provisional": Label("Tạm tính", "Provisional"),
}

# The six groups of the index (scoreboard.md, Points), keyed by their column.
GROUPS: dict[str, Label] = {k: v for k, v in COLUMNS.items() if k.startswith("points_")}
GROUP_MAX_POINTS: dict[str, int] = {
    "points_transparency": 18,
    "points_timeliness": 20,
    "points_online": 12,
    "points_payment": 10,
    "points_digitization": 22,
    "points_satisfaction": 18,
}


class Band(NamedTuple):
    vi: str  # the value published in the `band` column
    en: str
    min_score: float  # on the score rounded to 2 decimals
    css: str  # class suffix: band-<css>
    colour: str  # shown next to the text, never alone


BANDS: tuple[Band, ...] = (
    Band("Xuất sắc", "Excellent", 90.0, "xs", "#1b7a3a"),
    Band("Tốt", "Good", 80.0, "tot", "#5aa832"),
    Band("Khá", "Fair", 70.0, "kha", "#d4a90f"),
    Band("Trung bình", "Average", 50.0, "tb", "#e36d12"),
    Band("Yếu", "Weak", float("-inf"), "yeu", "#c4262e"),
)
BAND_BY_VI: dict[str, Band] = {b.vi: b for b in BANDS}
NO_BAND = Label("Chưa có điểm", "No score")

LEVELS: dict[str, Label] = {
    "district": Label("Cấp huyện", "District"),
    "commune": Label("Cấp xã", "Commune"),
    "department": Label("Sở ngành", "Department"),
}
LEVEL_ORDER: tuple[str, ...] = tuple(LEVELS)

# Peer groups are configuration; the usual ones get a label, others show as is.
PEER_GROUPS: dict[str, Label] = {
    "urban": Label("Đô thị", "Urban"),
    "rural": Label("Nông thôn", "Rural"),
    "mountain": Label("Miền núi", "Mountainous"),
    "mountainous": Label("Miền núi", "Mountainous"),
    "island": Label("Hải đảo", "Island"),
}

PERIOD_TYPES: dict[str, Label] = {
    "month": Label("Tháng", "Month"),
    "week": Label("Tuần", "Week"),
}

QUARANTINE_REASONS: dict[str, Label] = {
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
    "months": Label("Theo tháng", "Monthly"),
    "weeks": Label("Theo tuần", "Weekly"),
    "search": Label("Tìm đơn vị", "Find a unit"),
    "search_hint": Label("Gõ tên hoặc mã, có dấu hoặc không dấu", "Type a name or code, with or without diacritics"),
    "no_match": Label("Không có đơn vị phù hợp", "No matching unit"),
    "provisional_note": Label(
        "Kỳ đang diễn ra: số liệu tạm tính đến thời điểm mới nhất trong dữ liệu.",
        "Period in progress: provisional figures, up to the latest time in the data.",
    ),
    "not_ranked": Label("Chưa xếp hạng", "Not ranked"),
    "not_ranked_note": Label(
        "Đơn vị được xếp hạng khi tiếp nhận + cơ sở tính tiến độ ≥ 10 và có điểm.",
        "A unit is ranked when received + timeliness base ≥ 10 and it has a score.",
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
    "chart_bands": Label("Phân bố xếp loại", "Bands"),
    "chart_trend": Label("Điểm cấp huyện theo tháng", "District scores by month"),
    "chart_count": Label("Số đơn vị", "Units"),
    "chart_month": Label("Tháng", "Month"),
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
    """The label of a column, group, level, band or interface text."""
    for table in (COLUMNS, UI, LEVELS, PERIOD_TYPES, INGESTION_COLUMNS):
        if key in table:
            return table[key].get(lang)
    if key in BAND_BY_VI:
        return BAND_BY_VI[key].en if lang == "en" else key
    return key


def band_label(band: str | None, lang: str = "vi") -> str:
    if band is None:
        return NO_BAND.get(lang)
    b = BAND_BY_VI.get(band)
    return band if b is None else (b.en if lang == "en" else b.vi)


def level_label(level: str, lang: str = "vi") -> str:
    lab = LEVELS.get(level)
    return level if lab is None else lab.get(lang)


def peer_group_label(group: str | None, lang: str = "vi") -> str:
    if group is None:
        return ""
    lab = PEER_GROUPS.get(group)
    return group if lab is None else lab.get(lang)
