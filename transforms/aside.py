"""A second process for the work that holds Python's lock for seconds at a time:
great_expectations (seconds of imports, then its validations) and vl-convert's chart
images. On a thread these took the lock from the run instead of running beside it
(a thread saved next to nothing of GX's time: docs/benchmarks.md); in their own process they use the second
core while this one ingests, scores and builds the site.

`start()` begins it, with an optional warm-up run there at once (the CLI starts it
before it imports Dagster, so GX is imported by the time the first files are in).
`run(fn, ...)` calls `fn` there when it was started and here otherwise: Dagster's
own runs, the tests and the library calls work as before, in one process. A task
that cannot reach the process (it died, or will not start) runs here instead, with
a warning; an exception raised by `fn` itself is raised here as it is.

One process, one task at a time: the tasks are few and large, and their order is
the order they were asked for; one not started yet can be taken back (`take_back`)
by a caller with nothing else to do. Polars frames and series cross to the process and
back as Arrow IPC (`_frame_to_ipc`), not as Polars' own pickle. `stop(now=True)`
ends it at once, for its memory (the ingest does, while it reads a file larger
than a batch, and starts it again after: pipelines/ingestion.py).
"""

from __future__ import annotations

import atexit
import gc
import io
import logging
import multiprocessing
import os
import pickle
import sys
import threading
import time
import weakref
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable, NoReturn

import polars as pl

log = logging.getLogger("scoreboard")

_POOL: ProcessPoolExecutor | None = None
_LOCK = threading.Lock()
_WORK: list[Future] = []  # the process's tasks not known to be done
_WORK_LOCK = threading.Lock()  # the site's threads ask for work at once
# how long a process told to end (SIGTERM) has before it is killed (SIGKILL)
END_GRACE_SECONDS = 3.0
# submit's future → the pool's, weakly both ways: the pool's holds its result until done
# with, and refers to submit's (its callback), so a strong value would keep both alive
_THERE: "weakref.WeakKeyDictionary[Future, weakref.ref[Future]]" = weakref.WeakKeyDictionary()


def _frame_from_ipc(data: bytes) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(data))


def _series_from_ipc(data: bytes) -> pl.Series:
    return _frame_from_ipc(data).to_series()


def _ipc(frame: pl.DataFrame) -> bytes | None:
    """A frame's Arrow IPC bytes, uncompressed; None for a frame IPC cannot carry
    (an Object column)."""
    buffer = io.BytesIO()
    try:
        frame.write_ipc(buffer, compression="uncompressed")
    except pl.exceptions.PolarsError:
        return None
    return buffer.getvalue()


def _frame_to_ipc(frame: pl.DataFrame) -> tuple:
    """How a frame crosses between the processes: as its Arrow IPC bytes, which both
    ends make and read about four times quicker than Polars' own pickle
    (docs/benchmarks.md). A frame IPC cannot carry is pickled as Polars pickles it."""
    data = _ipc(frame)
    return (_frame_from_ipc, (data,)) if data is not None else frame.__reduce_ex__(pickle.DEFAULT_PROTOCOL)


def _series_to_ipc(series: pl.Series) -> tuple:
    data = _ipc(series.to_frame())
    return (_series_from_ipc, (data,)) if data is not None else series.__reduce_ex__(pickle.DEFAULT_PROTOCOL)


# the pickler of the process pool's queues, both ways (this module is imported in the
# process before its first task: _end_with is its initializer)
ForkingPickler.register(pl.DataFrame, _frame_to_ipc)
ForkingPickler.register(pl.Series, _series_to_ipc)


def start(warm_up: Callable[[], Any] | None = None) -> None:
    """Start the process (once; a second call does nothing) and run `warm_up` there.
    Where no process can be started, everything runs here."""
    global _POOL
    with _LOCK:
        if _POOL is not None:
            return
        try:
            # spawn, not fork: the run has Polars' and DuckDB's threads by the time this is asked
            pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_end_with, initargs=(os.getpid(),))
            _asked(pool.submit(_warm, warm_up))  # spawns the process now
        except OSError as exc:  # no semaphores (/dev/shm) or no process to be had
            log.warning("no second process (%s): all work runs in this one", exc)
            return
        _POOL = pool


def _warm(warm_up: Callable[[], Any] | None) -> None:
    """In the process: the warm-up, then what it loaded set aside from the collector."""
    if warm_up is not None:
        warm_up()
    freeze_loaded()


_FROZEN = False
_HELD = False  # the collector is off until freeze_loaded (hold_collection)


def hold_collection() -> None:
    """Turn Python's collector off until `freeze_loaded`: while a command imports
    Dagster, Polars and GX, what it makes is modules, classes and functions, never
    garbage, and the collections their imports set off walked them again and again
    (a sixth of the imports' time: docs/benchmarks.md, "Imports without the collector")."""
    global _HELD
    if gc.isenabled() and not _FROZEN:
        gc.disable()
        _HELD = True


def freeze_loaded() -> None:
    """Once per process, before its work: every object it holds now (the modules,
    classes and functions of Dagster, Polars, GX) is set aside from Python's collector,
    whose every full collection otherwise walks them all again (docs/benchmarks.md,
    "A new week's fixed costs"). Frozen objects are never collected: called once, at
    a command's start, what it freezes is what was imported, not a run's garbage (a
    process that runs the pipeline many times, as the tests do, freezes once). A
    collector held off while they were imported (`hold_collection`) runs again.

    What the imports left as garbage is frozen with the rest, not collected first:
    a few thousand objects after Dagster's imports, not worth a full collection."""
    global _FROZEN, _HELD
    if not _FROZEN:
        gc.freeze()
        _FROZEN = True
    if _HELD:
        gc.enable()
        _HELD = False


def _end_with(parent: int) -> None:
    """In the process: end when the run ends, however it ends (killed, out of memory):
    the pool's own wait for work does not notice. And end without the interpreter's
    teardown, which the command would wait for. Its collector is held off until the
    warm-up has imported what it needs (_warm)."""
    hold_collection()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="end-with-the-run", daemon=True).start()
    atexit.register(_without_teardown)


def _without_teardown() -> None:
    # an exit handler, so after those registered since (GX's) and after multiprocessing's
    # own exit work: a spawned process ends with sys.exit, whose teardown with GX and
    # pandas loaded is slow; the pool does not read its exit status
    end_now(0)


def end_now(status: int) -> NoReturn:
    """End the process with `status` at once, its output flushed: from an exit handler
    that runs after the others, it skips only the interpreter's teardown, which frees
    every module and object one by one for nobody (here and pipelines/start.py)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(status)


def started() -> bool:
    return _POOL is not None


def idle() -> bool:
    """No task asked of the process is waiting for it or running there."""
    with _WORK_LOCK:
        return all(f.done() for f in _WORK)


def stop(*, now: bool = False) -> None:
    """Let the process finish its tasks and end; `now`: end it at once, its tasks not
    done dropped (cancelled, or failed with BrokenProcessPool), to give its memory back."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    if pool is None:
        return
    with _WORK_LOCK:
        busy = any(not f.done() for f in _WORK)
        _WORK.clear()
    if now and busy:
        # Python 3.11's pool has no public way to end its workers (3.14: terminate_workers);
        # an idle one is let go as usual (ended mid-task, the semaphores GX made there
        # are reported as leaked at exit)
        _end(list((getattr(pool, "_processes", None) or {}).values()))
    pool.shutdown(wait=True, cancel_futures=now)


def _end(processes: list) -> None:
    """SIGTERM, then SIGKILL for a process still there after END_GRACE_SECONDS: a task
    that ignores or blocks SIGTERM would otherwise hold the stop until it ends."""
    from multiprocessing.connection import wait

    for process in processes:
        process.terminate()
    ended = set(wait([p.sentinel for p in processes], timeout=END_GRACE_SECONDS)) if processes else set()
    for process in processes:
        if process.sentinel not in ended:
            log.warning("the second process did not end when told to: killed")
            process.kill()


def _asked(future: Future) -> Future:
    with _WORK_LOCK:
        _WORK[:] = [f for f in _WORK if not f.done()] + [future]
    return future


def submit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
    """`fn(*args, **kwargs)` in the process when started (fn and its arguments must
    pickle: a module-level function, frames, plain values), else here, at once."""
    pool = _POOL
    if pool is not None:
        try:
            return _guarded(pool, _asked(pool.submit(fn, *args, **kwargs)), fn, args, kwargs)
        except (BrokenProcessPool, RuntimeError, OSError) as exc:
            _broken(pool, exc)
    return _here(fn, args, kwargs)


def take_back(future: Future) -> bool:
    """Withdraw a task `submit` asked of the process that has not started there: True
    when it was (its future is then cancelled, and the task is the caller's to do)."""
    ref = _THERE.get(future)
    there = ref() if ref is not None else None
    return there is not None and there.cancel()


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`submit(...).result()`."""
    return submit(fn, *args, **kwargs).result()


def _here(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Future:
    done: Future = Future()
    try:
        done.set_result(fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001  (handed to the caller through the future)
        done.set_exception(exc)
    return done


def _guarded(pool: ProcessPoolExecutor, future: Future, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Future:
    """`future`, or the task run here when the process broke before it answered."""
    out: Future = Future()

    def settle(f: Future) -> None:
        if f.cancelled():  # stop(now=True): dropped, not done here
            out.cancel()
        elif isinstance(f.exception(), BrokenProcessPool) and _broken(pool, f.exception()):
            # not on the pool's own thread, which must go on to wind the pool down
            threading.Thread(target=lambda: _copy(_here(fn, args, kwargs), out), daemon=True).start()
        else:  # its result, its own error, or the stop's that ended it on purpose
            _copy(f, out)

    future.add_done_callback(settle)
    _THERE[out] = weakref.ref(future)
    return out


def _copy(src: Future, dst: Future) -> None:
    exc = src.exception()
    if exc is not None:
        dst.set_exception(exc)
    else:
        dst.set_result(src.result())


def _broken(pool: ProcessPoolExecutor, exc: BaseException | None) -> bool:
    """The process of `pool` is gone: if it was the current one (it died), say so, let
    it go and say True; False when it was stopped on purpose or already replaced."""
    global _POOL
    with _LOCK:
        if _POOL is not pool:
            return False
        _POOL = None
    log.warning("the second process stopped (%s): its work runs in this one from now on", type(exc).__name__)
    pool.shutdown(wait=False, cancel_futures=False)
    return True
