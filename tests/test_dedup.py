"""select_latest: one whole record per dossier_id, independent of input order."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl
import pytest

from transforms.changes import changed_dossiers
from transforms.dedup import SUPERSEDED_SCHEMA, select_latest
from transforms.ingest import ingest_file
from transforms.schema import DOSSIER_SCHEMA
from transforms.units import load_registry

FIXTURES = Path(__file__).parent / "fixtures" / "example"


def copy(dossier_id: str, source_file: str, source_row: int, *, received=dt.datetime(2024, 1, 2, 8), status=None, **kw) -> dict:
    row = {name: None for name in DOSSIER_SCHEMA}
    row.update(
        dossier_id=dossier_id,
        unit_code="001",
        procedure_code="1.001776",
        received_at=received,
        status=status,
        unit_valid_from=dt.date(2008, 8, 1),
        source_file=source_file,
        source_row=source_row,
    )
    row.update(kw)
    return row


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=DOSSIER_SCHEMA)


def winner(rows: list[dict], dossier_id: str = "D-1") -> dict:
    winners, _ = select_latest(frame(rows))
    return winners.filter(pl.col("dossier_id") == dossier_id).row(0, named=True)


def test_latest_event_wins_not_file_order():
    rows = [
        copy("D-1", "w10.csv", 1, status=10, finished_at=dt.datetime(2024, 1, 5, 9), returned_at=dt.datetime(2024, 1, 6, 9)),
        copy("D-1", "w11.csv", 7, status=4),
    ]
    w = winner(rows)
    assert (w["source_file"], w["status"]) == ("w10.csv", 10)


def test_due_at_is_not_an_event():
    rows = [
        copy("D-1", "a.csv", 1, status=4, due_at=dt.datetime(2030, 1, 1)),
        copy("D-1", "b.csv", 1, status=5, submitted_at=dt.datetime(2024, 1, 1), rejected_at=dt.datetime(2024, 1, 3)),
    ]
    assert winner(rows)["source_file"] == "b.csv"


def test_whole_record_kept_never_merged():
    rows = [
        copy("D-1", "a.csv", 1, status=10, finished_at=dt.datetime(2024, 1, 9), rating="satisfied", paid_online=None),
        copy("D-1", "b.csv", 1, status=4, paid_online=True, due_at=dt.datetime(2024, 1, 20)),
    ]
    w = winner(rows)
    assert w["source_file"] == "a.csv"
    assert w["paid_online"] is None and w["due_at"] is None and w["rating"] == "satisfied"


def test_tie_higher_status_wins_and_null_is_lowest():
    rows = [
        copy("D-1", "z.csv", 9, status=None),
        copy("D-1", "a.csv", 1, status=2),
        copy("D-1", "m.csv", 1, status=1),
    ]
    assert winner(rows)["source_file"] == "a.csv"


def test_tie_base_name_sorting_last_wins_then_full_path():
    rows = [
        copy("D-1", "zz/2024-01-05.csv", 1, status=4),
        copy("D-1", "aa/2024-01-12.csv", 1, status=4),
    ]
    assert winner(rows)["source_file"] == "aa/2024-01-12.csv"  # base name, not full path
    rows = [
        copy("D-1", "aa/export.csv", 3, status=4),
        copy("D-1", "bb/export.csv", 1, status=4),
    ]
    assert winner(rows)["source_file"] == "bb/export.csv"


def test_base_name_by_code_point():
    rows = [
        copy("D-1", "x/Đợt 1.csv", 1, status=4),  # 'Đ' U+0110 sorts after 'z'
        copy("D-1", "x/zeta.csv", 1, status=4),
    ]
    assert winner(rows)["source_file"] == "x/Đợt 1.csv"


def test_tie_same_file_later_row_wins():
    rows = [copy("D-1", "a.csv", 2, status=4), copy("D-1", "a.csv", 11, status=4)]
    assert winner(rows)["source_row"] == 11


def test_superseded_lists_the_losers():
    rows = [
        copy("D-1", "a.csv", 1, status=4),
        copy("D-1", "b.csv", 1, status=4),
        copy("D-1", "c.csv", 1, status=4),
        copy("D-2", "a.csv", 2, status=4),
    ]
    winners, superseded = select_latest(frame(rows))
    assert winners["dossier_id"].to_list() == ["D-1", "D-2"]
    assert winners["source_file"].to_list() == ["c.csv", "a.csv"]
    assert dict(superseded.schema) == SUPERSEDED_SCHEMA
    assert superseded.rows() == [("D-1", "a.csv", 1), ("D-1", "b.csv", 1)]
    assert winners.height + superseded.height == len(rows)
    assert dict(winners.schema) == DOSSIER_SCHEMA


def test_result_independent_of_input_order():
    rng = random.Random(20240301)
    rows = []
    for i in range(40):
        did = f"D-{i % 7}"
        rows.append(
            copy(
                did,
                rng.choice(["a/w1.csv", "b/w1.csv", "a/w2.csv", "w3.xlsx"]),
                rng.randint(1, 5),
                received=dt.datetime(2024, 1, 1 + rng.randint(0, 2)),
                status=rng.choice([None, 2, 4, 10]),
                finished_at=rng.choice([None, dt.datetime(2024, 1, 5)]),
                rating=rng.choice([None, "satisfied", "neutral"]),
            )
        )
    base_w, base_s = select_latest(frame(rows))
    assert base_w.height == 7
    for _ in range(10):
        rng.shuffle(rows)
        w, s = select_latest(frame(rows))
        assert w.equals(base_w)
        assert s.equals(base_s)


def test_empty_input():
    winners, superseded = select_latest(pl.DataFrame(schema=DOSSIER_SCHEMA))
    assert winners.height == 0 and superseded.height == 0
    assert dict(winners.schema) == DOSSIER_SCHEMA


def test_two_exports_of_the_example(tmp_path):
    """A newer export with WX-007 finished supersedes the older copy."""
    registry = load_registry(FIXTURES / "units.csv")
    src = (FIXTURES / "dossiers.csv").read_text(encoding="utf-8")
    newer = src.replace(
        "WX-007,001,1.001776,2,4,,2024-01-26 08:00:00,2024-02-02 00:00:00,,,",
        "WX-007,001,1.001776,2,10,,2024-01-26 08:00:00,2024-02-02 00:00:00,2024-02-06 10:00:00,,",
    )
    assert newer != src
    (tmp_path / "w1").mkdir()
    (tmp_path / "w2").mkdir()
    (tmp_path / "w1" / "dossiers.csv").write_text(src, encoding="utf-8")
    (tmp_path / "w2" / "dossiers.csv").write_text(newer, encoding="utf-8")
    now = dt.datetime(2024, 3, 1)
    a = ingest_file(tmp_path / "w1" / "dossiers.csv", registry, now=now, source_name="w1/dossiers.csv")
    b = ingest_file(tmp_path / "w2" / "dossiers.csv", registry, now=now, source_name="w2/dossiers.csv")
    winners, superseded = select_latest(pl.concat([b.accepted, a.accepted]))
    assert winners.height == 38 and superseded.height == 38
    wx7 = winners.filter(pl.col("dossier_id") == "WX-007").row(0, named=True)
    assert wx7["status"] == 10 and wx7["source_file"] == "w2/dossiers.csv"
    # identical copies elsewhere: same event times and status, base names equal, full path decides
    assert winners["source_file"].unique().to_list() == ["w2/dossiers.csv"]


# ------------------------------------------------- the warehouse's incremental refresh


def _file_row(source: str) -> dict:
    return {
        "source_file": source, "content_hash": source, "format": "csv", "status": "loaded", "message": None,
        "rows_read": 0, "dropped_columns": "[]", "unreadable": "{}", "ingested_at": dt.datetime(2024, 3, 1),
    }


def _store(con, files: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
    """Write files (path -> its versions) as one ingestion would, then refresh."""
    from pipelines.warehouse import QUARANTINE_SCHEMA, refresh_dossiers, replace_files

    for source, versions in files.items():
        replace_files(
            con, file_rows=[_file_row(source)], versions=versions,
            quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA), track_touched=True,
        )
    return refresh_dossiers(con)


def _random_versions(seed: int) -> pl.DataFrame:
    """Copies with every kind of tie; (source_file, source_row) unique, as in a warehouse."""
    rng = random.Random(seed)
    files = ["a/w1.csv", "b/w1.csv", "a/w2.csv", "w3.xlsx", "x/Đợt 1.csv", "x/zeta.csv", "c\\w9.csv", "w10.csv"]
    rows, next_row = [], {f: 1 for f in files}
    for i in range(400):
        f = rng.choice(files)
        rows.append(
            copy(
                f"D-{i % 53}",
                f,
                next_row[f],
                received=rng.choice([dt.datetime(2024, 1, 2)] * 6 + [dt.datetime(2024, 1, 1), None]),
                status=rng.choice([None, 4, 4, 4, 10]),
                submitted_at=rng.choice([None, None, None, dt.datetime(2024, 1, 2)]),
                finished_at=rng.choice([None] * 6 + [dt.datetime(2024, 1, 5), dt.datetime(2024, 1, 5, 0, 0, 1)]),
                rating=rng.choice([None, "satisfied", "neutral"]),
                due_at=rng.choice([None, dt.datetime(2030, 1, 1)]),
            )
        )
        next_row[f] += rng.randint(1, 3)
    # full ties on the latest event and status: base name, then full path, then row decide
    for j in range(24):
        subset = ["a/w1.csv", "b/w1.csv"] if j < 4 else rng.sample(files, k=rng.randint(2, 4))
        for f in subset:
            for _ in range(rng.randint(1, 2)):
                rows.append(copy(f"T-{j}", f, next_row[f], status=4, rating=rng.choice([None, "neutral"])))
                next_row[f] += 1
    return frame(rows)


def _by_file(versions: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {k[0]: v for k, v in versions.partition_by("source_file", as_dict=True).items()}


def _dossiers(con) -> pl.DataFrame:
    from pipelines.warehouse import read_table

    return read_table(con, "SELECT * FROM dossiers ORDER BY dossier_id")


def _example_versions(tmp_path) -> pl.DataFrame:
    registry = load_registry(FIXTURES / "units.csv")
    src = (FIXTURES / "dossiers.csv").read_text(encoding="utf-8")
    newer = src.replace(
        "WX-007,001,1.001776,2,4,,2024-01-26 08:00:00,2024-02-02 00:00:00,,,",
        "WX-007,001,1.001776,2,10,,2024-01-26 08:00:00,2024-02-02 00:00:00,2024-02-06 10:00:00,,",
    )
    out = []
    for name, text in (("w1/dossiers.csv", src), ("w2/dossiers.csv", newer), ("w2/Đợt 2.csv", newer)):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out.append(ingest_file(path, registry, now=dt.datetime(2024, 3, 1), source_name=name).accepted)
    return pl.concat(out)


@pytest.mark.parametrize("bucket_ids", [None, 7])
def test_warehouse_keeps_the_same_copies_as_select_latest(tmp_path, monkeypatch, bucket_ids):
    """The SQL refresh keeps byte for byte the rows select_latest keeps: on the worked
    example and on shuffled random copies, loaded at once or file by file; also when
    the stale ids are chosen in buckets (a first load of millions: REFRESH_BUCKET_IDS)."""
    from pipelines import warehouse
    from pipelines.warehouse import connect

    if bucket_ids:
        monkeypatch.setattr(warehouse, "REFRESH_BUCKET_IDS", bucket_ids)

    for case, versions in (("example", _example_versions(tmp_path)), ("random", _random_versions(7))):
        expected, _ = select_latest(versions)
        rng = random.Random(case)
        for attempt in range(3):
            shuffled = versions.sample(fraction=1.0, shuffle=True, seed=attempt)
            files = list(_by_file(shuffled).items())
            rng.shuffle(files)
            with connect(tmp_path / f"{case}-{attempt}.duckdb") as con:
                if attempt == 0:
                    _store(con, dict(files))
                else:  # one file at a time, a refresh after each
                    for source, rows in files:
                        _store(con, {source: rows})
                got = _dossiers(con)
            assert got.equals(expected.sort("dossier_id")), (case, attempt)


def test_refresh_reports_only_the_changed_copies(tmp_path):
    from pipelines.warehouse import connect, one

    versions = _random_versions(11)
    files = _by_file(versions)
    late = "w10.csv"
    with connect(tmp_path / "w.duckdb") as con:
        added, removed = _store(con, {k: v for k, v in files.items() if k != late})
        before = _dossiers(con)
        assert removed.is_empty() and added.sort("dossier_id").equals(before)
        added, removed = _store(con, {late: files[late]})
        after = _dossiers(con)
        # exactly the rows that differ between the two tables, from either side
        expected = changed_dossiers(before, after)
        for side, got in (("new", added), ("old", removed)):
            assert got.height > 0
            assert got.sort("dossier_id").equals(
                expected.filter(pl.col("side") == side).drop("side").sort("dossier_id")
            )
        # the same file again (same content) changes nothing; no stale ids are left
        assert all(f.is_empty() for f in _store(con, {late: files[late]}))
        assert one(con, "SELECT count(*) FROM stale_dossier_ids")[0] == 0
        assert _store(con, {}) is None
        # the file re-sent without some dossiers: their copies fall back to older files or go
        dropped = files[late]["dossier_id"].unique().sort().to_list()[:3]
        _store(con, {late: files[late].filter(~pl.col("dossier_id").is_in(dropped))})
        expected, _ = select_latest(pl.concat([v for k, v in files.items() if k != late]
                                              + [files[late].filter(~pl.col("dossier_id").is_in(dropped))]))
        assert _dossiers(con).equals(expected.sort("dossier_id"))
