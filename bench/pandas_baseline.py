"""What an analyst would write: the weekly and monthly scoreboards in plain pandas.

Readable, idiomatic pandas: read every CSV, concatenate, keep the latest copy of
each dossier, classify, then loop over the periods and group by unit. Same rules
as bench/floor.sql (and the same omissions: fixed headers, no quarantine, units by
code); used as case (c) of `python -m bench.run`.
"""

from __future__ import annotations

import glob
import os
from datetime import datetime

import numpy as np
import pandas as pd

from bench.data import HEADERS
from transforms.profile import Profile

COLUMNS = {v: k for k, v in HEADERS.items()}
STATUS = {
    "Mới đăng ký": 1, "Được tiếp nhận": 2, "Không được tiếp nhận": 3, "Đang xử lý": 4,
    "Yêu cầu bổ sung": 5, "Nghĩa vụ tài chính": 6, "Công dân rút": 7, "Dừng xử lý": 8,
    "Đã xử lý xong": 9, "Đã trả kết quả": 10,
}
CHANNEL = {"Trực tiếp": 1, "Trực tuyến": 2, "Bưu chính công ích": 3}
RATING = {"Hài lòng": "satisfied", "Bình thường": "neutral", "Không hài lòng": "dissatisfied"}
YES_NO = {"Có": True, "Không": False}
EPOCH_MONDAY = pd.Timestamp("1970-01-05")


def _round_half_away(values: pd.Series, decimals: int) -> pd.Series:
    scaled = values * 10.0**decimals
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)) / 10.0**decimals


def read_exports(landing: str) -> pd.DataFrame:
    frames = []
    for path in sorted(glob.glob(os.path.join(landing, "**", "*.csv"), recursive=True)):
        df = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
        df = df.rename(columns=COLUMNS)
        df["source_file"] = os.path.relpath(path, landing)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    for col in ("submitted_at", "received_at", "finished_at", "returned_at", "rejected_at"):
        df[col] = pd.to_datetime(df[col], format="%d/%m/%Y %H:%M")
    df["due_at"] = pd.to_datetime(df["due_at"], format="%d/%m/%Y")
    df["status"] = df["status"].map(STATUS)
    df["channel"] = df["channel"].map(CHANNEL)
    df["rating"] = df["rating"].map(RATING)
    for col in ("fee_required", "paid_online", "digitized", "e_result", "synced", "apology_issued", "complaint"):
        df[col] = df[col].map(YES_NO)  # NaN where unknown
    df["source_row"] = df["stt"].astype(int)
    return df


def latest_copies(df: pd.DataFrame) -> pd.DataFrame:
    events = ["submitted_at", "received_at", "finished_at", "returned_at", "rejected_at"]
    df["latest"] = df[events].max(axis=1)
    df["base"] = df["source_file"].str.replace(r"^.*/", "", regex=True)
    df = df.sort_values(
        ["dossier_id", "latest", "status", "base", "source_file", "source_row"],
        ascending=[True, False, False, False, False, False],
        na_position="last",
    )
    return df.drop_duplicates("dossier_id", keep="first")


def load_units(registry: str) -> pd.DataFrame:
    units = pd.read_csv(registry, dtype=str)
    units["valid_from"] = pd.to_datetime(units["valid_from"])
    units["valid_to"] = pd.to_datetime(units["valid_to"])
    return units


def resolve(df: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    day = df["received_at"].dt.normalize()
    df = df.assign(day=day).merge(units[["unit_code", "valid_from", "valid_to"]], on="unit_code")
    valid = (df["valid_from"] <= df["day"]) & (df["valid_to"].isna() | (df["day"] <= df["valid_to"]))
    return df[valid].rename(columns={"valid_from": "unit_valid_from"}).drop(columns=["valid_to"])


def classify(df: pd.DataFrame, working_days_before: pd.Series) -> pd.DataFrame:
    status = df["status"]
    no_status = status.isna()
    finished = status.isin([9, 10]) | (no_status & (df["finished_at"].notna() | df["returned_at"].notna()))
    rejected = ~finished & (status.isin([3, 7, 8]) | (no_status & df["rejected_at"].notna()))
    df["kind"] = np.select([finished, rejected], ["finished", "rejected"], "pending")
    df["end_at"] = pd.NaT
    df.loc[finished, "end_at"] = df["finished_at"].fillna(df["returned_at"])[finished]
    df.loc[rejected, "end_at"] = df["rejected_at"].fillna(df["finished_at"]).fillna(df["received_at"])[rejected]
    df["end_at"] = pd.to_datetime(df["end_at"])
    midnight = df["due_at"] == df["due_at"].dt.normalize()
    df["due_end"] = df["due_at"].where(~midnight, df["due_at"] + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1))
    end_day, due_day = df["end_at"].dt.normalize(), df["due_at"].dt.normalize()
    df["outcome"] = np.select(
        [
            df["kind"] == "rejected",
            df["kind"] != "finished",
            df["due_at"].isna(),
            end_day < due_day,
            df["end_at"] <= df["due_end"],
        ],
        ["rejected", None, "no_deadline", "early", "on_time"],
        "overdue",
    )
    fin = df["kind"] == "finished"
    df["online_den"] = df["channel"].notna()
    df["online_num"] = df["channel"] == 2
    fee = df["fee_required"] == True  # noqa: E712
    df["paid_den"] = fee & df["paid_online"].notna()
    df["paid_num"] = fee & (df["paid_online"] == True)  # noqa: E712
    df["digitized_den"] = df["digitized"].notna()
    df["digitized_num"] = df["digitized"] == True  # noqa: E712
    df["synced_den"] = df["synced"].notna()
    df["synced_num"] = df["synced"] == True  # noqa: E712
    df["e_result_den"] = fin & df["e_result"].notna()
    df["e_result_num"] = fin & (df["e_result"] == True)  # noqa: E712
    df["complaint_den"] = fin & (df["complaint"].notna() | df["rating"].notna())
    df["complaint_num"] = fin & ((df["complaint"] == True) | (df["rating"] == "dissatisfied"))  # noqa: E712
    overdue = df["outcome"] == "overdue"
    df["apology_den"] = overdue & df["apology_issued"].notna()
    df["apology_num"] = overdue & (df["apology_issued"] == True)  # noqa: E712
    wd = df["end_at"].dt.normalize().map(working_days_before) - df["received_at"].dt.normalize().map(working_days_before)
    df["working_days"] = wd.clip(lower=0).where(fin)
    return df


def periods(period_type: str, first: pd.Timestamp, latest: pd.Timestamp, now: pd.Timestamp) -> list[dict]:
    """The period before the first covered one, then every covered one (ended by `now`
    or started before the latest event)."""
    first_month = first.to_period("M").start_time
    last_day = latest.to_period("M").end_time.normalize()
    if period_type == "month":
        starts = list(pd.period_range(first_month - pd.offsets.MonthBegin(1), last_day, freq="M").start_time)
        ends = [s + pd.offsets.MonthBegin(1) for s in starts]
    else:
        monday = first_month - pd.Timedelta(days=first_month.weekday()) - pd.Timedelta(days=7)
        starts = list(pd.date_range(monday, last_day, freq="7D"))
        ends = [s + pd.Timedelta(days=7) for s in starts]
    out = []
    for s, e in zip(starts, ends):
        if s > now or (e > now and s > latest):
            continue
        provisional = e > now
        cutoff = min(e, latest + pd.Timedelta(microseconds=1)) if provisional else e
        if period_type == "month":
            key = s.strftime("%Y-%m")
        else:
            iso = s.isocalendar()
            key = f"{iso[0]}-W{iso[1]:02d}"
        out.append({"start": s, "end": e, "cutoff": cutoff, "key": key, "provisional": provisional})
    return out


RECEIVED_FLAGS = ["online_num", "online_den", "paid_num", "paid_den", "digitized_num", "digitized_den",
                  "synced_num", "synced_den"]
ENDED_FLAGS = ["e_result_num", "e_result_den", "complaint_num", "complaint_den", "apology_num", "apology_den"]
OUTCOMES = ["early", "on_time", "overdue", "no_deadline", "rejected"]


def count_period(df: pd.DataFrame, p: dict) -> pd.DataFrame:
    """Counts of every unit (own dossiers) in one period."""
    key = ["unit_code", "unit_valid_from"]
    s, e, cutoff = p["start"], p["end"], p["cutoff"]
    got = df[(df["received_at"] >= s) & (df["received_at"] < e)]
    received = got.groupby(key)[RECEIVED_FLAGS].sum()
    received["received"] = got.groupby(key).size()
    ended = df[(df["end_at"] >= s) & (df["end_at"] < e) & df["outcome"].notna()]
    outcomes = pd.crosstab([ended["unit_code"], ended["unit_valid_from"]], ended["outcome"])
    flags = ended.groupby(key)[ENDED_FLAGS].sum()
    wd = ended.groupby(key)["working_days"].agg(working_days_sum="sum", working_days_n="count")
    # pending overdue: received before the end, not ended before the end, due end before it
    # (the period in progress is cut at the latest event: its due ends must be before the cut)
    due_limit = cutoff if p["provisional"] else e
    pending = df[
        (df["received_at"] < e) & (df["end_at"].isna() | (df["end_at"] >= e)) & (df["due_end"] < due_limit)
    ]
    po = pending.groupby(key).size().rename("pending_overdue")
    out = pd.concat([received, outcomes, flags, wd, po], axis=1).fillna(0)
    for c in OUTCOMES:
        if c not in out:
            out[c] = 0
    return out


def score(board: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    b = board
    b["finished"] = b[["early", "on_time", "overdue", "no_deadline"]].sum(axis=1)
    b["timeliness_base"] = b["early"] + b["on_time"] + b["overdue"] + b["pending_overdue"]

    def rate(num, den):
        return (b[num] / b[den]).where(b[den] > 0)

    b["on_time_rate"] = ((b["early"] + b["on_time"]) / b["timeliness_base"]).where(b["timeliness_base"] > 0)
    b["online_rate"] = rate("online_num", "online_den")
    b["paid_online_rate"] = rate("paid_num", "paid_den")
    b["digitized_rate"] = rate("digitized_num", "digitized_den")
    b["e_result_rate"] = rate("e_result_num", "e_result_den")
    b["synced_rate"] = rate("synced_num", "synced_den")
    b["complaint_rate"] = rate("complaint_num", "complaint_den")
    b["apology_rate"] = rate("apology_num", "apology_den")
    b["avg_working_days"] = rate("working_days_sum", "working_days_n")
    sat = np.maximum(0.0, 1 - (1 - b["on_time_rate"]) - b["complaint_rate"])
    sat = sat.where(b["on_time_rate"].notna(), np.maximum(0.0, 1 - b["complaint_rate"]))
    b["satisfaction_rate"] = sat.where(b["complaint_rate"].notna())
    points(b, profile)
    return rank_and_band(b, profile)


def points(b: pd.DataFrame, profile: Profile) -> None:
    """Each group's points and applicable maximum, and the score, with the profile's
    weights: rate × max, or min(1, rate / threshold) × max for a saturating indicator;
    an indicator whose rate is unknown counts in neither."""
    applicable = pd.Series(0.0, index=b.index)
    earned = pd.Series(0.0, index=b.index)
    for group in profile.groups:
        got, mx = pd.Series(0.0, index=b.index), pd.Series(0.0, index=b.index)
        known = pd.Series(False, index=b.index)
        for ind in group.indicators:
            r = b[ind.rate]
            pts = r * ind.max_points if ind.kind == "linear" else np.minimum(1.0, r / ind.threshold) * ind.max_points
            got = got + pts.fillna(0.0)
            mx = mx + r.notna() * float(ind.max_points)
            applicable = applicable + r.notna() * float(ind.max_points)
            known = known | r.notna()
        b[f"points_{group.key}"] = got.where(known)
        b[f"max_points_{group.key}"] = mx.where(known)
        earned = earned + b[f"points_{group.key}"].fillna(0.0)
    b["score"] = (100 * earned / applicable).where(applicable > 0)


def rank_and_band(b: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """Ranked (valid, scored, enough dossiers), band and ranks on the score rounded to
    2 decimals after rounding to 9, so that float error never splits a tie."""
    b["rounded_score"] = _round_half_away(_round_half_away(b["score"], 9), 2)
    b["ranked"] = b["valid_in_period"] & b["score"].notna() & (b["received"] + b["timeliness_base"] >= profile.min_volume)
    b["band"] = None
    for band in reversed(profile.bands):  # lowest first: the highest band reached wins
        reached = b["rounded_score"].notna() if band.min_score is None else b["rounded_score"] >= band.min_score
        b.loc[reached, "band"] = band.label
    ranked = b[b["ranked"]]
    b["rank"] = ranked.groupby(["period_key", "level"])["rounded_score"].rank(method="min", ascending=False)
    b["rank_in_peer"] = ranked.groupby(["period_key", "level", "peer_group"])["rounded_score"].rank(
        method="min", ascending=False
    )
    return b


def scoreboard(
    df: pd.DataFrame, units: pd.DataFrame, period_type: str, now: pd.Timestamp, profile: Profile
) -> pd.DataFrame:
    latest = df[["received_at", "end_at"]].max().max()
    plist = periods(period_type, df["received_at"].min(), latest, now)
    children = units[units["parent_code"].notna()]
    rows = []
    for i, p in enumerate(plist):
        own = count_period(df, p).reset_index()
        # a district's figures include its communes'
        rolled = own.merge(
            children[["unit_code", "valid_from", "parent_code"]],
            left_on=["unit_code", "unit_valid_from"], right_on=["unit_code", "valid_from"],
        )
        parents = units[["unit_code", "valid_from"]].rename(columns={"unit_code": "parent_code"})
        rolled = rolled.drop(columns=["unit_code", "unit_valid_from", "valid_from"]).merge(parents, on="parent_code")
        rolled = rolled.rename(columns={"parent_code": "unit_code", "valid_from": "unit_valid_from"})
        counts = pd.concat([own, rolled]).groupby(["unit_code", "unit_valid_from"]).sum(numeric_only=True)
        board = units.rename(columns={"valid_from": "unit_valid_from"}).merge(
            counts.reset_index(), on=["unit_code", "unit_valid_from"], how="left"
        )
        board = board.fillna({c: 0 for c in counts.columns})
        board["valid_in_period"] = (board["unit_valid_from"] <= p["end"] - pd.Timedelta(days=1)) & (
            board["valid_to"].isna() | (board["valid_to"] >= p["start"])
        )
        activity = board[["received", *OUTCOMES, "pending_overdue"]].sum(axis=1)
        board = board[board["valid_in_period"] | (activity > 0)].copy()
        board["period_type"], board["period_key"], board["period_start"] = period_type, p["key"], p["start"].date()
        board["provisional"], board["period_no"] = p["provisional"], i
        rows.append(board)
    b = score(pd.concat(rows, ignore_index=True), profile)
    prev = b[["unit_code", "unit_valid_from", "period_no", "rank"]].assign(period_no=lambda x: x["period_no"] + 1)
    b = b.merge(prev.rename(columns={"rank": "previous_rank"}), on=["unit_code", "unit_valid_from", "period_no"], how="left")
    b["rank_change"] = b["previous_rank"] - b["rank"]
    return b[b["period_no"] > 0]


def run(landing: str, registry: str, calendar: pd.DataFrame, now: datetime, out: str, profile: Profile) -> int:
    df = read_exports(landing)
    df = latest_copies(df)
    units = load_units(registry)
    df = resolve(df, units)
    wdb = calendar.set_index("date")["working_days_before"]
    wdb.index = pd.to_datetime(wdb.index)
    df = classify(df, wdb)
    now = pd.Timestamp(now)
    boards = [scoreboard(df, units, t, now, profile) for t in ("week", "month")]
    result = pd.concat(boards, ignore_index=True)
    cols = ["period_type", "period_key", "period_start", "level", "unit_code", "unit_name", "peer_group",
            "received", "finished", *OUTCOMES[:4], "pending_overdue", "rejected", "timeliness_base",
            "on_time_rate", "online_rate", "paid_online_rate", "digitized_rate", "e_result_rate", "synced_rate",
            "complaint_rate", "satisfaction_rate", "apology_rate", "avg_working_days",
            *(f"points_{g.key}" for g in profile.groups),
            "score", "band", "ranked", "rank", "rank_in_peer", "rank_change", "unit_valid_from", "provisional",
            *(f"max_points_{g.key}" for g in profile.groups)]
    result = result[cols]
    for c in ("received", "finished", "early", "on_time", "overdue", "no_deadline", "pending_overdue", "rejected",
              "timeliness_base"):
        result[c] = result[c].astype("int64")
    for c in ("rank", "rank_in_peer", "rank_change"):
        result[c] = result[c].astype("Int64")
    result["unit_valid_from"] = result["unit_valid_from"].dt.date
    result.to_parquet(out, index=False)
    return len(result)
