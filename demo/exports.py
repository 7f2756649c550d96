"""How the demo's exports look: each exporting system's columns, labels and booleans in
its vendor's shape, and the files (CSV as text, XLSX through the project's one writer,
transforms.xlsx). See demo.generate for what is exported."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from transforms.xlsx import Sheet, workbook_bytes

SHAPES = ("csv_vn", "xlsx_report", "csv_dvcqg", "xlsx_plain")
SHAPE_WEIGHTS = (0.33, 0.32, 0.15, 0.20)
SHAPE_FORMAT = {"csv_vn": "csv", "xlsx_report": "xlsx", "csv_dvcqg": "csv", "xlsx_plain": "xlsx"}

CHANNEL_LABELS = {1: "Trực tiếp", 2: "Trực tuyến", 3: "Bưu chính công ích"}
STATUS_LABELS = {
    1: "Mới đăng ký",
    2: "Được tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung",
    6: "Nghĩa vụ tài chính",
    7: "Công dân rút",
    8: "Dừng xử lý",
    9: "Đã xử lý xong",
    10: "Đã trả kết quả",
}
RATING_LABELS = {1: "Không hài lòng", 2: "Không hài lòng", 3: "Bình thường", 4: "Hài lòng", 5: "Hài lòng"}

# Header prefix of a rendered text column written over some cells of a date column (XLSX only).
TEXT_OVER = "\x00over:"


def _bool_expr(c: str, style: str) -> pl.Expr:
    v = pl.col(c)
    if style == "x":
        return pl.when(v == 1).then(pl.lit("x")).otherwise(None)
    if style == "cokhong":
        return pl.when(v == 1).then(pl.lit("Có")).when(v == 0).then(pl.lit("Không")).otherwise(None)
    if style == "num":
        return pl.when(v >= 0).then(v.cast(pl.Int64)).otherwise(None)
    return pl.when(v >= 0).then(v.cast(pl.Utf8)).otherwise(None)


def _date_expr(c: str, how: str, date_only: pl.Expr | None = None) -> pl.Expr:
    v = pl.col(c)
    if how == "native":  # a datetime cell (the XLSX writer gives 00:00 the date format)
        return v
    full, short = ("%Y-%m-%dT%H:%M:%S+07:00", "%Y-%m-%d") if how == "iso" else ("%d/%m/%Y %H:%M", "%d/%m/%Y")
    if date_only is None:
        return v.dt.strftime(full)
    return pl.when(date_only).then(v.dt.strftime(short)).otherwise(v.dt.strftime(full))


def _columns(style: dict) -> list[tuple[str, pl.Expr, str]]:
    """(header, expression, kind) of one exporter's files; kind: text | num | date."""
    shape = style["shape"]
    how = "iso" if shape == "csv_dvcqg" else ("native" if style["native_dates"] else "text")
    bs = style["bool_style"]
    xb = bs  # x marks only where a blank may mean "no" without changing a rate
    ob = "cokhong" if bs == "x" else bs
    num = "num" if shape.startswith("xlsx") else "text"
    fin_header, fin, patches = _finish_column(shape, how)
    synced = _bool_expr("synced", ob)
    if style["never_sync"]:
        synced = pl.lit(None, dtype=pl.Int64 if ob == "num" else pl.Utf8)
    # what every shape writes, under its own headers
    parts = {
        "dkind": "date" if how == "native" else "text",
        "personal": _personal_columns(shape),
        "channel": _code_or_label("channel", CHANNEL_LABELS, style["channel_label"], num),
        "status": _code_or_label("status", STATUS_LABELS, style["status_label"], num),
        "due": _due_expr(how),
        "finished": (fin_header, fin),
        "synced": synced,
        "rating": _rating(style["rating_label"], num),
    }
    if shape == "csv_dvcqg":
        return _dvcqg_columns(parts, how, xb, ob) + patches
    return _office_columns(style, parts, how, xb, ob, num) + patches


def _code_or_label(c: str, labels: dict[int, str], use_label: bool, num: str) -> tuple[pl.Expr, str]:
    if use_label:
        return pl.col(c).replace_strict(labels, default=None, return_dtype=pl.Utf8), "text"
    return (pl.col(c).cast(pl.Int64) if num == "num" else pl.col(c).cast(pl.Utf8)), num


def _rating(use_label: bool, num: str) -> tuple[pl.Expr, str]:
    """The rating as a label (`Hài lòng`) or a number 1-5; blank when none."""
    if use_label:
        return pl.when(pl.col("rating") > 0).then(pl.col("rating").replace_strict(RATING_LABELS, return_dtype=pl.Utf8)), "text"
    return pl.when(pl.col("rating") > 0).then(pl.col("rating").cast(pl.Int64 if num == "num" else pl.Utf8)), num


def _due_expr(how: str) -> pl.Expr:
    due = _date_expr("due_at", how, pl.col("due_date_only"))
    if how == "native":
        due = pl.when(pl.col("due_date_only")).then(due.dt.truncate("1d")).otherwise(due)
    return due


def _finish_column(shape: str, how: str) -> tuple[str, pl.Expr, list[tuple[str, pl.Expr, str]]]:
    """The finishing time's header and expression, with the `bad_date` rows' impossible
    date (31/02); and the patch columns that write it over a native date cell."""
    bad_finish = (
        pl.concat_str(pl.col("received_at").dt.year().cast(pl.Utf8), pl.lit("-02-31T10:15:00+07:00"))
        if how == "iso" else pl.concat_str(pl.lit("31/02/"), pl.col("received_at").dt.year().cast(pl.Utf8), pl.lit(" 10:15"))
    )
    fin_header = "Ngày hoàn thành" if shape == "xlsx_report" else (
        "NgayKetThucXuLy" if shape == "csv_dvcqg" else "Ngày kết thúc xử lý")
    fin = _date_expr("finished_at", how)
    bad_date = pl.col("bad") == "bad_date"
    patches = []
    if how == "native":  # the impossible date is written as text over the date cell
        patches.append((TEXT_OVER + fin_header, pl.when(bad_date).then(bad_finish), "patch"))
    else:
        fin = pl.when(bad_date).then(bad_finish).otherwise(fin)
    return fin_header, fin, patches


def _personal_columns(shape: str) -> list[tuple[str, pl.Expr, str]]:
    """The fake personal columns (the pipeline must drop them)."""
    personal_name = "Chủ hồ sơ" if shape in ("csv_vn", "csv_dvcqg") else "Họ tên người nộp"
    return [(personal_name, pl.col("applicant"), "text"), ("Số CCCD", pl.col("cccd"), "text"),
            ("Số điện thoại", pl.col("phone"), "text"), ("Địa chỉ", pl.col("address"), "text")]


def _dvcqg_columns(parts: dict, how: str, xb: str, ob: str) -> list[tuple[str, pl.Expr, str]]:
    """The national sync's shape: its field names, a few Vietnamese headers."""
    dkind = parts["dkind"]
    fin_header, fin = parts["finished"]
    return [
        ("MaHoSo", pl.col("dossier_id"), "text"),
        ("MaDonVi", pl.col("unit_code"), "text"),
        ("MaTTHC", pl.col("procedure_code"), "text"),
        ("TenTTHC", pl.col("procedure_name"), "text"),
        ("TenLinhVuc", pl.col("field_name"), "text"),
        *parts["personal"],
        ("KenhThucHien", *parts["channel"]),
        ("TrangThaiHoSo", *parts["status"]),
        ("NgayNopHoSo", _date_expr("submitted_at", how), dkind),
        ("NgayTiepNhan", _date_expr("received_at", how), dkind),
        ("NgayHenTra", parts["due"], dkind),
        (fin_header, fin, dkind),
        ("NgayTra", _date_expr("returned_at", how), dkind),
        ("NgayTuChoi", _date_expr("rejected_at", how), dkind),
        ("Số lần bổ sung", pl.col("supplements").cast(pl.Utf8), "text"),
        ("Có phí", _bool_expr("fee", ob), "text"),
        ("DuocThanhToanTrucTuyen", _bool_expr("paid_online", xb), "text"),
        ("HoSoCoThanhPhanSoHoa", _bool_expr("digitized", xb), "text"),
        ("Kết quả điện tử", _bool_expr("e_result", xb), "text"),
        ("Đồng bộ DVCQG", parts["synced"], "text"),
        ("Phiếu xin lỗi", _bool_expr("apology", ob), "text"),
        ("Đánh giá", *parts["rating"]),
        ("PAKN", _bool_expr("complaint", ob), "text"),
    ]


def _office_columns(style: dict, parts: dict, how: str, xb: str, ob: str, num: str) -> list[tuple[str, pl.Expr, str]]:
    """An office system's shape (csv_vn, xlsx_report, xlsx_plain): Vietnamese headers, a
    report's own wording and STT column, the unit by code or by name."""
    shape = style["shape"]
    report = shape == "xlsx_report"
    dkind = parts["dkind"]
    fin_header, fin = parts["finished"]
    bkind = "num" if ob == "num" else "text"
    unit = (("Mã đơn vị", pl.col("unit_code"), "text") if style["unit_col"] == "code"
            else ("Đơn vị tiếp nhận" if shape == "csv_vn" else "Cơ quan tiếp nhận", pl.col("unit_display"), "text"))
    cols = [
        ("Số hồ sơ" if report else "Mã hồ sơ", pl.col("dossier_id"), "text"),
        unit,
        ("Mã thủ tục" if report else "Mã TTHC", pl.col("procedure_code"), "text"),
        ("Tên thủ tục" if report else "Tên TTHC", pl.col("procedure_name"), "text"),
        ("Lĩnh vực", pl.col("field_name"), "text"),
        *parts["personal"],
        ("Hình thức nộp" if report else "Kênh nộp", *parts["channel"]),
        ("Trạng thái", *parts["status"]),
    ]
    if shape != "xlsx_plain":
        cols.append(("Ngày nộp", _date_expr("submitted_at", how), dkind))
    cols += [
        ("Ngày tiếp nhận", _date_expr("received_at", how), dkind),
        ("Ngày hẹn trả", parts["due"], dkind),
        (fin_header, fin, dkind),
        ("Ngày trả kết quả", _date_expr("returned_at", how), dkind),
        ("Ngày từ chối", _date_expr("rejected_at", how), dkind),
        ("Số lần yêu cầu bổ sung" if report else "Số lần bổ sung",
         pl.col("supplements").cast(pl.Int64) if num == "num" else pl.col("supplements").cast(pl.Utf8), num),
        ("Có lệ phí" if report else "Có phí", _bool_expr("fee", ob), bkind),
        ("Thanh toán trực tuyến", _bool_expr("paid_online", xb), bkind),
        ("Số hóa" if report else "Đã số hóa", _bool_expr("digitized", xb), bkind),
        ("Kết quả điện tử", _bool_expr("e_result", xb), bkind),
        ("Đã đồng bộ" if report else "Đồng bộ DVCQG", parts["synced"], bkind),
        ("Xin lỗi" if report else "Phiếu xin lỗi", _bool_expr("apology", ob), bkind),
        ("Mức độ hài lòng" if report else "Đánh giá", *parts["rating"]),
        ("Kiến nghị" if report else "Phản ánh", _bool_expr("complaint", ob), bkind),
    ]
    if report:
        cols.insert(0, ("STT", pl.int_range(1, pl.len() + 1).over("file"), "num"))
    return cols


def _write_csv(path: Path, frame: pl.DataFrame, shape: str) -> None:
    if shape == "csv_dvcqg":
        frame.write_csv(path, separator=";", null_value="", include_bom=False)
    else:
        frame.write_csv(path, separator=",", null_value="", include_bom=True)


def write_files(rows: pl.DataFrame, styles: list[dict], sched: pl.DataFrame,
                out_dir: Path) -> list[tuple[str, str, str, int]]:
    """Every export file: (name, format, shape, data rows)."""
    labels = sched["label"].to_list()
    closing = sched["closing"].to_list()
    snaps = sched["snapshot"].to_list()
    written = []
    for (e,), part in rows.partition_by("exporter", as_dict=True, maintain_order=True).items():
        style = styles[e]
        shape, fmt = style["shape"], SHAPE_FORMAT[style["shape"]]
        sep = {"camel": "_", "spaced": " ", "viet": " - "}[style["name_style"]]
        update = {"camel": "_cap-nhat", "spaced": " cap nhat", "viet": " cập nhật"}[style["name_style"]]
        cols = _columns(style)
        rendered = part.select(pl.col("file"), *[expr.alias(h) for h, expr, _ in cols])
        if fmt == "csv":
            rendered = rendered.select(pl.col("file"), pl.exclude("file").cast(pl.Utf8))
        per_file = rendered.partition_by("file", as_dict=True, maintain_order=True, include_key=False)
        for (f,), frame in per_file.items():
            name = f"{style['base']}{sep}{labels[f]}{update if closing[f] else ''}.{fmt}"
            if fmt == "csv":
                _write_csv(out_dir / name, frame, shape)
            else:
                # Saved at 00:30 local time after the period (UTC in the file).
                created = datetime.combine(snaps[f], datetime.min.time()) - timedelta(hours=7) + timedelta(minutes=30)
                (out_dir / name).write_bytes(workbook_bytes(
                    [_sheet(frame, cols, style)], created=created, title=f"Hồ sơ TTHC {labels[f]}"))
            written.append((name, fmt, shape, frame.height))
    return written


def _sheet(frame: pl.DataFrame, cols: list[tuple[str, pl.Expr, str]], style: dict) -> Sheet:
    """One export as a sheet: a report has a banner above the header and a total under the data."""
    report = style["shape"] == "xlsx_report"
    over = {h[len(TEXT_OVER):]: h for h, _, kind in cols if kind == "patch"}
    return Sheet(
        name="BaoCao" if report else "DanhSachHoSo",
        frame=frame,
        banner=[_banner_name(style), "BÁO CÁO TÌNH HÌNH GIẢI QUYẾT HỒ SƠ"] if report else [],
        footer=["Tổng cộng", frame.height] if report else [],
        text_over=over,
        midnight_as_date=True,
        freeze_header=False,
        autofilter=False,
        widths={h: max(10, min(28, len(h) + 4)) for h, _, _ in cols},
    )


def _banner_name(style: dict) -> str:
    """The office above a report: `UBND QUẬN BA ĐÌNH`, `UBND PHƯỜNG BA ĐÌNH`, a department
    by its own name (`SỞ TƯ PHÁP`)."""
    name = style["name"].upper()
    return name if style["level"] == "department" else f"UBND {name}"
