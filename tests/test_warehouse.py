"""The warehouse module: its layout is versioned, an older warehouse is upgraded in
place and runs, and no other module of the pipeline holds SQL."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from config import config_path
from pipelines import warehouse as wh
from pipelines.cli import run_pipeline
from pipelines.resources import ScoreboardSettings, Warehouse
from tests.helpers import EXAMPLE, FIXTURES, SCOREBOARD_COLUMNS
from transforms.profile import load_profile
from transforms.schema import DOSSIER_SCHEMA, scoreboard_schema

OLD = FIXTURES / "warehouse_v1"
ROOT = Path(__file__).resolve().parent.parent
# the moment the fixture was written at (its README): February 2024 is in progress
THEN = "2024-02-07T18:00:00"


def old_warehouse(path: Path) -> Path:
    """The file the code of b44d358 wrote for the worked example, rebuilt from its
    recorded DDL and rows."""
    con = duckdb.connect(str(path))
    try:
        for statement in (OLD / "schema.sql").read_text(encoding="utf-8").split(";\n"):
            if statement.strip():
                con.execute(statement)
        for csv in sorted(OLD.glob("*.csv")):
            con.execute(
                f"COPY \"{csv.stem}\" FROM '{csv}' "
                "(FORMAT csv, header true, allow_quoted_nulls false, quote '\"', delimiter ',')"
            )
    finally:
        con.close()
    return path


def columns(con, table: str) -> list[str]:
    return [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]


def test_the_old_fixture_is_the_previous_layout(tmp_path):
    path = old_warehouse(tmp_path / "old.duckdb")
    with duckdb.connect(str(path), read_only=True) as con:
        assert wh.schema_version(con) == 1
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert "warnings" not in tables and "schema_version" not in tables
        assert not any(c.startswith("max_points_") for c in columns(con, "scoreboard"))
        # 4 units × (6 weeks + 2 months)
        assert con.execute("SELECT count(*) FROM scoreboard").fetchone()[0] == 32


def test_an_old_warehouse_is_upgraded_in_place_and_runs(tmp_path, monkeypatch):
    path = old_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(path), read_only=True) as con:
        before = {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall()
                  for t in ("units", "ingested_files", "dossier_versions", "dossiers", "quarantine")}
        old_scores = con.sql("SELECT * FROM scoreboard").pl()

    with wh.connect(path) as con:  # opening it for writing upgrades it
        assert wh.schema_version(con) == wh.SCHEMA_VERSION
        upgrades = [(version,) for version, _, _ in wh.MIGRATIONS if version > 1]
        assert con.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == upgrades
        assert set(wh.TABLES) <= {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        # the weak points are derived from the scoreboard when the site is built (layout 8)
        assert "weak_points" not in {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert columns(con, "warnings") == list(wh.TABLES["warnings"])
        # nothing is lost; every period will be scored again, with the new columns
        for table, rows in before.items():
            assert con.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall() == rows, table
        assert wh.count_rows(con, "scored_periods") == 0
        assert wh.count_rows(con, "scoreboard") == old_scores.height
    with wh.connect(path) as con:  # once is enough
        assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(upgrades)

    monkeypatch.setenv("SCOREBOARD_NOW", THEN)
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing)
    settings = ScoreboardSettings.from_env(
        landing_dir=str(landing), site_dir=str(tmp_path / "site"), registry_path=str(EXAMPLE / "units.csv")
    )
    summary = run_pipeline(settings, Warehouse(path=str(path)))
    # the file was ingested by the old code: skipped; its periods are scored again
    assert (summary["files"], summary["dossiers"], summary["weeks"], summary["months"]) == (1, 38, 6, 2)
    with duckdb.connect(str(path), read_only=True) as con:
        new = con.sql("SELECT * FROM scoreboard").pl()
        assert con.execute("SELECT count(*) FROM scored_periods").fetchone()[0] == 8
        assert con.execute("SELECT count(*) FROM ingested_files").fetchone()[0] == 1
    key = ["period_type", "period_key", "unit_code"]
    # the numbers are those the old code published, now with the applicable maxima
    same = new.select(old_scores.columns).sort(key)
    assert same.to_dicts() == old_scores.sort(key).to_dicts()
    ba_dinh = new.filter(pl.col("period_key") == "2024-01", pl.col("unit_code") == "001").row(0, named=True)
    assert (ba_dinh["max_points_digitization"], ba_dinh["max_points_satisfaction"]) == (22.0, 18.0)
    assert new["max_points_timeliness"].is_not_null().sum() == new["on_time_rate"].is_not_null().sum()
    published = pl.read_csv(settings.site / "data" / "scoreboard-2024-01.csv")
    assert published.columns == list(SCOREBOARD_COLUMNS)


def test_a_profile_with_fewer_groups_writes_beside_the_old_columns(tmp_path):
    """Inserts name their columns: the scoreboard keeps the columns of groups a profile
    no longer has (null in its rows), and reads give the profile's columns only."""
    narrow = load_profile(config_path("profiles", "timeliness_online.yaml"))
    path = old_warehouse(tmp_path / "w.duckdb")
    with wh.connect(path) as con:
        old = wh.read_scoreboard(con, narrow)
        assert old.columns == list(scoreboard_schema(narrow))
        # the old rows had no applicable maxima: read as nulls until re-scored
        assert old["max_points_online"].is_null().all() and old["points_online"].is_not_null().any()
        january = old.filter(pl.col("period_key") == "2024-01").with_columns(
            max_points_timeliness=pl.lit(20.0), max_points_online=pl.lit(12.0)
        )
        wh.replace_periods(con, "month", ["2024-01"], {"scoreboard": january}, narrow)
        stored = con.sql("SELECT * FROM scoreboard WHERE period_key = '2024-01'").pl()
        assert stored.height == january.height
        assert stored["points_transparency"].is_null().all() and stored["max_points_online"].eq(12.0).all()
        assert wh.read_scoreboard(con, narrow).columns == list(scoreboard_schema(narrow))


def test_a_new_warehouse_starts_at_the_latest_layout(tmp_path):
    with wh.connect(tmp_path / "new.duckdb") as con:
        assert wh.schema_version(con) == wh.SCHEMA_VERSION
        assert [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()] == [
            v for v, _, _ in wh.MIGRATIONS
        ]
        for table, schema in wh.TABLES.items():
            assert columns(con, table) == list(schema), table


def _keeps_order(con) -> bool:
    return con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]


def test_the_dossiers_are_stored_in_any_order_and_nothing_else_is(tmp_path):
    """A large insert of dossier versions, and the refresh of the kept copies, may store
    rows in any order (wh.unordered: DuckDB writes them from each thread, not at the
    commit); the connection keeps the order for every other statement, and after an
    error too."""
    ids = [f"D{i:05d}" for i in range(3000)]
    given = {"dossier_id": ids * 2, "source_file": ["a.csv"] * 3000 + ["b.csv"] * 3000, "source_row": list(range(6000))}
    versions = pl.DataFrame({c: given.get(c, [None] * 6000) for c in DOSSIER_SCHEMA}, schema=DOSSIER_SCHEMA)
    file_rows = [{"source_file": f, "content_hash": f, "format": "csv", "status": "ok", "message": None,
                  "rows_read": 3000, "dropped_columns": "[]", "unreadable": "{}", "ingested_at": None}
                 for f in ("a.csv", "b.csv")]
    with wh.connect(tmp_path / "w.duckdb") as con:
        assert _keeps_order(con)
        wh.replace_files(con, file_rows=file_rows, versions=versions,
                         quarantine=pl.DataFrame(schema=wh.QUARANTINE_SCHEMA), track_touched=True)
        assert _keeps_order(con)
        wh.refresh_dossiers(con)
        assert _keeps_order(con)
        kept = con.execute("SELECT dossier_id, source_file FROM dossiers ORDER BY 1").fetchall()
        assert kept == [(i, "b.csv") for i in ids]  # the file whose name sorts last
        assert con.execute("SELECT count(*) FROM dossier_versions").fetchone()[0] == 6000

        con.execute("SET preserve_insertion_order = false")
        with wh.unordered(con):
            pass
        assert not _keeps_order(con)  # as it was before
        con.execute("SET preserve_insertion_order = true")
        with pytest.raises(duckdb.Error):
            with wh.unordered(con):
                con.execute("SELECT * FROM no_such_table")
        assert _keeps_order(con)


def test_opening_a_current_warehouse_writes_nothing_until_the_view_changes(tmp_path, monkeypatch):
    """A write at every connection made closing every connection a checkpoint (the
    file_accounting view was replaced each time): a current file is left as it is."""
    path = tmp_path / "w.duckdb"
    with wh.connect(path):
        pass
    with wh.connect(path):  # the first opening after the view was made marks it
        pass
    before = path.read_bytes()
    with wh.connect(path) as con:
        assert con.execute("SELECT count(*) FROM file_accounting").fetchone() == (0,)
    assert path.read_bytes() == before
    assert not Path(f"{path}.wal").exists()

    changed = wh.FILE_ACCOUNTING_SQL.replace("AS rows_accepted", "AS rows_accepted, 1 AS added")
    monkeypatch.setattr(wh, "FILE_ACCOUNTING_SQL", changed)
    with wh.connect(path) as con:
        assert "added" in [c[0] for c in con.execute("SELECT * FROM file_accounting").description]
    assert path.read_bytes() != before


def test_a_newer_warehouse_is_refused(tmp_path):
    with wh.connect(tmp_path / "w.duckdb") as con:
        con.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (99, 'future', now())")
    with pytest.raises(wh.WarehouseVersionError, match=f"layout version 99, newer than this software's {wh.SCHEMA_VERSION}"):
        with wh.connect(tmp_path / "w.duckdb"):
            pass


SQL = re.compile(r"\b(SELECT|INSERT|CREATE|DELETE|UPDATE|ALTER|DROP)\b")


def test_no_sql_outside_the_warehouse_module():
    found = []
    for folder in ("pipelines", "transforms", "quality"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            # the warehouse module, and its lake backend's catalog statements (attach,
            # schemas, partitioning, the national views: pipelines/lake.py)
            if path in (ROOT / "pipelines" / "warehouse.py", ROOT / "pipelines" / "lake.py"):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SQL.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


# The layout each version stands for (a digest of TABLES). Changing a table without
# a new version would leave existing warehouses without the change: add a MIGRATIONS
# entry (its version, what it changes, its data step) and record the new digest here.
LAYOUTS = {2: "fd1e6969e7f32c19", 3: "41879b9c7947b6df", 4: "6bac4f29b785d973", 5: "d369f2089ada0e70", 6: "6000c4ce4a2e5a56",
           7: "cde6fab281251107", 8: "dbe9c4babeea30e1",
           # from 9 on, with the lake's partition keys (a layout too)
           9: "0f025ee47c8ce82e", 10: "d1b8482412efc7d6", 11: "734387b7aa701af3"}


def test_a_changed_layout_has_a_new_version():
    import hashlib

    text = ";".join(
        f"{t}:" + ",".join(f"{c} {wh._sql_type(d)}" for c, d in s.items()) for t, s in sorted(wh.TABLES.items())
    ) + ";partitions:" + ";".join(f"{t}:{k}" for t, k in sorted(wh.PARTITION_KEYS.items()))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert LAYOUTS.get(wh.SCHEMA_VERSION) == digest, (
        f"the warehouse layout changed (digest {digest}) but SCHEMA_VERSION is still {wh.SCHEMA_VERSION}"
    )
