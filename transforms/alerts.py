"""Which units slipped in a closed week or month: the content of an alert digest.

`digest` is pure: scoreboard rows (and the early warnings quality/early_warning.py
computed from them) in, one row per (period, unit, kind) out, with the numbers
that say what happened. Kinds:

* ``band_drop``: the unit's band is lower than in the period of the same type
  just before (ranked in both: a band on a handful of dossiers is noise);
* ``rank_fall``: its rank in its level fell by at least ``rank_fall[period_type]``
  places (rank_change ≤ −N);
* ``early_warning``: a week's early warning (received or on-time rate far from the
  unit's own last weeks), or a month that closed within the band-at-risk margin
  above the floor of the band the unit held the month before, ranked in both (a
  unit that fell below it is a band_drop, not both);
* ``silent``: the unit received dossiers in the period before and none in this one,
  in which it was expected to report (transforms.units.with_expected: valid on at
  least half of its days); a unit that ceased to exist is never silent.

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
}

SHIPPED = "alerts.yaml"  # every setting's default: config/alerts.yaml
# What each setting must be (transforms.config_files.check); the recipients are checked
# by _recipient_list.
RULES: dict[str, Rule] = {
    "site_url": (TEXT, None, None, False),
    "rules.band_drop": (BOOL, None, None, False),
    "rules.rank_fall.week": (INT, 1, None, True),
    "rules.rank_fall.month": (INT, 1, None, True),
    "rules.early_warning": (BOOL, None, None, False),
    "rules.silent": (BOOL, None, None, False),
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
    """Each unit's row beside its row of the period just before (when listed)."""
    cols = ["period_key", "band", "score", "rank", "received", "ranked"]
    indexed = rows.with_columns(_idx=index_expr(period_type, "period_start"))
    prev = indexed.select(*UNIT_KEY, (pl.col("_idx") + 1).alias("_idx"), *[pl.col(c).alias(f"{c}_prev") for c in cols])
    return indexed.join(prev, on=[*UNIT_KEY, "_idx"], how="left")


def _base(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    return frame.select(
        "period_type", "period_key", previous_key="period_key_prev", unit_code="unit_code",
        unit_valid_from="unit_valid_from", unit_name="unit_name", level="level", kind=pl.lit(kind),
        band_before="band_prev", band_after="band", score_before="score_prev", score_after="score",
        rank_before="rank_prev", rank_after="rank", received_before="received_prev", received_after="received",
    )


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
) -> pl.DataFrame:
    """The digest rows of the periods `period_keys` of `period_type` (None: every
    period in `scoreboard`) that have one (`with_digest`: closed, and a week the
    data, whose latest event is `latest_event`, reach). `scoreboard` must also hold
    each period's predecessor. `units`: the registry it was scored with (who was
    expected to report; None: transforms.units.with_expected's open registry).
    `warnings`: quality.early_warning's rows of those weeks (weeks only; a month's
    band-at-risk is computed here)."""
    rows = scoreboard.filter(pl.col("period_type") == period_type)
    if rows.height == 0:
        return pl.DataFrame(schema=DIGEST_SCHEMA)
    paired = _with_previous(rows, period_type).filter(with_digest(latest_event))
    if period_keys is not None:
        paired = paired.filter(pl.col("period_key").is_in(list(period_keys)))
    parts = []
    if rules["band_drop"]:
        order = _band_order(profile)
        lower = pl.col("band").replace_strict(order, default=None, return_dtype=pl.Int64) > pl.col(
            "band_prev"
        ).replace_strict(order, default=None, return_dtype=pl.Int64)
        # only a unit ranked in both periods: a band on a handful of dossiers is noise
        both_ranked = pl.col("ranked").fill_null(False) & pl.col("ranked_prev").fill_null(False)
        parts.append(_base(paired.filter(lower.fill_null(False) & both_ranked), "band_drop"))
    fall = rules["rank_fall"].get(period_type)
    if fall:
        parts.append(_base(paired.filter(pl.col("rank_change") <= -int(fall)), "rank_fall"))
    if rules["silent"]:
        silent = (pl.col("received").fill_null(0) == 0) & (pl.col("received_prev").fill_null(0) > 0)
        parts.append(_base(with_expected(paired, units).filter(silent & pl.col("expected")), "silent"))
    if rules["early_warning"]:
        parts.append(_early(paired, rows, period_type, profile, warnings))
    parts = [p for p in parts if p.height]
    if not parts:
        return pl.DataFrame(schema=DIGEST_SCHEMA)
    out = pl.concat(parts, how="diagonal_relaxed")
    for name, dtype in DIGEST_SCHEMA.items():
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=dtype).alias(name))
    kind_order = pl.col("kind").replace_strict({k: i for i, k in enumerate(KINDS)}, return_dtype=pl.Int64)
    level_order = pl.col("level").replace_strict({"district": 0, "commune": 1, "department": 2}, default=9,
                                                 return_dtype=pl.Int64)
    return (
        out.with_columns(_k=kind_order, _l=level_order)
        .sort("period_type", "period_key", "_l", "unit_code", "unit_valid_from", "_k", "indicator", nulls_last=False)
        .select([pl.col(c).cast(t) for c, t in DIGEST_SCHEMA.items()])
    )


def _early(
    paired: pl.DataFrame,
    rows: pl.DataFrame,
    period_type: str,
    profile: Profile,
    warnings: pl.DataFrame | None,
) -> pl.DataFrame:
    keys = paired["period_key"].unique().to_list()
    context = paired.select(*UNIT_KEY, "period_key", "period_type", "period_key_prev", "band_prev", "band",
                            "score_prev", "score", "rank_prev", "rank", "received_prev", "received")
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
    found = found.select(*UNIT_KEY, "period_key", "unit_name", "level", "indicator", "value", "baseline",
                         "message_vi", "message_en")
    joined = found.join(context, on=[*UNIT_KEY, "period_key"], how="left")
    return _base(joined.with_columns(period_type=pl.lit(period_type)), "early_warning").hstack(
        joined.select("indicator", "value", "baseline", "message_vi", "message_en")
    )


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
