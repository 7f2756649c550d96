"""Great Expectations suites that guard every publication: dossiers, scoreboards, files.

Each suite is a catalogue of `Rule`s here (the scoreboard's follows the profile's bands
and groups), run by the GX engine (quality.gx_engine). Each Polars frame is reduced
to the columns a suite reads and given the computed columns the rules need
(`due_end`, sums of classes, rank consistency, ...) with Polars before it is handed
to the engine, which answers each rule's outcome and failing row positions: the
examples and failed periods are looked up here, in the Polars frame. Callers pass
only the rows a run adds or changes and the scoreboards it is about to publish,
never the whole history.

This module does not import great_expectations: the engine does, on first use.

What this costs (a first use, the fixed overhead per call, a million dossiers) is
measured by `python -m bench.quality` (part of `make bench`); the numbers are in
docs/benchmarks.md, "Quality suites".
"""

from __future__ import annotations

import functools
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

import polars as pl

from quality import gx_engine
from transforms import aside
from transforms.classify import FINISHED_STATUSES, classify, due_end_expr
from transforms.periods import PERIOD_TYPES, index_expr, key_of
from transforms.profile import RATE_COLUMNS, Profile
from transforms.schema import COUNT_COLUMNS, DOSSIER_SCHEMA, EVENT_FIELDS, LEVELS, RATINGS, scoreboard_schema
from transforms.score import round_score

MAX_EXAMPLES = 5
SCORE_TOLERANCE = 1e-9
FILE_COUNT_COLUMNS = ("rows_read", "rows_accepted", "rows_quarantined", "rows_superseded")


# --------------------------------------------------------------------------- results


@dataclass
class CheckOutcome:
    """One expectation's outcome. `examples` holds keys only (dossier_id, period_key/
    unit_code, file name), never other values of the failing rows."""

    name: str
    success: bool
    unexpected_count: int | None
    description_vi: str
    description_en: str
    examples: list[str] = field(default_factory=list)
    error: bool = False  # the expectation could not be evaluated (e.g. a missing column)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "success": self.success,
            "unexpected_count": self.unexpected_count,
            "description_vi": self.description_vi,
            "description_en": self.description_en,
            "examples": list(self.examples),
            "error": self.error,
        }


@dataclass
class QualityResult:
    suite: str
    success: bool
    checks: list[CheckOutcome]
    seconds: float
    rows: int = 0
    # (period_type, period_key) the failing rows touch: the pipeline blocks only these
    failed_periods: set[tuple[str, str]] = field(default_factory=set)
    # failing rows that could not be placed in any period (no usable date/key): when
    # non-zero, failed_periods is not exhaustive and nothing should be published
    unplaced_failures: int = 0
    gx_seconds: float = 0.0

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.success]

    def to_metadata(self) -> dict[str, Any]:
        """Plain JSON-able values, for Dagster asset-check / output metadata."""
        return {
            "suite": self.suite,
            "success": self.success,
            "rows_validated": self.rows,
            "seconds": round(self.seconds, 3),
            "gx_seconds": round(self.gx_seconds, 3),
            "checks_evaluated": len(self.checks),
            "checks_failed": len(self.failed_checks),
            "failed_checks": [c.name for c in self.failed_checks],
            "failed_periods": [f"{t}:{k}" for t, k in sorted(self.failed_periods)],
            "unplaced_failures": self.unplaced_failures,
            "checks": [c.to_dict() for c in self.checks],
        }


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    name: str
    expectation: str  # a class of great_expectations.expectations
    kwargs: tuple[tuple[str, Any], ...]
    vi: str
    en: str


def _rule(name: str, expectation: str, vi: str, en: str, **kwargs: Any) -> Rule:
    return Rule(name, expectation, tuple(kwargs.items()), vi, en)


def _after_received(column: str, vi_label: str) -> Rule:
    return _rule(
        f"{column}_not_before_received",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        f"{vi_label} không được trước ngày tiếp nhận",
        f"{column} is not before received_at (where present)",
        column_A=column, column_B="received_at", or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


DOSSIER_RULES: tuple[Rule, ...] = (
    _rule("dossier_id_not_null", "ExpectColumnValuesToNotBeNull",
          "Hồ sơ phải có mã hồ sơ", "dossier_id is present", column="dossier_id"),
    _rule("dossier_id_unique", "ExpectColumnValuesToBeUnique",
          "Mỗi mã hồ sơ chỉ có một bản ghi", "one row per dossier_id", column="dossier_id"),
    _rule("procedure_code_not_null", "ExpectColumnValuesToNotBeNull",
          "Hồ sơ phải có mã thủ tục", "procedure_code is present", column="procedure_code"),
    _rule("received_at_not_null", "ExpectColumnValuesToNotBeNull",
          "Hồ sơ phải có ngày tiếp nhận", "received_at is present", column="received_at"),
    _rule("unit_code_not_null", "ExpectColumnValuesToNotBeNull",
          "Hồ sơ phải thuộc một đơn vị", "unit_code is present", column="unit_code"),
    _rule("unit_valid_from_not_null", "ExpectColumnValuesToNotBeNull",
          "Đơn vị của hồ sơ phải được xác định trong danh mục (ngày hiệu lực)",
          "unit_valid_from (the resolved registry identity) is present", column="unit_valid_from"),
    _rule("channel_in_set", "ExpectColumnValuesToBeInSet",
          "Kênh nộp là 1 (trực tiếp), 2 (trực tuyến) hoặc 3 (bưu chính công ích)",
          "channel is 1, 2 or 3 (or unknown)", column="channel", value_set=[1, 2, 3]),
    _rule("status_in_range", "ExpectColumnValuesToBeInSet",
          "Trạng thái hồ sơ là một mã từ 1 đến 10", "status is a code 1..10 (or unknown)",
          column="status", value_set=list(range(1, 11))),
    _rule("rating_in_set", "ExpectColumnValuesToBeInSet",
          "Đánh giá là hài lòng / bình thường / không hài lòng",
          "rating is satisfied, neutral or dissatisfied (or unknown)",
          column="rating", value_set=list(RATINGS)),
    _after_received("finished_at", "Ngày kết thúc xử lý"),
    _after_received("returned_at", "Ngày trả kết quả"),
    _after_received("rejected_at", "Ngày từ chối"),
    _rule("due_end_not_before_received", "ExpectColumnPairValuesAToBeGreaterThanB",
          "Hạn trả (cuối ngày hẹn trả nếu chỉ có ngày) không được trước ngày tiếp nhận",
          "the due end (due_at, or the end of that day when it is 00:00:00) is not before received_at",
          column_A="due_end", column_B="received_at", or_equal=True,
          ignore_row_if="either_value_is_missing"),
    _rule("finished_has_end", "ExpectColumnValuesToBeInSet",
          "Hồ sơ trạng thái 9/10 phải có ngày kết thúc xử lý hoặc ngày trả kết quả",
          "a dossier with status 9 or 10 has finished_at or returned_at",
          column="_finished_has_end", value_set=[True]),
)


def _scoreboard_rules(band_labels: Sequence[str], groups: Sequence[str]) -> tuple[Rule, ...]:
    """The scoreboard suite's rules for a profile with these bands and groups, in the
    order its report lists them."""
    return (
        *_row_key_rules(),
        *_count_rules(),
        *_rate_rules(),
        *_group_points_rules(groups),
        *_score_and_band_rules(band_labels),
        *_rank_rules(),
    )


def _row_key_rules() -> list[Rule]:
    """A row is one unit's in one period, at a known level."""
    return [
        _rule("key_unique", "ExpectCompoundColumnsToBeUnique",
              "Mỗi đơn vị chỉ có một dòng trong mỗi kỳ",
              "one row per (period_type, period_key, unit_code, unit_valid_from)",
              column_list=["period_type", "period_key", "unit_code", "unit_valid_from"]),
        _rule("period_type_in_set", "ExpectColumnValuesToBeInSet",
              "Loại kỳ là tuần hoặc tháng", "period_type is week or month",
              column="period_type", value_set=list(PERIOD_TYPES)),
        _rule("period_key_not_null", "ExpectColumnValuesToNotBeNull",
              "Dòng phải có mã kỳ", "period_key is present", column="period_key"),
        _rule("unit_code_not_null", "ExpectColumnValuesToNotBeNull",
              "Dòng phải có mã đơn vị", "unit_code is present", column="unit_code"),
        _rule("level_in_set", "ExpectColumnValuesToBeInSet",
              "Cấp đơn vị là huyện, xã hoặc sở ngành", "level is district, commune or department",
              column="level", value_set=list(LEVELS)),
    ]


def _count_rules() -> list[Rule]:
    """The dossier counts are not negative, and the finished ones' classes add up."""
    rules = [
        _rule(f"{col}_non_negative", "ExpectColumnValuesToBeBetween",
              f"Số hồ sơ `{col}` không âm", f"{col} is not negative",
              column=col, min_value=0)
        for col in COUNT_COLUMNS
    ]
    rules += [
        _rule("finished_adds_up", "ExpectColumnPairValuesToBeEqual",
              "Đã giải quyết = trước hạn + đúng hạn + quá hạn + không có hạn",
              "finished = early + on_time + overdue + no_deadline",
              column_A="finished", column_B="_classes_finished", ignore_row_if="neither"),
        _rule("timeliness_base_adds_up", "ExpectColumnPairValuesToBeEqual",
              "Cơ sở tính đúng hạn = trước hạn + đúng hạn + quá hạn + đang quá hạn",
              "timeliness_base = early + on_time + overdue + pending_overdue",
              column_A="timeliness_base", column_B="_classes_timeliness", ignore_row_if="neither"),
    ]
    return rules


def _rate_rules() -> list[Rule]:
    """Rates are shares, and the average processing time is not negative."""
    rules = [
        _rule(f"{col}_in_unit_interval", "ExpectColumnValuesToBeBetween",
              f"Tỷ lệ `{col}` nằm trong [0, 1] (hoặc không áp dụng)",
              f"{col} is in [0, 1] (or not applicable)",
              column=col, min_value=0, max_value=1)
        for col in RATE_COLUMNS
    ]
    rules.append(_rule("avg_working_days_non_negative", "ExpectColumnValuesToBeBetween",
                       "Số ngày làm việc bình quân không âm", "avg_working_days is not negative",
                       column="avg_working_days", min_value=0))
    return rules


def _group_points_rules(groups: Sequence[str]) -> list[Rule]:
    """Each group's points: not negative, and within the maximum of its applicable indicators."""
    rules = []
    for group in groups:
        col = f"points_{group}"
        rules.append(_rule(f"{col}_non_negative", "ExpectColumnValuesToBeBetween",
                           f"Điểm `{col}` không âm", f"{col} is not negative",
                           column=col, min_value=0))
        rules.append(_rule(f"max_points_{group}_matches", "ExpectColumnValuesToBeInSet",
                           f"Điểm tối đa nhóm `{group}` = tổng điểm tối đa của các chỉ số áp dụng, "
                           "và điểm nhóm không vượt quá nó",
                           f"max_points_{group} = the maximum of its applicable indicators, "
                           f"and points_{group} does not exceed it",
                           column=f"_max_points_{group}_matches", value_set=[True]))
    return rules


def _score_and_band_rules(band_labels: Sequence[str]) -> list[Rule]:
    """The score follows from the group points, and the band from the rounded score."""
    return [
        _rule("score_in_range", "ExpectColumnValuesToBeBetween",
              "Điểm tổng nằm trong [0, 100]", "score is in [0, 100]",
              column="score", min_value=0, max_value=100),
        _rule("score_matches_points", "ExpectColumnValuesToBeInSet",
              "Điểm tổng = 100 × tổng điểm nhóm / tổng điểm tối đa của các chỉ số áp dụng",
              "score = 100 × sum of group points / maximum of the applicable indicators",
              column="_score_matches_points", value_set=[True]),
        _rule("band_in_profile", "ExpectColumnValuesToBeInSet",
              "Xếp loại là một nhãn của bộ chỉ số", "band is one of the profile's labels",
              column="band", value_set=list(band_labels)),
        _rule("band_matches_score", "ExpectColumnValuesToBeInSet",
              "Xếp loại khớp với điểm làm tròn 2 chữ số", "band is the one of the score rounded to 2 decimals",
              column="_band_matches_score", value_set=[True]),
    ]


def _rank_rules() -> list[Rule]:
    """Ranks are given exactly to the eligible units, and follow the rounded score."""
    return [
        _rule("rank_at_least_one", "ExpectColumnValuesToBeBetween",
              "Thứ hạng từ 1 trở lên", "rank is at least 1", column="rank", min_value=1),
        _rule("rank_in_peer_at_least_one", "ExpectColumnValuesToBeBetween",
              "Thứ hạng trong nhóm từ 1 trở lên", "rank_in_peer is at least 1",
              column="rank_in_peer", min_value=1),
        _rule("rank_only_where_ranked", "ExpectColumnValuesToBeInSet",
              "Chỉ đơn vị được xếp hạng mới có thứ hạng, và đơn vị được xếp hạng thì có",
              "rank and rank_in_peer are set exactly where ranked is true",
              column="_rank_only_where_ranked", value_set=[True]),
        _rule("ranked_is_eligible", "ExpectColumnValuesToBeInSet",
              "Đơn vị được xếp hạng có điểm và đủ số hồ sơ tối thiểu",
              "a ranked unit has a score and received + timeliness_base ≥ min_volume",
              column="_ranked_is_eligible", value_set=[True]),
        _rule("rank_consistent_with_score", "ExpectColumnValuesToBeInSet",
              "Trong cùng kỳ và cấp, điểm làm tròn cao hơn không bao giờ xếp hạng thấp hơn (đồng điểm đồng hạng)",
              "within a period and level, rank = 1 + number of ranked units with a higher rounded score",
              column="_rank_consistent", value_set=[True]),
        _rule("rank_in_peer_consistent_with_score", "ExpectColumnValuesToBeInSet",
              "Trong cùng kỳ, cấp và nhóm, điểm làm tròn cao hơn không bao giờ xếp hạng thấp hơn",
              "within a period, level and peer group, rank_in_peer follows the rounded score the same way",
              column="_rank_in_peer_consistent", value_set=[True]),
    ]


FILE_RULES: tuple[Rule, ...] = (
    _rule("source_file_unique", "ExpectColumnValuesToBeUnique",
          "Mỗi tệp chỉ có một dòng kết quả nạp", "one accounting row per source_file",
          column="source_file"),
    *(
        _rule(f"{col}_non_negative", "ExpectColumnValuesToBeBetween",
              f"Số dòng `{col}` không âm", f"{col} is not negative", column=col, min_value=0)
        for col in FILE_COUNT_COLUMNS
    ),
    _rule("rows_add_up", "ExpectColumnPairValuesToBeEqual",
          "Số dòng đọc = số dòng nhận + cách ly + bị thay thế bởi bản mới hơn",
          "rows_read = rows_accepted + rows_quarantined + rows_superseded",
          column_A="rows_read", column_B="_rows_accounted", ignore_row_if="neither"),
)


def warm_up() -> dict[str, float]:
    """Import GX and build the context and the dossier and file suites now (e.g. when
    a run starts, in the second process: transforms.aside.start), and say how long
    that took."""
    return gx_engine.warm_up((("dossiers", DOSSIER_RULES), ("file_accounting", FILE_RULES)))


# --------------------------------------------------------------------------- helpers


def _typed(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> tuple[pl.DataFrame, list[str]]:
    """The schema's columns, cast; a missing column becomes nulls and is reported."""
    missing = [c for c in schema if c not in frame.columns]
    exprs = [
        (pl.col(c).cast(t, strict=False) if c in frame.columns else pl.lit(None, dtype=t)).alias(c)
        for c, t in schema.items()
    ]
    return frame.select(exprs), missing


def _missing_columns_check(missing: list[str]) -> CheckOutcome:
    listed = ", ".join(missing)
    return CheckOutcome(
        name="columns_present",
        success=not missing,
        unexpected_count=len(missing),
        description_vi="Có đủ các cột theo lược đồ" + (f" (thiếu: {listed})" if missing else ""),
        description_en="every column of the schema is present" + (f" (missing: {listed})" if missing else ""),
    )


def _outcomes(
    runs: list[tuple[Rule, bool, int | None, list[int], bool]],
    keys: pl.Series,
) -> tuple[list[CheckOutcome], set[int]]:
    checks, failing = [], set()
    for rule, success, count, indices, error in runs:
        failing.update(indices)
        examples: list[str] = []
        if indices:
            seen = set()
            for key in keys.gather(indices[: MAX_EXAMPLES * 4]).to_list():
                if key is not None and key not in seen:
                    seen.add(key)
                    examples.append(str(key))
                if len(examples) == MAX_EXAMPLES:
                    break
        checks.append(CheckOutcome(rule.name, success, count, rule.vi, rule.en, examples, error))
    return checks, failing


def _empty_outcomes(rules: Sequence[Rule]) -> list[CheckOutcome]:
    return [CheckOutcome(r.name, True, 0, r.vi, r.en) for r in rules]


# --------------------------------------------------------------------------- dossiers


def _dossier_table(frame: pl.DataFrame) -> pl.DataFrame:
    status = pl.col("status")
    return frame.select(
        "dossier_id", "procedure_code", "received_at", "unit_code", "unit_valid_from",
        "channel", "status", "rating", "finished_at", "returned_at", "rejected_at",
        due_end=due_end_expr("due_at"),
        _finished_has_end=(
            ~status.is_in(FINISHED_STATUSES)
            | pl.col("finished_at").is_not_null()
            | pl.col("returned_at").is_not_null()
        ).fill_null(True),
    )


def _dossier_periods(rows: pl.DataFrame, horizon: datetime | None) -> tuple[set[tuple[str, str]], int]:
    """The weeks and months whose scoreboards these dossiers count in: from the
    earliest of their event dates to the latest (for a dossier still pending, to
    `horizon`, since it may be pending overdue in every period until it ends)."""
    events = ["received_at", "finished_at", "returned_at", "rejected_at"]
    d = classify(rows.select(*events, "status", "due_at"))
    d = d.with_columns(
        _start=pl.min_horizontal(events),
        _stop=pl.max_horizontal(
            *events,
            pl.when(pl.col("kind") == "pending").then(pl.lit(horizon, dtype=pl.Datetime("us"))),
        ),
    )
    unplaced = d.filter(pl.col("_start").is_null()).height
    placed = d.filter(pl.col("_start").is_not_null())
    periods: set[tuple[str, str]] = set()
    for period_type in PERIOD_TYPES:
        idx = (
            placed.select(
                pl.int_ranges(index_expr(period_type, "_start"), index_expr(period_type, "_stop") + 1)
                .explode()
                .unique()
                .alias("i")
            )
            .drop_nulls()
            .get_column("i")
            .to_list()
        )
        periods.update((period_type, key_of(period_type, i)) for i in idx)
    return periods, unplaced


DOSSIER_BUCKET_ROWS = 1_000_000


def validate_dossiers(
    frame: pl.DataFrame, *, as_of: datetime | None = None, bucket_rows: int = DOSSIER_BUCKET_ROWS
) -> QualityResult:
    """Validate canonical dossier rows, a bucket of dossier ids at a time when there are
    many (GX's pandas path copies and hashes the whole frame: a first load of 10 million
    dossiers at once would hold several copies). One id always falls in one bucket, so
    uniqueness is still checked across the whole frame."""
    if frame.height <= bucket_rows or "dossier_id" not in frame.columns:
        return _validate_dossiers(frame, as_of=as_of)
    if as_of is None:  # every bucket places a failing pending dossier up to the same horizon
        typed, _ = _typed(frame, {c: DOSSIER_SCHEMA[c] for c in EVENT_FIELDS})
        as_of = typed.select(pl.max_horizontal([pl.col(c).max() for c in EVENT_FIELDS])).item()
    buckets = -(-frame.height // bucket_rows)
    bucket = (pl.col("dossier_id").hash(seed=0) % buckets).alias("_bucket")
    parts = frame.with_columns(bucket).partition_by("_bucket", include_key=False, maintain_order=True)
    return validate_dossier_parts(parts, as_of=as_of)


def validate_dossier_parts(parts: Iterable[pl.DataFrame], *, as_of: datetime | None) -> QualityResult:
    """The dossier suite over parts of one table (buckets of ids) as one."""
    return submit_dossier_parts(parts, as_of=as_of)()


def submit_dossier_parts(parts: Iterable[pl.DataFrame], *, as_of: datetime | None) -> Callable[[], QualityResult]:
    """validate_dossier_parts in two steps: this returns once the last part is handed
    over; the function it returns waits for the parts still being checked and merges
    the results. With the second process, each part's suite runs there while the next
    part is read here: two parts in flight (here, each part and its checked table
    until its result is back; there, one part's table), never the whole table.
    Without it, one at a time, and the last is checked before this returns."""
    keep = 1 if aside.started() else 0
    pending: deque[Callable[[], QualityResult]] = deque()
    results = []
    for part in parts:
        pending.append(_submit_dossiers(part, as_of=as_of))
        while len(pending) > keep:
            results.append(pending.popleft()())
    return lambda: merge_results(results + [finish() for finish in pending])


def merge_results(results: list[QualityResult]) -> QualityResult:
    """Validations of parts of one table as one: a check fails if it failed in any part."""
    if len(results) == 1:
        return results[0]
    checks: dict[str, CheckOutcome] = {}
    for result in results:
        for c in result.checks:
            seen = checks.get(c.name)
            if seen is None:
                checks[c.name] = CheckOutcome(
                    c.name, c.success, c.unexpected_count, c.description_vi, c.description_en,
                    list(c.examples), c.error,
                )
                continue
            seen.success = seen.success and c.success
            seen.error = seen.error or c.error
            # missing columns are the table's, the same in every part; rows add up
            combine = max if c.name == "columns_present" else int.__add__
            seen.unexpected_count = (
                None if seen.unexpected_count is None or c.unexpected_count is None
                else combine(seen.unexpected_count, c.unexpected_count)
            )
            seen.examples = (seen.examples + [e for e in c.examples if e not in seen.examples])[:MAX_EXAMPLES]
    return QualityResult(
        suite=results[0].suite,
        success=all(r.success for r in results),
        checks=list(checks.values()),
        seconds=sum(r.seconds for r in results),
        rows=sum(r.rows for r in results),
        failed_periods=set().union(*(r.failed_periods for r in results)),
        unplaced_failures=sum(r.unplaced_failures for r in results),
        gx_seconds=sum(r.gx_seconds for r in results),
    )


def _validate_dossiers(frame: pl.DataFrame, *, as_of: datetime | None = None) -> QualityResult:
    """Validate canonical dossier rows (DOSSIER_SCHEMA): the rows a run adds or changes.

    `failed_periods`: every week and month from the earliest to the latest event of a
    failing dossier (a pending one: up to `as_of`, default the latest event in
    `frame`), i.e. the scoreboards it may have landed in."""
    return _submit_dossiers(frame, as_of=as_of)()


def _submit_dossiers(frame: pl.DataFrame, *, as_of: datetime | None = None) -> Callable[[], QualityResult]:
    """_validate_dossiers in two steps: the suite handed to the second process now; the
    returned function waits for it and makes the result."""
    t0 = time.perf_counter()
    typed, missing = _typed(frame, DOSSIER_SCHEMA)
    if typed.height == 0:
        checks = [_missing_columns_check(missing), *_empty_outcomes(DOSSIER_RULES)]
        empty = QualityResult("dossiers", not missing, checks, time.perf_counter() - t0)
        return lambda: empty
    table = _dossier_table(typed)
    t1 = time.perf_counter()
    running = aside.submit(gx_engine.run_suite, "dossiers", DOSSIER_RULES, table)
    return functools.partial(_dossier_result, typed, missing, running, as_of, t0, t1)


def _dossier_result(
    typed: pl.DataFrame, missing: list[str], running: Future, as_of: datetime | None, t0: float, t1: float
) -> QualityResult:
    runs = running.result()
    gx_seconds = time.perf_counter() - t1
    checks, failing = _outcomes(runs, typed.get_column("dossier_id"))
    checks.insert(0, _missing_columns_check(missing))
    periods, unplaced = set(), 0
    if failing:
        horizon = as_of
        if horizon is None:
            horizon = typed.select(pl.max_horizontal([pl.col(c).max() for c in EVENT_FIELDS])).item()
        periods, unplaced = _dossier_periods(typed[sorted(failing)], horizon)
    return QualityResult(
        suite="dossiers",
        success=all(c.success for c in checks),
        checks=checks,
        seconds=time.perf_counter() - t0,
        rows=typed.height,
        failed_periods=periods,
        unplaced_failures=unplaced,
        gx_seconds=gx_seconds,
    )


# --------------------------------------------------------------------------- scoreboard


def scoreboard_table(frame: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """The scoreboard with the computed columns its suite expects (Polars first)."""
    rounded = round_score(pl.col("score"))
    ranked = pl.col("ranked").fill_null(False)
    by_level = ["period_type", "period_key", "level"]
    rank_score = pl.when(ranked).then(rounded)
    earned = pl.sum_horizontal([pl.col(g.points_column).fill_null(0.0) for g in profile.groups])

    def applicable_max(indicators) -> pl.Expr:
        return pl.sum_horizontal(
            [pl.when(pl.col(i.rate).is_not_null()).then(pl.lit(i.max_points)).otherwise(0.0) for i in indicators]
        )

    def group_max_matches(g) -> pl.Expr:
        applies = pl.any_horizontal([pl.col(i.rate).is_not_null() for i in g.indicators])
        stored, points = pl.col(g.max_points_column), pl.col(g.points_column)
        return pl.when(applies).then(
            ((stored - applicable_max(g.indicators)).abs() <= SCORE_TOLERANCE)
            & (points <= stored + SCORE_TOLERANCE)
        ).otherwise(stored.is_null() & points.is_null()).fill_null(False)

    applicable = applicable_max(profile.indicators)
    expected_score = pl.when(applicable > 0).then(100 * earned / applicable)
    volume_ok = (pl.col("received") + pl.col("timeliness_base")) >= profile.min_volume
    return frame.with_columns(
        _classes_finished=pl.col("early") + pl.col("on_time") + pl.col("overdue") + pl.col("no_deadline"),
        _classes_timeliness=pl.col("early") + pl.col("on_time") + pl.col("overdue") + pl.col("pending_overdue"),
        _score_matches_points=(
            (pl.col("score").is_null() & expected_score.is_null())
            | ((pl.col("score") - expected_score).abs() <= SCORE_TOLERANCE)
        ).fill_null(False),
        _band_matches_score=pl.col("band").eq_missing(profile.band_expr(rounded)),
        _rank_only_where_ranked=pl.when(ranked)
        .then(pl.col("rank").is_not_null() & pl.col("rank_in_peer").is_not_null())
        .otherwise(pl.col("rank").is_null() & pl.col("rank_in_peer").is_null()),
        _ranked_is_eligible=(~ranked | (pl.col("score").is_not_null() & volume_ok)).fill_null(False),
        _rank_consistent=pl.when(ranked)
        .then(pl.col("rank").eq_missing(rank_score.rank("min", descending=True).over(by_level).cast(pl.Int64)))
        .otherwise(True),
        **{f"_max_points_{g.key}_matches": group_max_matches(g) for g in profile.groups},
        _rank_in_peer_consistent=pl.when(ranked)
        .then(
            pl.col("rank_in_peer").eq_missing(
                rank_score.rank("min", descending=True).over([*by_level, "peer_group"]).cast(pl.Int64)
            )
        )
        .otherwise(True),
    )


def _suite_columns(groups: Sequence[str]) -> tuple[str, ...]:
    """The columns the scoreboard suite reads, for a profile with these groups."""
    return (
        "period_type", "period_key", "unit_code", "unit_valid_from", "level",
        *COUNT_COLUMNS, *RATE_COLUMNS, "avg_working_days", *(f"points_{g}" for g in groups), "score", "band",
        "rank", "rank_in_peer", "_classes_finished", "_classes_timeliness", "_score_matches_points",
        *(f"_max_points_{g}_matches" for g in groups),
        "_band_matches_score", "_rank_only_where_ranked", "_ranked_is_eligible", "_rank_consistent",
        "_rank_in_peer_consistent",
    )


@functools.lru_cache(maxsize=16)
def _scoreboard_suite(labels: tuple[str, ...], groups: tuple[str, ...]) -> tuple[str, tuple[Rule, ...]]:
    return f"scoreboard[{'|'.join(labels)}][{'|'.join(groups)}]", _scoreboard_rules(labels, groups)


def _profile_suite(profile: Profile) -> tuple[str, tuple[Rule, ...]]:
    return _scoreboard_suite(tuple(b.label for b in profile.bands), profile.group_keys)


def validate_scoreboard(frame: pl.DataFrame, profile: Profile) -> QualityResult:
    """Validate published scoreboard rows (transforms.schema.scoreboard_schema) under `profile`.

    `failed_periods`: the (period_type, period_key) of every failing row: the
    pipeline can block those periods and publish the others."""
    t0 = time.perf_counter()
    typed, missing = _typed(frame, scoreboard_schema(profile))
    suite_name, rules = _profile_suite(profile)
    if typed.height == 0:
        checks = [_missing_columns_check(missing), *_empty_outcomes(rules)]
        return QualityResult("scoreboard", not missing, checks, time.perf_counter() - t0)
    table = scoreboard_table(typed, profile).select(_suite_columns(profile.group_keys))
    t1 = time.perf_counter()
    runs = aside.run(gx_engine.run_suite, suite_name, rules, table)
    gx_seconds = time.perf_counter() - t1
    keys = typed.select(pl.concat_str([pl.col("period_key"), pl.col("unit_code")], separator="/")).to_series()
    checks, failing = _outcomes(runs, keys)
    checks.insert(0, _missing_columns_check(missing))
    periods: set[tuple[str, str]] = set()
    unplaced = 0
    if failing:
        rows = typed[sorted(failing)].select("period_type", "period_key")
        placed = rows.drop_nulls().unique()
        unplaced = rows.height - rows.drop_nulls().height
        periods = {(t, k) for t, k in placed.iter_rows()}
    return QualityResult(
        suite="scoreboard",
        success=all(c.success for c in checks),
        checks=checks,
        seconds=time.perf_counter() - t0,
        rows=typed.height,
        failed_periods=periods,
        unplaced_failures=unplaced,
        gx_seconds=gx_seconds,
    )


# --------------------------------------------------------------------------- files

FILE_ACCOUNTING_COLUMNS: dict[str, pl.DataType] = {
    "source_file": pl.Utf8(),
    "status": pl.Utf8(),
    **{c: pl.Int64() for c in FILE_COUNT_COLUMNS},
}


def validate_file_accounting(frame: pl.DataFrame) -> QualityResult:
    """Validate rows of the `file_accounting` view: for every file with status
    'loaded', rows_read = rows_accepted + rows_quarantined + rows_superseded.
    (A rejected file read no rows into the warehouse and is not checked.)"""
    t0 = time.perf_counter()
    typed, missing = _typed(frame, FILE_ACCOUNTING_COLUMNS)
    loaded = typed.filter(pl.col("status") == "loaded")
    if loaded.height == 0:
        checks = [_missing_columns_check(missing), *_empty_outcomes(FILE_RULES)]
        return QualityResult("file_accounting", not missing, checks, time.perf_counter() - t0)
    table = loaded.with_columns(
        _rows_accounted=pl.col("rows_accepted") + pl.col("rows_quarantined") + pl.col("rows_superseded")
    ).select("source_file", *FILE_COUNT_COLUMNS, "_rows_accounted")
    t1 = time.perf_counter()
    runs = aside.run(gx_engine.run_suite, "file_accounting", FILE_RULES, table)
    gx_seconds = time.perf_counter() - t1
    checks, _ = _outcomes(runs, loaded.get_column("source_file"))
    checks.insert(0, _missing_columns_check(missing))
    return QualityResult(
        suite="file_accounting",
        success=all(c.success for c in checks),
        checks=checks,
        seconds=time.perf_counter() - t0,
        rows=loaded.height,
        gx_seconds=gx_seconds,
    )


__all__ = [
    "CheckOutcome",
    "QualityResult",
    "Rule",
    "DOSSIER_RULES",
    "FILE_RULES",
    "scoreboard_table",
    "validate_dossiers",
    "merge_results",
    "validate_file_accounting",
    "validate_scoreboard",
    "warm_up",
    "dossier_rule_names",
    "scoreboard_rule_names",
    "file_rule_names",
]


def scoreboard_rule_names(profile: Profile) -> list[str]:
    """Names of the scoreboard checks under `profile` (for docs and tests)."""
    return ["columns_present", *(r.name for r in _profile_suite(profile)[1])]


def dossier_rule_names() -> list[str]:
    return ["columns_present", *(r.name for r in DOSSIER_RULES)]


def file_rule_names() -> list[str]:
    return ["columns_present", *(r.name for r in FILE_RULES)]

