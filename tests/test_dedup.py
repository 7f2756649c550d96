"""select_latest: one whole record per dossier_id, independent of input order."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl

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
