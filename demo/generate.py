"""Synthetic one-stop-shop exports of any registry's units (a province's districts,
communes, wards and departments), shaped like the ones offices send us.

`generate_exports` simulates every dossier received by the units of a registry
in a date range (demo.simulate: the one simulator, shared with the benchmark),
follows each through its life (processing, supplements, finishing early, on time
or late, refusal, return of the result) and writes the exports the offices would
have made of them (demo.exports): one file per exporting system and period, in
several vendors' shapes (see ../shared/spec/dossier-log.md):

- ``csv_vn``: CSV, UTF-8 with BOM, comma, Vietnamese headers, dd/mm/yyyy HH:MM;
- ``xlsx_report``: XLSX with a banner above the header and a ``Tổng cộng`` row
  below the data, dates as dd/mm/yyyy text or native Excel datetimes;
- ``csv_dvcqg``: CSV, semicolon, the national sync names, ISO dates with +07:00;
- ``xlsx_plain``: XLSX, header on the first row, native datetimes and numbers.

Before the units' end (for Hà Nội, 2025-06-30) a district's system exports its
own dossiers and its communes'; a unit without a parent (a department, a commune
after the reform) exports its own. A dossier's id starts with its unit's agency
code (mã định danh) where the registry gives one, else with the unit code. A
dossier still open at one export shows up again, with its newer status, in
the export of the period in which it ends (some offices also export the last
two periods each time); an exporting system that closes makes one last
update export a month after. Every file carries fake personal columns (the
pipeline must drop them) and a few deliberately bad rows, one per quarantine
reason that a single row can carry.

Everything is vectorised (numpy/polars), XLSX included (transforms.xlsx builds the
sheets with polars). The same arguments give byte-identical files: no wall clock
anywhere, fixed zip timestamps, the workbook's creation time is the export's own.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from config import config_path
from demo.exports import SHAPE_WEIGHTS, SHAPES, write_files
from demo.simulate import load_procedures, overlaps, seeded_rng, simulate, unit_behaviour
from transforms.calendar import working_calendar
from transforms.units import load_registry, strip_level_expr, unit_name_key

# --------------------------------------------------------------------------- constants

# Reasons a single bad row is made to carry (dossier-log.md, quarantine).
BAD_REASONS = ("missing_id", "bad_date", "unknown_unit", "future_date", "chronology", "finished_no_end")
BAD_SHARE = 0.002

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
            "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trịnh", "Đào", "Mai"]
SURNAME_WEIGHTS = np.array([38, 11, 9.5, 7, 5, 2, 4.5, 4, 2, 2, 2, 1.5, 1.3, 1.3, 1, 0.5, 1, 1, 1, 1])
MIDDLE_MALE = ["Văn", "Hữu", "Đức", "Minh", "Quang", "Thanh", "Xuân", "Công", "Mạnh", "Tiến"]
MIDDLE_FEMALE = ["Thị", "Thu", "Ngọc", "Hồng", "Thanh", "Minh", "Phương", "Kim", "Thúy", "Diệu"]
GIVEN_MALE = ["An", "Bình", "Cường", "Dũng", "Đức", "Hải", "Hiếu", "Hùng", "Huy", "Khánh", "Long",
              "Minh", "Nam", "Phong", "Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt", "Vinh", "Tùng"]
GIVEN_FEMALE = ["Anh", "Chi", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Nga",
                "Ngọc", "Nhung", "Phương", "Quỳnh", "Tâm", "Thảo", "Trang", "Vân", "Yến", "Hằng", "Loan"]
# Street names found in most Vietnamese towns (no province's own).
STREETS = ["đường Trần Phú", "đường Lê Lợi", "đường Nguyễn Huệ", "đường Hùng Vương", "đường Nguyễn Trãi",
           "đường Lý Thường Kiệt", "đường Quang Trung", "đường Hai Bà Trưng", "đường Lê Duẩn",
           "đường Trần Hưng Đạo", "phố Nguyễn Du", "phố Lê Lai", "đường Võ Thị Sáu", "đường Phan Đình Phùng",
           "đường Nguyễn Văn Cừ"]
VILLAGES = ["Thôn Đông", "Thôn Đoài", "Thôn Thượng", "Thôn Hạ", "Thôn Trung", "Thôn Bắc",
            "Thôn Nam", "Xóm Mới", "Thôn Cao", "Thôn Đồng"]

# --------------------------------------------------------------------------- summary


@dataclass
class GenerateSummary:
    """What `generate_exports` wrote."""

    out_dir: Path
    start: date
    end: date
    seed: int
    scale: float
    units: int = 0
    exporters: int = 0
    files_written: int = 0
    rows_written: int = 0
    dossiers: int = 0
    duplicate_rows: int = 0
    bad_rows: int = 0
    pending_at_end: int = 0
    files_by_format: dict[str, int] = field(default_factory=dict)
    rows_by_format: dict[str, int] = field(default_factory=dict)
    files_by_shape: dict[str, int] = field(default_factory=dict)
    bad_rows_by_reason: dict[str, int] = field(default_factory=dict)
    dossiers_by_unit: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def describe(self) -> str:
        fmt = ", ".join(f"{n:,} {k.upper()}" for k, n in sorted(self.files_by_format.items()))
        bad = ", ".join(f"{k} {n}" for k, n in self.bad_rows_by_reason.items() if n)
        return (
            f"Generated {self.files_written:,} export files ({fmt or 'none'}) in {self.out_dir} "
            f"for {self.start.isoformat()}..{self.end.isoformat()} (seed {self.seed}, scale {self.scale:g}): "
            f"{self.dossiers:,} dossiers received by {self.units:,} units and exported by "
            f"{self.exporters:,} one-stop-shop systems, written as {self.rows_written:,} rows, of which "
            f"{self.duplicate_rows:,} are later copies of a dossier with a newer status and "
            f"{self.bad_rows:,} are deliberately bad rows ({bad or 'none'}); "
            f"{self.pending_at_end:,} dossiers are still open in their last export. "
            "Every file carries fake applicant names, CCCD numbers, phones and addresses."
        )


# --------------------------------------------------------------------------- helpers


def _fold(text: str) -> str:
    """Diacritics removed, đ -> d, case kept (for file names)."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _display_name(name: str, level: str) -> str:
    """How an export names the receiving unit: `UBND phường Phúc Xá`, `Quận Hà Đông`."""
    if level == "commune":
        return "UBND " + name[:1].lower() + name[1:]
    return name


def _file_base(name: str, style: str) -> str:
    if style == "viet":
        return name
    words = re.sub(r"[^A-Za-z0-9 ]+", " ", _fold(name)).split()
    if style == "camel":
        return "".join(w[:1].upper() + w[1:] for w in words)
    return " ".join(words)


def _to_pl(arr: np.ndarray) -> pl.Series:
    return pl.Series(arr.astype("datetime64[us]"))


# --------------------------------------------------------------------------- units


def agency_codes(registry_path: Path, registry: pl.DataFrame) -> pl.DataFrame:
    """`key` (unit_code@valid_from) -> `agency_code` (mã định danh) where the registry gives one.

    Read from the registry file's optional `agency_code` column when `load_registry`
    does not carry it."""
    if "agency_code" in registry.columns:
        rows = registry.select("unit_code", "valid_from", "agency_code")
    else:
        raw = pl.read_csv(registry_path, infer_schema=False, encoding="utf8-lossy")
        if "agency_code" not in raw.columns:
            return pl.DataFrame(schema={"key": pl.Utf8, "agency_code": pl.Utf8})
        rows = raw.select(pl.col("unit_code").str.strip_chars(), pl.col("valid_from").str.strip_chars(),
                          pl.col("agency_code").str.strip_chars())
    return rows.filter(pl.col("agency_code").is_not_null() & (pl.col("agency_code") != "")).select(
        (pl.col("unit_code") + "@" + pl.col("valid_from").cast(pl.Utf8)).alias("key"), "agency_code")


def _id_prefixes(active: pl.DataFrame, codes: pl.DataFrame) -> list[str]:
    """Each active unit's dossier-id prefix: its agency code, as real systems write
    (`000.12.20.H26-250312-0001`), else its unit code (`00004-250312-0001`): never a
    made-up agency code."""
    return active.select("key", "unit_code").join(codes, on="key", how="left", maintain_order="left").select(
        pl.coalesce("agency_code", "unit_code"))["agency_code"].to_list()


# --------------------------------------------------------------------------- exporters


def _exporter_styles(units: pl.DataFrame, active: pl.DataFrame, seed: int, start: date, end: date) -> list[dict]:
    """One exporting system per top-level active unit (a district with its communes)."""
    keys = set(active["key"])
    all_units = units.to_dicts()
    by_norm: dict[str, list[dict]] = {}
    for r in all_units:
        by_norm.setdefault(r["norm_name"], []).append(r)

    def name_unique(r: dict) -> bool:
        return sum(overlaps(o, r["valid_from"], r["valid_to"]) for o in by_norm[r["norm_name"]]) == 1

    groups: dict[str, list[dict]] = {}
    for r in active.to_dicts():
        top = r["parent_key"] if r["parent_key"] in keys else r["key"]
        groups.setdefault(top, []).append(r)

    used: set[str] = set()
    styles = []
    info = {r["key"]: r for r in all_units}
    for top in sorted(groups, key=lambda k: (info[k]["valid_from"], info[k]["unit_code"])):
        members = groups[top]
        head = info[top]
        g = seeded_rng(seed, "exporter", head["unit_code"], head["valid_from"])
        shape = SHAPES[int(g.choice(len(SHAPES), p=SHAPE_WEIGHTS))]
        unit_col = "code"
        if shape in ("csv_vn", "xlsx_report") and g.random() < 0.4 and all(name_unique(m) for m in members):
            unit_col = "name"
        label_p = {"csv_vn": 0.6, "xlsx_report": 0.7}.get(shape, 0.0)
        bool_style = {
            "csv_vn": ("10", "cokhong", "x")[int(g.choice(3, p=(0.4, 0.35, 0.25)))],
            "xlsx_report": ("cokhong", "x", "10")[int(g.choice(3, p=(0.45, 0.4, 0.15)))],
            "csv_dvcqg": "10",
            "xlsx_plain": "num",
        }[shape]
        name_style = ("camel", "spaced", "viet")[int(g.choice(3, p=(0.45, 0.3, 0.25)))]
        base = _file_base(head["unit_name"], name_style)
        if base.casefold() in used:
            base = f"{base}_{head['unit_code']}"
        used.add(base.casefold())
        vf = max(start, min(m["valid_from"] for m in members))
        vts = [m["valid_to"] for m in members]
        vt = end if any(v is None for v in vts) else min(end, max(vts))
        styles.append({
            "key": top,
            "name": head["unit_name"],
            "level": head["level"],
            "shape": shape,
            "unit_col": unit_col,
            "channel_label": g.random() < label_p,
            "status_label": g.random() < label_p,
            "bool_style": bool_style,
            "native_dates": shape == "xlsx_plain" or (shape == "xlsx_report" and g.random() < 0.5),
            "rating_label": g.random() < 0.4,
            "weekly": g.random() < 0.08,
            "cumulative": g.random() < 0.25,
            "never_sync": g.random() < 0.12,
            "name_style": name_style,
            "base": base,
            "from": vf,
            "to": vt,
            "members": [m["key"] for m in members],
        })
    return styles


def _schedule(styles: list[dict], start: date, end: date) -> pl.DataFrame:
    """Export periods per exporter: start, snapshot time (period end), file label."""
    rows = []
    for e, s in enumerate(styles):
        lo, hi = s["from"], s["to"]
        if lo > hi:
            continue
        if s["weekly"]:
            p, step, label = lo - timedelta(days=lo.weekday()), _next_week, _week_label
        else:
            p, step, label = lo.replace(day=1), _next_month, _month_label
        last_t = None
        while p <= hi:
            t = min(step(p), hi + timedelta(days=1))
            rows.append((e, p, t, label(p), False))
            last_t = t
            p = step(p)
        if hi < end and last_t is not None:
            # The system closes: one last export of the updates a month later.
            t = _next_month(last_t + timedelta(days=27))
            t = min(t, end + timedelta(days=1))
            if t > last_t:
                rows.append((e, last_t, t, label(last_t), True))
    schema = {"exporter": pl.Int64, "pstart": pl.Date, "snapshot": pl.Date, "label": pl.Utf8, "closing": pl.Boolean}
    return pl.DataFrame(rows, schema=schema, orient="row").with_row_index("file")


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _next_week(d: date) -> date:
    return d + timedelta(days=7)


def _month_label(d: date) -> str:
    return f"{d:%Y-%m}"


def _week_label(d: date) -> str:
    iso = d.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


# --------------------------------------------------------------------------- personal data


def _personal(g: np.random.Generator, places: pl.Series, rural: np.ndarray) -> pl.DataFrame:
    """Fake applicants: name, CCCD (12 digits: a birth-province code 001-096, century and
    sex, year, number), phone, address (in `places`, the receiving ward or commune; a
    department's applicants get a street address only). Nothing names a province."""
    n = len(places)
    female = g.random(n) < 0.52
    sur = g.choice(len(SURNAMES), size=n, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())
    mid = g.integers(0, 10, n)
    given = g.integers(0, len(GIVEN_MALE), n)
    born = g.integers(1950, 2006, n)
    century = np.where(born >= 2000, 2, 0) + female.astype(int)
    s = pl.Series(SURNAMES).gather(sur)
    m = pl.Series(np.where(female, np.array(MIDDLE_FEMALE)[mid], np.array(MIDDLE_MALE)[mid]))
    gv = pl.Series(np.where(female, np.array(GIVEN_FEMALE)[given], np.array(GIVEN_MALE)[given]))
    df = pl.DataFrame({
        "s": s, "m": m, "g": gv,
        "province": g.integers(1, 97, n),
        "century": century, "yy": born % 100, "idn": g.integers(0, 1_000_000, n),
        "phone": g.integers(0, 100_000_000, n),
        "house": g.integers(1, 300, n), "lane": g.integers(1, 200, n),
        "street": pl.Series(STREETS).gather(g.integers(0, len(STREETS), n)),
        "village": pl.Series(VILLAGES).gather(g.integers(0, len(VILLAGES), n)),
        "place": places, "rural": rural,
    })
    return df.select(
        pl.concat_str("s", "m", "g", separator=" ").alias("applicant"),
        pl.concat_str(pl.col("province").cast(pl.Utf8).str.zfill(3), pl.col("century").cast(pl.Utf8), pl.col("yy").cast(pl.Utf8).str.zfill(2),
                      pl.col("idn").cast(pl.Utf8).str.zfill(6)).alias("cccd"),
        pl.concat_str(pl.lit("09"), pl.col("phone").cast(pl.Utf8).str.zfill(8)).alias("phone"),
        pl.when(pl.col("rural") & pl.col("place").is_not_null())
        .then(pl.concat_str("village", "place", separator=", "))
        .otherwise(pl.concat_str(pl.lit("Số ") + pl.col("house").cast(pl.Utf8),
                                 pl.lit("ngõ ") + pl.col("lane").cast(pl.Utf8),
                                 "street", "place", separator=", ", ignore_nulls=True))
        .alias("address"),
    )


# --------------------------------------------------------------------------- copies


def _copies(sim: dict[str, np.ndarray], exporter_of_unit: np.ndarray, sched: pl.DataFrame,
            styles: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(dossier, file) pairs: the export of its receipt, of its last event, and cumulative re-exports."""
    big = np.int64(1) << 40
    s_exp = sched["exporter"].to_numpy()
    s_start = sched["pstart"].to_numpy().astype("datetime64[m]").astype(np.int64)
    s_end = sched["snapshot"].to_numpy().astype("datetime64[m]").astype(np.int64)
    s_key = s_exp * big + s_start
    order = np.argsort(s_key, kind="stable")
    s_key_sorted = s_key[order]

    exp = exporter_of_unit[sim["unit"]]

    def locate(t: np.ndarray) -> np.ndarray:
        tt = t.astype(np.int64)
        pos = np.searchsorted(s_key_sorted, exp * big + tt, side="right") - 1
        pos = np.clip(pos, 0, len(order) - 1)
        f = order[pos]
        ok = (s_exp[f] == exp) & (tt >= s_start[f]) & (tt < s_end[f]) & ~np.isnat(t)
        return np.where(ok, f, -1)

    first = locate(sim["received"])
    if (first < 0).any():  # cannot happen: receipts fall inside their exporter's periods
        raise AssertionError("a dossier was received outside its exporter's periods")
    last = locate(sim["last_at"])
    cumulative = np.array([s["cumulative"] for s in styles])[exp]
    nxt = first + 1
    has_next = cumulative & (nxt < len(s_exp))
    has_next &= s_exp[np.minimum(nxt, len(s_exp) - 1)] == exp
    again = (last > first) & ~(has_next & (last == nxt))
    idx = np.arange(len(first))
    dossier = np.concatenate([idx, idx[has_next], idx[again]])
    file = np.concatenate([first, nxt[has_next], last[again]])
    return dossier, file


def _as_exported(dossiers: pl.DataFrame, d_idx: np.ndarray, f_idx: np.ndarray, exporter: np.ndarray,
                 sched: pl.DataFrame) -> pl.DataFrame:
    """One row per copy, as its export shows the dossier at the export's snapshot:
    its end if that has come, else an open status, no end and the first due date."""
    rows = dossiers[d_idx].with_columns(
        file=pl.Series(f_idx),
        exporter=pl.Series(exporter[d_idx]),
        snapshot=sched["snapshot"].cast(pl.Datetime("us")).gather(f_idx),
        copies=pl.Series(np.bincount(d_idx, minlength=dossiers.height)[d_idx]),
        dossier=pl.Series(d_idx),
    )
    ended = pl.col("end_at") <= pl.col("snapshot")
    returned = pl.col("ret").is_not_null() & (pl.col("ret") <= pl.col("snapshot"))
    fresh = (pl.col("snapshot") - pl.col("received_at")) < pl.duration(days=1)
    return rows.with_columns(
        pl.when(ended & pl.col("final_status").is_in([9, 10]))
        .then(pl.when(returned).then(pl.lit(10, pl.Int8)).otherwise(pl.lit(9, pl.Int8)))
        .when(ended).then(pl.col("final_status"))
        .when(fresh).then(pl.lit(2, pl.Int8))
        .otherwise(pl.col("pending_status")).alias("status"),
        pl.when(ended).then(pl.col("due_final")).otherwise(pl.col("due_first")).alias("due_at"),
        pl.when(ended).then(pl.col("fin")).alias("finished_at"),
        pl.when(ended & returned).then(pl.col("ret")).alias("returned_at"),
        pl.when(ended).then(pl.col("rej")).alias("rejected_at"),
        *[pl.when(ended).then(pl.col(f"{c}_v")).otherwise(pl.lit(v, pl.Int8)).alias(c)
          for c, v in (("e_result", -1), ("apology", -1), ("complaint", -1), ("rating", 0))],
        pl.col("paid_online_v").alias("paid_online"),
    )


def _dossier_ids(unit: np.ndarray, received: np.ndarray, prefixes: list[str]) -> pl.Series:
    """`<prefix>-yymmdd-NNNN` (`000.00.17.H26-250312-0001`): the unit's prefix, date of receipt,
    number within the unit's day."""
    n = len(unit)
    day = received.astype("datetime64[D]")
    order = np.lexsort((received, unit))
    u, d = unit[order], day[order]
    new_group = np.r_[True, (u[1:] != u[:-1]) | (d[1:] != d[:-1])]
    pos = np.arange(n)
    seq = np.empty(n, dtype=np.int64)
    seq[order] = pos - np.maximum.accumulate(np.where(new_group, pos, 0)) + 1
    return (pl.Series(prefixes).gather(unit) + "-" + pl.Series(day.astype("datetime64[us]")).dt.strftime("%y%m%d")
            + "-" + pl.Series(seq).cast(pl.Utf8).str.zfill(4))


# --------------------------------------------------------------------------- bad rows


def _bad_rows(rows: pl.DataFrame, rng: np.random.Generator, end: date, registry: pl.DataFrame) -> pl.DataFrame:
    """Turn ~0.2% of single-copy rows into rows the pipeline must quarantine, one reason each."""
    n_bad = max(len(BAD_REASONS), int(round(BAD_SHARE * rows.height)))
    single = rows["copies"].to_numpy() == 1
    finished = np.isin(rows["status"].to_numpy(), [9, 10]) & single
    reasons = np.array([BAD_REASONS[i % len(BAD_REASONS)] for i in range(n_bad)])
    chosen = np.full(rows.height, "", dtype=object)
    for reason in BAD_REASONS:
        want = int((reasons == reason).sum())
        pool = np.flatnonzero((finished if reason not in ("missing_id", "unknown_unit") else single) & (chosen == ""))
        if len(pool) == 0 or want == 0:
            continue
        pick = rng.choice(pool, size=min(want, len(pool)), replace=False)
        chosen[pick] = reason
    bad = pl.Series("bad", chosen.astype(str))

    codes = set(registry["unit_code"].drop_nulls().str.strip_chars_start("0"))
    bogus_code = next(f"{c:05d}" for c in range(99999, 0, -1) if str(c) not in codes)
    keys = registry.select(k=unit_name_key(pl.col("unit_name"))).with_columns(bare=strip_level_expr(pl.col("k")))
    taken = set(keys["k"].drop_nulls()) | set(keys["bare"].drop_nulls())
    bogus_name = "UBND xã Không Xác Định"

    def key_of(name: str) -> tuple[str, str]:
        k = pl.select(k=unit_name_key(pl.lit(name))).with_columns(bare=strip_level_expr(pl.col("k")))
        return k["k"][0], k["bare"][0]

    while taken & set(key_of(bogus_name)):
        bogus_name += " Mới"
    # A future date must stay in the future at the moment of ingestion, whenever that is:
    # "next year" would already be past when the range lies years back. An office's typo
    # does it: the year's last two digits swapped (2025 -> 2052), else ten years on.
    y = end.year
    swapped = int(f"{y // 100}{y % 10}{(y // 10) % 10}")
    future_day = pl.datetime(swapped if swapped > y + 1 else y + 10,
                             pl.col("received_at").dt.month(), pl.col("received_at").dt.day().clip(1, 28))

    b = pl.col("bad")
    return rows.with_columns(bad).with_columns(
        pl.when(b == "missing_id").then(None).otherwise(pl.col("dossier_id")).alias("dossier_id"),
        pl.when(b == "unknown_unit").then(pl.lit(bogus_code)).otherwise(pl.col("unit_code")).alias("unit_code"),
        pl.when(b == "unknown_unit").then(pl.lit(bogus_name)).otherwise(pl.col("unit_display")).alias("unit_display"),
        pl.when(b == "future_date").then(future_day + pl.duration(hours=10, minutes=30))
        .when(b == "chronology").then(pl.col("received_at").dt.truncate("1d") - pl.duration(days=3) + pl.duration(hours=9))
        .when(b == "finished_no_end").then(None)
        .otherwise(pl.col("finished_at")).alias("finished_at"),
        pl.when(b == "future_date").then(pl.when(pl.col("returned_at").is_not_null()).then(future_day + pl.duration(hours=15)))
        .when(b.is_in(["chronology", "finished_no_end"])).then(None)
        .otherwise(pl.col("returned_at")).alias("returned_at"),
    )


# --------------------------------------------------------------------------- entry point


def generate_exports(
    out_dir: Path,
    start: date,
    end: date,
    *,
    seed: int = 2025,
    scale: float = 1.0,
    registry_path: Path | None = None,
    procedures_path: Path | None = None,
) -> GenerateSummary:
    """Write realistic one-stop-shop exports of the registry's units for [start, end] into out_dir.

    ``registry_path`` / ``procedures_path`` default to the shipped Hà Nội registry and
    procedure catalogue (any province's registry works: nothing here names one);
    ``scale`` multiplies the volumes (demo.simulate.unit_behaviour: 1.0 is Hà Nội's).
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out_dir = Path(out_dir)
    registry_path, registry, procs = _load_inputs(registry_path, procedures_path)

    summary = GenerateSummary(out_dir=out_dir, start=start, end=end, seed=seed, scale=scale)
    units = unit_behaviour(registry, seed)
    active = _active_units(units, start, end)
    summary.units = active.height
    if active.height == 0:
        return summary
    styles, sched, exporter_of_unit = _exporters(units, active, seed, start, end)
    summary.exporters = len(styles)

    # Working days of the project's calendar, far enough ahead for the latest finish.
    calendar = working_calendar(start - timedelta(days=7), end + timedelta(days=800))
    rng = np.random.default_rng([seed, 0x5C0E])
    sim = simulate(active, procs, start, end, scale, rng, calendar)
    n = len(sim["unit"])
    summary.dossiers = n
    if n == 0:
        return summary

    prefixes = _id_prefixes(active, agency_codes(registry_path, registry))
    dossiers = _dossiers(sim, active, procs, prefixes, seed)
    summary.dossiers_by_unit = dict(zip(
        active["key"], np.bincount(sim["unit"], minlength=active.height).tolist()))

    d_idx, f_idx = _copies(sim, exporter_of_unit, sched, styles)
    rows = _as_exported(dossiers, d_idx, f_idx, exporter_of_unit[sim["unit"]], sched)
    last_copy = pl.col("file") == pl.col("file").max().over("dossier")
    summary.pending_at_end = rows.filter(last_copy & pl.col("status").is_in([1, 2, 4, 5, 6])).height
    rows = _bad_rows(rows, np.random.default_rng([seed, 0xBAD]), end, registry)
    rows = rows.sort("file", "received_at", "dossier")

    out_dir.mkdir(parents=True, exist_ok=True)
    _count_written(summary, write_files(rows, styles, sched, out_dir), rows, n)
    return summary


def _load_inputs(registry_path: Path | None, procedures_path: Path | None) -> tuple[Path, pl.DataFrame, pl.DataFrame]:
    """The registry's path and units, and the procedure catalogue (the shipped ones by default)."""
    registry_path = Path(registry_path) if registry_path else config_path("registry", "hanoi.csv")
    procedures_path = Path(procedures_path) if procedures_path else config_path("procedures.csv")
    registry = load_registry(registry_path)
    procs = load_procedures(procedures_path)
    if procs.height == 0:
        raise ValueError(f"{procedures_path} lists no procedure")
    return registry_path, registry, procs


def _active_units(units: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """The districts, communes and departments valid at some time in [start, end]."""
    return units.filter(
        pl.col("level").is_in(["district", "commune", "department"])
        & (pl.col("valid_from") <= end)
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= start))
    )


def _exporters(units: pl.DataFrame, active: pl.DataFrame, seed: int, start: date,
               end: date) -> tuple[list[dict], pl.DataFrame, np.ndarray]:
    """The exporting systems' styles, their export periods, and each active unit's system."""
    styles = _exporter_styles(units, active, seed, start, end)
    sched = _schedule(styles, start, end)
    exporter_of = {k: e for e, s in enumerate(styles) for k in s["members"]}
    return styles, sched, np.array([exporter_of[k] for k in active["key"]])


def _dossiers(sim: dict[str, np.ndarray], active: pl.DataFrame, procs: pl.DataFrame, prefixes: list[str],
              seed: int) -> pl.DataFrame:
    """One row per simulated dossier: its id, unit, procedure, whole life and fake applicant
    (`*_v` and `fin`/`ret`/`rej`: what the export shows once the dossier has ended)."""
    unit = sim["unit"]
    dossier_id = _dossier_ids(unit, sim["received"], prefixes)
    unit_display = pl.Series([_display_name(nm, lv) for nm, lv in zip(active["unit_name"], active["level"])])
    rural = (active["peer_group"] == "rural").to_numpy()[unit]
    places = active.select(pl.when(pl.col("level") != "department").then(pl.col("unit_name")))["unit_name"]
    personal = _personal(np.random.default_rng([seed, 0xFACE]), places.gather(unit), rural)
    return pl.DataFrame({
        "dossier_id": dossier_id,
        "unit_code": active["unit_code"].gather(unit),
        "unit_display": unit_display.gather(unit),
        "procedure_code": procs["procedure_code"].gather(sim["proc"]),
        "procedure_name": procs["procedure_name"].gather(sim["proc"]),
        "field_name": procs["field_name"].gather(sim["proc"]),
        "channel": sim["channel"],
        "final_status": sim["status"],
        "pending_status": sim["pending_status"],
        "submitted_at": _to_pl(sim["submitted"]),
        "received_at": _to_pl(sim["received"]),
        "due_first": _to_pl(sim["due_first"]),
        "due_final": _to_pl(sim["due_final"]),
        "due_date_only": ~sim["due_has_time"],
        "fin": _to_pl(sim["finished"]),
        "ret": _to_pl(sim["returned"]),
        "rej": _to_pl(sim["rejected_at"]),
        "end_at": _to_pl(sim["end_at"]),
        "supplements": sim["supplements"],
        "fee": sim["fee"].astype(np.int8),
        "paid_online_v": sim["paid_online"],
        "digitized": sim["digitized"],
        "e_result_v": sim["e_result"],
        "synced": sim["synced"],
        "apology_v": sim["apology"],
        "complaint_v": sim["complaint"],
        "rating_v": sim["rating"],
    }).hstack(personal)


def _count_written(summary: GenerateSummary, written: list[tuple[str, str, str, int]], rows: pl.DataFrame,
                   n: int) -> None:
    """The summary's counts of the files written, their rows, copies and bad rows."""
    names = [name for name, _, _, _ in written]
    for _, fmt, shape, n_rows in written:
        summary.files_by_format[fmt] = summary.files_by_format.get(fmt, 0) + 1
        summary.rows_by_format[fmt] = summary.rows_by_format.get(fmt, 0) + n_rows
        summary.files_by_shape[shape] = summary.files_by_shape.get(shape, 0) + 1
    summary.files = names
    summary.files_written = len(names)
    summary.rows_written = rows.height
    summary.duplicate_rows = rows.height - n
    bad = rows["bad"].value_counts()
    counts = dict(zip(bad["bad"], bad["count"]))
    summary.bad_rows_by_reason = {r: int(counts.get(r, 0)) for r in BAD_REASONS}
    summary.bad_rows = sum(summary.bad_rows_by_reason.values())
