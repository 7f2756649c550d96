"""The scoring profile: groups, indicators, formulas, bands and minimum volume, from YAML."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from config import config_path

# The groups the published table has a column for (scoreboard.md, "Published scoreboard").
PUBLISHED_GROUPS = ("transparency", "timeliness", "online", "payment", "digitization", "satisfaction")
RATES = (
    "on_time_rate",
    "online_rate",
    "paid_online_rate",
    "digitized_rate",
    "e_result_rate",
    "synced_rate",
    "complaint_rate",
    "satisfaction_rate",
)
KINDS = ("linear", "saturating")


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Indicator:
    group: str
    rate: str
    kind: str
    max_points: float
    threshold: float | None = None

    def points(self, rate: pl.Expr) -> pl.Expr:
        """Points earned for a rate (null stays null: not applicable)."""
        if self.kind == "linear":
            return rate * self.max_points
        # min_horizontal skips nulls, so keep a null rate null explicitly
        return pl.when(rate.is_not_null()).then(
            pl.min_horizontal(pl.lit(1.0), rate / self.threshold) * self.max_points
        )


@dataclass(frozen=True)
class Band:
    label: str
    label_en: str
    min_score: float | None


@dataclass(frozen=True)
class Profile:
    name: str
    version: str
    min_volume: int
    groups: tuple[tuple[str, str, str], ...]  # (key, label_vi, label_en)
    indicators: tuple[Indicator, ...]
    bands: tuple[Band, ...]
    digest: str

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


def default_profile_path() -> Path:
    return config_path("profiles", "default.yaml")


def load_profile(path: Path | str | None = None) -> Profile:
    path = Path(path) if path else default_profile_path()
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"cannot read the profile file {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(raw_bytes.decode("utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"the profile file {path} is not valid YAML: {exc}") from None
    return parse_profile(raw, source=str(path), digest=hashlib.sha256(raw_bytes).hexdigest()[:12])


def parse_profile(raw: dict, *, source: str = "<profile>", digest: str = "") -> Profile:
    def fail(msg: str) -> ProfileError:
        return ProfileError(f"profile {source}: {msg}")

    if not isinstance(raw, dict):
        raise fail("expected a mapping at the top level")
    groups, indicators = [], []
    for g in raw.get("groups") or []:
        key = g.get("key")
        if key not in PUBLISHED_GROUPS:
            raise fail(f"group {key!r} is not one of {', '.join(PUBLISHED_GROUPS)}")
        groups.append((key, g.get("label_vi", key), g.get("label_en", key)))
        for ind in g.get("indicators") or []:
            rate, kind = ind.get("rate"), ind.get("kind", "linear")
            if rate not in RATES:
                raise fail(f"indicator rate {rate!r} is not one of {', '.join(RATES)}")
            if kind not in KINDS:
                raise fail(f"indicator {rate}: kind {kind!r} is not linear or saturating")
            max_points = float(ind.get("max", 0))
            if max_points <= 0:
                raise fail(f"indicator {rate}: max must be positive")
            threshold = ind.get("threshold")
            if kind == "saturating" and not (threshold and 0 < float(threshold) <= 1):
                raise fail(f"indicator {rate}: a saturating indicator needs 0 < threshold <= 1")
            indicators.append(
                Indicator(key, rate, kind, max_points, float(threshold) if threshold else None)
            )
    if not indicators:
        raise fail("no indicators")
    bands = []
    for b in raw.get("bands") or []:
        bands.append(Band(str(b["label"]), str(b.get("label_en", b["label"])), b.get("min")))
    if not bands or bands[-1].min_score is not None:
        raise fail("bands must end with one that has no minimum (min: null)")
    mins = [b.min_score for b in bands[:-1]]
    if any(m is None for m in mins) or mins != sorted(mins, reverse=True):
        raise fail("band minimums must be given from highest to lowest")
    return Profile(
        name=str(raw.get("name", "custom")),
        version=str(raw.get("version", "")),
        min_volume=int(raw.get("min_volume", 10)),
        groups=tuple(groups),
        indicators=tuple(indicators),
        bands=tuple(bands),
        digest=digest,
    )
