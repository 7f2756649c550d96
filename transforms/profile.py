"""The scoring profile, and the one catalogue of indicators and groups read from it.

A profile (config/profiles/*.yaml) names its groups in the order of the published
columns, each with Vietnamese and English labels and its indicators: a rate the
engine computes, a formula (linear or saturating), maximum points and labels.
Everything that shows or stores a group or an indicator derives from here: the
scoreboard's columns (transforms.schema.scoreboard_schema), the points and the
score (transforms.score), weak points, checks, the published files and the pages.
Adding a group is an edit of the profile, nothing else.

The rates themselves (RATE_CATALOGUE) are the engine's fixed set: each has a
formula over the dossier log in transforms/score.py (what is counted, over which
denominator), which a profile chooses from and weighs but cannot define. Their
default labels are here; a profile may relabel the rates it scores.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from config import config_path

# The profile a deployment uses unless it names another (SCOREBOARD_PROFILE, --profile).
DEFAULT_PROFILE_PATH = config_path("profiles", "default.yaml")

KINDS = ("linear", "saturating")
# a group key becomes part of column names (points_<key>) and of file names
GROUP_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Rate:
    """A rate the engine computes for every unit and period (scoreboard.md)."""

    name: str
    label_vi: str
    label_en: str
    scorable: bool = True  # False: published and shown, never scored (apology_rate)


# Every rate of the published scoreboard, in its column order.
RATE_CATALOGUE: tuple[Rate, ...] = (
    Rate("on_time_rate", "Tỷ lệ đúng hạn", "On-time rate"),
    Rate("online_rate", "Tỷ lệ trực tuyến", "Online rate"),
    Rate("paid_online_rate", "Tỷ lệ thanh toán trực tuyến", "Online payment rate"),
    Rate("digitized_rate", "Tỷ lệ số hóa hồ sơ", "Digitised rate"),
    Rate("e_result_rate", "Tỷ lệ trả kết quả điện tử", "E-result rate"),
    Rate("synced_rate", "Tỷ lệ đồng bộ", "Synchronised rate"),
    Rate("complaint_rate", "Tỷ lệ phản ánh, không hài lòng", "Complaint rate"),
    Rate("satisfaction_rate", "Tỷ lệ hài lòng", "Satisfaction rate"),
    Rate("apology_rate", "Tỷ lệ xin lỗi khi trễ hạn", "Apology rate", scorable=False),
)
RATE_COLUMNS: tuple[str, ...] = tuple(r.name for r in RATE_CATALOGUE)
# the rates a profile may score
RATES: tuple[str, ...] = tuple(r.name for r in RATE_CATALOGUE if r.scorable)
_RATE_BY_NAME = {r.name: r for r in RATE_CATALOGUE}


@dataclass(frozen=True)
class Indicator:
    group: str
    rate: str
    kind: str
    max_points: float
    threshold: float | None = None
    label_vi: str = ""
    label_en: str = ""

    def points(self, rate: pl.Expr) -> pl.Expr:
        """Points earned for a rate (null stays null: not applicable)."""
        if self.kind == "linear":
            return rate * self.max_points
        # min_horizontal skips nulls, so keep a null rate null explicitly
        return pl.when(rate.is_not_null()).then(
            pl.min_horizontal(pl.lit(1.0), rate / self.threshold) * self.max_points
        )


@dataclass(frozen=True)
class Group:
    key: str
    label_vi: str
    label_en: str
    indicators: tuple[Indicator, ...]

    @property
    def max_points(self) -> float:
        """The group's maximum when every indicator applies."""
        return sum(i.max_points for i in self.indicators)

    @property
    def points_column(self) -> str:
        return f"points_{self.key}"

    @property
    def max_points_column(self) -> str:
        """The applicable maximum: the maximum points of the indicators that apply."""
        return f"max_points_{self.key}"


@dataclass(frozen=True)
class Band:
    """A band, as the profile lists them (best first): `label` is the value the
    scoreboard's `band` column publishes; the site shows `label_en` in English."""

    label: str
    label_en: str
    min_score: float | None  # on the score rounded to 2 decimals; None: the last band


@dataclass(frozen=True)
class Profile:
    name: str
    version: str
    min_volume: int
    groups: tuple[Group, ...]  # in the order of the published columns
    bands: tuple[Band, ...]
    digest: str
    title_vi: str = ""
    title_en: str = ""

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for g in self.groups for i in g.indicators)

    @property
    def group_keys(self) -> tuple[str, ...]:
        return tuple(g.key for g in self.groups)

    def group(self, key: str) -> Group:
        for g in self.groups:
            if g.key == key:
                return g
        raise KeyError(key)

    def rate_label(self, rate: str) -> tuple[str, str]:
        """(Vietnamese, English) label of a rate: the profile's, else the catalogue's."""
        for i in self.indicators:
            if i.rate == rate:
                return i.label_vi, i.label_en
        known = _RATE_BY_NAME.get(rate)
        return (known.label_vi, known.label_en) if known else (rate, rate)

    @property
    def max_total(self) -> float:
        return sum(i.max_points for i in self.indicators)

    def band_expr(self, rounded_score: pl.Expr) -> pl.Expr:
        expr = pl.lit(None, dtype=pl.Utf8)
        # build from the lowest band upward so the highest matching band wins
        for band in reversed(self.bands):
            cond = rounded_score.is_not_null()
            if band.min_score is not None:
                cond = cond & (rounded_score >= band.min_score)
            expr = pl.when(cond).then(pl.lit(band.label)).otherwise(expr)
        return expr

    def band_of(self, rounded_score: float | None) -> str | None:
        if rounded_score is None:
            return None
        for band in self.bands:
            if band.min_score is None or rounded_score >= band.min_score:
                return band.label
        return None


def load_profile(path: Path | str) -> Profile:
    """The profile in a YAML file (the deployment names it: SCOREBOARD_PROFILE)."""
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"cannot read the profile file {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(raw_bytes.decode("utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"the profile file {path} is not valid YAML: {exc}") from None
    return parse_profile(raw, source=str(path), digest=hashlib.sha256(raw_bytes).hexdigest()[:12])


def _labels(raw: dict, default_vi: str, default_en: str) -> tuple[str, str]:
    vi = str(raw.get("label_vi") or default_vi)
    return vi, str(raw.get("label_en") or (default_en if not raw.get("label_vi") else vi))


def _indicator(group: str, ind: dict, fail) -> Indicator:
    if not isinstance(ind, dict):
        raise fail(f"group {group}: each indicator must be a mapping")
    rate, kind = ind.get("rate"), ind.get("kind", "linear")
    if rate not in RATES:
        raise fail(f"indicator rate {rate!r} is not one of {', '.join(RATES)}")
    if kind not in KINDS:
        raise fail(f"indicator {rate}: kind {kind!r} is not linear or saturating")
    try:
        max_points = float(ind.get("max", 0))
    except (TypeError, ValueError):
        raise fail(f"indicator {rate}: max {ind.get('max')!r} is not a number") from None
    if max_points <= 0:
        raise fail(f"indicator {rate}: max must be positive")
    threshold = ind.get("threshold")
    try:
        threshold = float(threshold) if threshold else None
    except (TypeError, ValueError):
        raise fail(f"indicator {rate}: threshold {threshold!r} is not a number") from None
    if kind == "saturating" and not (threshold and 0 < threshold <= 1):
        raise fail(f"indicator {rate}: a saturating indicator needs 0 < threshold <= 1")
    known = _RATE_BY_NAME[rate]
    label_vi, label_en = _labels(ind, known.label_vi, known.label_en)
    return Indicator(group, rate, kind, max_points, threshold, label_vi, label_en)


def _group(g: dict, fail) -> Group:
    if not isinstance(g, dict):
        raise fail("each group must be a mapping with a key, labels and indicators")
    key = g.get("key")
    if not isinstance(key, str) or not GROUP_KEY.match(key):
        raise fail(
            f"group key {key!r} must be lower-case letters, digits and _ (it names the column points_<key>)"
        )
    indicators = tuple(_indicator(key, ind, fail) for ind in g.get("indicators") or [])
    if not indicators:
        raise fail(f"group {key} has no indicators")
    label_vi, label_en = _labels(g, key, key)
    return Group(key, label_vi, label_en, indicators)


def _number(value) -> bool:
    """A YAML number (not a boolean, not a quoted string)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value) -> bool:
    """A label YAML may give: a text, or a number written as one."""
    return (isinstance(value, str) or _number(value)) and str(value).strip() != ""


def _bands(raw, fail) -> tuple[Band, ...]:
    """The bands, highest first; an error names the band by its position and label."""
    if not isinstance(raw, list) or not raw:
        raise fail("bands must be a list, highest first, ending with one that has no minimum (min: null)")
    bands: list[Band] = []
    for n, b in enumerate(raw, 1):
        if not isinstance(b, dict):
            raise fail(f"band {n} must be a mapping with a label and a min")
        label, label_en, low = b.get("label"), b.get("label_en"), b.get("min")
        name = f"band {n} ({label})" if _text(label) else f"band {n}"
        if not _text(label):
            raise fail(f"{name} has no label (label: the value the band column publishes)")
        if label_en not in (None, "") and not _text(label_en):
            raise fail(f"{name}: label_en {label_en!r} is not a text")
        if low is not None and not _number(low):
            raise fail(f"{name}: min {low!r} is not a number (a score from 0 to 100, or null for the last band)")
        if any(str(label) == x.label for x in bands):
            raise fail(f"{name} is given twice")
        # a float, whether YAML read "50" or "50.5": the bands' floors are one column
        floor = None if low is None else float(low)
        bands.append(Band(str(label), str(label_en) if label_en not in (None, "") else str(label), floor))
    *upper, last = bands
    if last.min_score is not None:
        raise fail(f"band {len(bands)} ({last.label}), the last, must have no minimum (min: null)")
    for n, b in enumerate(upper, 1):
        if b.min_score is None:
            raise fail(f"band {n} ({b.label}) has no minimum: only the last band may have min: null")
        if n > 1 and b.min_score > upper[n - 2].min_score:
            raise fail(f"band {n} ({b.label}): its min {b.min_score:g} is above the min of the band before it "
                       f"({upper[n - 2].min_score:g}); bands go from the highest to the lowest")
    return tuple(bands)


def _min_volume(value, fail) -> int:
    if not _number(value) or value != int(value) or value < 0:
        raise fail(f"min_volume {value!r} is not a whole number of dossiers (0 or more)")
    return int(value)


def parse_profile(raw: dict, *, source: str = "<profile>", digest: str = "") -> Profile:
    def fail(msg: str) -> ProfileError:
        return ProfileError(f"profile {source}: {msg}")

    if not isinstance(raw, dict):
        raise fail("expected a mapping at the top level")
    groups = tuple(_group(g, fail) for g in raw.get("groups") or [])
    if not groups:
        raise fail("no groups (each with indicators)")
    keys = [g.key for g in groups]
    if len(set(keys)) != len(keys):
        raise fail(f"group {sorted(k for k in keys if keys.count(k) > 1)[0]} is given twice")
    rates = [i.rate for g in groups for i in g.indicators]
    if len(set(rates)) != len(rates):
        raise fail(f"the rate {sorted(r for r in rates if rates.count(r) > 1)[0]} is scored twice")
    bands = _bands(raw.get("bands"), fail)
    return Profile(
        name=str(raw.get("name", "custom")),
        version=str(raw.get("version", "")),
        min_volume=_min_volume(raw.get("min_volume", 10), fail),
        groups=groups,
        bands=bands,
        digest=digest,
        title_vi=str(raw.get("title_vi") or ""),
        title_en=str(raw.get("title_en") or ""),
    )
