"""`ingestion.html`: rows read, accepted, quarantined per input file (when given),
and the file table the quality page shows too. Nothing read from inside a file
is shown: file names (never their folder), statuses, formats, short hashes, counts."""

from __future__ import annotations

from typing import Iterator

import polars as pl

from dashboards import html
from dashboards.build import Data, Kind, Output, Read, Site
from dashboards.format import Fmt, texts
from dashboards.html import Head
from dashboards.i18n import FILE_STATUSES, INGESTION_COLUMNS, QUARANTINE_REASONS, UI, Label
from dashboards.pages.common import page

FILE_COLUMNS = ("source_file", "file_name", "file", "path", "filename")
# Text the page may show: codes it knows how to label, never free text
# (messages, dropped header names, values) from the files.
TEXT_COLUMNS = {"reason": QUARANTINE_REASONS, "status": FILE_STATUSES, "format": None}
HASH_COLUMNS = ("content_hash", "sha256")


def file_table(frame: pl.DataFrame | None, caption: Label) -> dict | None:
    """File name, status, format, short hash and row counts."""
    if frame is None or frame.width == 0:
        return None
    cols = [
        c for c, t in frame.schema.items()
        if c in FILE_COLUMNS or c in TEXT_COLUMNS or c in HASH_COLUMNS or t.is_integer()
    ]
    if not cols:
        return None
    head, cells = [], []
    for c in cols:
        col = pl.col(c)
        if c in FILE_COLUMNS:
            head.append(Head(INGESTION_COLUMNS["source_file"], "text"))
            cells.append(html.td_text(col))
        elif c in HASH_COLUMNS:
            head.append(Head(INGESTION_COLUMNS["content_hash"], "text"))
            cells.append(html.td_text(col.str.slice(0, 12)))
        elif c in TEXT_COLUMNS:
            head.append(Head(INGESTION_COLUMNS.get(c) or Label(c, c), "text"))
            cells.append(html.td_html(html.labelled(col.cast(pl.Utf8).str.slice(0, 16), TEXT_COLUMNS[c] or {})))
        else:
            head.append(Head(INGESTION_COLUMNS.get(c) or Label(c, c)))
            cells.append(html.td_num(pl.col(f"_t_{c}")))
    shown = frame.select(cols).with_columns(
        # the file's name only, never the folder it came from
        pl.col(c).cast(pl.Utf8).str.replace_all("\\", "/", literal=True).str.extract(r"([^/]*)$")
        for c in cols if c in FILE_COLUMNS
    )
    shown = shown.sort([c for c in cols if c in FILE_COLUMNS or c in TEXT_COLUMNS] or cols, nulls_last=True)
    numbers = {f"_t_{c}": (c, Fmt("int")) for c in cols if c not in FILE_COLUMNS and c not in HASH_COLUMNS
               and c not in TEXT_COLUMNS}
    if numbers:
        shown = pl.concat([shown, texts(shown, numbers)], how="horizontal")
    return html.small_table(caption, head, shown, cells, unranked=pl.lit(False))


class Ingestion(Kind):
    name = "ingestion"
    reads = {"files": Read("ingestion", ("*",)), "quarantine": Read("quarantine", ("*",))}
    facts = ("nav",)
    owns = ("ingestion.html",)

    def outputs(self, site: Site) -> list[Output]:
        return [Output("ingestion.html")] if site.facts["nav"]["ingestion"] else []

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        files, quarantine = data.frame("files"), data.frame("quarantine")
        tables = [t for t in (
            file_table(files, UI["ingestion_files"]) if files.width else None,
            file_table(quarantine, UI["quarantine_title"]) if quarantine.width else None,
        ) if t is not None]
        for o in batch:
            yield o, page(data, "ingestion", root="", title=UI["ingestion_title"], tables=tables)


KINDS = (Ingestion(),)
