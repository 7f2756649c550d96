"""The static scoreboard site: plain files that open from disk with no network.

    site/
      index.html                 latest month and week per level, charts, every period
      periods/<period_key>.html  the full ranking of one period, per level
      units/<code>-<valid_from>.html  one unit: latest month in detail, every period
      city.html                  heatmap of the groups, band changes, early warnings
      quality.html               checks per period, held-back periods, quarantine, silent units,
                                 latest data per unit, completeness per period
      report-<YYYY-MM>.html      the printable monthly report (A4), one per month
      ingestion.html             rows read/accepted/quarantined per input file (optional)
      assets/site.css, site.js   shared style and behaviour
      assets/charts.js           the chart specs every unit page shares
      assets/vega-bundle.js      Vega + Vega-Lite + vega-embed, vendored from vl-convert
      charts/<name>.svg|.png     the overview and latest-month charts as images
      data/scoreboard-<key>.csv|.parquet|.xlsx, data/manifest.json
      data/weak_points|bottlenecks|what_if-<key>.csv|.xlsx (when given)

The same inputs give the same bytes; files already right are not rewritten,
and files of periods no longer published are removed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable

import jinja2
import polars as pl
from markupsafe import Markup

from dashboards import charts as charts_mod
from dashboards import pages
from dashboards.assets import SITE_CSS, SITE_JS
from dashboards.format import fmt_date, period_label, period_short_label
from dashboards.i18n import COLUMNS, PERIOD_TYPES, UI, Label
from dashboards.images import chromium_path, print_report_pdf, write_chart_images
from dashboards.publish import (
    TABLE_SUFFIXES,
    data_file_name,
    default_workers,
    period_digests,
    prepare_scoreboard,
    write_if_changed,
    write_manifest,
    write_period_files,
    write_table_files,
)
from dashboards.tables import (  # noqa: F401  (re-exported: the site's tables)
    COMPACT_COLUMNS,
    FULL_COLUMNS,
    GROUP_COLUMNS,
    RATE_COLUMNS,
    ingestion_table,
    ranking_tables,
    rows_html,
    unit_slug,
)
from dashboards.templates import TEMPLATES
from transforms.crosswalk import reconstruct

__all__ = ["build_site", "seed_site", "print_report_pdf", "chromium_path", "vendor_bundle"]

# Only what could reach the network is restricted; scripts and styles are the
# site's own files (the tests check that no page names an external one).
CSP = (
    "connect-src 'none'; font-src 'none'; frame-src 'none'; media-src 'none'; "
    "object-src 'none'; worker-src 'none'; manifest-src 'none'; img-src data:; "
    "form-action 'none'; base-uri 'none'"
)

DATA_SUFFIXES = ("csv", "xlsx", "parquet")
FILE_LABELS = {"csv": UI["file_csv"], "xlsx": UI["file_xlsx"], "parquet": UI["file_parquet"]}

# --------------------------------------------------------------------------- bundle


def vega_lite_version() -> str:
    """The Vega-Lite minor version Altair writes specs for (`v6.4.1` -> `6.4`)."""
    import altair as alt
    import vl_convert as vlc

    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    version = f"{major}.{minor}"
    if version not in vlc.get_vegalite_versions():
        raise RuntimeError(
            f"vl-convert {vlc.__version__} has no Vega-Lite {version} (Altair {alt.__version__} writes it); "
            f"it has {vlc.get_vegalite_versions()}"
        )
    return version


@functools.lru_cache(maxsize=2)
def vega_bundle(vl_version: str | None = None) -> bytes:
    """vega-embed + Vega-Lite + Vega as one script defining window.vegaEmbed (~0.9 MB).

    Building it takes vl-convert several seconds, so it is made once per process
    and only when the file on disk is missing or not the one wanted.
    """
    import vl_convert as vlc

    return vlc.javascript_bundle(vl_version=vl_version or vega_lite_version()).encode("utf-8")


_BUNDLE_HEADER = re.compile(rb"/\* (vl-convert [^,]+, Vega-Lite [0-9.]+), sha256 ([0-9a-f]{64}) \*/")


def write_vega_bundle(assets_dir: Path) -> Path:
    """`assets/vega-bundle.js`, headed by the versions and hash of what follows.

    A file whose header names the wanted versions and whose body matches its
    hash is left alone without asking vl-convert for the bundle again.
    """
    import vl_convert as vlc

    path = Path(assets_dir) / "vega-bundle.js"
    tag = f"vl-convert {vlc.__version__}, Vega-Lite {vega_lite_version()}"
    if _valid_bundle(path, tag) is not None:
        return path
    vendored = _valid_bundle(VENDORED_BUNDLE, tag)
    if vendored is None:
        body = vega_bundle(vega_lite_version())
        vendored = f"/* {tag}, sha256 {hashlib.sha256(body).hexdigest()} */\n".encode() + body
    write_if_changed(path, vendored)
    return path


# Made once by `python scripts/vendor_vega.py` and committed, so that building a
# site never waits for vl-convert (several seconds) unless the versions change.
VENDORED_BUNDLE = Path(__file__).parent / "vendor" / "vega-bundle.js"


def _valid_bundle(path: Path, tag: str) -> bytes | None:
    """The file's bytes when its header names `tag` and its body matches its hash."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    first, _, body = data.partition(b"\n")
    m = _BUNDLE_HEADER.fullmatch(first)
    if m and m[1].decode() == tag and hashlib.sha256(body).hexdigest() == m[2].decode():
        return data
    return None


def vendor_bundle() -> Path:
    """Write the vendored bundle for the installed vl-convert and Altair."""
    import vl_convert as vlc

    VENDORED_BUNDLE.parent.mkdir(parents=True, exist_ok=True)
    tag = f"vl-convert {vlc.__version__}, Vega-Lite {vega_lite_version()}"
    body = vega_bundle(vega_lite_version())
    VENDORED_BUNDLE.write_bytes(f"/* {tag}, sha256 {hashlib.sha256(body).hexdigest()} */\n".encode() + body)
    return VENDORED_BUNDLE


@functools.lru_cache(maxsize=1)
def charts_js() -> bytes:
    """`assets/charts.js`: the specs every unit page shares, as `window.PAR_CHART_SPECS`."""
    return b"/* Vega-Lite specs shared by the unit pages (Altair). */\nwindow.PAR_CHART_SPECS = " + bytes(
        _script_json(charts_mod.unit_chart_specs()), "utf-8"
    ) + b";\n"


def write_assets(site_dir: Path, *, with_bundle: bool = True, with_charts: bool = False) -> list[Path]:
    assets = Path(site_dir) / "assets"
    out = []
    for name, text in (("site.css", SITE_CSS), ("site.js", SITE_JS)):
        write_if_changed(assets / name, text.encode("utf-8"))
        out.append(assets / name)
    if with_charts:
        write_if_changed(assets / "charts.js", charts_js())
        out.append(assets / "charts.js")
    else:
        (assets / "charts.js").unlink(missing_ok=True)
    if with_bundle:
        out.append(write_vega_bundle(assets))
    return out


# --------------------------------------------------------------------------- periods


def _periods(frame: pl.DataFrame) -> list[dict]:
    """Every (type, key) with its start and provisional flag, oldest first per type."""
    p = (
        frame.group_by("period_type", "period_key")
        .agg(pl.col("period_start").min(), pl.col("provisional").any())
        .sort("period_type", "period_start", "period_key")
    )
    out = []
    for ptype, key, start, provisional in p.iter_rows():
        out.append(
            {
                "type": ptype,
                "key": key,
                "start": fmt_date(start),
                "start_iso": start.isoformat() if start else "",
                "provisional": bool(provisional),
                "label": Label(period_label(ptype, key, "vi"), period_label(ptype, key, "en")),
                "short": Label(period_short_label(ptype, key, "vi"), period_short_label(ptype, key, "en")),
                "anchor": f"p-{key}",
            }
        )
    return out


def _files(key: str, root: str) -> list[dict]:
    return [{"href": f"{root}data/{data_file_name(key, s)}", "label": FILE_LABELS[s]} for s in DATA_SUFFIXES]


TABLE_LABELS = {
    "scoreboard": UI["report_ranking"],
    "weak_points": UI["weak_title"],
    "bottlenecks": UI["bottleneck_title"],
    "what_if": UI["what_if_title"],
}


def _all_files(key: str, root: str, tables: Iterable[str]) -> list[dict]:
    """The scoreboard's files of a period, then each published table's CSV and XLSX."""
    out = []
    for name in ("scoreboard", *tables):
        suffixes = DATA_SUFFIXES if name == "scoreboard" else TABLE_SUFFIXES
        lab = TABLE_LABELS[name]
        for sfx in suffixes:
            f = FILE_LABELS[sfx]
            out.append(
                {"href": f"{root}data/{data_file_name(key, sfx, name)}", "label": Label(f"{lab.vi}: {f.vi}", f"{lab.en}: {f.en}")}
            )
    return out


def _period_groups(periods: list[dict], root: str) -> list[dict]:
    groups = []
    for ptype, label in (("month", UI["months"]), ("week", UI["weeks"])):
        ps = [dict(p, files=_files(p["key"], root)) for p in periods if p["type"] == ptype]
        if not ps:
            continue
        years: dict[str, list] = {}
        for p in reversed(ps):  # newest first
            years.setdefault(p["key"][:4], []).append(p)
        groups.append({"label": label, "years": [{"year": y, "periods": v} for y, v in years.items()]})
    return groups


# --------------------------------------------------------------------------- pages


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.DictLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(UI=UI, COLUMNS=COLUMNS, csp=CSP, rows_html=rows_html)
    return env


def _render(name: str, **context: Any) -> bytes:
    context.setdefault("chart_json", None)
    return _env().get_template(name).render(**context).encode("utf-8")


def _script_json(data: Any) -> Markup:
    """JSON safe to put verbatim inside <script type="application/json">.

    A script element's text is not HTML-decoded, so it must not be escaped as
    HTML; instead `<`, `>` and `&` become JSON escapes, so no `</script>` or
    `<!--` can appear whatever the data (unit names included).
    """
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text)


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of this package's code and of the libraries that shape its pages."""
    from importlib.metadata import version

    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    for lib in ("jinja2", "markupsafe", "polars", "altair"):
        h.update(f"{lib} {version(lib)}\n".encode())
    return h.hexdigest()[:16]


def _fingerprint(*parts: Any) -> str:
    """What a page is made from: frames by their CSV, everything else as JSON."""
    h = hashlib.sha256(code_version().encode())
    for part in parts:
        if isinstance(part, pl.DataFrame):
            h.update(part.write_csv(null_value="\\N").encode())
        else:
            h.update(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def _unit_digests(frame: pl.DataFrame) -> dict[str, str]:
    """Per unit slug (`_slug`): a digest of its rows, in the frame's order."""
    if frame.is_empty():
        return {}
    hashes = pl.DataFrame({"s": frame["_slug"], "h": frame.hash_rows(seed=7)})
    return {
        slug: hashlib.sha256(part["h"].to_numpy().tobytes()).hexdigest()[:32]
        for (slug,), part in hashes.partition_by("s", as_dict=True, maintain_order=True).items()
    }


def _write_page(path: Path, fingerprint: str, make: Any) -> bool:
    """Write the page `make()` gives, closed by a comment naming its fingerprint,
    unless the file already ends with that comment (then `make` is not called:
    a rebuild renders only the pages whose inputs changed). True if written."""
    mark = f"<!-- par-page {fingerprint} -->\n".encode()
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() >= len(mark):
                fh.seek(-len(mark), os.SEEK_END)
                if fh.read() == mark:
                    return False
    except OSError:
        pass
    return write_if_changed(path, make() + mark)


def _prune(folder: Path, pattern: str, keep: set[str]) -> None:
    if folder.is_dir():
        for p in folder.glob(pattern):
            if p.is_file() and p.name not in keep:
                p.unlink()


STATE_FILE = ".par-build.json"
DIRTY_FILE = ".par-build.dirty"


class _BuildState:
    """What the files of a site folder were made from: path -> fingerprint.

    A file whose fingerprint is unchanged and which still exists is not made
    again: an incremental build costs what changed, not what the site holds.
    While a build runs, `.par-build.dirty` marks the folder: a build that
    stopped half way may have changed files its state does not describe, so
    the next one ignores that state (and compares bytes instead). A state made
    by other code or library versions is ignored too."""

    def __init__(self, site_dir: Path):
        self.path = Path(site_dir) / STATE_FILE
        self.dirty = Path(site_dir) / DIRTY_FILE
        self.old: dict[str, str] = {}
        self.new: dict[str, str] = {}
        if not self.dirty.exists():
            try:
                data = json.loads(self.path.read_bytes())
                if data.get("code") == code_version():
                    self.old = data.get("files", {})
            except (OSError, ValueError, AttributeError):
                pass
        self.dirty.parent.mkdir(parents=True, exist_ok=True)
        self.dirty.touch()

    def current(self, site_dir: Path, rel: str, fingerprint: str) -> bool:
        """Record `rel`'s fingerprint; True when the file already holds what it names."""
        self.new[rel] = fingerprint
        return self.old.get(rel) == fingerprint and (site_dir / rel).is_file()

    def save(self) -> None:
        text = json.dumps({"code": code_version(), "files": self.new}, sort_keys=True, indent=0)
        write_if_changed(self.path, (text + "\n").encode())
        self.dirty.unlink(missing_ok=True)


def _digest(*parts: Any) -> str:
    h = hashlib.sha256(code_version().encode())
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode() + b"\0")
    return h.hexdigest()[:32]


def seed_site(previous_site: Path, site_dir: Path) -> int:
    """Fill `site_dir` with hard links to the files of a previous build; return how many.

    For a build into a fresh folder (a new release): build_site then rewrites
    only what changed, and never in place (a new file is renamed over the
    link), so the previous build stays as it was, while unchanged workbooks
    and the Vega bundle are not made again. Copies where links are impossible.
    """
    previous_site = Path(previous_site).resolve()
    site_dir = Path(site_dir)
    if not previous_site.is_dir():
        return 0
    n = 0
    for src in sorted(previous_site.rglob("*")):
        rel = src.relative_to(previous_site)
        if not src.is_file() or src.is_symlink():
            continue
        if any(part.startswith(".") for part in rel.parts) and rel.as_posix() != STATE_FILE:
            continue
        dest = site_dir / rel
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dest)
        except OSError:
            shutil.copy2(src, dest)
        n += 1
    return n


def _figure(id: str, title: Label, images: list[dict] | None = None, *, wide: bool = False, scroll: bool = False) -> dict:
    return {"id": id, "title": title, "images": images, "wide": wide, "scroll": scroll}


def _chart_images(site_dir: Path, name: str, spec: dict, datasets: dict, root: str = "", *, scale: float = 2.0) -> list[dict]:
    """Render the Vietnamese chart as charts/<name>.svg|png; the links to them."""
    static = charts_mod.static_spec(spec, datasets)
    write_chart_images(
        site_dir / "charts", name, static, vl_version=vega_lite_version(), format_locale=charts_mod.VI_FORMAT_LOCALE,
        scale=scale,
    )
    return [
        {"href": f"{root}charts/{name}.png", "label": "PNG"},
        {"href": f"{root}charts/{name}.svg", "label": "SVG"},
    ]


def _chart_json(datasets: dict, charts: list[dict]) -> Markup | None:
    if not charts:
        return None
    return _script_json(
        {
            "datasets": datasets,
            "formatLocale": charts_mod.VI_FORMAT_LOCALE,
            "charts": [
                {"id": c["id"], "spec": c["spec"]} if "spec" in c else {"id": c["id"], "vi": c["vi"], "en": c["en"]}
                for c in charts
            ],
        }
    )


def _for_keys(frame: pl.DataFrame, name: str, keys: set[str]) -> pl.DataFrame:
    """A published table's rows of the published periods (columns checked, typed, sorted)."""
    from dashboards.publish import prepare_table

    return prepare_table(frame, name).filter(pl.col("period_key").is_in(sorted(keys)))


def _by_unit(frame: pl.DataFrame | None, wanted: pl.DataFrame) -> dict[tuple, pl.DataFrame]:
    """`frame`'s rows of each unit's detail period (`wanted`: unit_code, unit_valid_from, period_key)."""
    if frame is None or frame.is_empty():
        return {}
    part = frame.join(wanted, on=["unit_code", "unit_valid_from", "period_key"], how="semi")
    if part.is_empty():
        return {}
    return {
        (k[0], k[1]): v for k, v in part.partition_by(["unit_code", "unit_valid_from"], as_dict=True, maintain_order=True).items()
    }


WARNING_COLUMNS = {
    "period_type": pl.Utf8, "period_key": pl.Utf8, "unit_code": pl.Utf8, "unit_valid_from": pl.Date,
    "unit_name": pl.Utf8, "level": pl.Utf8, "indicator": pl.Utf8, "value": pl.Float64, "baseline": pl.Float64,
    "z": pl.Float64, "kind": pl.Utf8, "message_vi": pl.Utf8, "message_en": pl.Utf8,
}
QUALITY_COLUMNS = {
    "period_type": pl.Utf8, "period_key": pl.Utf8, "check": pl.Utf8, "success": pl.Boolean,
    "unexpected_count": pl.Int64, "description_vi": pl.Utf8, "description_en": pl.Utf8, "blocked": pl.Boolean,
}


def _conform(frame: pl.DataFrame | None, schema: dict) -> pl.DataFrame | None:
    """The columns the pages read, typed; a missing optional column is null."""
    if frame is None:
        return None
    required = {"period_type", "period_key"}
    missing = required - set(frame.columns)
    if missing and frame.height == 0:  # nothing to show (e.g. pl.DataFrame() for "no warnings")
        return pl.DataFrame(schema=schema)
    if missing:
        raise ValueError(f"frame lacks columns: {sorted(missing)}")
    return frame.select(
        [
            pl.col(c).cast(t, strict=False) if c in frame.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in schema.items()
        ]
    )


class _Stages:
    """Seconds per stage of a build, told to `log` (nothing without one)."""

    def __init__(self, log: Any):
        import time

        self.log, self.now = log, time.perf_counter
        self.start = self.last = self.now()

    def done(self, stage: str) -> None:
        t = self.now()
        if self.log:
            self.log(f"site: {stage} {t - self.last:.1f} s")
        self.last = t

    def total(self) -> None:
        if self.log:
            self.log(f"site: built in {self.now() - self.start:.1f} s")


def build_site(
    site_dir: Path,
    scoreboard: pl.DataFrame,
    *,
    manifest: dict,
    ingestion: pl.DataFrame | None = None,
    quarantine_summary: pl.DataFrame | None = None,
    weak_points: pl.DataFrame | None = None,
    bottlenecks: pl.DataFrame | None = None,
    what_if: pl.DataFrame | None = None,
    quality: pl.DataFrame | None = None,
    warnings: pl.DataFrame | None = None,
    profile: Any = None,
    report_pdf: bool = False,
    log: Any = None,
    crosswalk: pl.DataFrame | None = None,
    freshness: pl.DataFrame | None = None,
    held_batches: pl.DataFrame | None = None,
) -> Path:
    """Write the whole site under `site_dir`; return the path of its index.html.

    `weak_points`, `bottlenecks`, `what_if`: the engine's tables
    (transforms.insights schemas), all periods; each is published as
    data/<table>-<key>.csv|.xlsx and shown on the unit pages. `quality`: one row
    per period and check (period_type, period_key, check, success,
    unexpected_count, description_vi, description_en, blocked); `warnings`: the
    early-warning rows. `profile`: the scoring profile (default: the default
    profile), for the groups' labels and maximum points. With `report_pdf`, the
    latest monthly report is also printed to PDF when Chromium is installed.
    `log`: called with one line per stage and the seconds it took.
    `crosswalk`: transforms.crosswalk.load_crosswalk's frame; a new unit's score
    chart then also shows, paler, the scores reconstructed from its predecessors.
    `held_batches`: files held as drifting (quality.holds.held_batches), listed on
    the quality page.
    """
    clock = _Stages(log)
    site_dir = Path(site_dir)
    frame = prepare_scoreboard(scoreboard)
    periods = _periods(frame)
    keys = {p["key"] for p in periods}
    meta = {p["key"]: p for p in periods}
    pairs = [(p["type"], p["key"]) for p in periods]

    # ---- data files: only the periods whose rows changed are written
    state = _BuildState(site_dir)
    workers = default_workers()
    data_dir = site_dir / "data"
    digests = {"scoreboard": period_digests(frame)}

    def stale(table: str, suffixes: Iterable[str]) -> list[tuple[str, str]]:
        out = []
        for ptype, key in pairs:
            fp = _digest("data", table, digests[table].get(key))
            fresh = [state.current(site_dir, f"data/{data_file_name(key, sfx, table)}", fp) for sfx in suffixes]
            if not all(fresh):
                out.append((ptype, key))
        return out

    changed = stale("scoreboard", DATA_SUFFIXES)
    write_period_files(frame, data_dir, keys=[k for _t, k in changed], workers=workers)
    write_manifest(site_dir, manifest)
    _prune(data_dir, "scoreboard-*", {data_file_name(k, s) for k in keys for s in DATA_SUFFIXES})
    insight: dict[str, pl.DataFrame | None] = {}
    for name, given in (("weak_points", weak_points), ("bottlenecks", bottlenecks), ("what_if", what_if)):
        keep: set[str] = set()
        if given is not None:
            insight[name] = _for_keys(given, name, keys)
            digests[name] = period_digests(insight[name])
            changed = stale(name, TABLE_SUFFIXES)
            changed_keys = sorted(k for _t, k in changed)
            part = insight[name].filter(pl.col("period_key").is_in(changed_keys))
            write_table_files(part, data_dir, name, changed, workers=workers)
            keep = {data_file_name(k, s, name) for k in keys for s in TABLE_SUFFIXES}
        _prune(data_dir, f"{name}-*", keep)
    published = [n for n in ("weak_points", "bottlenecks", "what_if") if n in insight]
    quality = _conform(quality, QUALITY_COLUMNS)
    warnings = _conform(warnings, WARNING_COLUMNS)
    if warnings is not None:
        warnings = warnings.filter(pl.col("period_key").is_in(sorted(keys)))

    clock.done("data files")
    # ---- what the pages read: unit slugs and the groups' applicable maximum
    if profile is None:  # TODO(site): make `profile` required; the pipeline always passes it
        from config import config_path
        from transforms.profile import load_profile

        profile = load_profile(config_path("profiles", "default.yaml"))
    groups = pages.profile_groups(profile)
    group_max_points = {g.column: g.full_max for g in groups}
    units = frame.select("unit_code", "unit_valid_from").unique(maintain_order=True)
    slugs = {(c, vf): unit_slug(c, vf) for c, vf in units.iter_rows()}
    pf = frame.join(
        units.with_columns(_slug=pl.Series([slugs[(c, vf)] for c, vf in units.iter_rows()], dtype=pl.Utf8)),
        on=["unit_code", "unit_valid_from"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    pf = pages.with_group_max(pf, groups)
    by_key = {p.item(0, "period_key"): p for p in pf.partition_by(["period_type", "period_key"], maintain_order=True)}
    held = pages.held_back(quality)
    has_ingestion = ingestion is not None or quarantine_summary is not None

    months = [p for p in periods if p["type"] == "month"]
    weeks = [p for p in periods if p["type"] == "week"]
    latest_month = months[-1] if months else None
    latest_week = weeks[-1] if weeks else None
    # the latest report is also report.html, so that a new month does not change every page's menu
    nav = {"city": True, "quality": True, "report": "report.html" if latest_month else None}

    def render(name: str, **context: Any) -> bytes:
        context.setdefault("nav", nav)
        context.setdefault("has_ingestion", has_ingestion)
        context.setdefault("peers", None)
        context.setdefault("shared_specs", False)
        context.setdefault("body_class", None)
        return _render(name, **context)

    def report_href(p: dict) -> str | None:
        return f"report-{p['key']}.html" if p["type"] == "month" else None

    # before the pages: the report Chromium prints needs its stylesheet
    write_assets(site_dir, with_bundle=True, with_charts=bool(pf.height))
    clock.done("prepare")
    # ---- period pages
    pages_dir = site_dir / "periods"
    for ptype in PERIOD_TYPES:
        ps = [p for p in periods if p["type"] == ptype]
        for i, p in enumerate(ps):
            pframe = by_key[p["key"]]
            prev, nxt = (ps[i - 1] if i > 0 else None), (ps[i + 1] if i + 1 < len(ps) else None)

            def period_page(p=p, pframe=pframe, prev=prev, nxt=nxt) -> bytes:
                period = dict(
                    p,
                    files=_all_files(p["key"], "../", published),
                    tables=ranking_tables(pframe, FULL_COLUMNS, row_ids=True, group_max=group_max_points),
                    held_back=held.get(p["key"]),
                    report=report_href(p),
                )
                return render(
                    "period.html",
                    root="../",
                    title=p["label"],
                    period=period,
                    prev=prev,
                    next=nxt,
                    peers=pages.peers_of(pframe["peer_group"].to_list()),
                )

            fp = _digest(
                "period", digests["scoreboard"][p["key"]], [q and q["key"] for q in (prev, nxt)],
                held.get(p["key"]), nav, published, has_ingestion, group_max_points,
            )
            _write_page(pages_dir / f"{p['key']}.html", fp, period_page)
    _prune(pages_dir, "*.html", {f"{k}.html" for k in keys})

    clock.done("period pages")
    # ---- overview
    chart_files: set[str] = set()

    def latest(p: dict | None) -> dict | None:
        if p is None:
            return None
        return dict(
            p,
            files=_files(p["key"], ""),
            tables=ranking_tables(by_key[p["key"]], COMPACT_COLUMNS, group_max=group_max_points),
            held_back=held.get(p["key"]),
            report=report_href(p),
        )

    lm, lw = latest(latest_month), latest(latest_week)
    month_rows = frame.filter(pl.col("period_type") == "month")
    chart_data = charts_mod.overview_charts(by_key[latest_month["key"]] if latest_month else None, month_rows)
    figures = []
    for c in chart_data["charts"]:
        name = c["id"].removeprefix("chart-") + (f"-{latest_month['key']}" if c["id"] == "chart-bands" else "")
        figures.append(_figure(c["id"], c["title"], _chart_images(site_dir, name, c["vi"], chart_data["datasets"])))
        chart_files |= {f"{name}.svg", f"{name}.png"}
    index = site_dir / "index.html"
    write_if_changed(
        index,
        render(
            "index.html",
            root="",
            title=UI["nav_overview"],
            latest_month=lm,
            latest_week=lw,
            charts=figures,
            chart_json=_chart_json(chart_data["datasets"], chart_data["charts"]),
            period_groups=_period_groups(periods, ""),
            peers=pages.peers_of(
                v for p in (latest_month, latest_week) if p for v in by_key[p["key"]]["peer_group"].to_list()
            ),
        ),
    )

    clock.done("overview")
    # ---- city views: heatmap, band changes, early warnings
    city_charts: list[dict] = []
    city_datasets: dict = {}
    city_figures = []
    if latest_month:
        heat = charts_mod.heatmap_charts(by_key[latest_month["key"]], [(g.key, g.label.vi, g.label.en) for g in groups])
        city_datasets, city_charts = heat["datasets"], heat["charts"]
        for c in city_charts:
            name = c["id"].removeprefix("chart-") + f"-{latest_month['key']}"
            # a tall heatmap (hundreds of communes) at 1:1, or its PNG runs to megabytes
            images = _chart_images(site_dir, name, c["vi"], city_datasets, scale=2.0 if c["units"] <= 60 else 1.0)
            chart_files |= {f"{name}.svg", f"{name}.png"}
            title = Label(
                f"{c['title'].vi} · {pages.level_lab(c['level']).vi}", f"{c['title'].en} · {pages.level_lab(c['level']).en}"
            )
            city_figures.append(_figure(c["id"], title, images, wide=True, scroll=c["units"] > 40))
    crossings = []
    for ps in (months, weeks):
        if len(ps) >= 2:
            crossings.append(pages.crossings(by_key[ps[-1]["key"]], by_key[ps[-2]["key"]], slugs))
    warning_tables = []
    if warnings is not None:
        for p in (latest_month, latest_week):
            if p is None:
                continue
            w = (
                warnings.filter(pl.col("period_key") == p["key"])
                .with_columns(_az=pl.col("z").abs(), _lv=pl.col("level").replace_strict(
                    {lv: i for i, lv in enumerate(pages.LEVEL_ORDER)}, default=len(pages.LEVEL_ORDER), return_dtype=pl.Int32))
                .sort(["_lv", "_az", "unit_code", "indicator"], descending=[False, True, False, False], nulls_last=True)
            )
            warning_tables.append(pages.warnings_table(w, p["label"], with_unit=True, slugs=slugs))
    write_if_changed(
        site_dir / "city.html",
        render(
            "city.html",
            root="",
            title=UI["city_title"],
            period=latest_month,
            charts=city_figures,
            chart_json=_chart_json(city_datasets, city_charts),
            crossings=crossings,
            warnings=warning_tables,
        ),
    )
    _prune(site_dir / "charts", "*", chart_files)

    clock.done("city")
    # ---- data quality
    latest_pairs = [(p["type"], p["key"]) for p in (latest_month, latest_week) if p]
    silent = pages.silent_tables(pf, latest_pairs, slugs, meta, freshness)
    qctx = pages.quality_context(quality, quarantine_summary, warnings, silent, keys, held, held_batches)
    week_rows = pf.filter(pl.col("period_key") == latest_week["key"]) if latest_week else None
    qctx["freshness"] = pages.freshness_table(freshness, week_rows, slugs)
    qctx["completeness"] = pages.completeness_table(pf, keys)
    write_if_changed(site_dir / "quality.html", render("quality.html", root="", title=UI["quality_title"], **qctx))

    clock.done("quality")
    # ---- monthly reports
    pdf_wanted = bool(report_pdf and latest_month and chromium_path())
    reports: set[str] = set()
    report_changed = False
    weak_by_month = (
        {k[0]: v for k, v in insight["weak_points"].partition_by("period_key", as_dict=True).items()}
        if insight.get("weak_points") is not None
        else {}
    )

    def report_page(i: int, pdf: str | None) -> bytes:
        p = months[i]
        mframe = by_key[p["key"]]
        weak_m = weak_by_month.get(p["key"], pl.DataFrame()) if "weak_points" in insight else None
        ctx = {
            "period": dict(p, held_back=held.get(p["key"])),
            "bands": pages.band_summary(mframe),
            "weak": pages.common_weak_points(mframe, weak_m, groups) if weak_m is not None and weak_m.height else [],
            "tables": ranking_tables(mframe, pages.REPORT_COLUMNS, group_max=group_max_points),
            "prev": {"href": f"report-{months[i - 1]['key']}.html", "short": months[i - 1]["short"]} if i > 0 else None,
            "next": {"href": f"report-{months[i + 1]['key']}.html", "short": months[i + 1]["short"]}
            if i + 1 < len(months)
            else None,
        }
        title = Label(f"{UI['nav_report'].vi} {p['short'].vi}", f"{UI['nav_report'].en} {p['short'].en}")
        return render("report.html", root="", title=title, body_class="report", pdf=pdf, **ctx)

    def report_fp(i: int, pdf: str | None) -> str:
        p = months[i]
        return _digest(
            "report", digests["scoreboard"][p["key"]], digests.get("weak_points", {}).get(p["key"]), "weak_points" in insight,
            [q["key"] for q in months[max(i - 1, 0):i + 2]], held.get(p["key"]), nav, pdf, has_ingestion,
            group_max_points, [(g.key, tuple(g.label)) for g in groups],
        )

    for i, p in enumerate(months):
        is_latest = p is latest_month
        name = f"report-{p['key']}.html"
        pdf = f"report-{p['key']}.pdf" if (is_latest and pdf_wanted) else None
        changed = _write_page(site_dir / name, report_fp(i, pdf), lambda i=i, pdf=pdf: report_page(i, pdf))
        if is_latest:
            report_changed = changed
        reports.add(name)
    _prune(site_dir, "report-*.html", reports)
    # Chromium prints the latest report while the unit pages are made
    printing: dict[str, Any] = {}
    if pdf_wanted:
        name = f"report-{latest_month['key']}.html"
        pdf_path = site_dir / f"report-{latest_month['key']}.pdf"
        if report_changed or not pdf_path.is_file():
            import threading

            def print_pdf() -> None:
                printing["ok"] = print_report_pdf(site_dir / name, pdf_path)

            printing["thread"] = threading.Thread(target=print_pdf, daemon=True)
            printing["thread"].start()
        else:
            printing["ok"] = True

    clock.done("reports")
    # ---- unit pages
    units_dir = site_dir / "units"
    unit_pages: set[str] = set()
    if pf.height:
        # the period a unit page details: its latest month with data of its own (not a
        # month after its end, where it is listed only for late dossiers), else its
        # latest month; weeks only for a unit with no month
        detail = (
            pf.sort([pl.col("period_type") == "month", pl.col("ranked") | (pl.col("received") > 0), "period_start"])
            .group_by("unit_code", "unit_valid_from", maintain_order=True)
            .agg(pl.col("period_key").last())
        )
        per_unit = {name: _by_unit(insight.get(name), detail) for name in ("weak_points", "bottlenecks", "what_if")}
        warn_unit = _by_unit(warnings, detail)
        detail_keys = set(detail["period_key"].to_list())
        detail_of = {(c, vf): k for c, vf, k in detail.iter_rows()}
        medians = pages.peer_medians(pf.filter(pl.col("period_key").is_in(sorted(detail_keys))), groups)
        ranked_counts = {
            (k, lv): n for k, lv, n in pf.filter(pl.col("ranked")).group_by("period_key", "level").len().iter_rows()
        }
        tables_on = {n: n in insight for n in ("weak_points", "bottlenecks", "what_if")}
        rebuilt = (
            reconstruct(frame, crosswalk).partition_by(["unit_code", "unit_valid_from"], as_dict=True)
            if crosswalk is not None and crosswalk.height
            else {}
        )
        unit_rows = _unit_digests(pf)
        for (code, vf), rows in pf.partition_by(["unit_code", "unit_valid_from"], as_dict=True, maintain_order=True).items():
            slug = slugs[(code, vf)]
            ukey = (code, vf)
            dkey = detail_of[ukey]
            level, peer = rows.item(0, "level"), rows.item(-1, "peer_group")
            # everything the page shows; a page whose inputs are unchanged is not rendered again
            fp = _fingerprint(
                "unit", unit_rows[slug], per_unit["weak_points"].get(ukey), per_unit["bottlenecks"].get(ukey),
                per_unit["what_if"].get(ukey), warn_unit.get(ukey), rebuilt.get(ukey),
                sorted((k, v) for k, v in medians.items() if k[0] == dkey and k[1] in set(rows["level"].to_list())),
                sorted((k, v) for k, v in ranked_counts.items() if k[0] == dkey),
                held.get(dkey), tables_on, published, nav, has_ingestion, group_max_points, level, peer,
            )

            def unit_page(rows=rows, slug=slug, ukey=ukey) -> bytes:
                ctx = pages.unit_context(
                    rows,
                    slug=slug,
                    groups=groups,
                    medians=medians,
                    ranked_counts=ranked_counts,
                    periods=meta,
                    weak=per_unit["weak_points"].get(ukey),
                    bottlenecks=per_unit["bottlenecks"].get(ukey),
                    what_if=per_unit["what_if"].get(ukey),
                    warnings=warn_unit.get(ukey),
                    held=held,
                    tables=tables_on,
                    files=_all_files(detail_of[ukey], "../", published),
                    detail_key=detail_of[ukey],
                )
                history = charts_mod.unit_history(ctx.pop("records"), rebuilt.get(ukey))
                score_spec = "unit-score-reconstructed" if any("x" in h for h in history) else "unit-score"
                ucharts = [{"id": "chart-unit-score", "spec": score_spec}]
                ufigs = [_figure("chart-unit-score", UI["chart_unit_score"])]
                if any(h["r"] is not None for h in history):
                    ucharts.append({"id": "chart-unit-rank", "spec": "unit-rank"})
                    ufigs.append(_figure("chart-unit-rank", UI["chart_unit_rank"]))
                return render(
                    "unit.html",
                    root="../",
                    title=Label(ctx["unit"]["name"], ctx["unit"]["name"]),
                    charts=ufigs,
                    chart_json=_chart_json({"history": history}, ucharts),
                    shared_specs=True,
                    **ctx,
                )

            _write_page(units_dir / f"{slug}.html", fp, unit_page)
            unit_pages.add(f"{slug}.html")
    _prune(units_dir, "*.html", unit_pages)

    clock.done("unit pages")
    # ---- the printed report, and the latest report as report.html
    pdfs: set[str] = set()
    if pdf_wanted:
        if "thread" in printing:
            printing["thread"].join()
        i = len(months) - 1
        if printing.get("ok"):
            pdfs.add(f"report-{latest_month['key']}.pdf")
        else:  # no PDF after all: no link to it
            _write_page(site_dir / f"report-{latest_month['key']}.html", report_fp(i, None), lambda: report_page(i, None))
    _prune(site_dir, "report-*.pdf", pdfs)
    if latest_month:
        write_if_changed(site_dir / "report.html", (site_dir / f"report-{latest_month['key']}.html").read_bytes())
    else:
        (site_dir / "report.html").unlink(missing_ok=True)

    # ---- ingestion report
    ingestion_page = site_dir / "ingestion.html"
    if has_ingestion:
        tables = [
            t
            for t in (
                ingestion_table(ingestion, UI["ingestion_files"]) if ingestion is not None else None,
                ingestion_table(quarantine_summary, UI["quarantine_title"])
                if quarantine_summary is not None
                else None,
            )
            if t is not None
        ]
        write_if_changed(
            ingestion_page,
            render("ingestion.html", root="", title=UI["ingestion_title"], tables=tables),
        )
    elif ingestion_page.exists():
        ingestion_page.unlink()

    state.save()
    clock.done("ingestion, assets")
    clock.total()
    return index
