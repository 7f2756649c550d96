"""Promised duration: due_at − received_at, in working days, against the unit's usual
for the same procedure (a year shift in the due dates; due dates moved to the day of
receipt).

A dossier's duration deviates when it is further from the usual (the median of the
unit's recent dossiers of that procedure) than the largest of `floor_days`,
`floor_relative` × the usual, and `z` × mad_scale × the MAD. A procedure the unit has
fewer than `min_history` such dossiers of is judged against the catalogue's legal
processing days where the catalogue has it, and only from above (offices often
promise less than the legal time): it deviates beyond `catalogue_ratio` × the legal
days + `floor_days`. Failing both, against its peers: the median of the usuals of
the other units (each with `min_history` dossiers of it, stored or in the files) where
at least `peer_min_units` have one, again only from above, beyond `peer_ratio` × that
+ `floor_days` (a unit's first files, or a first load, a year shift included). A
file's unit drifts when more than `max_share` of its judged dossiers (at least
`min_rows`) deviate."""

from __future__ import annotations

import polars as pl

from quality.drift.common import FILE_UNIT, UNIT_KEY, findings, median_and_mad, no_findings, number, share
from transforms.calendar import working_days_between

CHECK = "batch_promised_duration"
KEY = [*UNIT_KEY, "procedure_code"]
# what a dossier is judged against, in order of precedence (`basis`)
HISTORY, LEGAL, PEERS = 0, 1, 2


def promised_days(frame: pl.DataFrame, calendar: pl.DataFrame) -> pl.DataFrame:
    """Add `days`: the working days from receipt to the due date. Beyond the calendar
    (a due date years away) they are estimated as 5 in 7 calendar days."""
    known = frame.filter(pl.col("received_at").is_not_null() & pl.col("due_at").is_not_null())
    counted = working_days_between(known, "received_at", "due_at", calendar, out="days")
    estimate = ((pl.col("due_at").dt.date() - pl.col("received_at").dt.date()).dt.total_days() * 5 / 7).round(0)
    return counted.with_columns(
        days=pl.coalesce(pl.col("days").cast(pl.Float64), estimate.clip(0, None).cast(pl.Float64))
    )


def usual_durations(history: pl.DataFrame, calendar: pl.DataFrame, min_history: int) -> pl.DataFrame:
    """Per unit and procedure with enough history: the median promised days and their MAD."""
    return _usual(promised_days(history, calendar), min_history)


def _usual(days: pl.DataFrame, min_history: int) -> pl.DataFrame:
    med, mad = median_and_mad(pl.col("days"))
    return (
        days
        .group_by(KEY)
        .agg(n=pl.len(), usual=med, mad=mad)
        .filter(pl.col("n") >= min_history)
        .drop("n")
    )


def peer_procedures(batch: pl.DataFrame, history: pl.DataFrame, catalogue: pl.DataFrame | None,
                    config: dict) -> list[str]:
    """The procedures of the files that some file's unit has too little history of and
    the catalogue does not judge: those its peers judge (whose stored dossiers the
    warehouse is asked for)."""
    cfg = config["drift"]["promised_duration"]
    if cfg["peer_min_units"] is None:
        return []
    known = (pl.col("received_at").is_not_null() & pl.col("due_at").is_not_null())
    enough = history.filter(known).group_by(KEY).len().filter(pl.col("len") >= int(cfg["min_history"]))
    lacking = batch.filter(known).select(KEY).unique().join(enough, on=KEY, how="anti")
    if catalogue is not None and cfg["catalogue_ratio"] is not None:
        lacking = lacking.join(catalogue.select("procedure_code"), on="procedure_code", how="anti")
    return sorted(lacking["procedure_code"].drop_nulls().unique().to_list())


def peer_usuals(pairs: pl.DataFrame, usuals: pl.DataFrame, min_units: int) -> pl.DataFrame:
    """Per (unit, procedure) of `pairs`: `peers`, the median of the other units' usuals
    of the procedure (`usuals`: KEY, usual), where at least `min_units` have one. The
    median of units, not of dossiers: a large unit does not outweigh the others, and a
    minority of units with a wrong file does not move it."""
    others = usuals.select(peer=pl.col("unit_code"), procedure_code="procedure_code", usual="usual")
    return (
        pairs.join(others, on="procedure_code")
        .filter(pl.col("peer") != pl.col("unit_code"))
        .group_by(KEY)
        .agg(peers=pl.col("usual").median(), units=pl.len())
        .filter(pl.col("units") >= min_units)
        .drop("units")
    )


def _references(rows: pl.DataFrame, history: pl.DataFrame, peers: pl.DataFrame,
                calendar: pl.DataFrame, catalogue: pl.DataFrame | None, cfg: dict) -> pl.DataFrame:
    """`rows` with what each is judged against: `usual`/`mad` (the unit's history),
    `legal` (the catalogue's days) and `peers` (the other units' usual)."""
    min_history = int(cfg["min_history"])
    own = usual_durations(history, calendar, min_history)
    rows = rows.join(own, on=KEY, how="left")
    if catalogue is not None and cfg["catalogue_ratio"] is not None:
        legal = catalogue.select("procedure_code", legal=pl.col("processing_days").cast(pl.Float64))
        rows = rows.join(legal, on="procedure_code", how="left")
    else:
        rows = rows.with_columns(legal=pl.lit(None, dtype=pl.Float64))
    pairs = rows.filter(pl.col("usual").is_null() & pl.col("legal").is_null()).select(KEY).unique()
    if cfg["peer_min_units"] is None or pairs.is_empty():
        return rows.with_columns(peers=pl.lit(None, dtype=pl.Float64))
    # a unit's usual from its stored dossiers, else from the files' (a first load)
    stored = pl.concat([own, usual_durations(peers, calendar, min_history).join(own, on=KEY, how="anti")])
    loaded = _usual(rows, min_history).join(stored, on=KEY, how="anti")
    usuals = pl.concat([stored.select(*KEY, "usual"), loaded.select(*KEY, "usual")])
    return rows.join(peer_usuals(pairs, usuals, int(cfg["peer_min_units"])), on=KEY, how="left")


def promised_duration(
    batch: pl.DataFrame,
    history: pl.DataFrame,
    calendar: pl.DataFrame,
    catalogue: pl.DataFrame | None,
    config: dict,
    peers: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Findings (common.FINDING_SCHEMA) for the files' units whose promised durations drift.
    `batch`: the files' rows (source_file, unit, procedure_code, received_at, due_at);
    `history`: the units' recent stored dossiers (the same columns but the file);
    `peers`: other units' recent stored dossiers of the procedures `peer_procedures` names."""
    cfg = config["drift"]["promised_duration"]
    peers = history.clear() if peers is None else peers
    floor_days = float(cfg["floor_days"])
    rows = _references(promised_days(batch, calendar), history, peers, calendar, catalogue, cfg)
    tolerance = pl.max_horizontal(
        pl.lit(floor_days), float(cfg["floor_relative"]) * pl.col("usual"),
        float(cfg["z"]) * float(config["drift"]["mad_scale"]) * pl.col("mad"),
    )

    def beyond(ratio: float | None, reference: str) -> pl.Expr:  # only from above
        return pl.col("days") > float(ratio or 0) * pl.col(reference) + floor_days

    judged = rows.with_columns(
        basis=pl.when(pl.col("usual").is_not_null()).then(HISTORY)
        .when(pl.col("legal").is_not_null()).then(LEGAL)
        .when(pl.col("peers").is_not_null()).then(PEERS),
        usual=pl.coalesce("usual", "legal", "peers"),
        deviates=pl.when(pl.col("usual").is_not_null()).then((pl.col("days") - pl.col("usual")).abs() > tolerance)
        .when(pl.col("legal").is_not_null()).then(beyond(cfg["catalogue_ratio"], "legal"))
        .otherwise(beyond(cfg["peer_ratio"], "peers")),
    ).filter(pl.col("basis").is_not_null())
    per_unit = (
        judged.group_by(FILE_UNIT)
        .agg(
            rows=pl.len(),
            deviating=pl.col("deviates").sum(),
            usual=pl.col("usual").median(),
            observed=pl.col("days").median(),
            # what most of its dossiers were judged against (the first of equals)
            basis=pl.col("basis").mode().min(),
        )
        .filter(
            (pl.col("rows") >= int(config["drift"]["min_rows"]))
            & (pl.col("deviating") > float(cfg["max_share"]) * pl.col("rows"))
        )
        .sort(FILE_UNIT)
    )
    return findings(per_unit, CHECK, lambda r: _reason(r, "vi"), lambda r: _reason(r, "en"))


# per basis: (what the durations are far from, how its figure is said)
_AGAINST = {
    "vi": {HISTORY: ("lệch xa mức thường lệ của đơn vị", "thường lệ"),
           LEGAL: ("vượt xa thời hạn giải quyết theo quy định", "theo quy định"),
           PEERS: ("vượt xa mức thường lệ của các đơn vị khác cho cùng thủ tục", "các đơn vị khác thường")},
    "en": {HISTORY: ("far from the unit's usual", "usually"),
           LEGAL: ("far beyond the legal processing time", "legally"),
           PEERS: ("far beyond other units' usual for the same procedures", "other units usually")},
}


def _reason(r: dict, lang: str) -> str:
    against, figure = _AGAINST[lang][r["basis"]]
    part = share(r["deviating"] / r["rows"], lang)
    count = f"{number(r['deviating'], lang)}/{number(r['rows'], lang)}"
    usual, observed = number(r["usual"], lang), number(r["observed"], lang)
    if lang == "vi":
        return (f"Thời hạn hẹn trả (số ngày làm việc từ ngày tiếp nhận đến ngày hẹn trả) {against} "
                f"ở {part} số hồ sơ ({count}): {figure} {usual} ngày, lô này {observed} ngày (trung vị).")
    return (f"Promised duration (working days from receipt to due date) {against} for {part} of the dossiers "
            f"({count}): {figure} {usual} days, this batch {observed} days (median).")
