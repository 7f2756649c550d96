"""The great-expectations engine the quality suites (quality.suites) run on: the one
module that imports GX, drives it and reads its results.

A suite is a name and its `Rule`s; `run_suite` validates a prepared frame against it
and answers, per rule, (rule, success, unexpected count, unexpected row positions,
error): plain values, never GX's objects, and no value of the frame (its callers look
the examples and failed periods up in their Polars frame by row position).

GX runs against an ephemeral context: one pandas data source with a dataframe asset
and a whole-dataframe batch definition. GX has no Polars or DuckDB data source and its
SQL path fails on DuckDB, so the Polars frame is handed to GX as pandas. A suite is
run in two passes: every expectation with result_format BOOLEAN_ONLY (on a small frame
GX's bookkeeping per expectation is most of the cost), then only the failing ones again
with COMPLETE, for their unexpected rows. The rules comparing two columns are
validated apart, on a frame of only those columns (`_Engine.parts`).

Importing great_expectations is slow, so it is imported on first use, not with this
module (nor with quality.suites); GX_ANALYTICS_ENABLED is set before that (here and in
quality/__init__.py). The context, data source and suites are built once per process
(`_engine()`), never per call. `run_suite` is what quality.suites hands to
transforms.aside: when the run started the second process, GX is imported and run
there, on the other core; else here.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import polars as pl

if TYPE_CHECKING:  # quality.suites imports this module: a rule is only read here
    from quality.suites import Rule

# read by great_expectations when it is first imported (in _Engine)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

log = logging.getLogger(__name__)


class _Engine:
    """The ephemeral GX context, its one batch definition and the suites: once per process."""

    def __init__(self) -> None:
        t0 = time.perf_counter()
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine
        from great_expectations.validator.v1_validator import Validator

        # GX fingerprints every frame it is given (a hash of every row) for a batch
        # marker nothing here reads; frames above this many bytes it leaves alone (a
        # constant of the pinned GX)
        pandas_execution_engine.HASH_THRESHOLD = 0

        self.import_seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        self.gx, self.gxe, self.Validator = gx, gxe, Validator
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        source = self.context.data_sources.add_pandas("par_quality")
        asset = source.add_dataframe_asset("frame")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
        self.context_seconds = time.perf_counter() - t1
        self.suites: dict[str, tuple[Any, dict[str, Any], dict[str, Rule]]] = {}
        self.lock = threading.RLock()

    def suite(self, name: str, rules: Sequence[Rule]) -> tuple[Any, dict[str, Any], dict[str, Rule]]:
        with self.lock:
            if name not in self.suites:
                suite = self.gx.ExpectationSuite(name=name)
                by_name: dict[str, Any] = {}
                for rule in rules:
                    cls = getattr(self.gxe, rule.expectation)
                    exp = cls(**dict(rule.kwargs), meta={"check": rule.name})
                    suite.add_expectation(exp)
                suite = self.context.suites.add(suite)
                for exp in suite.expectations:
                    by_name[exp.meta["check"]] = exp
                self.suites[name] = (suite, by_name, {r.name: r for r in rules})
            return self.suites[name]

    def parts(self, suite_name: str, rules: Sequence[Rule]) -> list[tuple[str, Sequence[Rule], list[str] | None]]:
        """The suites a suite is validated as: (name, rules, the frame's columns they
        read, None for all). The rules comparing two columns are validated on a frame of
        the columns they compare: GX's pandas engine drops the rows where either is
        missing by copying the frame it is given, every column, once per such rule and
        pass (docs/benchmarks.md, "The dossier suite's copies")."""
        pairs = [r for r in rules if "column_A" in dict(r.kwargs)]
        rest = [r for r in rules if "column_A" not in dict(r.kwargs)]
        columns = list(dict.fromkeys(dict(r.kwargs)[k] for r in pairs for k in ("column_A", "column_B")))
        return [part for part in ((suite_name, rest, None), (f"{suite_name} (column pairs)", pairs, columns))
                if part[1]]

    def run(self, suite_name: str, rules: Sequence[Rule], frame: pl.DataFrame) -> list[tuple[Rule, bool, int | None, list[int], bool]]:
        """(rule, success, unexpected count, unexpected row positions, error) per rule."""
        out = []
        for name, part, columns in self.parts(suite_name, rules):
            # (a column the frame lacks stays lacking: GX says the rule cannot be evaluated)
            read = frame if columns is None else frame.select(c for c in columns if c in frame.columns)
            out += self._validate(name, part, read)
        order = {r.name: i for i, r in enumerate(rules)}
        return sorted(out, key=lambda o: order[o[0].name])

    def _validate(self, suite_name: str, rules: Sequence[Rule], frame: pl.DataFrame) -> list[tuple[Rule, bool, int | None, list[int], bool]]:
        suite, by_name, rule_of = self.suite(suite_name, rules)
        pdf = frame.to_pandas()  # RangeIndex: GX's unexpected indices are row positions
        out = []
        with self.lock:
            # One GX validator per call: it loads (and fingerprints) the batch once, and
            # the second pass reuses it. (Batch.validate would load the frame again on
            # every call.)
            validator = self.Validator(
                self.batch_definition,
                result_format="BOOLEAN_ONLY",
                batch_parameters={"dataframe": pdf},
            )
            first = validator.validate_expectation_suite(suite)
            validator.result_format = {"result_format": "COMPLETE"}
            for res in first.results:
                name = res.expectation_config.meta["check"]
                rule = rule_of[name]
                if _raised(res):
                    out.append((rule, False, None, [], True))
                    continue
                if res.success:
                    out.append((rule, True, 0, [], False))
                    continue
                detail = validator.validate_expectation(by_name[name])
                if _raised(detail):
                    out.append((rule, False, None, [], True))
                    continue
                result = detail.result or {}
                indices = [int(i) for i in result.get("unexpected_index_list") or []]
                count = result.get("unexpected_count")
                out.append((rule, bool(detail.success), int(count if count is not None else len(indices)), indices, False))
        return out


def _raised(result: Any) -> bool:
    info = getattr(result, "exception_info", None) or {}
    # either {"raised_exception": ...} or, for a metric that failed, {metric id: {...}}
    raised = bool(info.get("raised_exception")) or any(
        isinstance(v, dict) and v.get("raised_exception") for v in info.values()
    )
    if raised:
        # never GX's message: it may quote values of the frame
        log.warning("quality check %s could not be evaluated", result.expectation_config.meta.get("check"))
        return True
    return False


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Engine:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE


def run_suite(suite_name: str, rules: Sequence[Rule], frame: pl.DataFrame) -> list[tuple[Rule, bool, int | None, list[int], bool]]:
    """A suite over a prepared frame, in whichever process runs it (`aside.run`)."""
    return _engine().run(suite_name, rules, frame)


def warm_up(suites: Iterable[tuple[str, Sequence[Rule]]]) -> dict[str, float]:
    """Import GX and build the context and these suites now (e.g. when a run starts),
    and say how long that took."""
    engine = _engine()
    t = time.perf_counter()
    for name, rules in suites:
        for part_name, part, _ in engine.parts(name, rules):
            engine.suite(part_name, part)
    return {
        "import_seconds": engine.import_seconds,
        "context_seconds": engine.context_seconds,
        "suites_seconds": time.perf_counter() - t,
    }
