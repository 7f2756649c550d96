"""Vietnamese number, date and period formatting for pages.

Pages write `89,2 %`, `1.234,5` and `12/02/2024`; the data files keep the
machine forms (dots, fractions, ISO dates). Rounding is half away from zero on
the decimal form of the float (as DuckDB's `round`, which ranks the scores),
so a score of 89.99999999999999 shows as `90,00` and sits in Xuất sắc.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

from dashboards.i18n import MONTHS_EN, UI

NA = "—"  # shown for a null (not applicable) value

_MONTH_KEY = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK_KEY = re.compile(r"^(\d{4})-W(\d{2})$")


def _decimal(x: float | int | Decimal, digits: int) -> Decimal:
    d = x if isinstance(x, Decimal) else Decimal(repr(x) if isinstance(x, float) else x)
    q = d.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return q.copy_abs() if q.is_zero() else q  # never "-0,0"


def _rounded_digits(x: float | int, digits: int, shift: int = 0) -> tuple[bool, str, str] | None:
    """Sign, whole and fraction digits of x × 10**shift rounded to `digits` decimals,
    half away from zero, on the decimal form of the float (its repr): as
    `_decimal`, by string and integer arithmetic only (pages format millions of
    numbers). None for forms it does not handle (exponents)."""
    r = repr(x)
    if "e" in r or "E" in r or "n" in r:  # 1e-05, inf, nan
        return None
    neg = r.startswith("-")
    whole, _, frac = r.lstrip("-").partition(".")
    if shift:
        frac = frac.ljust(shift, "0")
        whole, frac = whole + frac[:shift], frac[shift:]
    n = int(whole + frac[:digits].ljust(digits, "0"))
    if len(frac) > digits and frac[digits] >= "5":
        n += 1
    text = str(n).rjust(digits + 1, "0")
    if n == 0:
        neg = False  # never "-0,0"
    return neg, (text[:-digits] if digits else text), (text[-digits:] if digits else "")


def _join(neg: bool, whole: str, frac: str) -> str:
    out = f"{int(whole):,}".replace(",", ".")
    if frac:
        out += "," + frac
    return ("-" if neg else "") + out


def fmt_num(x: float | int | None, digits: int = 0, *, na: str = NA) -> str:
    """`fmt_num(1234.5, 1) == "1.234,5"`: dot for thousands, comma for decimals."""
    if type(x) is int:  # counts: most of what pages show
        out = f"{x:,}".replace(",", ".")
        return out + "," + "0" * digits if digits > 0 else out
    if x is None or (isinstance(x, float) and x != x):
        return na
    if isinstance(x, float) and x in (float("inf"), float("-inf")):
        return na
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        parts = _rounded_digits(x, digits)
        if parts is not None:
            return _join(*parts)
    q = _decimal(x, digits)
    sign = "-" if q < 0 else ""
    whole, _, frac = f"{q.copy_abs():f}".partition(".")
    return sign + _join(False, whole, frac.ljust(digits, "0")[:digits] if digits > 0 else "")


def fmt_int(x: int | None, *, na: str = NA) -> str:
    return fmt_num(x, 0, na=na)


def fmt_pct(x: float | None, digits: int = 1, *, na: str = NA) -> str:
    """A fraction as a percentage: `fmt_pct(0.892) == "89,2 %"`."""
    if x is None or (isinstance(x, float) and x != x):
        return na
    parts = _rounded_digits(float(x), digits, shift=2)
    if parts is not None:
        return _join(*parts) + " %"
    return fmt_num(Decimal(repr(float(x))) * 100, digits, na=na) + " %"


def fmt_score(x: float | None, *, na: str = NA) -> str:
    """A score with the 2 decimals it is ranked on."""
    return fmt_num(x, 2, na=na)


def fmt_date(d: dt.date | dt.datetime | str | None, *, na: str = NA) -> str:
    """`dd/mm/yyyy`; accepts a date, a datetime or an ISO date string."""
    if d is None:
        return na
    if isinstance(d, str):
        d = dt.date.fromisoformat(d[:10])
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


def fmt_rank_change(n: int | None) -> str:
    """`▲2` moved up two places, `▼1` down one, `=` unchanged, empty if unknown."""
    if n is None:
        return ""
    if n > 0:
        return f"▲{n}"
    if n < 0:
        return f"▼{-n}"
    return "="


def rank_change_text(n: int | None, lang: str = "vi") -> str:
    """The words behind the arrow, for screen readers and tooltips."""
    if n is None:
        return ""
    if n == 0:
        return UI["same"].get(lang)
    return UI["up" if n > 0 else "down"].get(lang).format(n=abs(n))


def week_bounds(period_key: str) -> tuple[dt.date, dt.date]:
    """First (Monday) and last (Sunday) date of an ISO week key `2024-W07`."""
    m = _WEEK_KEY.match(period_key)
    if not m:
        raise ValueError(f"not a week key: {period_key!r}")
    monday = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
    return monday, monday + dt.timedelta(days=6)


def period_label(period_type: str, period_key: str, lang: str = "vi") -> str:
    """`Tháng 02/2024` / `February 2024`; `Tuần 07/2024 (12/02–18/02/2024)`."""
    if period_type == "month":
        m = _MONTH_KEY.match(period_key)
        if not m:
            raise ValueError(f"not a month key: {period_key!r}")
        year, month = int(m[1]), int(m[2])
        if lang == "en":
            return f"{MONTHS_EN[month - 1]} {year}"
        return f"Tháng {month:02d}/{year}"
    if period_type == "week":
        m = _WEEK_KEY.match(period_key)
        if not m:
            raise ValueError(f"not a week key: {period_key!r}")
        start, end = week_bounds(period_key)
        if start.year == end.year:
            span = f"{start.day:02d}/{start.month:02d}–{fmt_date(end)}"
        else:
            span = f"{fmt_date(start)}–{fmt_date(end)}"
        word = "Week" if lang == "en" else "Tuần"
        return f"{word} {m[2]}/{m[1]} ({span})"
    raise ValueError(f"unknown period type: {period_type!r}")


def period_short_label(period_type: str, period_key: str, lang: str = "vi") -> str:
    """A compact label for navigators: `02/2024`, `Tuần 07/2024` (`Week 07/2024`)."""
    if period_type == "month":
        m = _MONTH_KEY.match(period_key)
        if not m:
            raise ValueError(f"not a month key: {period_key!r}")
        return f"{m[2]}/{m[1]}"
    m = _WEEK_KEY.match(period_key)
    if not m:
        raise ValueError(f"not a week key: {period_key!r}")
    return f"{'Week' if lang == 'en' else 'Tuần'} {m[2]}/{m[1]}"


def strip_diacritics(text: str) -> str:
    """`Phú Xuyên` → `phu xuyen` (lower case, no marks, đ → d), as site.js searches."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return bare.replace("đ", "d").replace("Đ", "D").lower()
