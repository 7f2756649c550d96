"""Revisions on the site (issue 16; pipelines/revisions.py decides what is one).

- `data/revisions/<period_key>-r<N>/scoreboard-<period_key>.csv|.xlsx|.parquet`:
  version N of a final period's scoreboard, as it was published before a
  revision replaced it (the current version stays `data/scoreboard-<key>.*`);
- `data/revisions.csv`: every revision, one row per unit whose numbers it
  changed: before and after score, rank and band, the files that caused it and
  how many of their dossiers fall in the period, and where the earlier version is;
- the notes the period page and the unit page show: "Điều chỉnh dd/mm/yyyy:
  điểm 81,20 → 79,95, hạng 6 → 8, do tệp X (N hồ sơ)"; for a unit only re-ranked
  (its own numbers as they were): "Điều chỉnh dd/mm/yyyy: số liệu của đơn vị không
  đổi (điểm 81,25); hạng 56 → 55 vì số liệu của đơn vị khác thay đổi theo tệp X (N hồ sơ)".

`site_tables` gives build_site the tables these read.
"""

from __future__ import annotations

from typing import Iterator

import polars as pl

from dashboards.build import Data, Kind, Output, Read, Site
from dashboards.data_files import csv_bytes, parquet_bytes, prepare_scoreboard, xlsx_bytes
from dashboards.format import fmt_date, fmt_int, fmt_score
from dashboards.groups import group_labels
from dashboards.i18n import Band, Label, band_text
from dashboards.pages.common import DATA_SUFFIXES, FILE_LABELS, data_file_name, plabel
from transforms.revisions import CAUSE_SCHEMA, REVISION_SCHEMA, Revisions

UNIT = ("unit_code", "unit_valid_from")
FOLDER = "data/revisions"
LIST = "data/revisions.csv"
# the site's table of revisions: REVISION_SCHEMA, each revision's causes, the unit's page
TABLE_SCHEMA: dict[str, pl.DataType] = {
    **REVISION_SCHEMA, "own_changed": pl.Boolean(), "cause_files": pl.Utf8(), "cause_dossiers": pl.Utf8(),
    "_slug": pl.Utf8(),
}
NOTE_COLUMNS = tuple(TABLE_SCHEMA)

TITLE = Label("Điều chỉnh số liệu đã công bố", "Revisions of published figures")
NOTE = Label(
    "Kỳ đã kết thúc có số liệu chính thức; khi dữ liệu đến muộn làm thay đổi số liệu đó, "
    "bản mới được công bố là một lần điều chỉnh và bản trước vẫn được giữ để tải về. "
    "Kỳ đang diễn ra (tạm tính) thay đổi mà không ghi điều chỉnh.",
    "A period that has ended has final figures; when late data changes them, the new figures are "
    "published as a revision and the earlier version stays downloadable. A period in progress "
    "(provisional) changes without a revision mark.",
)
EARLIER = Label("Phiên bản {n} (trước điều chỉnh)", "Version {n} (before the revision)")
REVISED = Label("Điều chỉnh", "Revised")
EDITION = Label(
    "Bản điều chỉnh: phiên bản {n}, ngày {day}. Số liệu chính thức của kỳ này đã được điều chỉnh sau khi "
    "công bố, do {cause}; các đơn vị có số liệu hoặc hạng thay đổi và phiên bản trước được liệt kê dưới đây.",
    "Revised edition: version {n} of {day}. The final figures of this period were revised after they were "
    "published, because of {cause}; the units whose figures or rank changed and the earlier version are listed "
    "below.",
)
NOT_RANKED = Label("không xếp hạng", "not ranked")
NEW_DATA = Label("dữ liệu mới", "new data")


def earlier_dir(period_key: str, version: int) -> str:
    """`data/revisions/2024-01-r1`: where version `version` of a period is kept."""
    return f"{FOLDER}/{period_key}-r{version}"


def earlier_files(period_key: str, version: int, root: str) -> list[dict]:
    return [
        {"href": f"{root}{earlier_dir(period_key, version)}/{data_file_name(period_key, s)}", "label": FILE_LABELS[s]}
        for s in DATA_SUFFIXES
    ]


def site_tables(revisions: Revisions | None, slugs: pl.DataFrame, keys: list[str]) -> dict[str, pl.DataFrame]:
    """The revisions of the published periods, each with its causes and the unit's
    page, and the rows of the versions they replaced (empty without revisions)."""
    if revisions is None or revisions.units.height == 0:
        return {"revisions": pl.DataFrame(schema=TABLE_SCHEMA),
                "revised_scoreboard": pl.DataFrame(schema={"period_key": pl.Utf8, "version": pl.Int64})}
    causes = (
        revisions.causes.cast(CAUSE_SCHEMA).sort("source_file")
        .group_by("period_type", "period_key", "version", maintain_order=True)
        .agg(cause_files=pl.col("source_file").str.join("; "),
             cause_dossiers=pl.col("dossiers").cast(pl.Utf8).str.join("; "))
    )
    units = (
        revisions.units.cast(REVISION_SCHEMA)
        .filter(pl.col("period_key").is_in(keys))
        .join(causes, on=["period_type", "period_key", "version"], how="left")
        .join(slugs, on=list(UNIT), how="left", nulls_equal=True)
        .select(list(TABLE_SCHEMA))
        .sort("period_type", "period_key", "version", maintain_order=True)
    )
    earlier = revisions.earlier.filter(pl.col("period_key").is_in(keys)).sort(
        "period_type", "period_key", "version", maintain_order=True)
    return {"revisions": units, "revised_scoreboard": earlier}


def _rank(v: int | None) -> Label:
    return Label(fmt_int(v), fmt_int(v)) if v is not None else NOT_RANKED


def _band(b: str | None, bands: tuple[Band, ...]) -> Label:
    return band_text(b, bands) if b else Label("—", "—")


def causes_label(files: str | None, dossiers: str | None) -> Label:
    """`tệp X (N hồ sơ), tệp Y (1 hồ sơ)` / `file X (N dossiers), file Y (1 dossier)`."""
    if not files:
        return NEW_DATA
    pairs = list(zip(files.split("; "), (dossiers or "").split("; ")))
    return Label(
        ", ".join(f"tệp {f} ({fmt_int(int(n))} hồ sơ)" for f, n in pairs),
        ", ".join(f"file {f} ({fmt_int(int(n))} {'dossier' if n == '1' else 'dossiers'})" for f, n in pairs),
    )


def sentence(r: dict, bands: tuple[Band, ...]) -> Label:
    """"Điều chỉnh dd/mm/yyyy: điểm a → b, hạng r → s[, xếp loại x → y], do …" (`bands`:
    the profile's, dashboards.i18n.site_bands); for a unit whose own numbers did not
    change (`own_changed` false; null, not known, reads as changed), rank_only_sentence."""
    day = fmt_date(r["revised_at"])
    rb, ra = _rank(r["rank_before"]), _rank(r["rank_after"])
    if r.get("own_changed") is False:
        return rank_only_sentence(r, day, rb, ra)
    vi = f"Điều chỉnh {day}: điểm {fmt_score(r['score_before'])} → {fmt_score(r['score_after'])}"
    en = f"revised {day}: score {fmt_score(r['score_before'])} → {fmt_score(r['score_after'])}"
    if r["rank_before"] is not None or r["rank_after"] is not None:
        vi += f", hạng {rb.vi} → {ra.vi}"
        en += f", rank {rb.en} → {ra.en}"
    if r["band_before"] != r["band_after"]:
        bb, ba = _band(r["band_before"], bands), _band(r["band_after"], bands)
        vi += f", xếp loại {bb.vi} → {ba.vi}"
        en += f", band {bb.en} → {ba.en}"
    cause = causes_label(r["cause_files"], r["cause_dossiers"])
    return Label(f"{vi}, do {cause.vi}", f"{en}, because of {cause.en}")


def rank_only_sentence(r: dict, day: str, rb: Label, ra: Label) -> Label:
    """A unit whose own numbers a revision left as they were, re-ranked because other
    units' numbers changed: the files are named as the cause of those, not of its own.
    (Its rank may be the same and its rank in its peer group not: the other column
    that moves with the others.)"""
    score = fmt_score(r["score_after"])
    if r["rank_before"] == r["rank_after"]:
        vi = f"số liệu và hạng của đơn vị không đổi (điểm {score}, hạng {ra.vi}); hạng trong nhóm thay đổi"
        en = (f"the unit's own figures and rank unchanged (score {score}, rank {ra.en}); "
              "its rank in its peer group moved")
    else:
        vi = f"số liệu của đơn vị không đổi (điểm {score}); hạng {rb.vi} → {ra.vi}"
        en = f"the unit's own figures unchanged (score {score}); rank {rb.en} → {ra.en}"
    cause = causes_label(r["cause_files"], r["cause_dossiers"])
    return Label(f"Điều chỉnh {day}: {vi} vì số liệu của đơn vị khác thay đổi theo {cause.vi}",
                 f"revised {day}: {en} because other units' figures were revised by {cause.en}")


def _earlier(version: int) -> Label:
    return Label(EARLIER.vi.format(n=version), EARLIER.en.format(n=version))


def edition(rows: pl.DataFrame) -> Label | None:
    """What a page printed from a revised period says first (`rows`: the period's
    revisions): that it is a revised edition, its version and date, and the files that
    caused its latest revision. None: the period was never revised."""
    if rows.height == 0:
        return None
    last = rows.filter(pl.col("version") == pl.col("version").max()).row(0, named=True)
    day, cause = fmt_date(last["revised_at"]), causes_label(last["cause_files"], last["cause_dossiers"])
    n = last["version"]
    return Label(EDITION.vi.format(n=n, day=day, cause=cause.vi), EDITION.en.format(n=n, day=day, cause=cause.en))


def period_notes(rows: pl.DataFrame, root: str, bands: tuple[Band, ...], page: str = "") -> list[dict]:
    """A period's revisions, newest first: the earlier version's files and each unit's
    sentence, its name linked to its row in the period's ranking (on `page`: this page)."""
    out = []
    for (version,), part in rows.partition_by("version", as_dict=True, maintain_order=True).items():
        first = part.row(0, named=True)
        out.append({
            "heading": _earlier(version - 1),
            "files": earlier_files(first["period_key"], version - 1, root),
            "units": [
                {"name": r["unit_name"] or r["unit_code"], "href": f"{page}#u-{r['_slug']}" if r["_slug"] else None,
                 "text": sentence(r, bands)}
                for r in part.iter_rows(named=True)
            ],
        })
    return out[::-1]


def unit_notes(rows: pl.DataFrame, root: str, bands: tuple[Band, ...]) -> list[dict]:
    """A unit's revisions in every period, newest first, each linked to its period."""
    out = []
    newest = rows.sort([pl.col("revised_at"), pl.col("period_type") == "month", pl.col("period_key")], descending=True)
    for r in newest.iter_rows(named=True):
        out.append({
            "period": plabel(r["period_type"], r["period_key"]),
            "href": f"{root}periods/{r['period_key']}.html",
            "text": sentence(r, bands),
            "heading": _earlier(r["version"] - 1),
            "files": earlier_files(r["period_key"], r["version"] - 1, root),
        })
    return out


def context(notes: list[dict]) -> dict | None:
    """What templates/revisions.html.j2 shows (None: nothing to show)."""
    return {"title": TITLE, "note": NOTE, "entries": notes} if notes else None


# The revisions' data files depend on this module and what it imports, not on the
# page templates.
CODE = ("dashboards.pages.revisions",)


class EarlierVersion(Kind):
    """`data/revisions/<key>-r<N>/scoreboard-<key>.<suffix>`: a version a revision
    replaced, in the columns it was published with."""

    code = CODE
    facts = ("groups", "rates")  # the workbook's legend names the groups' and the rates' columns

    def __init__(self, suffix: str):
        self.suffix = suffix
        self.name = f"earlier versions {suffix}"
        self.reads = {"rows": Read("revised_scoreboard", ("*",), by=("period_key", "version"))}
        self.owns = (f"{FOLDER}/*/scoreboard-*.{suffix}",)

    def outputs(self, site: Site) -> list[Output]:
        columns = site.facts.get("revised_columns", {})
        return [
            Output(f"{earlier_dir(key, version)}/{data_file_name(key, self.suffix)}",
                   {"key": key, "version": version, "columns": columns[(key, version)]}, {"rows": [(key, version)]})
            for key, version in sorted(columns)
        ]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        labels = {**data.fact("rates"), **group_labels(data.fact("groups"))}
        for o in batch:
            rows = prepare_scoreboard(data.part("rows", (o.params["key"], o.params["version"])).select(o.params["columns"]))
            if self.suffix == "csv":
                yield o, csv_bytes(rows)
            elif self.suffix == "parquet":
                yield o, parquet_bytes(rows)
            else:
                yield o, xlsx_bytes(rows, o.params["key"], labels=labels)


# data/revisions.csv: the revisions in the data files' conventions
LIST_COLUMNS = (
    "period_type", "period_key", "version", "revised_at", "unit_code", "unit_valid_from", "unit_name", "level",
    "score_before", "score_after", "rank_before", "rank_after", "band_before", "band_after", "cause_files",
    "cause_dossiers",
)


class RevisionList(Kind):
    """`data/revisions.csv`: every revision of the published periods (header only when
    there is none; not written when the build was given no revisions at all)."""

    name = "revision list"
    code = CODE
    reads = {"rows": Read("revisions", LIST_COLUMNS)}
    owns = (LIST,)

    def outputs(self, site: Site) -> list[Output]:
        return [Output(LIST)] if site.facts.get("revisions_published") else []

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        rows = data.frame("rows").select(
            "period_type", "period_key", pl.col("version").alias("revision"),
            pl.col("revised_at").dt.date().alias("revised_on"),
            *LIST_COLUMNS[4:],
            # where the version it replaced is, beside this file
            pl.concat_str(
                pl.lit(FOLDER.removeprefix("data/") + "/"), pl.col("period_key"), pl.lit("-r"),
                (pl.col("version") - 1).cast(pl.Utf8), pl.lit("/scoreboard-"), pl.col("period_key"), pl.lit(".csv"),
            ).alias("previous_version"),
        )
        for o in batch:
            yield o, csv_bytes(rows)


KINDS: tuple[Kind, ...] = (*(EarlierVersion(s) for s in DATA_SUFFIXES), RevisionList())
