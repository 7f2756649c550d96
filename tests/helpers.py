"""Shared test helpers: the worked example and frame comparison."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import unicodedata
from pathlib import Path

import polars as pl

from transforms.profile import DEFAULT_PROFILE_PATH, load_profile
from transforms.schema import BOOL_FIELDS, DATE_FIELDS, DOSSIER_SCHEMA, scoreboard_schema

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = FIXTURES / "example"
# the default profile (Decision 766's six groups), which the worked example is scored with
DEFAULT_PROFILE = load_profile(DEFAULT_PROFILE_PATH)
# the published scoreboard's columns under the default profile
SCOREBOARD_COLUMNS = scoreboard_schema(DEFAULT_PROFILE)


def to_cp1258(text: str) -> bytes:
    """Windows-1258 keeps tone marks as combining characters."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in tones))
        out.append(base + "".join(p for p in parts if p in tones))
    return "".join(out).encode("cp1258")


def read_expected_scoreboard(
    path: Path = EXAMPLE / "expected_scoreboard.csv", schema: dict[str, pl.DataType] = SCOREBOARD_COLUMNS
) -> pl.DataFrame:
    """A scoreboard CSV (the worked example's by default) with the types of `schema`."""
    frame = pl.read_csv(path, infer_schema=False)
    casts = []
    for name, dtype in schema.items():
        col = pl.col(name).replace("", None)
        if dtype == pl.Boolean():
            casts.append((col == "true").alias(name))
        elif dtype == pl.Date():
            casts.append(col.str.to_date("%Y-%m-%d").alias(name))
        else:
            casts.append(col.cast(dtype).alias(name))
    return frame.select(casts)


def read_example_dossiers(path: Path = EXAMPLE / "dossiers.csv") -> pl.DataFrame:
    """The canonical example read by hand (the engine's tests do not depend on the reader)."""
    raw = pl.read_csv(path, infer_schema=False)
    exprs = []
    for name, dtype in DOSSIER_SCHEMA.items():
        if name not in raw.columns:
            continue
        col = pl.col(name)
        if name in DATE_FIELDS:
            exprs.append(col.str.to_datetime("%Y-%m-%d %H:%M:%S").alias(name))
        elif name in BOOL_FIELDS:
            exprs.append(col.replace_strict({"true": True, "false": False}, default=None).alias(name))
        elif name == "rating":
            exprs.append(
                col.replace_strict(
                    {"1": "dissatisfied", "2": "dissatisfied", "3": "neutral", "4": "satisfied",
                     "5": "satisfied", "satisfied": "satisfied", "neutral": "neutral",
                     "dissatisfied": "dissatisfied"},
                    default=None,
                ).alias(name)
            )
        else:
            exprs.append(col.cast(dtype).alias(name))
    frame = raw.select(exprs)
    for name, dtype in DOSSIER_SCHEMA.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    from datetime import date

    return frame.with_columns(
        unit_valid_from=pl.lit(date(2008, 8, 1)), source_file=pl.lit("dossiers.csv"),
        source_row=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
    ).select(list(DOSSIER_SCHEMA))


def assert_frames_match(actual: pl.DataFrame, expected: pl.DataFrame, key: list[str]) -> None:
    """Every column of `expected`, row by row on `key`; floats to 1e-9 relative."""
    assert actual.columns[: len(expected.columns)] == expected.columns
    a = actual.sort(key)
    e = expected.sort(key)
    assert a.select(key).rows() == e.select(key).rows(), "different rows"
    problems = []
    for col in expected.columns:
        for i, (x, y) in enumerate(zip(a[col].to_list(), e[col].to_list())):
            same = (
                (x is None and y is None)
                or (isinstance(x, float) and isinstance(y, float) and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12))
                or x == y
            )
            if not same:
                problems.append(f"{e.row(i, named=True)['period_key']} {e[key[-1]][i]} {col}: got {x!r}, expected {y!r}")
    assert not problems, "\n".join(problems[:40])


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# `scoreboard` in a process that dies, as SIGKILL or the OOM killer would end it
# (os._exit(137): no cleanup, no rollback of what is committed), as soon as the
# ingestion has returned, its rows committed, before the asset does anything more
_KILLED_AFTER_INGESTION = (
    "import os, sys\n"
    "import pipelines.assets as assets\n"
    "ingest = assets.ingest_landing\n"
    "def dying(*args, **kwargs):\n"
    "    ingest(*args, **kwargs)\n"
    "    os._exit(137)\n"
    "assets.ingest_landing = dying\n"
    "from pipelines.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def run_killed_after_ingestion(args: list[str]) -> None:
    """`scoreboard <args>` (the environment's SCOREBOARD_NOW too) killed right after
    its ingestion has committed (above); fails unless it died there."""
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_AFTER_INGESTION, *args], env={**os.environ, "SCOREBOARD_DAGSTER_HOME": ""},
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 137, done.stderr[-2000:]
