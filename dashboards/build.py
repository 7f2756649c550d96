"""The builder: runs the page catalogue (dashboards.catalogue) over the site's tables.

A page kind declares what it reads: for each table the columns, and by which
columns its outputs pick their rows (`Read`); and which site-wide facts it
shows. It lists its outputs (one file each, with the partitions of each read
it takes and its small parameters) and renders a batch of them.

The builder derives each output's key from exactly those declared inputs —
the digest of every partition the output reads, its parameters, the facts,
plus the package's code version (dashboards.cache) — and renders only the
outputs whose key changed. A render sees nothing else: its data are the
declared tables cut to the declared columns and partitions, and its facts
only those declared, so a key cannot forget an input.
"""

from __future__ import annotations

import fnmatch
import re
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

import polars as pl

from dashboards.cache import SITE_CODE, BuildCache, code_version, digest, write_atomic
from transforms import aside

EMPTY = "-"  # the digest of a partition without rows


@dataclass(frozen=True)
class Read:
    """A table a kind reads: these columns (`points_*`: every column with that
    prefix), its rows chosen by the `by` columns (each output names the
    partitions it takes) or the whole table (`by` empty)."""

    table: str
    columns: tuple[str, ...]
    by: tuple[str, ...] = ()

    def projection(self, available: Sequence[str]) -> list[str]:
        """The columns in their declared order, then the `by` columns not among them."""
        out: list[str] = []
        for c in (*self.columns, *self.by):
            out.extend(a for a in available if a.startswith(c[:-1])) if c.endswith("*") else out.append(c)
        return list(dict.fromkeys(out))


@runtime_checkable
class Source(Protocol):
    """A table read where it is stored, partition by partition, instead of held whole:
    the explaining tables, whose evidence lists every pending-overdue dossier again in
    every period it stays so (tens of millions of rows at a city's scale). The builder
    asks it for the digests of the partitions its outputs read, and for the rows of
    the stale outputs only (pipelines.warehouse.StoredTable; dashboards.site.Prepared)."""

    @property
    def columns(self) -> list[str]: ...

    def digests(self, columns: list[str], by: Sequence[str], keys: Sequence[tuple] | None) -> dict[tuple, str]:
        """Per partition among `keys` (every row when `by` is empty: the key `()`), a
        digest of its rows' `columns` that changes when any of them does."""

    def rows(self, columns: list[str], by: Sequence[str], keys: Sequence[tuple] | None) -> pl.DataFrame:
        """The rows of those partitions (all rows when `by` is empty), in the table's order."""

    def partitions(self, by: Sequence[str], keys: Sequence[tuple] | None = None) -> pl.DataFrame:
        """The distinct values of `by` (among `keys`, of the same columns, when given)."""


@dataclass
class Output:
    """One file: its path in the site, the parameters it is rendered with (plain
    JSON values, part of its key) and, per partitioned read, the partitions it reads."""

    path: str
    params: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, Sequence[tuple]] = field(default_factory=dict)
    key: str = ""


@dataclass
class Later:
    """Files made outside this thread (Chromium printing a PDF, vl-convert drawing a
    chart in the second process): `work` runs on a thread while the other kinds
    render, and returns the files to write, as (path, bytes, key), when the build ends
    (bytes None: written there already, only the key is recorded: render_apart)."""

    work: Callable[[], list[tuple[str, bytes | None, str]]]
    # The second process's task behind `work`, and the same files made here: a build
    # with nothing left to do takes back the tasks not started there (run).
    task: Future | None = None
    here: Callable[[], list[tuple[str, bytes | None, str]]] | None = None

    @classmethod
    def files(cls, made: Future, outputs: list[Output], here: Callable[[], list[bytes]] | None = None) -> Later:
        """The files of `outputs`, in order, from a future of their bytes (`here`:
        the same bytes, made in this process)."""

        def paired(contents: list[bytes]) -> list[tuple[str, bytes | None, str]]:
            return [(o.path, data, o.key) for o, data in zip(outputs, contents)]

        return cls(lambda: paired(made.result()), made, (lambda: paired(here())) if here is not None else None)


class Kind:
    """A page kind of the catalogue. Subclasses set `name`, `reads`, `facts`,
    `owns` (globs of the files it manages: any other file matching them is
    removed), `code` (the modules and files its output depends on, when fewer than
    the whole site's: dashboards.cache.code_version) and implement `outputs` and `render`."""

    name: str = ""
    reads: Mapping[str, Read] = {}
    facts: tuple[str, ...] = ()
    owns: tuple[str, ...] = ()
    code: tuple[str, ...] = SITE_CODE
    batch: int = 0  # stale outputs rendered together at most (0: all): bounds a build's memory
    # Its batches may render in the run's second process (transforms.aside) when a build
    # has many of them: a kind that reads nothing but its Data, whose files no later kind
    # reads, and whose render holds Python's lock (templates, Markup) or costs much CPU
    # for the rows it is sent (the scoreboard's and the weak points' data files).
    apart: bool = False
    # Its render hands all its work to the second process itself, in tasks that cannot
    # be taken back (vl-convert's charts hold Python's lock: drawn here, they would stall
    # the trips to and from that process): asked for before every other kind's.
    aside_first: bool = False

    def outputs(self, site: "Site") -> list[Output]:  # may look at anything: what it passes on is in params
        raise NotImplementedError

    def render(self, batch: list[Output], data: "Data") -> Iterator[tuple[Output, bytes | Later]]:
        raise NotImplementedError


class Site:
    """The tables, facts and cache of one build."""

    def __init__(self, root: Path, tables: Mapping[str, pl.DataFrame | Source], facts: Mapping[str, Any],
                 log: Callable[[str], None] | None = None):
        self.root = Path(root)
        self.tables = dict(tables)
        self.facts = dict(facts)
        self.cache = BuildCache(self.root)
        self.keys: dict[str, str] = {}
        self.log = log
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.rendered: dict[str, int] = {}
        self._partitions: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = {}

    def partitions_of(self, name: str, by: Sequence[str]) -> pl.DataFrame:
        """The distinct values of `by` in the held table `name`, found once a build (every
        kind that reads it by `by` asks whether it wants them all)."""
        key = (name, tuple(by))
        if key not in self._partitions:
            self._partitions[key] = self.tables[name].select(by).unique()
        return self._partitions[key]

    def table(self, name: str) -> pl.DataFrame | Source:
        return self.tables[name]

    # ---------------------------------------------------------------- digests

    def digests(self, read: Read, keys: Iterable[tuple]) -> dict[tuple, str]:
        """Per partition of `read` among `keys`: a digest of its rows (projected, in
        the table's order). Row hashes are Polars' (stable for one Polars version,
        which is part of the code version)."""
        table = self.tables[read.table]
        if isinstance(table, Source):
            return table.digests(read.projection(table.columns), read.by, _wanted(read, keys))
        frame = table.select(read.projection(table.columns))
        cols = frame.columns
        if not read.by:
            h = frame.select(cols).hash_rows(seed=7) if frame.height else pl.Series([], dtype=pl.UInt64)
            return {(): digest(repr(frame.select(cols).schema), h.to_numpy().tobytes()) if frame.height else EMPTY}
        return frame_digests(_only(frame, read.by, keys, self.partitions_of(read.table, read.by)), read.by)


def frame_digests(frame: pl.DataFrame, by: Sequence[str], *, ordered: bool = True) -> dict[tuple, str]:
    """Per partition of `frame` by `by` (every one non-empty): a digest of its rows, all
    their columns, in their order (in any order, the same, when not `ordered`)."""
    if frame.height == 0:
        return {}
    hashes = pl.col("_h") if ordered else pl.col("_h").sort()
    hashed = frame.select(*by, _h=frame.hash_rows(seed=7)).group_by(list(by), maintain_order=True).agg(hashes)
    hashed = hashed.select(*by, _a=pl.col("_h").hash(11), _b=pl.col("_h").hash(13), _n=pl.col("_h").list.len())
    return {row[:-3]: f"{row[-3]:016x}{row[-2]:016x}{row[-1]}" for row in hashed.iter_rows()}


def _wanted(read: Read, keys: Iterable[tuple]) -> list[tuple] | None:
    """The distinct partitions a stored table is asked for (None: the whole table)."""
    return list(dict.fromkeys(keys)) if read.by else None


def partitions(table: pl.DataFrame | Source, by: Sequence[str], keys: Iterable[tuple] | None = None) -> pl.DataFrame:
    """The distinct values of `by` in a table (among `keys` when given), whether held or stored."""
    if isinstance(table, Source):
        return table.partitions(by, None if keys is None else list(keys))
    have = table.select(by).unique(maintain_order=True)
    return have if keys is None else have.join(_keys_frame(table, by, keys), on=list(by), how="semi", nulls_equal=True)


def _keys_frame(frame: pl.DataFrame, by: Sequence[str], keys: Iterable[tuple]) -> pl.DataFrame:
    schema = {c: frame.schema[c] for c in by}
    return pl.DataFrame(list(set(keys)), schema=schema, orient="row")


def _only(frame: pl.DataFrame, by: Sequence[str], keys: Iterable[tuple], have: pl.DataFrame) -> pl.DataFrame:
    """The rows of `frame` whose `by` values are among `keys` (the frame itself, not a
    copy, when every partition is wanted: a full build reads tables whole). `have`: the
    distinct values of `by` in `frame` (Site.partitions_of)."""
    wanted = _keys_frame(frame, by, keys)
    if wanted.height >= have.height and have.join(wanted, on=list(by), how="anti", nulls_equal=True).height == 0:
        return frame
    return frame.join(wanted, on=list(by), how="semi", nulls_equal=True)


def _slices(frame: pl.DataFrame, by: Sequence[str]) -> dict[tuple, pl.DataFrame]:
    """Each partition of `frame` by `by`, as a slice of it (no copy) where its rows
    lie together, as they do in the tables sorted on their period (else copies)."""
    spans = frame.select(by).with_row_index("_i").group_by(list(by), maintain_order=True).agg(
        _start=pl.col("_i").min(), _end=pl.col("_i").max(), _n=pl.len()
    )
    if (spans["_end"] - spans["_start"] + 1 == spans["_n"]).all():
        return {tuple(r[:-3]): frame.slice(r[-3], r[-1]) for r in spans.iter_rows()}
    return dict(frame.partition_by(list(by), as_dict=True, maintain_order=True).items())


class Data:
    """What a render may read: the declared tables, columns, partitions and facts."""

    def __init__(self, site: Site, kind: Kind, batch: list[Output]):
        self._site, self._kind, self._batch = site, kind, batch
        self._facts: Mapping[str, Any] = site.facts
        self._frames: dict[str, pl.DataFrame] = {}
        self._parts: dict[str, dict[tuple, pl.DataFrame]] = {}

    def frame(self, name: str) -> pl.DataFrame:
        """The rows of every output of the batch (the whole table for an unpartitioned read)."""
        if name not in self._frames:
            read = self._kind.reads[name]
            table = self._site.tables[read.table]
            keys = [k for o in self._batch for k in o.rows.get(name, ())]
            if isinstance(table, Source):
                frame = table.rows(read.projection(table.columns), read.by, _wanted(read, keys))
            else:
                frame = table.select(read.projection(table.columns))
                if read.by:
                    frame = _only(frame, read.by, keys, self._site.partitions_of(read.table, read.by))
            self._frames[name] = frame
        return self._frames[name]

    def part(self, name: str, key: tuple) -> pl.DataFrame:
        """The rows of one partition (empty, with the columns, when it has none)."""
        if name not in self._parts:
            read = self._kind.reads[name]
            frame = self.frame(name)
            self._parts[name] = _slices(frame, read.by) if frame.height else {}
        found = self._parts[name].get(tuple(key))
        return found if found is not None else self.frame(name).clear()

    def rows(self, name: str, output: Output) -> pl.DataFrame:
        """The rows of all the partitions `output` reads, in its order."""
        keys = output.rows.get(name, ())
        parts = [self.part(name, k) for k in keys]
        return pl.concat(parts) if parts else self.frame(name).clear()

    def fact(self, name: str) -> Any:
        if name not in self._kind.facts:
            raise KeyError(f"page kind {self._kind.name!r} did not declare the fact {name!r}")
        return self._facts[name]

    def held(self) -> "HeldData":
        """The same data cut now, with nothing of the site left to ask: it pickles (for
        a render in the second process)."""
        return HeldData(self._kind, self._batch, {name: self.frame(name) for name in self._kind.reads},
                        {name: self._facts[name] for name in self._kind.facts})


class HeldData(Data):
    """A Data whose frames and facts were taken already (Data.held)."""

    def __init__(self, kind: Kind, batch: list[Output], frames: dict[str, pl.DataFrame], facts: dict[str, Any]):
        self._site, self._kind, self._batch = None, kind, batch  # type: ignore[assignment]
        self._facts, self._frames, self._parts = facts, frames, {}


def render_apart(kind: Kind, batch: list[Output], data: HeldData, root: str) -> list[tuple[str, None, str]]:
    """In the second process: render a batch and write its files, as BuildCache.write
    does; what `run` records of them (their paths and keys)."""
    done = []
    for output, made in kind.render(batch, data):
        write_atomic(Path(root) / output.path, made)
        done.append((output.path, None, output.key))
    return done


def each(work: Callable[[Any], Any], items: Sequence[Any], workers: int | None = None) -> Iterator[Any]:
    """`work(item)` for every item, in order; on threads (zlib, Polars and file
    writes release the GIL, so two cores do nearly twice the work), with at most
    two items a thread in flight (their results are held until written)."""
    import os
    from collections import deque

    workers = workers or max(1, min(4, os.cpu_count() or 1))
    if workers <= 1 or len(items) <= 1:
        yield from map(work, items)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def kind_key(site: Site, kind: Kind) -> str:
    """What every output of `kind` depends on alike: its code and template version, its
    name, the facts it shows, and what it reads (tables, columns, partitioned by)."""
    reads = [[name, read.table, read.projection(site.tables[read.table].columns), list(read.by)]
             for name, read in sorted(kind.reads.items())]
    return digest(code_version(kind.code), kind.name, {f: site.facts[f] for f in kind.facts}, reads)


def output_key(shared: str, kind: Kind, output: Output, digests: Mapping[str, Mapping[tuple, str]]) -> str:
    """`shared` (the kind's `kind_key`) with the output's own path, parameters and the
    digest of every partition it reads."""
    partitions = []
    for name, read in sorted(kind.reads.items()):
        of_read = digests[name]
        keys = [()] if not read.by else output.rows.get(name, ())
        partitions.append([[list(k), of_read.get(tuple(k), EMPTY)] for k in keys])
    return digest(shared, output.path, output.params, partitions)


# An `apart` kind with fewer stale outputs renders here: the trip costs more than it saves
APART_AT_LEAST = 100


def run(site: Site, kinds: Sequence[Kind]) -> None:
    """Every kind in turn: list its outputs, render the stale ones, remove the files
    it owns that are no longer outputs. Then write what was made on threads
    (`Later`), making here the second process's tasks it has not started yet
    (_take_back), and save the cache."""
    import threading

    later: list[_Waiting] = []
    if aside.started():  # the kinds that may render apart first: the second process has their pages meanwhile
        kinds = sorted(kinds, key=lambda k: 0 if k.aside_first else 1 if k.apart else 2)
    for kind in kinds:
        t0, c0 = time.perf_counter(), time.process_time()
        outputs = kind.outputs(site)
        digests = {
            name: site.digests(read, [tuple(k) for o in outputs for k in o.rows.get(name, ())] if read.by else [()])
            for name, read in kind.reads.items()
        }
        stale = []
        shared = kind_key(site, kind)
        for o in outputs:
            o.key = output_key(shared, kind, o, digests)
            site.keys[o.path] = o.key
            if not site.cache.fresh(o.path, o.key):
                stale.append(o)
        n = made_aside = 0
        size = kind.batch or max(len(stale), 1)
        apart = kind.apart and len(stale) >= APART_AT_LEAST and aside.started()
        for chunk in (stale[i:i + size] for i in range(0, len(stale), size)):
            inputs = Data(site, kind, chunk)
            rendered = kind.render(chunk, inputs) if not apart else [(chunk[0], _apart(site, kind, chunk, inputs))]
            for output, data in rendered:
                if isinstance(data, Later):
                    result: list = []
                    thread = threading.Thread(target=_made_aside, args=(data.work, result), daemon=True)
                    thread.start()
                    later.append(_Waiting(thread, result, kind.name, data))
                    made_aside += 1
                    continue
                site.cache.write(output.path, data, output.key)
                n += 1
        _prune(site, kind, {o.path for o in outputs})
        site.seconds[kind.name] = site.seconds.get(kind.name, 0.0) + time.perf_counter() - t0
        site.rendered[kind.name] = site.rendered.get(kind.name, 0) + n
        site.cpu[kind.name] = site.cpu.get(kind.name, 0.0) + time.process_time() - c0
        if site.log:
            made = f" (+{made_aside} made aside)" if made_aside else ""
            site.log(f"site: {kind.name} {n}/{len(outputs)} files{made} "
                     f"{time.perf_counter() - t0:.1f} s (CPU {time.process_time() - c0:.1f} s)")
    t0 = time.perf_counter()
    taken = _take_back(later)
    for waiting in later:
        waiting.thread.join()
        result = waiting.result
        if result and isinstance(result[0], BaseException):
            raise result[0]  # as it would have, made here
        for path, data, key in result:
            site.cache.write(path, data, key)
        site.rendered[waiting.kind] = site.rendered.get(waiting.kind, 0) + len(result)
    if later and site.log:
        site.log(f"site: waited {time.perf_counter() - t0:.1f} s for {len(later)} file(s) made aside "
                 f"({taken} of them taken back and made here)")
    site.cache.save()


@dataclass
class _Waiting:
    """A Later under way: the thread waiting for its files, and them once it is done."""

    thread: Any
    result: list
    kind: str
    later: Later


def _apart(site: Site, kind: Kind, chunk: list[Output], inputs: Data) -> Later:
    """A batch of an `apart` kind rendered in the second process (or here, taken back)."""
    task = aside.submit(render_apart, kind, chunk, inputs.held(), str(site.root))

    def here() -> list[tuple[str, bytes | None, str]]:
        return [(o.path, made, o.key) for o, made in kind.render(chunk, Data(site, kind, chunk))]

    return Later(task.result, task, here)


def _take_back(later: list[_Waiting]) -> int:
    """Make here the second process's tasks it has not started, from the last asked,
    until it reaches them: it works from the first, so the two end together. How
    many were taken back."""
    taken = 0
    for waiting in reversed([w for w in later if w.later.here is not None]):
        if not aside.take_back(waiting.later.task):
            break  # started there, and so was every task asked before it
        waiting.thread.join()  # it ends at once: the task was cancelled
        waiting.result[:] = waiting.later.here()
        taken += 1
    return taken


def _made_aside(work: Callable[[], list[tuple[str, bytes | None, str]]], result: list) -> None:
    """A `Later`'s work, on its thread: its files, or the error that stopped it."""
    try:
        result.extend(work())
    except BaseException as exc:  # noqa: BLE001  (raised on the build's thread: run)
        result[:] = [exc]


def _prune(site: Site, kind: Kind, keep: set[str]) -> None:
    """Remove the files `kind` owns that are not among its outputs now."""
    if not kind.owns:
        return
    owned = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in kind.owns))
    candidates = {rel for rel in site.cache.known if owned.match(rel)}
    for pattern in kind.owns:
        candidates |= {p.relative_to(site.root).as_posix() for p in site.root.glob(pattern) if p.is_file()}
    for rel in sorted(candidates - keep):
        (site.root / rel).unlink(missing_ok=True)
        site.cache.forget(rel)
        # and the folders this leaves empty (a period's folder of per-unit files)
        folder = (site.root / rel).parent
        while folder != site.root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
