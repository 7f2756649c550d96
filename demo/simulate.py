"""The one dossier simulator: who received what, when, and how each dossier's life went.

Used by the demo's exports (`demo.generate`) and by the benchmark's data (bench/data.py),
which differ only in how they write what it simulates.

- `unit_behaviour` draws each unit's volume and habits (online share, lateness, ...)
  from a generator seeded by the seed and the unit alone;
- `simulate` draws every dossier received in a date range, day by day (working days,
  some Saturday mornings, Tết and year-end seasonality), its procedure among those its
  unit handles (`procedure_pools`), and its whole life: supplements, due dates in
  working days of the project's calendar, finishing early, on time or late, refusal,
  return of the result, the attributes its last export shows;
- `expected_dossiers` is what `simulate` draws on average, to choose a scale.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from transforms.units import unit_name_key

# Receipts per month relative to an average month (Tết in late Jan/Feb, year-end rush).
MONTH_FACTOR = np.array([1.10, 0.80, 1.00, 1.00, 1.00, 1.05, 0.92, 0.97, 1.00, 1.00, 1.02, 1.10])

# Procedure levels (config/procedures.csv) a unit draws from, by the kind of unit.
DISTRICT_LEVELS = ("district", "both")
COMMUNE_LEVELS = ("commune", "both")
# A commune without a district (the two-level units from 2025-07-01) does both.
TOP_COMMUNE_LEVELS = ("district", "commune", "both")
DEPARTMENT_LEVEL = "department"


def load_procedures(path: Path) -> pl.DataFrame:
    """The procedure catalogue: code, name, field, level, processing days, fee, weight,
    and the departments that receive it (`department`: names separated by `|`, the
    first that exists at the time wins; optional)."""
    df = pl.read_csv(path, infer_schema=False)
    df = df.with_columns(pl.col(c).str.strip_chars() for c in df.columns)
    truthy = ["1", "true", "yes", "có", "co", "x", "y"]
    department = pl.col("department") if "department" in df.columns else pl.lit(None, dtype=pl.Utf8)
    return df.select(
        pl.col("procedure_code"),
        pl.col("procedure_name"),
        pl.col("field_name"),
        pl.col("level").str.to_lowercase().fill_null("both"),
        pl.col("processing_days").str.replace(",", ".").cast(pl.Float64, strict=False)
        .fill_null(0).ceil().clip(0, 200).cast(pl.Int64),
        pl.col("fee_required").str.to_lowercase().is_in(truthy).fill_null(False),
        pl.col("weight").str.replace(",", ".").cast(pl.Float64, strict=False).fill_null(1.0).clip(0, None),
        department.alias("department"),
    ).filter(pl.col("procedure_code").is_not_null() & (pl.col("weight") > 0))


def seeded_rng(seed: int, *parts: object) -> np.random.Generator:
    """A generator drawn from the seed and the parts alone (a unit, an exporter): the
    same unit behaves the same whatever else the registry holds."""
    key = zlib.crc32("|".join(str(p) for p in parts).encode("utf-8"))
    return np.random.default_rng([seed, key])


def _day(d: date) -> np.datetime64:
    return np.datetime64(d.isoformat(), "D")


# --------------------------------------------------------------------------- units


def unit_behaviour(reg: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Per-unit behaviour, drawn from a generator seeded by the seed and the unit alone.

    Yearly volumes at scale 1: an urban district 18,000-35,000 (a thị xã 10,000-16,000),
    a rural one 8,000-12,000, a commune under a district 1,500-3,500, a department
    12,000-60,000; a commune without a district (the two-level units from 2025-07-01)
    takes a share of what the districts and their communes handled on the eve of the
    first of them. Peer groups other than urban/rural (types of Decree 307/2025) count
    as urban here; nothing depends on a province's names."""
    rows = reg.to_dicts()
    parent_of = _parent_finder(rows)
    out = [_unit_row(r, parent_of(r), seeded_rng(seed, "unit", r["unit_code"], r["valid_from"])) for r in rows]
    units = _parentless_commune_volumes(pl.DataFrame(out, infer_schema_length=None))
    return units.with_columns(
        (pl.col("unit_code") + "@" + pl.col("valid_from").cast(pl.Utf8)).alias("key"),
        unit_name_key(pl.col("unit_name")).alias("norm_name"),  # as the resolver matches names
    )


def _parent_finder(rows: list[dict]) -> Callable[[dict], dict | None]:
    """A unit's parent: the district or department of its `parent_code` valid while it is."""
    codes = {r["unit_code"] for r in rows}
    by_code: dict[str, list[dict]] = {}
    for r in rows:
        by_code.setdefault(r["unit_code"], []).append(r)

    def parent_of(r: dict) -> dict | None:
        pc = r.get("parent_code")
        if not pc or pc not in codes:
            return None
        for p in by_code[pc]:
            if p["level"] in ("district", "department") and overlaps(p, r["valid_from"], r["valid_to"]):
                return p
        return None

    return parent_of


def _unit_row(r: dict, parent: dict | None, g: np.random.Generator) -> dict:
    """One unit: who it is, its yearly volume and its habits (drawn from `g` in that order)."""
    level, peer = r["level"], (r.get("peer_group") or "urban")
    name = r["unit_name"] or r["unit_code"]
    return {
        "unit_code": r["unit_code"],
        "unit_name": name,
        "level": level,
        "peer_group": peer,
        "valid_from": r["valid_from"],
        "valid_to": r["valid_to"],
        "parent_key": None if parent is None else f"{parent['unit_code']}@{parent['valid_from']}",
        "volume": _yearly_volume(g, level, peer, name, parent is not None),
        **_habits(g),
    }


def _yearly_volume(g: np.random.Generator, level: str, peer: str, name: str, has_parent: bool) -> float:
    """Dossiers a year at scale 1; a commune without a parent gets minus its share of
    the city (`_parentless_commune_volumes` resolves it)."""
    if level == "district":
        if peer == "rural":
            return g.uniform(8_000, 12_000)
        if name.startswith("Thị xã"):
            return g.uniform(10_000, 16_000)
        return g.uniform(18_000, 35_000)
    if level == "commune" and has_parent:
        return g.uniform(1_800, 3_500) if peer == "urban" else g.uniform(1_500, 3_000)
    if level == "commune":
        return -float(np.clip(g.lognormal(0.0, 0.35), 0.45, 2.2))
    if level == "department":
        return g.uniform(12_000, 60_000)
    return g.uniform(5_000, 20_000)


def _habits(g: np.random.Generator) -> dict:
    """A unit's habits: shares of its dossiers online, late, refused, rated, ..."""
    weak = g.random() < 0.08
    return {
        "online": g.uniform(0.2, 0.8),
        "postal": g.uniform(0.005, 0.04),
        "late": g.uniform(0.18, 0.35) if weak else g.uniform(0.02, 0.15),
        "weak": weak,
        "reject": g.uniform(0.01, 0.04),
        "supplement": g.uniform(0.03, 0.12),
        "paid_hi": g.uniform(0.5, 0.95),
        "paid_lo": g.uniform(0.02, 0.25),
        "digitized": g.uniform(0.45, 0.98),
        "e_result": g.uniform(0.3, 0.95),
        "synced": g.uniform(0.75, 1.0),
        "rating": g.uniform(0.05, 0.4),
        "complaint": g.uniform(0.001, 0.01),
        "apology": g.uniform(0.2, 0.8),
        "saturday": g.uniform(0.15, 0.35) if g.random() < 0.5 else 0.0,
        "due_time": g.uniform(0.0, 0.35),
        "returns": g.uniform(0.6, 0.92),
        "speed": g.uniform(1.2, 2.5),
    }


def _parentless_commune_volumes(units: pl.DataFrame) -> pl.DataFrame:
    """Units without a parent at commune level (Hà Nội's 126 wards/communes from 2025-07-01)
    share what the districts and their communes handled."""
    shares = units.filter(pl.col("volume") < 0)
    if not shares.height:
        return units
    # ... on the eve of the first of them: codes merged earlier must not count twice.
    eve = shares["valid_from"].min() - timedelta(days=1)
    legacy = units.filter(
        (pl.col("volume") > 0) & (pl.col("level") != "department") & (pl.col("valid_from") <= eve)
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= eve))
    )["volume"].sum()
    per_unit = legacy / shares.height if legacy > 0 else 15_000.0
    return units.with_columns(
        pl.when(pl.col("volume") < 0).then(-pl.col("volume") * per_unit).otherwise(pl.col("volume")).alias("volume")
    )


def overlaps(r: dict, start: date, end: date | None) -> bool:
    return (end is None or r["valid_from"] <= end) and (r["valid_to"] is None or r["valid_to"] >= start)


def procedure_pools(units: pl.DataFrame, procs: pl.DataFrame,
                    days: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct sets of procedures units draw from, and the set of each unit on
    each of `days` (an index array, units x days).

    A district draws district and `both` procedures, a commune under a district commune
    and `both` ones, a commune without one all three. A department draws, on a given
    day, the department procedures whose `department` list names it first among the
    departments that exist that day (Sở Kế hoạch và Đầu tư's procedures go to Sở Tài
    chính once it is gone; a procedure whose departments are all gone goes to nobody);
    a department no procedure names draws all department procedures (a prior for
    synthetic data), and so does one that receives none on a day. A unit left with no
    procedure draws from the whole catalogue."""
    plevel = procs["level"].to_numpy()
    everything = np.arange(len(procs))

    def of_levels(levels: tuple[str, ...]) -> np.ndarray:
        return np.flatnonzero(np.isin(plevel, levels))

    dept_procs = of_levels((DEPARTMENT_LEVEL,))
    listed = [[n.strip().casefold() for n in (names or "").split("|") if n.strip()]
              for names in procs["department"].to_list()]
    named_anywhere = {n for names in (listed[p] for p in dept_procs) for n in names}
    departments = units.filter(pl.col("level") == DEPARTMENT_LEVEL)
    dept_from = departments["valid_from"].to_numpy().astype("datetime64[D]")
    dept_to = departments["valid_to"].fill_null(date(9999, 12, 31)).to_numpy().astype("datetime64[D]")
    dept_names = [n.casefold() for n in departments["unit_name"].to_list()]

    def claimed_by(day: np.datetime64) -> dict[str, np.ndarray]:
        """Department name -> the department procedures it receives on `day`."""
        alive = {n for n, f, t in zip(dept_names, dept_from, dept_to) if f <= day <= t}
        out: dict[str, list[int]] = {}
        for p in dept_procs:
            first = next((n for n in listed[p] if n in alive), None)
            if first is not None:
                out.setdefault(first, []).append(int(p))
        return {n: np.array(v, dtype=np.int64) for n, v in out.items()}

    pools: list[np.ndarray] = []
    seen: dict[tuple[int, ...], int] = {}

    def pool_id(members: np.ndarray) -> int:
        if len(members) == 0:
            members = everything
        key = tuple(members.tolist())
        if key not in seen:
            seen[key] = len(pools)
            pools.append(members)
        return seen[key]

    index = np.zeros((units.height, len(days)), dtype=np.int64)
    # The departments alive change on a few days only: one claim per stretch of days.
    cuts = np.unique(np.concatenate([dept_from, dept_to + 1, days[:1]])) if len(days) else days
    segment = np.searchsorted(cuts, days, side="right") - 1
    claims = [claimed_by(cuts[k]) for k in np.unique(segment)] if len(days) else []
    claim_of_day = np.searchsorted(np.unique(segment), segment) if len(days) else segment
    for i, row in enumerate(units.iter_rows(named=True)):
        if row["level"] == "district":
            index[i, :] = pool_id(of_levels(DISTRICT_LEVELS))
        elif row["level"] == "commune":
            index[i, :] = pool_id(of_levels(COMMUNE_LEVELS if row["parent_key"] is not None else TOP_COMMUNE_LEVELS))
        elif row["level"] == DEPARTMENT_LEVEL and row["unit_name"].casefold() not in named_anywhere:
            index[i, :] = pool_id(dept_procs)
        elif row["level"] == DEPARTMENT_LEVEL:
            name = row["unit_name"].casefold()
            per_claim = np.array([pool_id(c.get(name, dept_procs)) for c in claims], dtype=np.int64)
            index[i, :] = per_claim[claim_of_day]
        else:
            index[i, :] = pool_id(everything)
    return pools, index


def _busdays(calendar: pl.DataFrame) -> np.busdaycalendar:
    return np.busdaycalendar(
        weekmask="1111111",
        holidays=calendar.filter(~pl.col("is_working_day"))["date"].to_numpy().astype("datetime64[D]"),
    )


def _daily_rates(units: pl.DataFrame, start: date, end: date, scale: float,
                 cal: np.busdaycalendar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The days of [start, end], which are Saturdays some offices open, and the expected
    receipts of each unit on each day (units x days)."""
    days = np.arange(_day(start), _day(end) + 1, dtype="datetime64[D]")
    working = np.is_busday(days, busdaycal=cal)
    before = np.is_busday(days - 1, busdaycal=cal)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    # Some one-stop shops open on Saturday mornings, except after a holiday (Tết, 30/4-1/5).
    is_sat = (weekday == 5) & ~working & before
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    mfac = MONTH_FACTOR[month]

    vf = units["valid_from"].to_numpy().astype("datetime64[D]")
    vt_raw = units["valid_to"].fill_null(date(9999, 12, 31)).to_numpy().astype("datetime64[D]")
    sat = units["saturday"].to_numpy()
    rate = units["volume"].to_numpy() * scale / (246.0 + 50.0 * sat)
    valid = (days[None, :] >= vf[:, None]) & (days[None, :] <= vt_raw[:, None])
    weight = np.where(is_sat[None, :], sat[:, None], working[None, :].astype(float)) * mfac[None, :]
    return days, is_sat, rate[:, None] * weight * valid


def expected_dossiers(units: pl.DataFrame, start: date, end: date, calendar: pl.DataFrame) -> float:
    """How many dossiers `simulate` draws on average at scale 1."""
    return float(_daily_rates(units, start, end, 1.0, _busdays(calendar))[2].sum())


# --------------------------------------------------------------------------- simulation


def simulate(units: pl.DataFrame, procs: pl.DataFrame, start: date, end: date, scale: float,
             rng: np.random.Generator, calendar: pl.DataFrame) -> dict[str, np.ndarray]:
    """Every dossier received in [start, end] by `units` (from `unit_behaviour`), with
    its whole life (numpy arrays indexed by dossier; `unit` and `proc` index `units`
    and `procs`; times are datetime64[m], NaT for none).

    `calendar` is the project's working-day calendar (transforms.calendar), from at
    least the day before `start`; due dates and finishing days count its working days.
    """
    cal = _busdays(calendar)
    days, is_sat, lam = _daily_rates(units, start, end, scale, cal)
    # The steps below draw from `rng` in this order: another order gives other dossiers.
    uu, dd = _receipts(rng.poisson(lam))
    P = {c: units[c].to_numpy() for c in units.columns if units[c].dtype in (pl.Float64, pl.Boolean)}
    recv_day = days[dd]
    tod = _minute_of_receipt(rng, is_sat[dd])
    received = recv_day.astype("datetime64[m]") + tod.astype("timedelta64[m]")
    proc = _procedures_received(units, procs, days, uu, dd, rng)
    pdays = procs["processing_days"].to_numpy()[proc]
    fee = procs["fee_required"].to_numpy()[proc]
    channel, submitted = _channel_and_submission(rng, P, uu, received)
    life = _outcomes(rng, P, uu, recv_day, tod, received, pdays, cal)
    pending_status, attributes = _exported_attributes(rng, P, uu, fee, channel, life)
    return {
        "unit": uu,
        "received": received,
        "submitted": submitted,
        "channel": channel,
        "proc": proc,
        "fee": fee,
        "status": life["status"],
        "pending_status": pending_status,
        **{k: life[k] for k in ("due_first", "due_final", "due_has_time", "finished", "returned",
                                "rejected_at", "end_at", "last_at")},
        "supplements": life["supplements"].astype(np.int32),
        **attributes,
    }


def _receipts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unit and the day (indices) of each dossier, from the receipts of each unit on
    each day (units x days)."""
    n_units, n_days = counts.shape
    uu = np.repeat(np.arange(n_units)[:, None], n_days, axis=1)[counts > 0]
    dd = np.repeat(np.arange(n_days)[None, :], n_units, axis=0)[counts > 0]
    reps = counts[counts > 0]
    return np.repeat(uu, reps), np.repeat(dd, reps)


def _minute_of_receipt(rng: np.random.Generator, saturday: np.ndarray) -> np.ndarray:
    """The minute of the day each dossier is received: mostly mornings, on Saturdays only."""
    n = len(saturday)
    morning = (rng.random(n) < 0.62) | saturday
    return np.where(morning, rng.integers(450, 690, n), rng.integers(810, 1020, n))


def _procedures_received(units: pl.DataFrame, procs: pl.DataFrame, days: np.ndarray, uu: np.ndarray,
                         dd: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each dossier's procedure (an index of `procs`), by weight among those the receiving
    unit handles on its day."""
    pools, pool_index = procedure_pools(units, procs, days)
    pool = pool_index[uu, dd]
    pw = procs["weight"].to_numpy()
    proc = np.zeros(len(uu), dtype=np.int64)
    for k, members in enumerate(pools):
        idx = np.flatnonzero(pool == k)
        p = pw[members] / pw[members].sum()
        proc[idx] = members[rng.choice(len(members), size=len(idx), p=p)]
    return proc


def _channel_and_submission(rng: np.random.Generator, P: dict[str, np.ndarray], uu: np.ndarray,
                            received: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each dossier's channel (1 at the counter, 2 online, 3 by post) and when it was
    submitted: online some hours before receipt, by post days before."""
    n = len(uu)
    r = rng.random(n)
    channel = np.where(r < P["online"][uu], 2, np.where(r < P["online"][uu] + P["postal"][uu], 3, 1)).astype(np.int8)
    lag = np.clip(rng.exponential(600, n), 5, 4320).astype(np.int64)
    lag = np.where(channel == 3, rng.integers(1440, 4 * 1440, n), np.where(channel == 2, lag, 0))
    return channel, received - lag.astype("timedelta64[m]")


def _outcomes(rng: np.random.Generator, P: dict[str, np.ndarray], uu: np.ndarray, recv_day: np.ndarray,
              tod: np.ndarray, received: np.ndarray, pdays: np.ndarray,
              cal: np.busdaycalendar) -> dict[str, np.ndarray]:
    """Each dossier's life after receipt: refusal or supplements, due dates, finishing
    early, on time or late, return of the result (times NaT where there is none); with
    `rejected` and `late`, which the exported attributes depend on."""
    n = len(uu)
    rejected = rng.random(n) < P["reject"][uu]
    rej_status = rng.choice(np.array([3, 7, 8], dtype=np.int8), size=n, p=[0.4, 0.3, 0.3])
    supp = np.where(~rejected & (rng.random(n) < P["supplement"][uu]), np.where(rng.random(n) < 0.85, 1, 2), 0)
    due0, due1, due_has_time = _due_dates(rng, P, uu, recv_day, pdays, supp, cal)
    due_tod = np.where(due_has_time, 17 * 60, 0).astype("timedelta64[m]")
    late, fin_day, fin_tod = _finishing(rng, P, uu, rejected, recv_day, due1, tod, cal)
    finished = (fin_day.astype("datetime64[m]") + fin_tod.astype("timedelta64[m]"))
    returns, returned = _return_of_result(rng, P, uu, rejected, fin_day, fin_tod, cal)
    rejected_at = _refusal_time(rng, recv_day, tod, received, pdays, rej_status, cal)

    nat = np.datetime64("NaT", "m")
    status = np.where(rejected, rej_status, np.where(returns, 10, 9)).astype(np.int8)
    finished = np.where(rejected, nat, finished)
    returned = np.where(returns, returned, nat)
    rejected_at = np.where(rejected, rejected_at, nat)
    end_at = np.where(rejected, np.where(np.isnat(rejected_at), received, rejected_at), finished)
    last_at = np.where(np.isnat(returned), end_at, returned)
    due_final = np.where(rejected & (rej_status == 3), nat, due1.astype("datetime64[m]") + due_tod)
    due_first = np.where(rejected & (rej_status == 3), nat, due0.astype("datetime64[m]") + due_tod)
    return {
        "status": status, "due_first": due_first, "due_final": due_final, "due_has_time": due_has_time,
        "finished": finished, "returned": returned, "rejected_at": rejected_at, "end_at": end_at,
        "last_at": last_at, "supplements": supp, "rejected": rejected, "late": late,
    }


def _due_dates(rng: np.random.Generator, P: dict[str, np.ndarray], uu: np.ndarray, recv_day: np.ndarray,
               pdays: np.ndarray, supp: np.ndarray,
               cal: np.busdaycalendar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first due date (the procedure's processing days after receipt, in working
    days), the last (a few working days more per supplement), and whether the due date
    carries a time (17:00)."""
    n = len(uu)
    ext = supp * rng.integers(3, 8, n)
    due0 = np.busday_offset(recv_day, pdays, roll="forward", busdaycal=cal)
    due1 = np.busday_offset(due0, ext, roll="forward", busdaycal=cal)
    return due0, due1, rng.random(n) < P["due_time"][uu]


def _finishing(rng: np.random.Generator, P: dict[str, np.ndarray], uu: np.ndarray, rejected: np.ndarray,
               recv_day: np.ndarray, due1: np.ndarray, tod: np.ndarray,
               cal: np.busdaycalendar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which dossiers are late, and the day and minute each finishes: a late one some
    working days after its due date (a weak unit's far more at times), the others
    early or on the due date."""
    n = len(uu)
    late = ~rejected & (rng.random(n) < P["late"][uu])
    delay = rng.geometric(0.35, n)
    delay = delay + np.where(P["weak"][uu].astype(bool) & (rng.random(n) < 0.15), rng.integers(5, 30, n), 0)
    span = np.busday_count(recv_day, due1, busdaycal=cal)
    k = np.minimum(np.floor(rng.beta(P["speed"][uu], 3.0) * (span + 1)), span).astype(np.int64)
    k = np.where(rng.random(n) < 0.12, span, k)
    fin_day = np.where(late, np.busday_offset(due1, delay, roll="forward", busdaycal=cal),
                       np.busday_offset(recv_day, k, roll="forward", busdaycal=cal))
    return late, fin_day, _later_same_day(rng, tod, fin_day == recv_day)


def _return_of_result(rng: np.random.Generator, P: dict[str, np.ndarray], uu: np.ndarray, rejected: np.ndarray,
                      fin_day: np.ndarray, fin_tod: np.ndarray,
                      cal: np.busdaycalendar) -> tuple[np.ndarray, np.ndarray]:
    """Which results are returned, and when: up to three working days after finishing."""
    n = len(uu)
    returns = ~rejected & (rng.random(n) < P["returns"][uu])
    ret_day = np.busday_offset(fin_day, rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1]), roll="forward", busdaycal=cal)
    ret_tod = np.where(ret_day == fin_day, fin_tod + rng.integers(5, 120, n), _work_minute(rng, n))
    return returns, ret_day.astype("datetime64[m]") + ret_tod.astype("timedelta64[m]")


def _refusal_time(rng: np.random.Generator, recv_day: np.ndarray, tod: np.ndarray, received: np.ndarray,
                  pdays: np.ndarray, rej_status: np.ndarray, cal: np.busdaycalendar) -> np.ndarray:
    """When a dossier would be refused: within its processing days; one not accepted
    (status 3) at the counter soon after receipt, or at an unknown time (NaT)."""
    n = len(recv_day)
    rej_day = np.busday_offset(recv_day, rng.integers(0, np.maximum(pdays, 1) + 1), roll="forward", busdaycal=cal)
    rej_tod = _later_same_day(rng, tod, rej_day == recv_day)
    rejected_at = rej_day.astype("datetime64[m]") + rej_tod.astype("timedelta64[m]")
    at_counter = received + rng.integers(5, 60, n).astype("timedelta64[m]")
    return np.where(rej_status == 3, np.where(rng.random(n) < 0.6, at_counter, np.datetime64("NaT")), rejected_at)


def _exported_attributes(rng: np.random.Generator, P: dict[str, np.ndarray], uu: np.ndarray, fee: np.ndarray,
                         channel: np.ndarray, life: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The status an export shows while a dossier is open, and the attributes the final
    export shows (payment, digitisation, sync, apology, complaint, rating)."""
    n = len(uu)
    rejected, late = life["rejected"], life["late"]
    done = ~rejected
    r = rng.random(n)
    pend = np.where((life["supplements"] > 0) & (r < 0.6), 5, np.where(fee & (r > 0.85), 6, 4)).astype(np.int8)
    paid = np.where(channel == 2, P["paid_hi"][uu], P["paid_lo"][uu])
    rated = done & (rng.random(n) < P["rating"][uu])
    rating = np.where(
        late,
        rng.choice(np.arange(1, 6), size=n, p=[0.15, 0.15, 0.2, 0.25, 0.25]),
        rng.choice(np.arange(1, 6), size=n, p=[0.01, 0.03, 0.08, 0.28, 0.60]),
    ).astype(np.int8)
    return pend, {
        # booleans as 1/0 with -1 for unknown
        "paid_online": np.where(fee, (rng.random(n) < paid).astype(np.int8), -1),
        "digitized": (rng.random(n) < P["digitized"][uu]).astype(np.int8),
        "e_result": np.where(done, (rng.random(n) < P["e_result"][uu]).astype(np.int8), -1),
        "synced": (rng.random(n) < P["synced"][uu]).astype(np.int8),
        "apology": np.where(late, (rng.random(n) < P["apology"][uu]).astype(np.int8), np.where(done, 0, -1)),
        "complaint": np.where(done, (rng.random(n) < P["complaint"][uu] * np.where(late, 4, 1)).astype(np.int8), -1),
        "rating": np.where(rated, rating, 0).astype(np.int8),
    }


def _work_minute(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.55, rng.integers(450, 690, n), rng.integers(810, 1020, n))


def _later_same_day(rng: np.random.Generator, tod: np.ndarray, same_day: np.ndarray) -> np.ndarray:
    """A working minute; on the day of receipt, after the receipt and by 17:00."""
    room = np.maximum(1020 - tod - 1, 0)
    later = tod + 1 + np.floor(rng.random(len(tod)) * room).astype(np.int64)
    return np.where(same_day, later, _work_minute(rng, len(tod)))

