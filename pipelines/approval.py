"""A publication flow the office controls: draft, review, approve.

`scoreboard run --draft` (or SCOREBOARD_DRAFT=1, ScoreboardSettings.draft, which
the sensors' runs follow too) publishes into the draft site `<site>-draft`
beside the public one, never replacing it; its manifest names the public
manifest it was built beside and the plan of what making it public records
(pipelines/revisions.Plan.digest). No alert digest is sent for a draft.

`scoreboard approve PERIOD --by NAME` makes that draft public, byte for byte:
the draft's files become a new release of the public site (the same atomic
swap as every publication), with a manifest that adds the sign-off (who, when,
which periods, the sha256 of the draft's manifest, and the periods whose
published files the draft changes). The same sign-off is recorded in the
warehouse (`sign_offs`) in the transaction that records the publication's
versions and revisions, and every later manifest lists all sign-offs.

The whole draft becomes public, not the named period alone: a site is one
consistent set of pages (the overview, the unit pages and the downloads show
every period at once), so half of a draft cannot be public. The sign-off names
the periods the office reviewed and lists the other periods the draft changed.

Refused, in one sentence: no draft; a period the draft does not hold; a draft
built before the public site last changed or before the warehouse changed (its
plan no longer matches: approving it would publish numbers that are no longer
the warehouse's). Approving a draft already approved changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from dashboards.cache import STATE_FILE, write_atomic
from dashboards.data_files import manifest_bytes
from dashboards.format import fmt_date
from dashboards.site import seed_site
from pipelines import revisions
from pipelines import warehouse as wh
from transforms.periods import PERIOD_TYPES, key_of, parse_key

MANIFEST = Path("data") / "manifest.json"


class ApprovalError(Exception):
    """A sign-off that cannot be done, said in one sentence."""


def manifest_sha(site: Path) -> str | None:
    path = site / MANIFEST
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def draft_record(public_site: Path, plan: revisions.Plan) -> dict:
    """What a draft's manifest says of its basis: the public manifest beside which it
    was built and the plan making it public records."""
    return {"public_manifest_sha256": manifest_sha(public_site), "plan": plan.digest}


def sign_off_records(con) -> list[dict]:
    """Every sign-off, as manifests list them."""
    return [
        {"periods": r["periods"].split(", "), "signed_by": r["signed_by"], "signed_at": r["signed_at"].isoformat(),
         "draft_manifest_sha256": r["draft_sha256"],
         "changed_periods": [p for p in (r["changed_periods"] or "").split(", ") if p]}
        for r in wh.sign_offs(con).iter_rows(named=True)
    ]


@dataclass
class Approval:
    message: str
    approved: bool  # False: nothing done (already approved)


def _when(text: str) -> str:
    moment = datetime.fromisoformat(text)
    return f"{fmt_date(moment)} {moment:%H:%M}"


def _periods(requested: list[str], manifest: dict, built: str) -> list[str]:
    """The requested periods as keys, each one the draft holds."""
    held = {t: manifest.get("periods", {}).get(t, []) for t in PERIOD_TYPES}
    out = []
    for text in requested:
        try:
            key = key_of(*parse_key(text))
        except ValueError as exc:
            raise ApprovalError(str(exc)) from None
        if key not in held["week"] and key not in held["month"]:
            spans = [f"the {t}s {v[0]} to {v[-1]}" for t, v in held.items() if v]
            raise ApprovalError(f"{key} is not in the draft built {built}"
                                + (f", which holds {' and '.join(spans)}" if spans else ", which holds no period"))
        out.append(key)
    return sorted(set(out))


def changed_periods(draft: Path, public: Path) -> list[str]:
    """The periods whose published scoreboard files differ between the two sites."""
    def files(site: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (site / "data").glob("scoreboard-*.csv")}

    old, new = files(public), files(draft)
    names = sorted(n for n in set(old) | set(new) if old.get(n) != new.get(n))
    return [n[len("scoreboard-"):-len(".csv")] for n in names]


def approve(con, settings, periods: list[str], by: str, now: datetime) -> Approval:
    """Make the draft public with the office's sign-off (module doc)."""
    from pipelines.publication import release

    by = (by or "").strip()
    if not by:
        raise ApprovalError('say who signs the draft off: --by "NAME"')
    draft = settings.draft_site
    path = draft / MANIFEST
    if not path.is_file():
        raise ApprovalError(f"there is no draft in {draft}: build one with `scoreboard run --draft`")
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    manifest = json.loads(raw)
    basis = manifest.get("draft")
    built = _when(manifest["generated_at"])
    if not basis:
        raise ApprovalError(f"the site in {draft} was not built as a draft: build one with `scoreboard run --draft`")
    keys = _periods(periods, manifest, built)
    done = wh.sign_offs(con).filter(pl.col("draft_sha256") == sha)
    if done.height:
        first = done.row(0, named=True)
        return Approval(f"the draft built {built} was already approved by {first['signed_by']} on "
                        f"{_when(first['signed_at'].isoformat())} ({first['periods']}); nothing was changed", False)
    if basis["public_manifest_sha256"] != manifest_sha(settings.site):
        raise ApprovalError(f"the public site has been published again since the draft was built {built}: "
                            "build a new draft with `scoreboard run --draft`")
    profile = settings.profile()
    plan = revisions.plan(con, wh.read_scoreboard(con, profile), profile, datetime.fromisoformat(manifest["generated_at"]))
    if plan.digest != basis["plan"]:
        raise ApprovalError(f"the warehouse has changed since the draft was built {built}: "
                            "build a new draft with `scoreboard run --draft`")
    record = {"periods": keys, "signed_by": by, "signed_at": now.isoformat(), "draft_manifest_sha256": sha,
              "changed_periods": changed_periods(draft, settings.site)}
    public = dict(manifest, approval=record, sign_offs=[*sign_off_records(con), record])

    def build(folder: Path) -> None:
        seed_site(draft, folder)
        write_atomic(folder / MANIFEST, manifest_bytes(public))
        # the manifest is no longer the one its recorded key describes: made again next time
        state = folder / STATE_FILE
        if state.is_file():
            recorded = json.loads(state.read_bytes())
            recorded.get("files", {}).pop(MANIFEST.as_posix(), None)
            write_atomic(state, (json.dumps(recorded, sort_keys=True, indent=0) + "\n").encode())

    site = release(settings.site, build)
    revisions.commit(con, plan, sign_off={
        "draft_sha256": sha, "periods": ", ".join(keys), "signed_by": by, "signed_at": now,
        "changed_periods": ", ".join(record["changed_periods"]),
    })
    changed = record["changed_periods"]
    return Approval(
        f"{', '.join(keys)} approved by {by}: the draft built {built} is public at {site}"
        + (f" (it changes {len(changed)} periods: {', '.join(changed)})" if changed else " (no period's numbers change)"),
        True,
    )
