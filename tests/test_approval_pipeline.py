"""The publication flow the office controls (pipelines/approval.py), through the CLI
on real files and a real DuckDB file: `scoreboard run --draft` builds a draft beside
the public site and leaves the public site alone; `scoreboard approve PERIOD --by
NAME` makes the draft public byte for byte and records the sign-off in the manifest
and the warehouse; a run without --draft publishes at once."""

from __future__ import annotations

import hashlib
import json
import shutil

import polars as pl
import pytest

from tests.test_revisions_pipeline import (
    LATER, PHUC_XA, cli, files, late_file, manifest, query, revisions_csv,
)

SIGNED = "2026-11-24T10:30:00"
BY = "Nguyễn Thị Lan"


@pytest.fixture(scope="module")
def drafted(tmp_path_factory):
    """The worked example published at once on 22/11/2026; on 23/11 the late January
    file arrives and the run is a draft."""
    root = tmp_path_factory.mktemp("drafted")
    return root, late_file(root, "--draft")


@pytest.fixture
def copy(drafted, tmp_path):
    """A copy of the drafted state a test may change."""
    root, public = drafted
    shutil.copytree(root, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy", public


def test_without_draft_a_run_publishes_at_once(drafted):
    root, public = drafted
    assert "data/scoreboard-2024-01.csv" in public
    first = json.loads(public["data/manifest.json"])
    assert "draft" not in first and first["sign_offs"] == []
    # what it published is recorded as public: January's first final version
    assert ("month", "2024-01", 1) in query(root, "SELECT period_type, period_key, version FROM published_periods")


def test_a_draft_leaves_the_public_site_and_the_published_versions_alone(drafted):
    root, public = drafted
    assert files(root / "site", manifest=True) == public
    draft = root / "site-draft"
    built = files(draft)
    assert built["data/scoreboard-2024-01.csv"] != public["data/scoreboard-2024-01.csv"]
    january = revisions_csv(draft).filter((pl.col("period_key") == "2024-01") & (pl.col("unit_code") == "00001"))
    assert float(january["score_after"][0]) == pytest.approx(PHUC_XA, rel=1e-12)
    basis = manifest(draft)["draft"]
    assert basis["public_manifest_sha256"] == hashlib.sha256(public["data/manifest.json"]).hexdigest()
    # nothing is public yet: no revision, no second version, no sign-off
    assert query(root, "SELECT max(version) FROM published_periods") == [(1,)]
    assert query(root, "SELECT count(*) FROM revisions") == [(0,)]
    assert query(root, "SELECT count(*) FROM sign_offs") == [(0,)]


def test_approving_makes_the_draft_public_and_records_the_sign_off(copy, monkeypatch, capsys):
    root, public = copy
    draft = files(root / "site-draft")
    draft_sha = hashlib.sha256((root / "site-draft" / "data" / "manifest.json").read_bytes()).hexdigest()
    assert cli(root, SIGNED, monkeypatch, "approve", "2024-01", "--by", BY) == 0
    said = capsys.readouterr().out
    assert f"2024-01 approved by {BY}" in said and "2024-01, 2024-W03, 2024-W04" in said
    assert files(root / "site") == draft  # byte for byte
    record = {"periods": ["2024-01"], "signed_by": BY, "signed_at": SIGNED, "draft_manifest_sha256": draft_sha,
              "changed_periods": ["2024-01", "2024-W03", "2024-W04"]}
    m = manifest(root / "site")
    assert m["approval"] == record and m["sign_offs"] == [record]
    assert query(root, "SELECT periods, signed_by, signed_at::VARCHAR, changed_periods FROM sign_offs") == [
        ("2024-01", BY, "2026-11-24 10:30:00", "2024-01, 2024-W03, 2024-W04")]
    # the revision is public now: recorded, January's second version
    versions = "SELECT list(version ORDER BY version) FROM published_periods WHERE period_key = '2024-01'"
    assert query(root, versions) == [([1, 2],)]
    assert query(root, "SELECT count(*), min(revised_at)::VARCHAR FROM revisions WHERE period_key = '2024-01'") == [
        (3, LATER.replace("T", " "))]

    # approving the same draft again changes nothing
    after = files(root / "site", manifest=True)
    assert cli(root, "2026-11-24T11:00:00", monkeypatch, "approve", "2024-01", "--by", "Trần Văn B") == 0
    assert "already approved by " + BY in capsys.readouterr().out
    assert files(root / "site", manifest=True) == after
    # a later run on the same data publishes the same numbers, revises nothing, and the
    # manifest keeps the sign-off
    revised = query(root, "SELECT count(*) FROM revisions")
    assert cli(root, "2026-11-25T09:00:00", monkeypatch, "run") == 0
    assert files(root / "site") == draft
    assert manifest(root / "site")["sign_offs"] == [record] and "approval" not in manifest(root / "site")
    assert query(root, "SELECT count(*) FROM revisions") == revised


@pytest.mark.parametrize("args, error", [
    (["2023-12"], "scoreboard: 2023-12 is not in the draft built 23/11/2026 09:00, which holds the weeks "
                  "2024-W01 to 2024-W09 and the months 2024-01 to 2024-02"),
    (["2024-01", "--by", " "], 'scoreboard: say who signs the draft off: --by "NAME"'),
])
def test_a_sign_off_that_cannot_be_done_is_one_sentence(copy, monkeypatch, capsys, args, error):
    root, public = copy
    if "--by" not in args:
        args = [*args, "--by", BY]
    assert cli(root, SIGNED, monkeypatch, "approve", *args) == 1
    assert capsys.readouterr().err.strip() == error
    assert files(root / "site", manifest=True) == public


def test_a_draft_overtaken_by_a_public_run_is_refused(copy, monkeypatch, capsys):
    root, _ = copy
    assert cli(root, "2026-11-24T09:00:00", monkeypatch, "run") == 0  # published at once meanwhile
    public = files(root / "site", manifest=True)
    capsys.readouterr()  # the run's progress lines
    assert cli(root, SIGNED, monkeypatch, "approve", "2024-01", "--by", BY) == 1
    assert capsys.readouterr().err.strip() == (
        "scoreboard: the public site has been published again since the draft was built 23/11/2026 09:00: "
        "build a new draft with `scoreboard run --draft`")
    assert files(root / "site", manifest=True) == public


def test_there_is_no_draft_to_approve(tmp_path, monkeypatch, capsys):
    (tmp_path / "landing").mkdir()
    assert cli(tmp_path, SIGNED, monkeypatch, "approve", "2024-01", "--by", BY) == 1
    assert capsys.readouterr().err.strip() == (
        f"scoreboard: there is no draft in {tmp_path / 'site-draft'}: build one with `scoreboard run --draft`")
