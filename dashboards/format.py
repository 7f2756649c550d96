"""Vietnamese number, date and period formatting: the site's one formatter.

Pages write `89,2 %`, `1.234,5` and `12/02/2024`; the data files keep the
machine forms (dots, fractions, ISO dates). Rounding is half away from zero on
the decimal form of the float. A score is shown as the 2-decimal value it ranks
and bands on (`transforms.score.round_score`, DuckDB's `round`): 89.99999999999999
shows as `90,00` and sits in Xuất sắc, and 77.475 (a double just below 77.475,
which DuckDB rounds down) shows as `77,47`, the score it ranks on, not `77,48`.

Two forms of the same rule: `fmt_*` for one value (a sentence, a heading) and
the expressions `num`, `integer`, `pct`, `signed`, `date` for a whole column
of a table (tests/test_site_format.py holds them equal).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping

import polars as pl

from dashboards.i18n import MONTHS_EN, UI
from transforms.score import ranked_score, round_score

NA = "—"  # shown for a null (not applicable) value
PERCENT = " %"  # after a percentage, `89,2 %` (the charts' number locale too: dashboards.charts)

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
    if x is None or (isinstance(x, float) and (x != x or x in (float("inf"), float("-inf")))):
        return na
    parts = _rounded_digits(float(x), digits, shift=2)
    if parts is not None:
        return _join(*parts) + PERCENT
    return fmt_num(Decimal(repr(float(x))) * 100, digits, na=na) + PERCENT


def fmt_score(x: float | None, *, na: str = NA) -> str:
    """A score with the 2 decimals it is ranked on."""
    return fmt_num(ranked_score(x), 2, na=na)


def date_text(day: pl.Expr) -> pl.Expr:
    """`dd/mm/yyyy` of a Date or Datetime column (fmt_date's, column-wise); null stays null."""
    return day.dt.strftime("%d/%m/%Y")


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


# The word a period's label starts with: capitalised where the label stands alone (a
# heading, a caption, a cell), lower case inside a sentence (`mid`: "Điểm tạm tính
# tháng 08/2025", "in week 07/2024"). An English month is named, and keeps its capital.
_PERIOD_WORDS = {("month", "vi"): "Tháng", ("week", "vi"): "Tuần", ("week", "en"): "Week"}


def _period_word(period_type: str, lang: str, mid: bool) -> str:
    word = _PERIOD_WORDS[(period_type, "en" if lang == "en" else "vi")]
    return word.lower() if mid else word


def period_label(period_type: str, period_key: str, lang: str = "vi", *, mid: bool = False) -> str:
    """`Tháng 02/2024` / `February 2024`; `Tuần 07/2024 (12/02–18/02/2024)`; `mid`: as it
    is written inside a sentence (`tháng 02/2024`, `week 07/2024 (…)`)."""
    if period_type == "month":
        m = _MONTH_KEY.match(period_key)
        if not m:
            raise ValueError(f"not a month key: {period_key!r}")
        year, month = int(m[1]), int(m[2])
        if lang == "en":
            return f"{MONTHS_EN[month - 1]} {year}"
        return f"{_period_word('month', lang, mid)} {month:02d}/{year}"
    if period_type == "week":
        m = _WEEK_KEY.match(period_key)
        if not m:
            raise ValueError(f"not a week key: {period_key!r}")
        start, end = week_bounds(period_key)
        if start.year == end.year:
            span = f"{start.day:02d}/{start.month:02d}–{fmt_date(end)}"
        else:
            span = f"{fmt_date(start)}–{fmt_date(end)}"
        return f"{_period_word('week', lang, mid)} {m[2]}/{m[1]} ({span})"
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
    return f"{_period_word('week', lang, False)} {m[2]}/{m[1]}"


def strip_diacritics(text: str) -> str:
    """`Phú Xuyên` → `phu xuyen` (lower case, no marks, đ → d), as site.js searches."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return bare.replace("đ", "d").replace("Đ", "D").lower()


def signed_text(x: float | None, digits: int = 1) -> str:
    """A gap with its sign: `+6,6`, `-5,0`, `0,0`; `—` for none."""
    if x is None:
        return NA
    s = fmt_num(x, digits)
    return "+" + s if s.strip("0,.") and not s.startswith("-") else s


# --------------------------------------------------------------------------- column-wise
#
# The rule above for whole columns of a table. A value is scaled and rounded in
# floating point, which is exact unless the scaled value lies within 1e-12 of a
# tie (x.5): those few rows, the only ones where the float and its decimal form
# can disagree, are rounded by `_exact_scaled` on the decimal form, like
# `fmt_num`. Thousands are then grouped on the integer's digits. Intermediate
# columns are materialised stage by stage (an expression that reused a
# sub-expression would compute it again for every use).


@dataclass(frozen=True)
class Fmt:
    """How a column is written on pages: `num` (`digits` decimals), `int`, `pct`
    (a fraction as `89,2 %`), `signed` (`+6,6`), `date` (`dd/mm/yyyy`), `score` (the
    2 decimals it ranks on, as `fmt_score`: `SCORE`)."""

    kind: str
    digits: int = 0
    na: str = NA


NUM_KINDS = ("num", "pct", "signed", "score")
SCORE = Fmt("score", 2)
# A rate or share on pages: one decimal, `89,2 %` (scoreboard.md, "Published scoreboard")
PCT = Fmt("pct", 1)


def _exact_scaled(x: float, digits: int, shift: int) -> int:
    """round(x × 10**(digits+shift)) half away from zero, on repr(x) (as `fmt_num`)."""
    d = Decimal(repr(x)).scaleb(digits + shift)
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _grouped(whole: pl.Expr, below_1000: bool = False) -> pl.Expr:
    """A non-negative integer column as `1.234.567` (`below_1000`: known to need no dot)."""
    text = whole.cast(pl.Utf8)
    if below_1000:
        return text
    return text.str.reverse().str.replace_all(r"(\d{3})", "$1.").str.strip_chars_end(".").str.reverse()


def _small(frame: pl.DataFrame, columns: list[str]) -> dict[str, bool]:
    """Per integer column: True when every value is below 1000 in magnitude (no thousands)."""
    if not columns or frame.height == 0:
        return {c: True for c in columns}
    row = frame.select([(pl.col(c).abs().max().fill_null(0) < 1000).alias(c) for c in columns]).row(0)
    return dict(zip(columns, row))


def texts(frame: pl.DataFrame, columns: Mapping[str, tuple[str, Fmt]]) -> pl.DataFrame:
    """`{out: (source column, Fmt)}` → a frame of the formatted text columns, row for row."""
    if not columns:
        return pl.DataFrame()
    unknown = {f.kind for _c, f in columns.values()} - {*NUM_KINDS, "int", "date"}
    if unknown:
        raise ValueError(f"unknown format kinds {sorted(unknown)}")
    if any(f.kind == "score" and f.digits != SCORE.digits for _c, f in columns.values()):
        raise ValueError("a score is written with the 2 decimals it ranks on (SCORE)")
    out_cols: dict[str, pl.Series] = {}
    numeric = {o: (c, f) for o, (c, f) in columns.items() if f.kind in NUM_KINDS}
    if numeric:
        out_cols.update(_numbers(frame, numeric))
    small = _small(frame, sorted({c for c, f in columns.values() if f.kind == "int"}))
    others = frame.select(
        *[
            pl.concat_str(
                pl.when(pl.col(c) < 0).then(pl.lit("-")).otherwise(pl.lit("")), _grouped(pl.col(c).abs(), small[c])
            ).fill_null(f.na).alias(o)
            for o, (c, f) in columns.items() if f.kind == "int"
        ],
        *[date_text(pl.col(c)).fill_null(f.na).alias(o) for o, (c, f) in columns.items() if f.kind == "date"],
    )
    out_cols.update({o: others.get_column(o) for o in others.columns})
    return pl.DataFrame([out_cols[o].alias(o) for o in columns])


def _source(column: str, f: Fmt) -> pl.Expr:
    value = pl.col(column).cast(pl.Float64)
    return round_score(value) if f.kind == "score" else value


def _numbers(frame: pl.DataFrame, columns: Mapping[str, tuple[str, Fmt]]) -> dict[str, pl.Series]:
    scale = {o: 10.0 ** (f.digits + (2 if f.kind == "pct" else 0)) for o, (_c, f) in columns.items()}
    # stage 1: the scaled value, whether it is shown at all, and whether it lies near a tie
    stage = frame.select(
        *[(_source(c, f) * scale[o]).alias(f"y{o}") for o, (c, f) in columns.items()],
        *[_source(c, f).alias(f"x{o}") for o, (c, f) in columns.items()],
    )
    stage = stage.with_columns(
        *[(pl.col(f"y{o}").is_null() | ~pl.col(f"y{o}").is_finite()).alias(f"bad{o}") for o in columns],
        *[
            ((pl.col(f"y{o}").abs() - pl.col(f"y{o}").abs().floor() - 0.5).abs()
             <= 1e-12 * pl.max_horizontal(pl.lit(1.0), pl.col(f"y{o}").abs())).alias(f"tie{o}")
            for o in columns
        ],
    )
    # stage 2: the rounded integer, half away from zero (ties on the decimal form)
    stage = stage.with_columns(
        *[
            pl.when(pl.col(f"bad{o}")).then(None)
            .otherwise(pl.col(f"y{o}").sign() * (pl.col(f"y{o}").abs() + 0.5).floor())
            .cast(pl.Int128, strict=False).alias(f"n{o}")
            for o in columns
        ]
    )
    for o, (_c, f) in columns.items():
        ties = stage.select(pl.arg_where(pl.col(f"tie{o}") & ~pl.col(f"bad{o}"))).to_series()
        if ties.len():
            shift = 2 if f.kind == "pct" else 0
            xs = stage.get_column(f"x{o}").gather(ties).to_list()
            exact = pl.Series([_exact_scaled(x, f.digits, shift) for x in xs], dtype=pl.Int128)
            stage = stage.with_columns(stage.get_column(f"n{o}").scatter(ties, exact))
    # stage 3: digits, thousands, comma, sign
    parts = stage.select(
        *[pl.col(f"bad{o}") for o in columns],
        *[(pl.col(f"n{o}") < 0).alias(f"neg{o}") for o in columns],
        *[(pl.col(f"n{o}").abs() // int(10 ** f.digits)).alias(f"w{o}") for o, (_c, f) in columns.items()],
        *[
            (pl.col(f"n{o}").abs() % int(10 ** f.digits)).cast(pl.Utf8).str.zfill(f.digits).alias(f"f{o}")
            for o, (_c, f) in columns.items()
        ],
    )
    small = _small(parts, [f"w{o}" for o in columns])
    out = {}
    for o, (_c, f) in columns.items():
        text = _grouped(pl.col(f"w{o}"), small[f"w{o}"])
        if f.digits:
            text = pl.concat_str(text, pl.lit(","), pl.col(f"f{o}"))
        sign = pl.when(pl.col(f"neg{o}")).then(pl.lit("-"))
        if f.kind == "signed":
            sign = sign.when(pl.col(f"w{o}").cast(pl.Boolean) | pl.col(f"f{o}").str.contains("[1-9]")).then(pl.lit("+"))
        text = pl.concat_str(sign.otherwise(pl.lit("")), text)
        if f.kind == "pct":
            text = text + pl.lit(PERCENT)
        out[o] = parts.select(pl.when(pl.col(f"bad{o}")).then(pl.lit(f.na)).otherwise(text).alias(o)).to_series()
    return out
