"""Many CSVs of one table from one write: each consecutive run of rows as the CSV
it would be written as alone, cut from the CSV of all of them.

Polars' CSV writer has a fixed cost a call, which hundreds of small period files
each paid (docs/benchmarks.md); one call for many of them pays it once. A row is
one line, so the text of a run of rows is the lines between its first row's start
and its last row's end, after the header written once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

# write(frame, header) -> the CSV of frame, with its header (and whatever goes before
# it) when header is True, without when False
Write = Callable[[pl.DataFrame, bool], bytes]


def cut_csv(frame: pl.DataFrame, lengths: Sequence[int], write: Write) -> list[bytes]:
    """`write(run, True)` for each consecutive run of `lengths` rows of `frame`, from one
    write of all the rows. Where a text holds a line break, a row is more than one line:
    then each run is written on its own."""
    if sum(lengths) != frame.height:
        raise ValueError(f"runs of {sum(lengths)} rows in all for a frame of {frame.height}")
    starts = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))
    body = write(frame, False)
    ends = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == ord("\n")) + 1  # each line's end
    if len(ends) != frame.height:  # a line break inside a value
        return [write(frame.slice(int(s), n), True) for s, n in zip(starts, lengths)]
    header = write(frame.clear(), True)
    bounds = np.concatenate(([0], ends))[starts]
    view = memoryview(body)
    return [header + view[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
