"""Revisions of published final periods: the warehouse side of transforms/revisions.

A publication compares every final period it shows with the version of it last
made public (`published_periods`, its rows in `published_scoreboard`), by the rule
of transforms.revisions.period_versions; a revision's causes are the files whose
changes fall in the period (noted at ingestion in `revision_pending`, marked scored
when the period's rows are replaced).

`plan` works this out without writing anything; `commit` records it once the
site built with it is public: at once, or when the office approves the draft
(pipelines/approval.py). A held period keeps its rows, so it is not revised
until it is released; its waiting changes stay unscored meanwhile.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from pipelines import warehouse as wh
from transforms.profile import Profile
from transforms.revisions import (
    CAUSE_SCHEMA, CHANGED, DIGITS, PERIOD, REVISION_SCHEMA, Revisions, compared_periods, period_digests, period_versions,
    own_changes, touched_periods, unit_changes,
)
from transforms.schema import scoreboard_schema


@dataclass
class Plan:
    """What making a build public records (the frames commit_publication takes)."""

    at: datetime
    versions: pl.DataFrame
    rows: pl.DataFrame
    revisions: pl.DataFrame
    causes: pl.DataFrame
    consumed: pl.DataFrame
    schema: dict

    @property
    def digest(self) -> str:
        """What the plan records, as one hash: a draft names it, and approving the draft
        checks that the warehouse still gives the same plan."""
        h = hashlib.sha256()
        for frame in (self.versions, self.revisions, self.causes, self.consumed):
            h.update(frame.write_csv(float_precision=DIGITS).encode() + b"\0")
        return h.hexdigest()[:32]

    @property
    def revised(self) -> list[str]:
        return sorted(self.revisions["period_key"].unique().to_list())


def _final(scoreboard: pl.DataFrame) -> pl.DataFrame:
    return scoreboard.filter(~pl.col("provisional").fill_null(False))


def final_digests(scoreboard: pl.DataFrame) -> pl.DataFrame:
    """The digest of each final period of `scoreboard` (transforms.revisions.period_digests)."""
    return period_digests(_final(scoreboard))


def plan(con, scoreboard: pl.DataFrame, profile: Profile, at: datetime, digests: pl.DataFrame | None = None) -> Plan:
    """The versions, revisions and causes that making `scoreboard` public records
    (`digests`: final_digests of this very `scoreboard`, when made already)."""
    schema = scoreboard_schema(profile)
    final = _final(scoreboard)
    periods = compared_periods(final_digests(scoreboard) if digests is None else digests,
                               wh.scored_fingerprints(con), wh.published_versions(con))
    changed = periods.filter(CHANGED)
    revisions = _unit_revisions(con, final, changed, at)
    versions = period_versions(periods, revisions).select(
        *PERIOD, "version", "digest", groups=pl.lit(",".join(profile.group_keys)),
        config_fingerprint="config_fingerprint", published_at=pl.lit(at, dtype=pl.Datetime("us")),
    ).select(list(wh.PUBLISHED_PERIODS_SCHEMA)).sort(PERIOD)
    rows = final.join(versions.select(*PERIOD, "version"), on=PERIOD, how="inner")
    pending = wh.scored_causes(con)
    revised = versions.join(revisions.select(PERIOD).unique(), on=PERIOD, how="semi")
    causes = (
        pending.join(revised.select(*PERIOD, "version"), on=PERIOD, how="inner")
        .select(list(CAUSE_SCHEMA))
        .sort([*PERIOD, "source_file"])
    )
    # the scored changes of the periods shown are published now, as a revision or as nothing
    consumed = pending.select(PERIOD).unique().join(periods.select(PERIOD), on=PERIOD, how="semi").sort(PERIOD)
    return Plan(at, versions, rows, revisions, causes, consumed, schema)


def _unit_revisions(con, final: pl.DataFrame, changed: pl.DataFrame, at: datetime) -> pl.DataFrame:
    """The units whose numbers moved in each changed period, against its stored version."""
    if changed.height == 0:
        return pl.DataFrame(schema=REVISION_SCHEMA)
    before = wh.published_rows(con, changed.select(*PERIOD, "version"))
    return pl.concat([
        unit_changes(
            before.filter(period_type=period_type, period_key=period_key, version=version),
            final.filter(period_type=period_type, period_key=period_key),
            version=version + 1, at=at,
        )
        for period_type, period_key, version in changed.select(*PERIOD, "version").iter_rows()
    ])


def commit(con, plan: Plan, sign_off: dict | None = None) -> None:
    """Record the plan (and the office's sign-off of its draft): its site is public now.
    A plan that records nothing writes nothing (a warehouse opened read-only publishes)."""
    if sign_off is None and not any(f.height for f in (plan.versions, plan.revisions, plan.consumed)):
        return
    wh.commit_publication(
        con, versions=plan.versions, rows=plan.rows, revisions=plan.revisions, causes=plan.causes,
        consumed=plan.consumed, schema=plan.schema, sign_off=sign_off,
    )


def for_site(con, plan: Plan) -> Revisions:
    """Every revision recorded and those of `plan`, whether each unit's own numbers
    moved (transforms.revisions.own_changes), and the versions they replaced."""
    units, causes = wh.read_revisions(con)
    units, causes = pl.concat([units, plan.revisions]), pl.concat([causes, plan.causes])
    replaced = units.select(*PERIOD, version=pl.col("version") - 1).unique().sort([*PERIOD, "version"])
    earlier = wh.published_rows(con, replaced)
    groups = {
        (t, k, v): tuple(g for g in (groups or "").split(",") if g)
        for t, k, v, groups in wh.published_versions(con).select(*PERIOD, "version", "groups").iter_rows()
    }
    return Revisions(own_changes(units, earlier, _revised_rows(con, plan, units)), causes, earlier, groups)


def _revised_rows(con, plan: Plan, units: pl.DataFrame) -> pl.DataFrame:
    """The rows of the versions the revisions published: as stored, but those `plan`
    makes public (a new version, or one published again) as it will store them."""
    key = [*PERIOD, "version"]
    versions = units.select(key).unique()
    stored = versions.join(plan.versions.select(key), on=key, how="anti")
    ours = plan.rows.join(versions, on=key, how="semi")  # (plan.rows: the versions of plan.versions)
    return pl.concat([wh.published_rows(con, stored), ours], how="diagonal_relaxed")


def note_changes(con, report) -> int:
    """In the ingestion's transaction that stores the changed kept copies (so that a run
    killed after it does not lose them): keep which files changed which dossiers of the
    periods whose final numbers are public (the causes of their next revision). A
    first load changes no published period."""
    if report.changed is None or report.removed is None or report.last_index is None:
        return 0
    return wh.note_pending_changes(con, touched_periods(report.changed, report.removed, report.last_index))
