"""Text columns of a read file -> typed canonical columns (dossier-log.md: "Reading files").

Everything here is vectorised Polars: regex extraction plus explicit formats, never
format inference and never month-first. ``normalise`` returns the typed frame and, per
optional field, how many present values could not be read (they became null).

A date that is present but cannot be read (``31/02/2024``) is not a per-field null:
the row gets ``_bad_date = true`` and is quarantined by the ingest step.
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

from transforms.schema import (
    BOOL_FIELDS,
    CANONICAL_FIELDS,
    DATE_FIELDS,
    FREE_TEXT_FIELDS,
    LOCAL_TZ,
    TIMESTAMP,
)

BAD_DATE = "_bad_date"

# A text value longer than this is not a value (a procedure name is a few hundred
# characters; a 50 MB cell is a broken export): it is unreadable, so null and counted
# per field like any other unreadable value. The row itself still loads.
MAX_TEXT_CHARS = 2_000
UNREADABLE = "__unreadable_"
# Personal data in free text (dossier-log.md, "Personal data never enters"): 9 digits
# in a row (a CMND, a CCCD, a phone written whole), a phone written in groups
# (0912 345 678, +84 912.345.678), an e-mail address. A clerk sometimes types the
# applicant's phone or ID into the procedure's or the field's cell: such a value is
# not a procedure's name, so it is withheld like an unreadable one (null, counted per
# field), and the row loads by its code. A name or an address cannot be told from a
# procedure's name by its shape, and is not caught here.
PERSONAL_IN_TEXT = r"\d{9}|(?:\+84|(?:^|\D)0)\d{2,3}[ .]\d{3}[ .]\d{3,4}|[^\s@]+@[^\s@]+\.[^\s@]"

# --------------------------------------------------------------------------- keys


# the combining-mark blocks (Vietnamese tone and vowel marks are in the first), as
# one regex class: far faster than testing each character's category in Python
COMBINING_MARKS = "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
_COMBINING_MARKS = re.compile(COMBINING_MARKS)
_NOT_WORD = re.compile(r"[\W_]+")


def normalise_key(text: str | None) -> str:
    """Header/name key: NFC, diacritics removed (đ -> d), casefolded, runs of
    whitespace/line breaks/punctuation -> one ``_``, no leading/trailing ``_``."""
    if text is None:
        return ""
    s = str(text)
    if not s.isascii():  # (ASCII has no composition, no đ and no marks to remove)
        s = unicodedata.normalize("NFC", s)
        s = s.replace("đ", "d").replace("Đ", "D")
        s = _COMBINING_MARKS.sub("", unicodedata.normalize("NFD", s))
    return _NOT_WORD.sub("_", s.casefold()).strip("_")


def strip_diacritics_expr(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.normalize("NFC")
        .str.replace_all("[đĐ]", "d")
        .str.normalize("NFD")
        .str.replace_all(COMBINING_MARKS, "")
    )


def key_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorised ``normalise_key``."""
    return (
        strip_diacritics_expr(expr)
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", "_")
        .str.strip_chars("_")
    )


_WS = r"[\s\u200b\u200c\u200d\ufeff]"
# The characters of _WS (regex \s is Unicode White_Space), for strip_chars, which
# trims far faster than a regex replace.
_WS_CHARS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u200b\u200c\u200d\ufeff"
)


# a text that clean_text_expr keeps (not empty once trimmed; NFC never makes text
# blank), as one pattern: cheaper than the cleaning where only blankness matters
NOT_BLANK = "[^" + "".join(f"\\x{{{ord(c):x}}}" for c in _WS_CHARS) + "]"


def trimmed_expr(expr: pl.Expr) -> pl.Expr:
    """NFC + trim (clean_text_expr before an empty value becomes null)."""
    return expr.cast(pl.Utf8).str.normalize("NFC").str.strip_chars(_WS_CHARS)


def clean_text_expr(expr: pl.Expr) -> pl.Expr:
    """NFC + trim; empty / whitespace-only -> null."""
    e = trimmed_expr(expr)
    return pl.when(e.str.len_chars() > 0).then(e).otherwise(None)


# -------------------------------------------------------------------------- dates

_TIME = r"(?:[ T,]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<F>\d{1,9}))?)?)?"
_OFF = r"\s*(?P<O>Z|z|[+-]\d{2}(?::?\d{2})?)?"
# Day first: dd/mm/yyyy, dd-mm-yyyy, dd.mm.yyyy (two-digit years read as 20yy).
_DMY = re.compile(
    r"^(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?P<y>\d{4}|\d{2})" + _TIME + _OFF + "$"
)
# ISO year first: yyyy-mm-dd (also / and .), optional time with space or T, offset.
_YMD = re.compile(r"^(?P<y>\d{4})[/.\-](?P<m>\d{1,2})[/.\-](?P<d>\d{1,2})" + _TIME + _OFF + "$")
# Time first, as some one-stop-shop systems print it: "08:30 12/01/2024",
# "08:30, 12/01/2024" (HH:mm, DD/MM/YYYY), with or without seconds.
_TDMY = re.compile(
    r"^(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?[ ,]+"
    r"(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?P<y>\d{4})$"
)
# the text layouts of a date the reader knows (the quarantine keeps such text: transforms.ingest)
DATE_LAYOUTS = (_DMY, _YMD, _TDMY)
# The national sync format's yyyyMMddHHmmss and yyyyMMdd (local time).
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2}))?$")
# Excel serial day numbers (1927..2173), with an optional fraction of a day.
_SERIAL = re.compile(r"^(?P<n>\d{5})(?:[.,](?P<f>\d+))?$")
_EXCEL_EPOCH = pl.datetime(1899, 12, 30)


def _parts(text: pl.Expr, pattern: re.Pattern[str]) -> pl.Expr:
    return text.str.extract_groups(pattern.pattern)


def parse_datetime_expr(text: pl.Expr) -> pl.Expr:
    """Cleaned text -> naive local datetime (schema.TIMESTAMP); null when absent or
    unreadable. Offsets are converted to Asia/Ho_Chi_Minh."""
    dmy = _parts(text, _DMY)
    ymd = _parts(text, _YMD)
    tdmy = _parts(text, _TDMY)
    compact = _parts(text, _COMPACT)
    every = [dmy, ymd, tdmy, compact]

    def field(name: str, sources: list[pl.Expr]) -> pl.Expr:
        return pl.coalesce([s.struct.field(name) for s in sources])

    y = field("y", every)
    y = pl.when(y.str.len_chars() == 2).then(pl.lit("20") + y).otherwise(y)
    m = field("m", every).str.zfill(2)
    d = field("d", every).str.zfill(2)
    hh = field("H", every).fill_null("0").str.zfill(2)
    mi = field("M", every).fill_null("00")
    ss = field("S", every).fill_null("00")
    frac = field("F", [dmy, ymd]).fill_null("0")
    off = field("O", [dmy, ymd])

    stamp = pl.concat_str([y, pl.lit("-"), m, pl.lit("-"), d, pl.lit(" "), hh, pl.lit(":"), mi, pl.lit(":"), ss])
    base = stamp.str.strptime(TIMESTAMP, "%Y-%m-%d %H:%M:%S", strict=False)
    micros = frac.str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64, strict=False).fill_null(0)
    naive = base + pl.duration(microseconds=micros)

    # Offset in minutes east of UTC.
    sign = pl.when(off.str.starts_with("-")).then(-1).otherwise(1)
    digits = off.str.replace_all(r"[^0-9]", "")
    off_min = (
        pl.when(off.str.to_uppercase() == "Z")
        .then(0)
        .otherwise(
            sign
            * (
                digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60
                + digits.str.slice(2, 2).cast(pl.Int64, strict=False).fill_null(0)
            )
        )
    )
    converted = (
        (naive - pl.duration(minutes=off_min))
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(LOCAL_TZ)
        .dt.replace_time_zone(None)
    )
    parsed = pl.when(off.is_null()).then(naive).otherwise(converted)

    # Excel serial numbers that reached us as text.
    serial = text.str.extract_groups(_SERIAL.pattern)
    serial_days = (
        pl.concat_str([serial.struct.field("n"), pl.lit("."), serial.struct.field("f").fill_null("0")])
        .cast(pl.Float64, strict=False)
    )
    serial_dt = _EXCEL_EPOCH + pl.duration(
        microseconds=(serial_days * 86_400_000_000).round(0).cast(pl.Int64, strict=False)
    )
    serial_dt = serial_dt.dt.cast_time_unit("us")
    return pl.coalesce([parsed, pl.when(serial.struct.field("n").is_not_null()).then(serial_dt)]).cast(TIMESTAMP)


# ----------------------------------------------------------------------- booleans

_TRUE = ("1", "true", "yes", "y", "co", "x", "t", "dung", "v", "ok")
_FALSE = ("0", "false", "no", "n", "khong", "f", "sai")
_CHECK_MARKS = "[✓✔☑☒✗✘]"


def _bool_key(text: pl.Expr) -> pl.Expr:
    k = key_expr(text.str.replace_all(_CHECK_MARKS, "x"))
    return k.str.replace(r"^(\d+)_0+$", "${1}")  # Excel's 1.0 -> 1


# Phrases: "Đã số hóa" / "Chưa đồng bộ" / "Có thu phí" / "Miễn phí"; but "chưa rõ",
# "không xác định" are unknown.
_TRUE_PHRASE = r"^(co|da|dung)_"
_FALSE_PHRASE = r"^(khong|chua|mien)_"
_UNKNOWN_PHRASE = r"(^|_)(ro|xac_dinh|biet|co_thong_tin|ap_dung)$"


def parse_bool_expr(text: pl.Expr) -> pl.Expr:
    k = _bool_key(text)
    unknown = k.str.contains(_UNKNOWN_PHRASE)
    return (
        pl.when(k.is_in(_TRUE))
        .then(True)
        .when(k.is_in(_FALSE))
        .then(False)
        .when(unknown)
        .then(None)
        .when(k.str.contains(_FALSE_PHRASE))
        .then(False)
        .when(k.str.contains(_TRUE_PHRASE))
        .then(True)
        .otherwise(None)
        .cast(pl.Boolean)
    )


# ------------------------------------------------------------------------- enums

def _int_text(text: pl.Expr) -> pl.Expr:
    """'10', '10.0', '10,00' -> 10; anything else null."""
    g = text.str.extract(r"^\+?(\d{1,9})(?:[.,]0*)?$", 1)
    return g.cast(pl.Int64, strict=False)


_CHANNEL_WORDS = {
    1: r"truc_tiep|in_person|counter|tai_quay|mot_cua|(^|_)direct",
    2: r"truc_tuyen|online|(^|_)dvc(_|$)|dich_vu_cong|qua_mang|internet|cong_dich_vu|(^|_)web",
    3: r"buu_chinh|buu_dien|postal|(^|_)post(_|$)|bcci",
}


def parse_channel_expr(text: pl.Expr) -> pl.Expr:
    """1/2/3, or a label; when a label names several ("Nộp trực tuyến, trả qua bưu
    chính") the channel named first is the submission channel."""
    k = key_expr(text)
    n = _int_text(text)
    by_number = pl.when(n.is_between(1, 3)).then(n)
    lead = text.str.extract(r"^([123])\s*[-.:)]\s*\S", 1).cast(pl.Int64, strict=False)
    big = 1_000_000
    pos = {c: k.str.find(rx).fill_null(big) for c, rx in _CHANNEL_WORDS.items()}
    first = pl.min_horizontal(list(pos.values()))
    by_label = (
        pl.when(first >= big)
        .then(None)
        .when(pos[1] == first)
        .then(1)
        .when(pos[2] == first)
        .then(2)
        .otherwise(3)
    )
    return pl.coalesce([by_number, lead, by_label]).cast(pl.Int8)


def _by_label(key: pl.Expr, labels: dict, dtype: pl.DataType) -> pl.Expr:
    """Exact label, else the longest multi-word label the value starts with
    ("Đã trả kết quả (đúng hạn)")."""
    exact = key.replace_strict(labels, default=None, return_dtype=dtype)
    long = sorted((lab for lab in labels if "_" in lab), key=len, reverse=True)
    if not long:
        return exact
    head = key.str.extract("^(" + "|".join(long) + ")(?:_|$)", 1)
    return pl.coalesce([exact, head.replace_strict(labels, default=None, return_dtype=dtype)])


STATUS_LABELS: dict[str, int] = {}
for _code, _labels in {
    1: "moi_dang_ky dang_ky_moi moi new da_dang_ky registered",
    2: "duoc_tiep_nhan da_tiep_nhan tiep_nhan accepted received da_duoc_tiep_nhan",
    3: "khong_duoc_tiep_nhan khong_tiep_nhan tu_choi_tiep_nhan refused tu_choi not_accepted",
    4: "dang_xu_ly dang_giai_quyet processing in_progress dang_thu_ly",
    5: "yeu_cau_bo_sung cho_bo_sung bo_sung_ho_so yeu_cau_bo_sung_ho_so more_documents_requested "
    "documents_requested supplement_requested dang_bo_sung",
    6: "nghia_vu_tai_chinh cho_thuc_hien_nghia_vu_tai_chinh thuc_hien_nghia_vu_tai_chinh awaiting_fees "
    "cho_nghia_vu_tai_chinh yeu_cau_thuc_hien_nghia_vu_tai_chinh",
    7: "cong_dan_rut cong_dan_rut_ho_so rut_ho_so da_rut withdrawn to_chuc_cong_dan_rut_ho_so "
    "cong_dan_rut_ho_so_khong_xu_ly cong_dan_yeu_cau_rut_ho_so yeu_cau_rut_ho_so",
    8: "dung_xu_ly da_dung_xu_ly stopped",
    9: "da_xu_ly_xong xu_ly_xong da_giai_quyet_xong da_giai_quyet processing_finished finished "
    "hoan_thanh da_hoan_thanh da_co_ket_qua co_ket_qua",
    10: "da_tra_ket_qua tra_ket_qua result_returned returned da_tra",
}.items():
    for _label in _labels.split():
        STATUS_LABELS[_label] = _code


def parse_status_expr(text: pl.Expr) -> pl.Expr:
    n = _int_text(text)
    by_number = pl.when(n.is_between(1, 10)).then(n)
    lead = text.str.extract(r"^(10|[1-9])\s*[-.:)]\s*\D", 1).cast(pl.Int64, strict=False)
    by_label = _by_label(key_expr(text), STATUS_LABELS, pl.Int64())
    return pl.coalesce([by_number, lead, by_label]).cast(pl.Int8)


RATING_LABELS: dict[str, str] = {}
for _value, _labels in {
    "satisfied": "satisfied very_satisfied hai_long rat_hai_long good tot",
    "neutral": "neutral binh_thuong chap_nhan_duoc trung_binh",
    "dissatisfied": "dissatisfied very_dissatisfied khong_hai_long rat_khong_hai_long chua_hai_long "
    "unsatisfied",
}.items():
    for _label in _labels.split():
        RATING_LABELS[_label] = _value


def parse_rating_expr(text: pl.Expr) -> pl.Expr:
    n = _int_text(text)
    by_number = (
        pl.when(n.is_between(4, 5))
        .then(pl.lit("satisfied"))
        .when(n == 3)
        .then(pl.lit("neutral"))
        .when(n.is_between(1, 2))
        .then(pl.lit("dissatisfied"))
    )
    stars = key_expr(text).str.extract(r"^([1-5])_(sao|diem|stars?)$", 1).cast(pl.Int64, strict=False)
    n = pl.coalesce([n, stars])
    by_number = (
        pl.when(n.is_between(4, 5))
        .then(pl.lit("satisfied"))
        .when(n == 3)
        .then(pl.lit("neutral"))
        .when(n.is_between(1, 2))
        .then(pl.lit("dissatisfied"))
    )
    by_label = _by_label(key_expr(text), RATING_LABELS, pl.Utf8())
    return pl.coalesce([by_number, by_label]).cast(pl.Utf8)


def payment_expr(text: pl.Expr) -> pl.Expr:
    """The national sync's DuocThanhToanTrucTuyen -> struct(fee_required, paid_online)
    (dossier-log.md, Real exports): 1 paid on the national portal and 2 through the
    province's gateway (a fee, paid online), 3 a fee not paid online, 0 not paid
    online (fee unknown). A vendor that writes a yes/no there says only whether it
    was paid online."""
    n = _int_text(text)
    yes_no = parse_bool_expr(text)
    fee = pl.when(n.is_in([1, 2, 3])).then(pl.lit(True))
    paid = pl.when(n.is_in([1, 2])).then(pl.lit(True)).when(n.is_in([0, 3])).then(pl.lit(False)).when(n.is_null()).then(yes_no)
    return pl.struct(fee.cast(pl.Boolean).alias("fee_required"), paid.cast(pl.Boolean).alias("paid_online"))


def procedure_key_expr(name: pl.Expr) -> pl.Expr:
    """The key of a procedure known only by its name (dossier-log.md: keyed by its
    normalised name): the name as headers are normalised, ``Đăng ký khai sinh`` ->
    ``dang_ky_khai_sinh``."""
    k = key_expr(name)
    return pl.when(k.str.len_chars() > 0).then(k)


def parse_count_expr(text: pl.Expr) -> pl.Expr:
    """Non-negative whole number; a decimal comma is accepted (``2,0``)."""
    t = text.str.replace_all(r"\s", "").str.replace(",", ".")
    g = t.str.extract(r"^\+?(\d{1,9})(?:\.0*)?$", 1)
    return g.cast(pl.Int32, strict=False)


# ---------------------------------------------------------------------- normalise
#
# Column by column, on Series. Two vectorised shortcuts keep large files fast:
# enum/boolean/text parsers run on a column's *distinct* values and are mapped back
# (a file has a handful of statuses but 10^5 rows); dates first try a few explicit
# day-first/ISO layouts (cheap strptime) and only the distinct leftovers go through
# the general regex parser. Both give exactly the general parser's result.

_FAST_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%H:%M:%S %d/%m/%Y",
    "%H:%M %d/%m/%Y",
    "%H:%M:%S, %d/%m/%Y",
    "%H:%M, %d/%m/%Y",
)
# Digits only: tried only on values of exactly that many digits (chrono would read
# "2024031" with "%Y%m%d").
_FAST_COMPACT_FORMATS = ((14, "%Y%m%d%H%M%S"), (8, "%Y%m%d"))


def _eval(series: pl.Series, fn, dtype: pl.DataType) -> pl.Series:
    return pl.DataFrame({"__v": series}).select(fn(pl.col("__v")).cast(dtype)).to_series()


def map_distinct(series: pl.Series, fn, dtype: pl.DataType) -> pl.Series:
    """``fn`` (an Expr -> Expr parser) applied to the distinct values, mapped back."""
    distinct = series.drop_nulls().unique()
    if distinct.len() * 2 >= series.len():
        return _eval(series, fn, dtype).alias(series.name)
    mapped = _eval(distinct, fn, dtype)
    return series.replace_strict(distinct, mapped, default=None, return_dtype=dtype).alias(series.name)


def clean_text(series: pl.Series) -> pl.Series:
    """Series version of ``clean_text_expr`` (NFC skipped for pure-ASCII columns)."""
    series = series.cast(pl.Utf8)
    if series.drop_nulls().len() == 0:
        return series
    if not series.str.contains(r"[^\x00-\x7f]").any():
        e = series.str.strip_chars(_WS_CHARS)
        return pl.DataFrame({"v": e}).select(pl.when(pl.col("v").str.len_chars() > 0).then(pl.col("v"))).to_series().alias(series.name)
    return map_distinct(series, clean_text_expr, pl.Utf8())


def parse_datetime(series: pl.Series) -> pl.Series:
    """Cleaned text -> naive local datetimes (same result as ``parse_datetime_expr``)."""
    present = series.drop_nulls()
    if present.len() == 0:
        return pl.Series(series.name, [None] * series.len(), dtype=TIMESTAMP)
    sample = present.head(2000)
    formats = [
        f for f in _FAST_DATE_FORMATS
        if sample.str.strptime(TIMESTAMP, f, strict=False).is_not_null().any()
    ]
    compact = [
        (n, f) for n, f in _FAST_COMPACT_FORMATS if sample.str.contains(rf"^\d{{{n}}}$").any()
    ]
    fast = pl.Series(series.name, [None] * series.len(), dtype=TIMESTAMP)
    if formats or compact:
        frame = pl.DataFrame({"v": series})
        tries = [pl.col("v").str.strptime(TIMESTAMP, f, strict=False) for f in formats] + [
            pl.when(pl.col("v").str.contains(rf"^\d{{{n}}}$")).then(pl.col("v").str.strptime(TIMESTAMP, f, strict=False))
            for n, f in compact
        ]
        got = pl.coalesce(tries)
        # chrono reads "%Y" leniently ("24" -> year 24): such rows take the slow path.
        fast = frame.select(
            pl.when(got.dt.year().is_between(1900, 2200)).then(got).otherwise(None).alias(series.name)
        ).to_series()
    left = series.filter(fast.is_null() & series.is_not_null()).unique()
    if left.len() == 0:
        return fast
    slow = _eval(left, parse_datetime_expr, TIMESTAMP)
    fill = series.replace_strict(left, slow, default=None, return_dtype=TIMESTAMP)
    return fast.fill_null(fill).alias(series.name)


# cell text -> its boolean key, for x_mark_columns: files of one system repeat the
# same few labels, so each is keyed once per process (bounded: cleared when full)
_BOOL_KEYS: dict[str, str | None] = {}
_BOOL_KEYS_MAX = 100_000


def _bool_keys(values: list[str]) -> list[str | None]:
    unseen = [v for v in dict.fromkeys(values) if v not in _BOOL_KEYS]
    if unseen:
        if len(_BOOL_KEYS) + len(unseen) > _BOOL_KEYS_MAX:
            _BOOL_KEYS.clear()
        keys = _eval(pl.Series(unseen, dtype=pl.Utf8), lambda e: _bool_key(clean_text_expr(e)), pl.Utf8())
        _BOOL_KEYS.update(zip(unseen, keys.to_list()))
    return [_BOOL_KEYS[v] for v in values]


# the fields an ``x`` mark can fill (an empty cell then means no)
X_MARK_FIELDS = (*BOOL_FIELDS, "payment_code")


def x_mark_columns(frame: pl.DataFrame) -> list[str]:
    """Boolean columns whose only non-empty values are ``x`` marks."""
    present = [c for c in X_MARK_FIELDS if c in frame.columns]
    if not present:
        return []
    distinct = frame.select([pl.col(c).cast(pl.Utf8).drop_nulls().unique().implode() for c in present]).row(0)
    return marked_columns(dict(zip(present, distinct)))


def marked_columns(distinct: dict[str, list[str]]) -> list[str]:
    """Of columns given by their distinct non-null values, those whose only
    non-empty values are ``x`` marks."""
    marks: list[str] = []
    for c, values in distinct.items():
        keys = {k for k in _bool_keys(values) if k is not None}  # null: an empty cell
        if keys == {"x"}:
            marks.append(c)
    return marks


_PARSERS = {
    "channel": parse_channel_expr,
    "status": parse_status_expr,
    "rating": parse_rating_expr,
    "supplement_count": parse_count_expr,
    **{b: parse_bool_expr for b in BOOL_FIELDS},
}


def _with_payment(frame, columns, x_marks, counts, flag_columns, *, cleaned: bool, flags: bool) -> list[pl.Series]:
    """fee_required and paid_online completed from the payment code where the file
    has no value of its own for them."""
    text = frame.get_column("payment_code").cast(pl.Utf8)
    text = (text if cleaned else clean_text(text)).alias("payment_code")
    if "payment_code" in x_marks:
        text = text.fill_null("0")
    parts = {
        name: map_distinct(text, lambda e, name=name: payment_expr(e).struct.field(name), pl.Boolean())
        for name in ("fee_required", "paid_online")
    }
    unreadable = text.is_not_null() & parts["fee_required"].is_null() & parts["paid_online"].is_null()
    n_bad = int(unreadable.sum())
    if n_bad:
        counts["payment_code"] = n_bad
        if flags:
            flag_columns.append(unreadable.alias(f"{UNREADABLE}payment_code"))
    out = []
    for col in columns:
        if col.name in ("fee_required", "paid_online"):
            col = col.fill_null(parts[col.name])
        out.append(col)
    return out


def _field(
    frame: pl.DataFrame, name: str, dtype: pl.DataType, *, x_marks: list[str], cleaned: bool
) -> tuple[str, pl.Series, pl.Series | None, pl.Series | None]:
    """One canonical field of `frame` typed: (name, values, the rows whose value could not
    be read or None, the rows with a date present but unreadable or None)."""
    if name in frame.columns:
        text = frame.get_column(name).cast(pl.Utf8)
        text = (text if cleaned else clean_text(text)).alias(name)
    else:
        text = pl.Series(name, [None] * frame.height, dtype=pl.Utf8)
    if name in DATE_FIELDS:
        value = parse_datetime(text)
        return name, value.cast(dtype).alias(name), None, text.is_not_null() & value.is_null()
    if name in _PARSERS:
        value = map_distinct(text, _PARSERS[name], dtype)
        if name in x_marks:
            value = value.fill_null(False)
        return name, value.cast(dtype).alias(name), text.is_not_null() & value.is_null(), None
    bad = text.str.len_chars() > MAX_TEXT_CHARS
    if name in FREE_TEXT_FIELDS:
        bad = bad | personal_in_text(text)
    value = text
    if bad.any():
        value = pl.DataFrame({"v": text, "bad": bad}).select(
            pl.when(~pl.col("bad")).then(pl.col("v")).alias(name)
        ).to_series()
    return name, value.cast(dtype).alias(name), bad, None


def personal_in_text(text: pl.Series) -> pl.Series:
    """Whether each value carries a phone, an identity number or an e-mail address
    (PERSONAL_IN_TEXT; null stays null). Matched on the distinct values: a column
    holds a few hundred procedures over a million rows."""
    return map_distinct(text, lambda e: e.str.contains(PERSONAL_IN_TEXT), pl.Boolean()).fill_null(False)


def _each(work, items: list) -> list:
    """`work(item)` for every item, in order, on two threads."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(work, items))


def normalise(
    frame: pl.DataFrame, *, x_marks: list[str] | None = None, flags: bool = False, cleaned: bool = False
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Text -> typed canonical columns (schema.CANONICAL_FIELDS, in order), plus
    ``source_row`` when given and ``_bad_date`` (a date present but unreadable).

    Returns the frame and ``{field: count}`` of present optional values that could
    not be read and became null (dates are not counted: they are ``bad_date``).
    With ``flags``, the frame also has ``__unreadable_<field>`` per row, so that
    counts can be split by file when several files are normalised together.
    ``cleaned``: the text is already clean_text's (as read.read_table gives it)."""
    if x_marks is None:
        x_marks = x_mark_columns(frame)
    height = frame.height
    columns: list[pl.Series] = []
    flag_columns: list[pl.Series] = []
    counts: dict[str, int] = {}
    bad = pl.Series(BAD_DATE, [False] * height, dtype=pl.Boolean)
    # each field on its own (Polars runs without Python's lock: two cores parse two)
    for name, value, unreadable, bad_date in _each(
        lambda field: _field(frame, *field, x_marks=x_marks, cleaned=cleaned), list(CANONICAL_FIELDS.items())
    ):
        if bad_date is not None:
            bad = bad | bad_date
        if unreadable is not None:
            n_bad = int(unreadable.sum())
            if n_bad:
                counts[name] = n_bad
                if flags:
                    flag_columns.append(unreadable.alias(f"{UNREADABLE}{name}"))
        columns.append(value)
    if "payment_code" in frame.columns:
        columns = _with_payment(frame, columns, x_marks, counts, flag_columns, cleaned=cleaned, flags=flags)
    if "source_row" in frame.columns:
        columns.append(frame.get_column("source_row").cast(pl.Int64))
    columns.append(bad.alias(BAD_DATE))
    return pl.DataFrame(columns + flag_columns), counts
