"""What the site costs at Hà Nội's size: 2 years of weeks and months × the ~610 pre-2025 units.

Slow (minutes), so it runs only when asked:

    PAR_SITE_BENCH=1 .venv/bin/python -m pytest tests/test_site_scale.py -s

The scoreboard is fabricated (plausible counts and rates, then points, bands
and ranks from the engine's own functions); weak points and what-if come from
transforms.insights over it; bottlenecks, checks and warnings are made up in
their published shapes. Prints build time and sizes, and writes them to
/tmp/site-bench.json.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from tests.helpers import SCOREBOARD_COLUMNS, DEFAULT_PROFILE
import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("PAR_SITE_BENCH"), reason="set PAR_SITE_BENCH=1 to measure build cost")

FIRST_MONTH = date(2023, 1, 1)
MONTHS = 24
WEEKS = 104
FIRST_MONDAY = date(2023, 1, 2)  # 2023-W01


def hanoi_units() -> pl.DataFrame:
    from transforms.units import load_registry

    reg = load_registry(Path(__file__).parents[1] / "config" / "registry" / "hanoi.csv")
    return reg.filter(pl.col("valid_from") < date(2025, 1, 1))


def _periods() -> list[tuple[str, str, date, int]]:
    out = []
    for i in range(MONTHS):
        y, m = divmod(FIRST_MONTH.month - 1 + i, 12)
        start = date(FIRST_MONTH.year + y, m + 1, 1)
        out.append(("month", f"{start:%Y-%m}", start, i))
    for i in range(WEEKS):
        start = FIRST_MONDAY + timedelta(weeks=i)
        iso = start.isocalendar()
        out.append(("week", f"{iso.year}-W{iso.week:02d}", start, i))
    return out


def synthetic_scoreboard(units: pl.DataFrame, seed: int = 7) -> pl.DataFrame:
    from tests.helpers import DEFAULT_PROFILE_PATH
    from transforms.profile import load_profile
    from tests.helpers import SCOREBOARD_COLUMNS
    from transforms.score import add_points, add_ranks

    profile = load_profile(DEFAULT_PROFILE_PATH)
    rng = np.random.default_rng(seed)
    u = units.to_dicts()
    n_units = len(u)
    quality = rng.beta(8, 2, n_units)  # each unit's own level of service
    parts = []
    for ptype, key, start, idx in _periods():
        scale = 4.3 if ptype == "month" else 1.0
        base = np.array([40.0 if x["level"] == "district" else 9.0 for x in u]) * scale
        received = rng.poisson(base)
        finished = rng.binomial(received, 0.9)
        overdue = rng.binomial(finished, np.clip(1 - quality, 0.01, 0.6) * 0.4)
        early = rng.binomial(finished - overdue, 0.6)
        no_deadline = rng.binomial(finished - overdue - early, 0.05)
        on_time = finished - overdue - early - no_deadline
        pending = rng.poisson(np.clip(1 - quality, 0, 1) * 1.5 * scale)
        silent = rng.random(n_units) < 0.01
        received = np.where(silent, 0, received)
        base_t = early + on_time + overdue + pending

        def rate(p, n):
            x = rng.binomial(np.maximum(n, 0), np.clip(p, 0, 1)) / np.maximum(n, 1)
            return np.where(n > 0, x, np.nan)

        frame = pl.DataFrame(
            {
                "period_type": ptype, "period_key": key, "period_start": start, "period_idx": idx,
                "level": [x["level"] for x in u], "unit_code": [x["unit_code"] for x in u],
                "unit_name": [x["unit_name"] for x in u], "peer_group": [x["peer_group"] for x in u],
                "unit_valid_from": [x["valid_from"] for x in u],
                "received": received, "finished": finished, "early": early, "on_time": on_time,
                "overdue": overdue, "no_deadline": no_deadline, "pending_overdue": pending,
                "rejected": rng.binomial(received, 0.02), "timeliness_base": base_t,
                "on_time_rate": np.where(base_t > 0, (early + on_time) / np.maximum(base_t, 1), np.nan),
                "online_rate": rate(quality * 0.7, received),
                "paid_online_rate": rate(quality * 0.8, received // 3),
                "digitized_rate": rate(quality, received),
                "e_result_rate": rate(quality * 0.95, finished),
                "synced_rate": rate(quality * 1.05, received),
                "complaint_rate": rate((1 - quality) * 0.1, finished),
                "apology_rate": rate(0.5, overdue),
                "avg_working_days": np.where(finished > 0, rng.gamma(4, 1.2, n_units), np.nan),
                "valid_in_period": True,
                "provisional": (ptype == "month" and idx == MONTHS - 1) or (ptype == "week" and idx == WEEKS - 1),
            },
            nan_to_null=True,
        )
        parts.append(frame)
    frame = pl.concat(parts).with_columns(
        satisfaction_rate=pl.when(pl.col("complaint_rate").is_not_null()).then(
            pl.max_horizontal(0.0, 1 - (1 - pl.col("on_time_rate").fill_null(1.0)) - pl.col("complaint_rate"))
        )
    )
    frame = add_points(frame, profile)
    ranked = []
    for ptype in ("month", "week"):
        ranked.append(add_ranks(frame.filter(pl.col("period_type") == ptype), profile))
    return pl.concat(ranked).select([pl.col(c).cast(t) for c, t in SCOREBOARD_COLUMNS.items()])


def synthetic_bottlenecks(scoreboard: pl.DataFrame, seed: int = 8) -> pl.DataFrame:
    from transforms.insights import BOTTLENECK_SCHEMA

    rng = np.random.default_rng(seed)
    late = scoreboard.filter((pl.col("overdue") + pl.col("pending_overdue")) > 0).select(
        "period_type", "period_key", "unit_code", "unit_valid_from", "overdue", "pending_overdue"
    )
    rows = []
    procs = [f"1.00{n:04d}" for n in range(1, 200)]
    for r in late.iter_rows(named=True):
        total = r["overdue"] + r["pending_overdue"]
        k = min(5, total)
        for pos in range(1, k + 1):
            share = 1 / k
            rows.append({**{c: r[c] for c in ("period_type", "period_key", "unit_code", "unit_valid_from")},
                         "position": pos, "procedure_code": procs[int(rng.integers(len(procs)))],
                         "procedure_name": "Cấp giấy chứng nhận quyền sử dụng đất",
                         "overdue": r["overdue"] // k, "pending_overdue": r["pending_overdue"] // k,
                         "late": total // k, "share_of_late": share})
    return pl.DataFrame(rows, schema=BOTTLENECK_SCHEMA)


def synthetic_quality(scoreboard: pl.DataFrame) -> pl.DataFrame:
    keys = scoreboard.select("period_type", "period_key").unique().sort("period_type", "period_key")
    checks = [("rates_in_range", "Tỷ lệ trong khoảng 0–1", "Rates within 0–1"),
              ("received_not_collapsed", "Số hồ sơ tiếp nhận không giảm quá 50 %", "Received did not fall by half"),
              ("units_reporting", "Đủ đơn vị gửi dữ liệu", "Enough units reporting")]
    rows = []
    for ptype, key in keys.iter_rows():
        for i, (c, vi, en) in enumerate(checks):
            failed = hash((key, c)) % 17 == 0
            rows.append({"period_type": ptype, "period_key": key, "check": c, "success": not failed,
                         "unexpected_count": 3 if failed else 0, "description_vi": vi, "description_en": en,
                         "blocked": failed and i == 1})
    return pl.DataFrame(rows)


def synthetic_warnings(scoreboard: pl.DataFrame) -> pl.DataFrame:
    w = scoreboard.filter(pl.col("on_time_rate") < 0.5).select(
        "period_type", "period_key", "unit_code", "unit_valid_from", "unit_name", "level",
        indicator=pl.lit("on_time_rate"), value=pl.col("on_time_rate"), baseline=pl.lit(0.8),
        z=(pl.col("on_time_rate") - 0.8) / 0.1, kind=pl.lit("drop"),
        message_vi=pl.lit("Tỷ lệ đúng hạn giảm mạnh"), message_en=pl.lit("On-time rate fell sharply"),
    )
    return w


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_build_cost(tmp_path):
    from dashboards.site import build_site
    from transforms.insights import weak_points, what_if
    from transforms.profile import load_profile

    t0 = time.perf_counter()
    units = hanoi_units()
    scoreboard = synthetic_scoreboard(units)
    profile = load_profile(DEFAULT_PROFILE_PATH)
    inputs = {
        "weak_points": weak_points(scoreboard, profile),
        "what_if": what_if(scoreboard, profile),
        "bottlenecks": synthetic_bottlenecks(scoreboard),
        "quality": synthetic_quality(scoreboard),
        "warnings": synthetic_warnings(scoreboard),
        "profile": profile,
    }
    t_inputs = time.perf_counter() - t0

    site = tmp_path / "site"
    t0 = time.perf_counter()
    build_site(site, scoreboard, profile=DEFAULT_PROFILE, manifest={"bench": True}, log=print, **inputs)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_site(site, scoreboard, profile=DEFAULT_PROFILE, manifest={"bench": True}, log=print, **inputs)
    t_again = time.perf_counter() - t0

    unit_pages = list((site / "units").glob("*.html"))
    result = {
        "units": units.height,
        "periods": {"months": MONTHS, "weeks": WEEKS},
        "scoreboard_rows": scoreboard.height,
        "weak_point_rows": inputs["weak_points"].height,
        "bottleneck_rows": inputs["bottlenecks"].height,
        "seconds": {"inputs": round(t_inputs, 1), "first_build": round(t_first, 1), "rebuild_unchanged": round(t_again, 1)},
        "files": sum(1 for p in site.rglob("*") if p.is_file()),
        "mb": {
            "total": round(_size(site) / 1e6, 1),
            "data": round(_size(site / "data") / 1e6, 1),
            "periods": round(_size(site / "periods") / 1e6, 1),
            "units": round(_size(site / "units") / 1e6, 1),
            "assets": round(_size(site / "assets") / 1e6, 2),
            "charts": round(_size(site / "charts") / 1e6, 2),
            "reports": round(sum(p.stat().st_size for p in site.glob("report-*.html")) / 1e6, 1),
        },
        "kb": {
            "index": round((site / "index.html").stat().st_size / 1e3),
            "city": round((site / "city.html").stat().st_size / 1e3),
            "quality": round((site / "quality.html").stat().st_size / 1e3),
            "unit_page_mean": round(sum(p.stat().st_size for p in unit_pages) / len(unit_pages) / 1e3, 1),
            "unit_page_max": round(max(p.stat().st_size for p in unit_pages) / 1e3, 1),
            "period_page_max": round(max(p.stat().st_size for p in (site / "periods").glob("*.html")) / 1e3),
        },
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    Path("/tmp/site-bench.json").write_text(json.dumps(result, indent=2))
    assert len(unit_pages) == units.height
    assert result["kb"]["unit_page_max"] < 80
