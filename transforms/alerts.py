"""Which units slipped in a closed week or month: the content of an alert digest.

`digest` is pure: scoreboard rows (and the early warnings quality/early_warning.py
computed from them) in, one row per (period, unit, kind) out, with the numbers
that say what happened. Kinds:

* ``band_drop``: the unit's band is lower than in the period of the same type
  just before (ranked in both: a band on a handful of dossiers is noise), its score
  at least ``band_drop_min_points[period_type]`` lower (a slip of a fraction of a point across a
  band's floor is not news);
* ``rank_fall``: its rank in its level fell by at least ``rank_fall[period_type]``
  places (rank_change ≤ −N) and by at least ``rank_fall_share[period_type]`` of the
  units ranked in its level that period: 10 places are a tenth of 100 communes
  but most of 16 departments, and weekly ranks of a level of a hundred move that
  much on noise alone;
* ``early_warning``: a week's early warning (received or on-time rate far from the
  unit's own last weeks), or a month that closed within the band-at-risk margin
  above the floor of the band the unit held the month before, ranked in both (a
  unit that fell below it is a band_drop, not both);
* ``silent``: a unit expected to report in the period (transforms.units.with_expected:
  valid on at least half of its days) that received none in it after at least
  ``silent_min_previous`` in the period before, while at least ``silent_level_share``
  of its level's expected units received some (not a holiday week); a unit that
  ceased to exist is never silent.

Each alert weighs (``severity``) how far it goes past the line that names it: a
rank fall its places over the places it needed (the larger of the two lines); a
band drop the points lost over ``band_drop_min_points[period_type]`` (over 1 point when that is
below 1); a week's early warning its |z| over the quality file's z line for that
indicator; a silent unit and a month's band at risk 1. A digest is in order of
severity: the units by the sum of their alerts' (a collapse trips several rules),
then level and unit code; a unit's alerts by their own, then kind.

An alert about timeliness (an on-time early warning, or a band drop or rank fall
in which the unit's on-time rate fell) carries ``late_procedures``: the unit's
procedures with the most late dossiers in that period (transforms.insights'
bottlenecks table, at most ``LATE_PROCEDURES``), what the office asks the unit about.

Only closed periods (not provisional) have digests: a week in progress would
name different units at every run. Nor has a week the data do not reach
(`with_digest`). The rules and recipients are data
(config/alerts.yaml, and the office's file over it), read by `load_alert_config`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import polars as pl
from quality.early_warning import band_at_risk
from transforms.config_files import (
    BOOL, INT, NUMBER, TEXT, Rule, check, check_complete, is_shipped, merge, read_mapping, shipped,
)
from transforms.periods import index_expr, week_reached
from transforms.profile import Profile
from transforms.units import with_expected

UNIT_KEY = ["unit_code", "unit_valid_from"]
KINDS = ("band_drop", "rank_fall", "early_warning", "silent")

DIGEST_SCHEMA: dict[str, pl.DataType] = {
    "period_type": pl.Utf8(),
    "period_key": pl.Utf8(),
    "previous_key": pl.Utf8(),
    "unit_code": pl.Utf8(),
    "unit_valid_from": pl.Date(),
    "unit_name": pl.Utf8(),
    "level": pl.Utf8(),
    "kind": pl.Utf8(),
    "band_before": pl.Utf8(),
    "band_after": pl.Utf8(),
    "score_before": pl.Float64(),
    "score_after": pl.Float64(),
    "rank_before": pl.Int64(),
    "rank_after": pl.Int64(),
    "received_before": pl.Int64(),
    "received_after": pl.Int64(),
    "indicator": pl.Utf8(),  # early warnings: what moved
    "value": pl.Float64(),
    "baseline": pl.Float64(),
    "message_vi": pl.Utf8(),  # early warnings: quality's own sentence
    "message_en": pl.Utf8(),
    "z": pl.Float64(),  # a week's early warning: how far from the unit's own weeks
    "on_time_before": pl.Float64(),
    "on_time_after": pl.Float64(),
    "severity": pl.Float64(),  # multiples of the line that names the alert (module doc)
    "late_procedures": pl.List(pl.Struct({"procedure_code": pl.Utf8(), "procedure_name": pl.Utf8(),
                                          "late": pl.Int64()})),
}
LATE_PROCEDURES = 3  # an alert about timeliness names at most this many procedures

SHIPPED = "alerts.yaml"  # every setting's default: config/alerts.yaml
# What each setting must be (transforms.config_files.check); the recipients are checked
# by _recipient_list.
RULES: dict[str, Rule] = {
    "site_url": (TEXT, None, None, False),
    "rules.band_drop": (BOOL, None, None, False),
    "rules.band_drop_min_points.week": (NUMBER, 0, None, False),
    "rules.band_drop_min_points.month": (NUMBER, 0, None, False),
    "rules.rank_fall.week": (INT, 1, None, True),
    "rules.rank_fall.month": (INT, 1, None, True),
    "rules.rank_fall_share.week": (NUMBER, 0, 1, True),
    "rules.rank_fall_share.month": (NUMBER, 0, 1, True),
    "rules.early_warning": (BOOL, None, None, False),
    "rules.silent": (BOOL, None, None, False),
    "rules.silent_min_previous.week": (INT, 1, None, False),
    "rules.silent_min_previous.month": (INT, 1, None, False),
    "rules.silent_level_share": (NUMBER, 0, 1, False),
    "lang": (TEXT, None, None, False),
    "max_attempts": (INT, 0, None, False),
    "smtp.host": (TEXT, None, None, False),
    "smtp.port": (INT, 1, 65535, False),
    "smtp.starttls": (BOOL, None, None, False),
    "smtp.ssl": (BOOL, None, None, False),
    "smtp.username": (TEXT, None, None, False),
    "smtp.ca_file": (TEXT, None, None, False),
    "smtp.sender": (TEXT, None, None, False),
    "smtp.timeout_seconds": (NUMBER, 1, None, False),
    "webhook.timeout_seconds": (NUMBER, 1, None, False),
}
RECIPIENTS = ("recipients.city", "recipients.units")
SECRET_WORDS = ("password", "passwd", "secret", "token")


class AlertConfigError(ValueError):
    pass


def _no_secrets(node: Any, where: str, source: str) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if any(word in str(key).lower() for word in SECRET_WORDS) and not str(key).endswith("_env"):
                raise AlertConfigError(
                    f"{source}: {where}{key} looks like a secret; secrets are read from the environment "
                    "(SCOREBOARD_SMTP_PASSWORD, SCOREBOARD_WEBHOOK_TOKEN), never from a file"
                )
            _no_secrets(value, f"{where}{key}.", source)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _no_secrets(value, f"{where}{i}.", source)


def _recipient_list(entries: Any, where: str, source: str, lang: str) -> list[dict]:
    out = []
    for i, entry in enumerate(entries or []):
        if not isinstance(entry, Mapping):
            raise AlertConfigError(f"{source}: {where}[{i}] must be {{email: ...}} or {{webhook: ...}}")
        kinds = [k for k in ("email", "webhook", "webhook_env") if entry.get(k)]
        if len(kinds) != 1:
            raise AlertConfigError(f"{source}: {where}[{i}] needs exactly one of email, webhook, webhook_env")
        r_lang = str(entry.get("lang") or lang)
        if r_lang not in ("vi", "en"):
            raise AlertConfigError(f"{source}: {where}[{i}] lang must be vi or en, not {r_lang!r}")
        kind = kinds[0]
        channel = "email" if kind == "email" else "webhook"
        address = str(entry[kind]).strip() if kind != "webhook_env" else f"env:{str(entry[kind]).strip()}"
        if channel == "email" and "@" not in address:
            raise AlertConfigError(f"{source}: {where}[{i}] {address!r} is not an e-mail address")
        out.append({"channel": channel, "address": address, "lang": r_lang})
    return out


def _unit_code(code: Any, source: str) -> str:
    """A unit code as the registry writes it: YAML reads an unquoted 00004 as the
    number 4 (and 010 as 8), which names no unit; such a key is refused."""
    if not isinstance(code, str) or not code.strip():
        raise AlertConfigError(
            f"{source}: recipients.units: the unit code {code!r} is not text; quote it as the registry writes it "
            f'("00004": YAML reads an unquoted 00004 as the number 4)'
        )
    return code.strip()


def _check(name: str, raw: Mapping) -> None:
    _no_secrets(raw, "", name)
    check(name, raw, RULES, reader="the alerts read", elsewhere=RECIPIENTS, error=AlertConfigError)


def load_alert_config(
    source: Mapping | Path | str | None = None, *, smtp: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The alert settings: the office's file (a path; one that does not exist gives
    nothing) or a mapping over the shipped config/alerts.yaml (None: that file alone),
    with recipients checked. `smtp`: host, port or username that replace the files'
    (the deployment's SCOREBOARD_SMTP_HOST, _PORT, _USER)."""
    base = shipped(SHIPPED)
    _check(SHIPPED, base)
    check_complete(SHIPPED, base, RULES, AlertConfigError)
    name = "<alerts>"
    if isinstance(source, Mapping):
        raw = source
    elif source is None or is_shipped(source, SHIPPED):
        name, raw = SHIPPED, {}
    else:
        path = Path(source)
        name = path.name
        raw = read_mapping(path, "alerts settings", AlertConfigError, name=name) if path.exists() else {}
    _check(name, raw)
    cfg = merge(base, raw)
    if cfg["lang"] not in ("vi", "en"):
        raise AlertConfigError(f"{name}: lang must be vi or en")
    rec = cfg.get("recipients") or {}
    city = _recipient_list(rec.get("city"), "recipients.city", name, cfg["lang"])
    units = {
        _unit_code(code, name): _recipient_list(entries, f"recipients.units.{code}", name, cfg["lang"])
        for code, entries in (rec.get("units") or {}).items()
    }
    cfg["recipients"] = {"city": city, "units": units}
    cfg["smtp"].update({key: value for key, value in (smtp or {}).items() if value})
    port = cfg["smtp"]["port"]  # a file's is checked; the deployment's is text
    try:
        cfg["smtp"]["port"] = int(port)
    except (TypeError, ValueError):
        raise AlertConfigError(f"the SMTP port {port!r} is not a whole number") from None
    return cfg


# --------------------------------------------------------------------------- digest


def _band_order(profile: Profile) -> dict[str, int]:
    """0 for the highest band, 1 for the next ..."""
    return {b.label: i for i, b in enumerate(profile.bands)}


def _with_previous(rows: pl.DataFrame, period_type: str) -> pl.DataFrame:
    """Each unit's row beside its row of the period just before (when listed), with the
    number of units ranked in its level that period (`_ranked_in_level`)."""
    cols = ["period_key", "band", "score", "rank", "received", "ranked", "on_time_rate"]
    indexed = rows.with_columns(
        _idx=index_expr(period_type, "period_start"),
        _ranked_in_level=pl.col("ranked").fill_null(False).sum().over("period_key", "level"),
    )
    prev = indexed.select(*UNIT_KEY, (pl.col("_idx") + 1).alias("_idx"), *[pl.col(c).alias(f"{c}_prev") for c in cols])
    return indexed.join(prev, on=[*UNIT_KEY, "_idx"], how="left")


def _base(frame: pl.DataFrame, kind: str, severity: pl.Expr | float = 1.0) -> pl.DataFrame:
    return frame.select(
        "period_type", "period_key", previous_key="period_key_prev", unit_code="unit_code",
        unit_valid_from="unit_valid_from", unit_name="unit_name", level="level", kind=pl.lit(kind),
        band_before="band_prev", band_after="band", score_before="score_prev", score_after="score",
        rank_before="rank_prev", rank_after="rank", received_before="received_prev", received_after="received",
        on_time_before="on_time_rate_prev", on_time_after="on_time_rate",
        severity=severity if isinstance(severity, pl.Expr) else pl.lit(float(severity)),
    )


def _band_drops(paired: pl.DataFrame, profile: Profile, min_points: float) -> pl.DataFrame:
    """Units ranked in both periods whose band fell and whose score fell at least `min_points`."""
    order = _band_order(profile)
    lower = pl.col("band").replace_strict(order, default=None, return_dtype=pl.Int64) > pl.col(
        "band_prev"
    ).replace_strict(order, default=None, return_dtype=pl.Int64)
    # only a unit ranked in both periods: a band on a handful of dossiers is noise
    both_ranked = pl.col("ranked").fill_null(False) & pl.col("ranked_prev").fill_null(False)
    lost = pl.col("score_prev") - pl.col("score")
    found = paired.filter(lower.fill_null(False) & both_ranked & (lost >= min_points - 1e-9).fill_null(False))
    return _base(found, "band_drop", lost / max(min_points, 1.0))


def _rank_falls(paired: pl.DataFrame, places: int, share: float | None) -> pl.DataFrame:
    """Units that fell at least `places` and at least `share` of the units ranked in their level."""
    fell = -pl.col("rank_change")
    needed = pl.max_horizontal(pl.lit(float(places)), pl.col("_ranked_in_level") * float(share or 0.0))
    found = paired.filter((fell >= needed).fill_null(False))
    return _base(found, "rank_fall", fell / needed)


def digest(
    scoreboard: pl.DataFrame,
    period_type: str,
    period_keys: list[str] | None,
    *,
    profile: Profile,
    rules: Mapping[str, Any],
    units: pl.DataFrame | None,
    latest_event: datetime | None,
    warnings: pl.DataFrame | None = None,
    bottlenecks: pl.DataFrame | None = None,
    z_lines: Mapping[str, Mapping[str, Any]] | None = None,
) -> pl.DataFrame:
    """The digest rows of the periods `period_keys` of `period_type` (None: every
    period in `scoreboard`) that have one (`with_digest`: closed, and a week the
    data, whose latest event is `latest_event`, reach), most serious first (module
    doc). `scoreboard` must also hold each period's predecessor. `units`: the registry
    it was scored with (who was expected to report; None: transforms.units.with_expected's
    open registry).
    `warnings`: quality.early_warning's rows of those weeks (weeks only; a month's
    band-at-risk is computed here). `bottlenecks`: transforms.insights' rows of those
    periods (None: no `late_procedures`). `z_lines`: the quality settings'
    early_warning.indicators (None: the shipped file's), what a warning's z is weighed by."""
    rows = scoreboard.filter(pl.col("period_type") == period_type)
    if rows.height == 0:
        return pl.DataFrame(schema=DIGEST_SCHEMA)
    if "on_time_rate" not in rows.columns:  # a profile without the indicator: no alert is about timeliness
        rows = rows.with_columns(on_time_rate=pl.lit(None, dtype=pl.Float64))
    paired = _with_previous(rows, period_type).filter(with_digest(latest_event))
    if period_keys is not None:
        paired = paired.filter(pl.col("period_key").is_in(list(period_keys)))
    parts = []
    if rules["band_drop"]:
        min_points = (rules.get("band_drop_min_points") or {}).get(period_type) or 0
        parts.append(_band_drops(paired, profile, float(min_points)))
    fall = rules["rank_fall"].get(period_type)
    if fall:
        parts.append(_rank_falls(paired, int(fall), (rules.get("rank_fall_share") or {}).get(period_type)))
    if rules["silent"]:
        parts.append(_silent(paired, units, int(rules["silent_min_previous"][period_type]),
                             float(rules["silent_level_share"])))
    if rules["early_warning"]:
        parts.append(_early(paired, rows, period_type, profile, warnings, z_lines))
    parts = [p for p in parts if p.height]
    if not parts:
        return pl.DataFrame(schema=DIGEST_SCHEMA)
    out = pl.concat(parts, how="diagonal_relaxed")
    for name, dtype in DIGEST_SCHEMA.items():
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=dtype).alias(name))
    return _in_order(with_late_procedures(out, bottlenecks))


def _silent(paired: pl.DataFrame, units: pl.DataFrame | None, min_previous: int, level_share: float) -> pl.DataFrame:
    """Units expected to report that received nothing after at least `min_previous`
    dossiers in the period before (a unit of one or two dossiers a week often has a
    week of none), in a period when at least `level_share` of their level's expected
    units received some: a week of Tết or of the 30/4 holidays, when most units receive
    nothing, names no unit silent."""
    expected = with_expected(paired, units).filter(pl.col("expected"))
    received = pl.col("received").fill_null(0) > 0
    level = ["period_type", "period_key", "level"]
    active = expected.group_by(level).agg(_active=received.mean())
    silent = (~received) & (pl.col("received_prev").fill_null(0) >= min_previous) & (pl.col("_active") >= level_share)
    return _base(expected.join(active, on=level, how="left").filter(silent).drop("_active"), "silent")


def _in_order(out: pl.DataFrame) -> pl.DataFrame:
    """Most serious first: units by the sum of their alerts' severity, then level and
    code; a unit's alerts by severity, then kind (the same rows give the same order)."""
    kind_order = pl.col("kind").replace_strict({k: i for i, k in enumerate(KINDS)}, return_dtype=pl.Int64)
    level_order = pl.col("level").replace_strict({"district": 0, "commune": 1, "department": 2}, default=9,
                                                 return_dtype=pl.Int64)
    # rounded: a weight that differs in the last bit (summation order) must not reorder
    weight = pl.col("severity").fill_null(1.0).round(6)
    unit = pl.sum("_w").over("period_type", "period_key", *UNIT_KEY).round(6)
    return (
        out.with_columns(_k=kind_order, _l=level_order, _w=weight)
        .with_columns(_u=unit)
        .sort("period_type", "period_key", "_u", "_l", "unit_code", "unit_valid_from", "_w", "_k", "indicator",
              descending=[False, False, True, False, False, False, True, False, False], nulls_last=False)
        .select([pl.col(c).cast(t) for c, t in DIGEST_SCHEMA.items()])
    )


def with_late_procedures(rows: pl.DataFrame, bottlenecks: pl.DataFrame | None) -> pl.DataFrame:
    """`rows` with `late_procedures` on its alerts about timeliness: an on-time early
    warning, a band drop or rank fall in which the on-time rate fell; the unit's
    procedures with the most late dossiers in the period (bottlenecks' positions),
    at most LATE_PROCEDURES. Others, and units with no late dossier, get null."""
    empty = pl.lit(None, dtype=DIGEST_SCHEMA["late_procedures"])
    if bottlenecks is None or bottlenecks.is_empty() or rows.is_empty():
        return rows.with_columns(late_procedures=empty)
    keys = ["period_type", "period_key", *UNIT_KEY]
    top = (
        bottlenecks.filter((pl.col("position") <= LATE_PROCEDURES) & (pl.col("late") > 0))
        .sort(*keys, "position")
        .group_by(keys, maintain_order=True)
        .agg(_procs=pl.struct("procedure_code", "procedure_name", "late"))
    )
    timeliness = (pl.col("kind") == "early_warning") & (pl.col("indicator") == "on_time_rate") | pl.col(
        "kind").is_in(["band_drop", "rank_fall"]) & (pl.col("on_time_after") < pl.col("on_time_before"))
    return (
        rows.drop("late_procedures", strict=False)
        .join(top, on=keys, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(late_procedures=pl.when(timeliness.fill_null(False)).then(pl.col("_procs")).otherwise(empty))
        .drop("_procs")
    )


def _early(
    paired: pl.DataFrame,
    rows: pl.DataFrame,
    period_type: str,
    profile: Profile,
    warnings: pl.DataFrame | None,
    z_lines: Mapping[str, Mapping[str, Any]] | None,
) -> pl.DataFrame:
    keys = paired["period_key"].unique().to_list()
    context = paired.select(*UNIT_KEY, "period_key", "period_type", "period_key_prev", "band_prev", "band",
                            "score_prev", "score", "rank_prev", "rank", "received_prev", "received",
                            "on_time_rate_prev", "on_time_rate")
    if period_type == "week":
        if warnings is None or warnings.height == 0:
            return pl.DataFrame()
        found = warnings.filter((pl.col("period_type") == "week") & pl.col("period_key").is_in(keys))
    else:
        months = []
        for key, prev_key in paired.select("period_key", "period_key_prev").unique().drop_nulls().iter_rows():
            months.append(band_at_risk(rows.filter(pl.col("period_key") == key),
                                       rows.filter(pl.col("period_key") == prev_key), profile))
        found = pl.concat(months) if months else pl.DataFrame()
        if found.height:
            # a closed month's band is settled: a unit below the floor fell (a band_drop when
            # ranked in both months; noise when not: a handful of dossiers, or a unit listed only
            # for its late dossiers after it ceased to exist). Only the near misses of units
            # ranked in both months warn.
            both = paired.filter(pl.col("ranked").fill_null(False) & pl.col("ranked_prev").fill_null(False))
            found = found.join(both.select(*UNIT_KEY, "period_key"), on=[*UNIT_KEY, "period_key"], how="semi")
            found = found.filter(pl.col("value") >= pl.col("baseline"))
    if found.height == 0:
        return pl.DataFrame()
    found = found.select(*UNIT_KEY, "period_key", "unit_name", "level", "indicator", "value", "baseline", "z",
                         "kind", "message_vi", "message_en")
    joined = found.join(context, on=[*UNIT_KEY, "period_key"], how="left").with_columns(
        period_type=pl.lit(period_type), _line=_z_line(z_lines))
    # a week's warning: |z| over the line it crossed; a month's band at risk (no z): 1
    severity = (pl.col("z").abs() / pl.col("_line").abs()).fill_nan(None).fill_null(1.0)
    return _base(joined, "early_warning", severity).hstack(
        joined.select("indicator", "value", "baseline", "message_vi", "message_en", "z")
    )


def _z_line(z_lines: Mapping[str, Mapping[str, Any]] | None) -> pl.Expr:
    """The z line each warning crossed (drop_z or spike_z of its indicator)."""
    if z_lines is None:
        from quality.settings import load_quality_config

        z_lines = load_quality_config()["early_warning"]["indicators"]
    line = {f"{ind}:{kind}": s.get(f"{kind}_z") for ind, s in z_lines.items() for kind in ("drop", "spike")}
    line = {k: float(v) for k, v in line.items() if v}
    return pl.concat_str("indicator", pl.lit(":"), "kind").replace_strict(line, default=None,
                                                                          return_dtype=pl.Float64)


def for_recipient(rows: pl.DataFrame, unit_codes: tuple[str, ...] | None) -> pl.DataFrame:
    """The part of a digest a recipient hears: all of it for the city (None), the
    rows of its units for a unit's contact (one listed for several units hears of each)."""
    return rows if unit_codes is None else rows.filter(pl.col("unit_code").is_in(list(unit_codes)))


def with_digest(latest_event: datetime | None) -> pl.Expr:
    """Which scoreboard periods (rows with period_type, period_start, provisional) have a
    digest: the closed ones, and of the weeks only those the data reach, their latest
    event being `latest_event` (transforms.periods.week_reached, the headline's and the
    early warnings' rule). A week that ended after the export was cut holds its first
    days only: its band drops and rank falls would be of those days, and would be sent
    once and for all. It has its digest when the data reach it. Months are not held to
    it, as for the headline: a month is scored only once the data reach into it, and a
    month's data often stop a few days before its end. `latest_event` None (not known):
    no week is held to it."""
    closed = ~pl.col("provisional").fill_null(False)
    if latest_event is None:
        return closed
    return closed & ((pl.col("period_type") != "week") | week_reached("period_start", latest_event))


def latest_closed(scoreboard_periods: pl.DataFrame, latest_event: datetime | None) -> dict[str, str]:
    """period_type -> the latest period key with a digest (`with_digest`), from
    (period_type, period_key, period_start, provisional) rows: what a publication's
    digest is about."""
    closed = scoreboard_periods.filter(with_digest(latest_event))
    out = {}
    for period_type in ("week", "month"):
        part = closed.filter(pl.col("period_type") == period_type).sort("period_start")
        if part.height:
            out[period_type] = part["period_key"][-1]
    return out
