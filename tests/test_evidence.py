"""The evidence: the dossiers behind every unit's overdue and pending-overdue counts.

By hand on the worked example (which dossiers, their classes and working days
late), then through a real pipeline run on generated exports: for every unit and
every period the stored and the published evidence has exactly as many rows as
the scoreboard's overdue + pending overdue, class by class, and the unit page's
own file as many as its detail period's.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from config import config_path
from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import DEFAULT_PROFILE_PATH, EXAMPLE, read_example_dossiers
from transforms.calendar import working_calendar
from transforms.evidence import EVIDENCE_SCHEMA, evidence
from transforms.periods import index_of, make_periods
from transforms.profile import load_profile
from transforms.score import score_periods
from transforms.units import load_registry

NOW = datetime(2026, 11, 22, 9, 0)
LATEST_EVENT = datetime(2024, 2, 7, 15, 0)
UNIT_PERIOD = ["period_type", "period_key", "unit_code", "unit_valid_from"]


def example(period_type: str, first: date, last: date, latest: datetime = LATEST_EVENT, now: datetime = NOW):
    dossiers = read_example_dossiers()
    units = load_registry(EXAMPLE / "units.csv")
    calendar = working_calendar(date(2023, 1, 1), date(2025, 12, 31))
    periods = make_periods(period_type, index_of(period_type, first), index_of(period_type, last),
                           latest_event=latest, now=now)
    scores = score_periods(dossiers, units, load_profile(DEFAULT_PROFILE_PATH), period_type, periods, calendar)
    return scores, evidence(dossiers, units, calendar, period_type, periods)


def rows_of(frame: pl.DataFrame, key: str, unit: str) -> list[tuple]:
    return frame.filter(period_key=key, unit_code=unit).select(
        "class", "dossier_id", "receiving_unit_code", "working_days_late", "end_at"
    ).rows()


def test_the_worked_examples_late_dossiers_by_hand():
    _, ev = example("month", date(2024, 1, 1), date(2024, 2, 1))
    assert ev.schema == pl.Schema(EVIDENCE_SCHEMA)
    d = datetime
    # Ba Đình, January: WX-004 ended 00:01 the day after its date-only due (1 working day
    # late: Friday 12/01); WX-005 17:30 on its 17:00 due day (0); WX-006 open at the
    # month's end, due 31/01 (0: no working day after its due day in January)
    assert rows_of(ev, "2024-01", "001") == [
        ("overdue", "WX-004", "001", 1, d(2024, 1, 12, 0, 1)),
        ("overdue", "WX-005", "001", 0, d(2024, 1, 12, 17, 30)),
        ("pending_overdue", "WX-006", "001", 0, None),
    ]
    # February: WX-006 ended Monday 05/02 (Thu 1, Fri 2, Mon 5: 3 days late); WX-007,
    # due Friday 02/02 and still open at the end of February: the working days 05/02 ..
    # 29/02 but Tết (08/02 .. 14/02): 3 + 2 + 5 + 4 = 14
    assert rows_of(ev, "2024-02", "001") == [
        ("overdue", "WX-006", "001", 3, d(2024, 2, 5, 9, 0)),
        ("pending_overdue", "WX-007", "001", 14, None),
    ]
    # Sóc Sơn counts Bắc Sơn's three overdue dossiers, as its overdue count does
    assert [r[:3] for r in rows_of(ev, "2024-01", "002")] == [
        ("overdue", "WX-028", "00004"), ("overdue", "WX-029", "00004"), ("overdue", "WX-030", "00004")]
    assert rows_of(ev, "2024-01", "002")[0][1:] == rows_of(ev, "2024-01", "00004")[0][1:]
    assert rows_of(ev, "2024-01", "00001") == []
    first = ev.filter(dossier_id="WX-004").row(0, named=True)
    assert (first["procedure_code"], first["received_at"], first["due_at"]) == (
        "1.001776", d(2024, 1, 4, 10, 0), d(2024, 1, 11, 0, 0))


def late_counts(scores: pl.DataFrame, ev: pl.DataFrame, keys: list[str] = UNIT_PERIOD) -> pl.DataFrame:
    """Per scoreboard row: its overdue and pending_overdue, and the evidence's rows of each class."""
    found = ev.group_by(keys).agg(
        ev_overdue=(pl.col("class") == "overdue").sum().cast(pl.Int64),
        ev_pending=(pl.col("class") == "pending_overdue").sum().cast(pl.Int64),
    )
    return scores.select(*keys, "overdue", "pending_overdue").join(
        found, on=keys, how="full", coalesce=True, nulls_equal=True
    ).with_columns(pl.col("ev_overdue", "ev_pending").fill_null(0))


def assert_counts_match(scores: pl.DataFrame, ev: pl.DataFrame, keys: list[str] = UNIT_PERIOD) -> pl.DataFrame:
    both = late_counts(scores, ev, keys)
    assert both["overdue"].null_count() == 0, "evidence for a unit-period the scoreboard does not list"
    wrong = both.filter((pl.col("overdue") != pl.col("ev_overdue")) | (pl.col("pending_overdue") != pl.col("ev_pending")))
    assert wrong.is_empty(), wrong
    return both


@pytest.mark.parametrize("period_type, first, last, latest, now", [
    ("month", date(2024, 1, 1), date(2024, 2, 1), LATEST_EVENT, NOW),
    ("week", date(2024, 1, 1), date(2024, 2, 26), LATEST_EVENT, NOW),
    # February in progress: cut at the latest event, WX-007 not yet overdue on 07/02 15:00
    ("month", date(2024, 1, 1), date(2024, 2, 1), LATEST_EVENT, datetime(2024, 2, 7, 18, 0)),
    ("week", date(2024, 1, 1), date(2024, 2, 5), LATEST_EVENT, datetime(2024, 2, 7, 18, 0)),
])
def test_every_unit_period_of_the_example_has_its_late_count_of_rows(period_type, first, last, latest, now):
    scores, ev = example(period_type, first, last, latest, now)
    both = assert_counts_match(scores, ev)
    assert both["ev_overdue"].sum() + both["ev_pending"].sum() == ev.height > 0


def test_a_pending_dossier_is_late_to_the_cut_off_in_a_period_in_progress():
    _, ev = example("month", date(2024, 1, 1), date(2024, 2, 1), now=datetime(2024, 2, 7, 18, 0))
    # February cut at 07/02 15:00: WX-007 (due 02/02) is pending overdue, Mon 5 to Wed 7: 3
    assert rows_of(ev, "2024-02", "001") == [
        ("overdue", "WX-006", "001", 3, datetime(2024, 2, 5, 9, 0)),
        ("pending_overdue", "WX-007", "001", 3, None),
    ]


@pytest.mark.parametrize("rows, runs", [(1, 12), (3, 6), (10**6, 1)])
def test_evidence_made_a_few_periods_at_a_time_is_the_evidence_of_them_all(rows, runs):
    # scoring stores a chunk's evidence in runs of periods (transforms.evidence.evidence_slices)
    from transforms.evidence import evidence_of, evidence_slices
    from transforms.insights import procedure_names
    from transforms.score import scoring_facts

    dossiers, units = read_example_dossiers(), load_registry(EXAMPLE / "units.csv")
    calendar = working_calendar(date(2023, 1, 1), date(2025, 12, 31))
    periods = make_periods("week", index_of("week", date(2023, 12, 4)), index_of("week", date(2024, 3, 25)),
                           latest_event=LATEST_EVENT, now=NOW)
    facts = scoring_facts(dossiers, units, calendar, "week", periods[-1])
    whole = evidence_of(facts, procedure_names(dossiers), units, periods, calendar)
    keep = pl.col("period_key") != "2024-W05"
    late = dict(whole.group_by("period_key").len().rows())  # as the scoreboard counts them
    parts = list(evidence_slices(facts, procedure_names(dossiers), units, periods, calendar, keep, late, rows=rows))
    assert len(parts) == runs
    assert whole.filter(pl.col("period_key") == "2024-W05").height > 0
    assert pl.concat(parts).equals(whole.filter(keep))


# --------------------------------------------------------------------------- a real pipeline run

DISTRICTS = ("001", "275")  # Ba Đình (urban), Quốc Oai (rural), with their wards and communes
DEPARTMENTS = ("SCT", "STP")
RUN_NOW = "2025-06-10T09:00:00"


def recipe_rows(path: Path) -> pl.DataFrame:
    """The rows of a workbook recipe (data/…/*.js): its CSV, compressed and base64'd."""
    text = path.read_text(encoding="utf-8")
    payload = json.loads(re.search(r"window\.parWorkbook\((.*)\);\s*$", text, re.S).group(1))
    csv = gzip.decompress(base64.b64decode(payload["csv"]))
    return read_evidence_csv(io.BytesIO(csv))


def read_evidence_csv(source) -> pl.DataFrame:
    raw = source.read_bytes() if isinstance(source, Path) else source.read()
    assert raw.startswith(b"\xef\xbb\xbf"), "a CSV of the site starts with a BOM"
    frame = pl.read_csv(io.BytesIO(raw[3:]), infer_schema=False)
    assert frame.columns == list(EVIDENCE_SCHEMA)
    return frame.with_columns(
        pl.col("unit_valid_from").str.to_date(),
        pl.col("working_days_late").cast(pl.Int64),
        *[pl.col(c).str.to_datetime("%Y-%m-%d %H:%M:%S") for c in ("received_at", "due_at", "end_at")],
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Three months of generated exports of two districts with their communes and two
    departments, scored and published on 10/06/2025 (June in progress)."""
    from demo.generate import generate_exports

    root = tmp_path_factory.mktemp("evidence-run")
    units = pl.read_csv(config_path("registry", "hanoi.csv"), infer_schema=False)
    registry = root / "registry.csv"
    units.filter(pl.col("unit_code").is_in([*DISTRICTS, *DEPARTMENTS]) | pl.col("parent_code").is_in(DISTRICTS)
                 ).write_csv(registry)
    landing = root / "landing"
    generate_exports(landing, date(2025, 3, 1), date(2025, 6, 9), seed=16, scale=0.15, registry_path=registry)
    settings = ScoreboardSettings.from_env(landing_dir=str(landing), site_dir=str(root / "site"),
                                           registry_path=str(registry))
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCOREBOARD_NOW", RUN_NOW)
        run_pipeline(settings, warehouse)
    with duckdb.connect(warehouse.path, read_only=True) as con:
        scores = con.sql("SELECT * FROM scoreboard").pl()
        ev = con.sql("SELECT * FROM evidence").pl()
        what_if = con.sql("SELECT * FROM what_if").pl()
    return {"site": settings.site.resolve(), "scores": scores, "evidence": ev, "what_if": what_if,
            "warehouse": warehouse.path, "profile": settings.profile()}


def assert_stored_evidence_matches(scores: pl.DataFrame, ev: pl.DataFrame) -> pl.DataFrame:
    """The warehouse's evidence against its scoreboard, every unit-period."""
    assert set(scores["period_type"]) == {"week", "month"}
    both = assert_counts_match(scores, ev)
    # what the rows say agrees with their class and period
    assert ev["working_days_late"].null_count() == 0 and ev["working_days_late"].min() >= 0
    assert ev.filter(pl.col("class") == "overdue")["end_at"].null_count() == 0
    assert ev.filter(pl.col("class") == "pending_overdue")["end_at"].null_count() == ev.filter(
        pl.col("class") == "pending_overdue").height
    assert ev.filter(pl.col("due_at") >= pl.col("end_at")).is_empty()
    months = ev.filter(pl.col("period_type") == "month", pl.col("class") == "overdue")
    assert (months["end_at"].dt.strftime("%Y-%m") == months["period_key"]).all()
    # one dossier once per unit and period
    assert ev.select(*UNIT_PERIOD, "dossier_id").is_duplicated().sum() == 0
    assert ev["procedure_name"].null_count() == 0
    return both


def assert_what_if_counts_the_evidence(what_if: pl.DataFrame, ev: pl.DataFrame) -> None:
    """late_dossiers of every ranked unit is its number of evidence rows."""
    counts = ev.group_by(UNIT_PERIOD).len("rows")
    joined = what_if.join(counts, on=UNIT_PERIOD, how="left").with_columns(pl.col("rows").fill_null(0))
    assert joined.height > 50
    assert (joined["late_dossiers"] == joined["rows"]).all()


def test_the_stored_evidence_matches_every_unit_period(run):
    scores, ev = run["scores"], run["evidence"]
    assert scores["provisional"].any()
    both = assert_stored_evidence_matches(scores, ev)
    # a real test: many unit-periods with late dossiers, of both classes, districts among them
    assert both.filter(pl.col("ev_overdue") > 0).height > 50 and both.filter(pl.col("ev_pending") > 0).height > 50
    assert ev.filter(pl.col("unit_code") != pl.col("receiving_unit_code")).height > 0


def test_the_what_if_counts_exactly_the_evidence(run):
    assert_what_if_counts_the_evidence(run["what_if"], run["evidence"])


def test_a_site_read_from_the_stored_tables_is_the_site_of_the_tables_held_whole(run, tmp_path):
    """Publication reads the explaining tables where they are stored, the partitions a
    build needs only (pipelines.warehouse.StoredTable), and derives the weak points
    period by period as the build asks (dashboards.derived): every file is the same as
    when they are given whole, and a second build of the same data makes none of them
    again."""
    from dashboards.derived import derived_weak_points
    from dashboards.site import build_site
    from pipelines import warehouse as wh
    from transforms.insights import weak_points

    insights = ("bottlenecks", "what_if", "evidence")
    profile = run["profile"]
    with duckdb.connect(run["warehouse"], read_only=True) as con:
        scoreboard = wh.read_scoreboard(con, profile)
        given = dict(scoreboard=scoreboard, manifest={"generated_at": RUN_NOW}, profile=profile)
        build_site(tmp_path / "whole", **given, weak_points=weak_points(scoreboard, profile),
                   **{t: con.sql(f"SELECT * FROM {t}").pl() for t in insights})
        for _ in range(2):
            lines: list[str] = []
            build_site(tmp_path / "stored", **given, weak_points=derived_weak_points(scoreboard, profile),
                       **{t: wh.StoredTable(con, t) for t in insights}, log=lines.append)
    files = {p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*") if p.is_file()}
    assert files == {p.relative_to(tmp_path / "stored") for p in (tmp_path / "stored").rglob("*") if p.is_file()}
    assert len([f for f in files if f.parts[:2] == ("data", "evidence")]) > 10
    for f in files - {Path(".par-build.json")}:
        assert (tmp_path / "whole" / f).read_bytes() == (tmp_path / "stored" / f).read_bytes(), f
    # the second build made no file again: each kind wrote 0 of its files
    made = [line for line in lines if re.match(r"site: .* [1-9]\d*/\d+ files", line)]
    assert made == [] and any("data evidence csv+js 0/" in line for line in lines), made
    assert any("data weak_points csv+js 0/" in line for line in lines), lines


def assert_published_evidence_matches(site: Path, keys: list[str]) -> None:
    """Every period's data/evidence-<key>.csv against its data/scoreboard-<key>.csv."""
    for key in keys:
        published = read_evidence_csv(site / "data" / f"evidence-{key}.csv")
        board = pl.read_csv(site / "data" / f"scoreboard-{key}.csv", infer_schema=False).rename(
            lambda c: c.lstrip("\ufeff")).select(
            "period_type", "period_key", "unit_code", pl.col("unit_valid_from").str.to_date(),
            pl.col("overdue").cast(pl.Int64), pl.col("pending_overdue").cast(pl.Int64))
        assert_counts_match(board, published)
        assert (site / "data" / f"evidence-{key}.js").is_file()


def test_every_published_evidence_file_matches_its_scoreboard_file(run):
    assert_published_evidence_matches(run["site"], sorted(run["scores"]["period_key"].unique()))


def assert_unit_files_match(site: Path, scores: pl.DataFrame) -> int:
    """Each unit page's own evidence file (data/evidence/<key>/<unit>.js, the rows its
    CSV and workbook are made of) has exactly its detail period's overdue + pending
    overdue rows, and the page links it; the number of units with late dossiers."""
    checked = 0
    for page in sorted((site / "units").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        key = re.search(r'href="\.\./periods/([^".]+)\.html#u-', text).group(1)
        unit = scores.filter(period_key=key).filter(
            pl.concat_str("unit_code", pl.lit("-"), pl.col("unit_valid_from").cast(pl.Utf8)) == page.stem)
        late = unit["overdue"][0] + unit["pending_overdue"][0]
        script = site / "data" / "evidence" / key / f"{page.stem}.js"
        assert 'id="evidence"' in text
        if late == 0:
            assert not script.exists() and "data-evidence=" not in text
            continue
        assert f'data-evidence="../data/evidence/{key}/{page.stem}.js"' in text
        rows = recipe_rows(script)
        assert rows.height == late, page.name
        assert set(rows["unit_code"]) == {unit["unit_code"][0]} and set(rows["period_key"]) == {key}
        assert (rows["class"] == "overdue").sum() == unit["overdue"][0]
        checked += 1
    # no other unit file than those the pages link to
    assert len(list((site / "data" / "evidence").rglob("*.js"))) == checked
    return checked


def test_each_unit_pages_own_file_has_its_detail_periods_late_dossiers(run):
    assert assert_unit_files_match(run["site"], run["scores"]) > 10


# --------------------------------------------------------------------------- on the demo


def test_on_the_demo_every_units_evidence_file_has_its_late_count_of_rows(demo_run):
    """The issue's case: `scoreboard demo` (tests/conftest.py demo_run). Stored, in each
    period's file and in each unit page's own file, the evidence has exactly as many
    rows as the overdue + pending overdue counts, for every unit and period."""
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        scores = con.sql("SELECT * FROM scoreboard").pl()
        ev = con.sql("SELECT * FROM evidence").pl()
        what_if = con.sql("SELECT * FROM what_if").pl()
    both = assert_stored_evidence_matches(scores, ev)
    assert_what_if_counts_the_evidence(what_if, ev)
    assert both.filter(pl.col("ev_overdue") > 0).height > 1000 and both.filter(pl.col("ev_pending") > 0).height > 1000
    keys = sorted(scores["period_key"].unique())
    assert len(keys) == 12 + 53  # 2025's months and ISO weeks (2025-W01 .. 2026-W01)
    assert_published_evidence_matches(demo_run["site"], keys)
    assert assert_unit_files_match(demo_run["site"], scores) > 300


def _digests_from_rows(con, table: str, by: tuple[str, ...]) -> dict[tuple, tuple]:
    """Per partition of `by`: count, sum (mod 2^64) and xor of the whole rows' hashes,
    computed from the stored rows themselves."""
    from pipelines import warehouse as wh

    cols = ", ".join(f'"{c}"' for c in wh.TABLES[table])
    group = ", ".join(by)
    rows = con.execute(
        f"SELECT {group + ',' if by else ''} count(*), (sum(h) % {2**64})::UBIGINT, bit_xor(h) "
        f"FROM (SELECT *, hash({cols}) AS h FROM {table}) {'GROUP BY ' + group if by else ''}"
    ).fetchall()
    return {tuple(r[:-3]): tuple(r[-3:]) for r in rows}


def test_the_stored_partition_digests_are_those_of_the_stored_rows(run, tmp_path):
    """The digests written with each scored period (pipelines.warehouse.partition_digests)
    add up, for every way the site cuts a table, to the digests of its rows now; a
    changed row changes its own partition's digest only; an upgraded warehouse gets them."""
    from pipelines import warehouse as wh

    path = tmp_path / "w.duckdb"
    shutil.copy(run["warehouse"], path)
    detail = ("unit_code", "unit_valid_from", "period_key")
    with wh.connect(path) as con:
        for table in wh.DIGESTED_TABLES:
            stored = wh.StoredTable(con, table)
            for by in ((), ("period_key",), detail):
                expected = _digests_from_rows(con, table, by)
                assert expected, table
                keys = list(expected) if by else None
                found = stored.digests(stored.columns, list(by), keys)
                assert {k: v.split(":", 1)[1] for k, v in found.items()} == {
                    k: ":".join(map(str, v)) for k, v in expected.items()}, (table, by)
            # a part of the keys: those partitions only
            some = list(_digests_from_rows(con, table, detail))[::7]
            assert set(stored.digests(stored.columns, list(detail), some)) == set(some)
        before = con.sql("SELECT * FROM partition_digests ORDER BY ALL").fetchall()
        assert len(before) > 100

        # one evidence row changed: its partition's digest alone moves
        row = con.sql("SELECT * FROM evidence ORDER BY ALL LIMIT 1").pl()
        period_type, period_key = row["period_type"][0], row["period_key"][0]
        rows = con.sql(f"SELECT * FROM evidence WHERE period_type = '{period_type}' AND period_key = '{period_key}' "
                       "ORDER BY ALL").pl()
        changed = rows.with_columns(
            working_days_late=pl.when(pl.int_range(pl.len()) == 0).then(pl.col("working_days_late") + 1)
            .otherwise(pl.col("working_days_late")))
        first = changed.row(0, named=True)  # the changed row
        wh.replace_periods(con, period_type, [period_key], {"evidence": changed}, run["profile"])
        after = con.sql("SELECT * FROM partition_digests ORDER BY ALL").fetchall()
        moved = set(before) ^ set(after)
        assert {(r[0], r[2], r[3]) for r in moved} == {("evidence", period_key, first["unit_code"])}
        assert len(moved) == 2

        # a warehouse of layout 6: the digests are made from its rows
        con.execute("DROP TABLE partition_digests")
        con.execute("DELETE FROM schema_version WHERE version >= 7")
    with wh.connect(path) as con:
        assert wh.schema_version(con) == wh.SCHEMA_VERSION
        assert con.sql("SELECT * FROM partition_digests ORDER BY ALL").fetchall() == after

        # a warehouse of layout 7 stored the weak points, and their digests: both go
        con.execute("CREATE TABLE weak_points AS SELECT * FROM bottlenecks")
        con.execute("INSERT INTO partition_digests SELECT * REPLACE ('weak_points' AS table_name) "
                    "FROM partition_digests WHERE table_name = 'bottlenecks'")
        con.execute("DELETE FROM schema_version WHERE version >= 8")
    with wh.connect(path) as con:
        assert wh.schema_version(con) == wh.SCHEMA_VERSION
        assert "weak_points" not in {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert con.sql("SELECT * FROM partition_digests ORDER BY ALL").fetchall() == after
