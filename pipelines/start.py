"""`scoreboard`: the command's entry point, before anything heavy is imported.

A command that validates (run, backfill, demo) starts the second process
(transforms.aside) first and has it import great_expectations there, on the other
core, while this one imports Dagster and reads the landing folder: by the time the
first files are stored, GX is ready (docs/benchmarks.md, "The second process").
"""

from __future__ import annotations

import os
import sys

# as pipelines/cli.py does, before the second process starts (it inherits them)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

VALIDATING = frozenset({"run", "backfill", "demo"})  # the commands that validate (and draw)


def start_aside() -> None:
    from quality.suites import warm_up
    from transforms import aside

    aside.start(warm_up)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)  # after --debug, say
    from transforms import aside

    aside.hold_collection()  # until the imports are frozen (pipelines.cli.main)
    if command in VALIDATING:
        start_aside()
    from pipelines.cli import main as cli_main

    try:
        return cli_main(argv)
    finally:  # after an error or Ctrl-C, what is left of its work is not waited for
        aside.stop(now=True)


if __name__ == "__main__":
    sys.exit(main())
