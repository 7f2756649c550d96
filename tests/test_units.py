"""Unit registry and resolution among the units valid at received_at."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from transforms.schema import REGISTRY_SCHEMA, UNIT_SCHEMA
from transforms.units import load_registry, resolve_units

FIXTURES = Path(__file__).parent / "fixtures" / "example"

REGISTRY = """unit_code,unit_name,level,parent_code,peer_group,valid_from,valid_to
001,Quận Ba Đình,district,,urban,2008-08-01,2025-06-30
00001,Phường Phúc Xá,commune,001,urban,2008-08-01,2025-06-30
020,Quận Hà Đông,district,,urban,2008-08-01,2025-06-30
09552,Phường Vạn Phúc,commune,020,urban,2008-08-01,2025-06-30
10126,Xã Vạn Phúc,commune,,rural,2008-08-01,2025-06-30
00004,Phường Ba Đình,commune,,urban,2025-07-01,
09552,Phường Hà Đông,commune,,urban,2025-07-01,
"""


@pytest.fixture()
def registry(tmp_path) -> pl.DataFrame:
    path = tmp_path / "units.csv"
    path.write_text(REGISTRY, encoding="utf-8")
    return load_registry(path)


def resolve(registry, rows: list[tuple[str | None, str | None, dt.datetime | None]]) -> list[tuple]:
    frame = pl.DataFrame(
        {
            "unit_code": [r[0] for r in rows],
            "unit_name": [r[1] for r in rows],
            "received_at": [r[2] for r in rows],
        },
        schema={"unit_code": pl.Utf8, "unit_name": pl.Utf8, "received_at": pl.Datetime("us")},
    )
    out = resolve_units(frame, registry)
    assert out.height == frame.height
    assert out["unit_code_given"].to_list() == frame["unit_code"].to_list()
    return list(zip(out["unit_code"].to_list(), out["unit_valid_from"].to_list(), out["unit_problem"].to_list()))


OLD = dt.datetime(2024, 5, 1, 9)
NEW = dt.datetime(2025, 7, 2, 9)
V08 = dt.date(2008, 8, 1)
V25 = dt.date(2025, 7, 1)


def test_load_registry_types_and_codes_as_text():
    reg = load_registry(FIXTURES / "units.csv")
    assert dict(reg.schema) == UNIT_SCHEMA
    assert reg["unit_code"].to_list() == ["001", "002", "00001", "00004"]
    assert reg["valid_from"].to_list()[0] == dt.date(2008, 8, 1)
    assert reg["valid_to"].to_list() == [None] * 4
    assert reg["parent_code"].to_list() == [None, None, "001", "002"]


def test_load_registry_reads_the_optional_agency_code(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(REGISTRY.replace("valid_to\n", "valid_to,agency_code\n", 1).replace(
        "001,Quận Ba Đình,district,,urban,2008-08-01,2025-06-30", "001,Quận Ba Đình,district,,urban,2008-08-01,2025-06-30, 000.00.01.h26 "),
        encoding="utf-8")
    reg = load_registry(path)
    assert dict(reg.schema) == REGISTRY_SCHEMA
    assert reg["agency_code"].to_list()[:2] == ["000.00.01.h26", None]
    # as a unit code, an agency code (any case), or the prefix of a dossier id
    frame = pl.DataFrame(
        {"unit_code": ["000.00.01.H26", None], "dossier_id": ["X-1", "000.00.01.H26-240501-0001"], "received_at": [OLD, OLD]},
        schema={"unit_code": pl.Utf8, "dossier_id": pl.Utf8, "received_at": pl.Datetime("us")},
    )
    out = resolve_units(frame, reg)
    assert out.select("unit_code", "unit_valid_from", "unit_problem").rows() == [("001", V08, None), ("001", V08, None)]


def test_load_registry_rejects_missing_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("code,name\n001,X\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unit_code"):
        load_registry(path)


def test_by_code_exact(registry):
    assert resolve(registry, [("001", None, OLD), ("00001", None, OLD), ("020", None, OLD)]) == [
        ("001", V08, None), ("00001", V08, None), ("020", V08, None)
    ]


def test_leading_zeros_lost(registry):
    # "20" fits only 020; "9552" only 09552; "1" fits 001 and 00001: ambiguous.
    assert resolve(registry, [("20", None, OLD), ("9552", None, OLD), ("1", None, OLD)]) == [
        ("020", V08, None), ("09552", V08, None), (None, None, "ambiguous_unit")
    ]


def test_exact_code_beats_zero_stripping(registry):
    assert resolve(registry, [("001", None, OLD)]) == [("001", V08, None)]


def test_reused_code_resolves_by_received_date(registry):
    assert resolve(registry, [("09552", None, OLD), ("09552", None, NEW)]) == [
        ("09552", V08, None), ("09552", V25, None)
    ]


def test_unit_not_valid_at_received_date_is_unknown(registry):
    assert resolve(registry, [("001", None, NEW), ("00004", None, OLD)]) == [
        (None, None, "unknown_unit"), (None, None, "unknown_unit")
    ]


def test_by_name(registry):
    rows = [
        (None, "UBND phường Vạn Phúc", OLD),
        (None, "Ủy ban nhân dân Xã Vạn Phúc", OLD),
        (None, "QUẬN HÀ ĐÔNG", OLD),
        (None, "Hà Đông", OLD),  # without level word: unique
        (None, "P. Phúc Xá", OLD),
        (None, "Vạn Phúc", OLD),  # Phường and Xã Vạn Phúc
        (None, "Phường Không Tồn Tại", OLD),
        (None, "Phường Hà Đông", NEW),
        (None, "Hà Đông", NEW),
    ]
    assert resolve(registry, rows) == [
        ("09552", V08, None),
        ("10126", V08, None),
        ("020", V08, None),
        ("020", V08, None),
        ("00001", V08, None),
        (None, None, "ambiguous_unit"),
        (None, None, "unknown_unit"),
        ("09552", V25, None),
        ("09552", V25, None),
    ]


def test_code_first_then_name(registry):
    rows = [
        ("020", "Phường Vạn Phúc", OLD),  # known code wins
        ("99999", "Phường Vạn Phúc", OLD),  # unknown code: name decides
        ("99999", None, OLD),
        (None, None, OLD),
    ]
    assert resolve(registry, rows) == [
        ("020", V08, None),
        ("09552", V08, None),
        (None, None, "unknown_unit"),
        (None, None, "no_unit"),  # nothing names a unit: ingestion says missing_field
    ]


def test_row_order_is_preserved(registry):
    rows = [(c, None, OLD) for c in ["020", "001", "9552", "1", "00001"]] * 3
    got = resolve(registry, rows)
    assert [g[0] for g in got] == ["020", "001", "09552", None, "00001"] * 3
