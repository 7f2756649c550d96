"""`scoreboard`: the command's entry point, before anything heavy is imported.

A command that validates (run, backfill, demo) starts the second process
(transforms.aside) first and has it import great_expectations there, on the other
core, while this one imports Dagster and reads the landing folder: by the time the
first files are stored, GX is ready (docs/benchmarks.md, "The second process").
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Callable

# as pipelines/cli.py does, before the second process starts (it inherits them)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

VALIDATING = frozenset({"run", "backfill", "demo"})  # the commands that validate (and draw)


_STATUS: list[int] = []  # the exit status the program's entry point returned


def _without_teardown() -> None:
    # the last exit handler (registered first: they run in reverse), after logging's,
    # multiprocessing's, Dagster's and the temporary files' own
    if _STATUS:
        from transforms.aside import end_now

        end_now(_STATUS[-1])


def ending_without_teardown() -> Callable[[int], int]:
    """First thing in a program's entry point: the function it returns takes the
    program's exit status, with which, once every exit handler registered since has
    run, the process ends without the interpreter's teardown (docs/benchmarks.md,
    "The end of a run"). A program that ends
    otherwise (an error not caught) ends as Python ends it."""
    atexit.register(_without_teardown)

    def ending(status: int) -> int:
        _STATUS.append(status)
        return status

    return ending


def start_aside() -> None:
    from quality.suites import warm_up
    from transforms import aside

    aside.start(warm_up)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verb = next((a for a in argv if not a.startswith("-")), None)  # after --debug, say
    from transforms import aside

    aside.hold_collection()  # until the imports are frozen (pipelines.cli.main)
    if verb in VALIDATING:
        start_aside()
    from pipelines.cli import main as cli_main

    try:
        return cli_main(argv)
    finally:  # after an error or Ctrl-C, what is left of its work is not waited for
        aside.stop(now=True)


def command() -> int:
    """The `scoreboard` command (pyproject.toml): main(), and its end without the teardown."""
    ending = ending_without_teardown()
    return ending(main())


if __name__ == "__main__":
    sys.exit(command())
