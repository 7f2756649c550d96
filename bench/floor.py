"""bench/floor.sql with its placeholders filled: the paths of a run, and the scoring
profile's groups, weights, thresholds, bands and minimum volume written as SQL.

The weights come from the profile (no copy of them here); the formulas are this
module's own reading of scoreboard.md, "Points" and "Ranking", not the engine's
code: a linear indicator earns rate × max, a saturating one min(1, rate /
threshold) × max; a group's points are the sum over its indicators whose rate is
known (null when none is), its applicable maximum the sum of their maxima; the score
is 100 × the points earned over the maxima of the indicators that apply.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from transforms.profile import Profile

FLOOR_SQL = Path(__file__).with_name("floor.sql")


def _num(x: float) -> str:
    return repr(float(x))


def _text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _earned(ind) -> str:
    if ind.kind == "linear":
        return f"{ind.rate} * {_num(ind.max_points)}"
    return (
        f"CASE WHEN {ind.rate} IS NOT NULL "
        f"THEN least(1.0, {ind.rate} / {_num(ind.threshold)}) * {_num(ind.max_points)} END"
    )


def _applies(indicators) -> str:
    return " OR ".join(f"{i.rate} IS NOT NULL" for i in indicators)


def _max_if_known(ind) -> str:
    return f"CASE WHEN {ind.rate} IS NOT NULL THEN {_num(ind.max_points)} ELSE 0.0 END"


def profile_sql(profile: Profile) -> dict[str, str]:
    """The profile's placeholders of floor.sql."""
    lines = []
    for g in profile.groups:
        earned = " + ".join(f"coalesce({_earned(i)}, 0.0)" for i in g.indicators)
        maxima = " + ".join(_max_if_known(i) for i in g.indicators)
        lines.append(f"        CASE WHEN {_applies(g.indicators)} THEN {earned} END AS points_{g.key},")
        lines.append(f"        CASE WHEN {_applies(g.indicators)} THEN {maxima} END AS max_points_{g.key},")
    lines.append("        " + " + ".join(_max_if_known(i) for i in profile.indicators) + " AS applicable_max")
    band = "CASE"
    for b in profile.bands:
        condition = "rounded_score IS NOT NULL" if b.min_score is None else f"rounded_score >= {_num(b.min_score)}"
        band += f" WHEN {condition} THEN {_text(b.label)}"
    return {
        "points": "\n".join(lines),
        "earned": " + ".join(f"coalesce(points_{g.key}, 0.0)" for g in profile.groups),
        "min_volume": str(int(profile.min_volume)),
        "band": band + " END",
        "points_columns": ", ".join(f"b.points_{g.key}" for g in profile.groups),
        "max_points_columns": ", ".join(f"b.max_points_{g.key}" for g in profile.groups),
    }


def render(profile: Profile, *, landing: str, registry: str, calendar: str, now: str, out: str) -> str:
    """The floor script for one run."""
    return Template(FLOOR_SQL.read_text(encoding="utf-8")).substitute(
        landing=landing, registry=registry, calendar=calendar, now=now, out=out, **profile_sql(profile)
    )


def statements(sql: str) -> list[str]:
    """The script's statements, in order (comments-only pieces left out)."""
    return [s for s in re.split(r";\s*\n", sql) if re.sub(r"--[^\n]*", "", s).strip()]


# The statement that ends the floor's load: every export read, typed and deduplicated.
LOAD_ENDS_WITH = "CREATE TEMP TABLE dossiers"


def load_statements(sql: str) -> list[str]:
    """The floor's load alone (issue 11's many-files comparison): the registry and
    calendar, every CSV read with its types, one copy kept per dossier."""
    out = []
    for stmt in statements(sql):
        out.append(stmt)
        if re.sub(r"--[^\n]*\n", "", stmt).strip().startswith(LOAD_ENDS_WITH):
            return out
    raise ValueError(f"floor.sql has no statement starting {LOAD_ENDS_WITH!r}")
