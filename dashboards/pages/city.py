"""`city.html`: the headline month's heatmap of units by group, the units that
crossed a band since the previous period, and the early warnings of the
periods the overview shows. Also the warnings table the unit pages show."""

from __future__ import annotations

from typing import Iterator

import polars as pl

from dashboards import charts as charts_mod
from dashboards import html
from dashboards.build import Data, Kind, Output, Read, Site
from dashboards.format import PCT, SCORE, Fmt, texts
from dashboards.html import Head
from dashboards.i18n import COLUMNS, INDICATORS, LEVELS, UI, WARNING_KINDS, Band, Label
from dashboards.pages.common import chart_json, figure, fmt_lab, level_rank, page, plabel, with_labels
from dashboards.pages.images import HEAT_COLUMNS, city_charts, image_links

WARNING_READ = ("period_type", "period_key", "unit_code", "unit_valid_from", "unit_name", "level", "indicator",
                "value", "baseline", "z", "kind", "message_vi", "message_en", "_slug")
CROSSING_COLUMNS = ("period_type", "period_key", "level", "unit_code", "unit_valid_from", "unit_name", "band", "score",
                    "ranked", "_slug")


def _value_texts(frame: pl.DataFrame, column: str) -> pl.Expr:
    """An indicator's value as pages write it: rates as percentages, whole numbers
    without decimals, others with two."""
    rate = pl.col("indicator").fill_null("").str.ends_with("_rate")
    whole = pl.col(column).is_not_null() & (pl.col(column) == pl.col(column).round(0))
    return (
        pl.when(pl.col(column).is_null()).then(pl.lit("—"))
        .when(rate).then(pl.col(f"_p_{column}"))
        .when(whole).then(pl.col(f"_i_{column}"))
        .otherwise(pl.col(f"_n_{column}"))
    )


def early_warning_table(w: pl.DataFrame, caption: Label, rates: dict[str, Label], *, with_unit: bool,
                        root: str = "") -> dict:
    """Early warnings: (unit, level,) indicator, value, baseline, z, kind, message
    (`rates`: the profile's labels of the rates)."""
    spec = {}
    for c in ("value", "baseline"):
        spec.update({f"_p_{c}": (c, PCT), f"_n_{c}": (c, Fmt("num", 2)), f"_i_{c}": (f"_int_{c}", Fmt("int"))})
    spec["_t_z"] = ("z", Fmt("signed", 1))
    frame = w.with_columns(
        *[pl.col(c).cast(pl.Float64) for c in ("value", "baseline", "z")],
        *[pl.when(pl.col(c).abs() < 1e15).then(pl.col(c)).cast(pl.Int64, strict=False).alias(f"_int_{c}")
          for c in ("value", "baseline")],
    )
    frame = pl.concat([frame, texts(frame, spec)], how="horizontal")
    head, cells = [], []
    if with_unit:
        head += [Head(COLUMNS["unit_name"], "text"), Head(COLUMNS["level"], "text")]
        cells += [html.th_unit(pl.col("unit_name"), pl.col("unit_code"), pl.col("_slug"), root),
                  html.td_html(html.labelled(pl.col("level").fill_null(""), LEVELS))]
    head += [Head(UI["indicator"], "text"), Head(UI["value"]), Head(UI["baseline"]), Head(Label("z", "z")),
             Head(UI["warning_kind"], "text"), Head(UI["warning_message"], "text")]
    message = html.t_columns(pl.col("message_vi"), pl.col("message_en"))
    cells += [
        html.td_html(html.labelled(pl.col("indicator"), {**INDICATORS, **COLUMNS, **rates})),
        html.td_num(_value_texts(frame, "value")),
        html.td_num(_value_texts(frame, "baseline")),
        html.td_num(pl.col("_t_z")),
        html.td_html(html.labelled(pl.col("kind"), WARNING_KINDS)),
        html.td_html(message),
    ]
    return html.small_table(caption, head, frame, cells)


def crossings(now: pl.DataFrame, before: pl.DataFrame, now_key: tuple[str, str], before_key: tuple[str, str],
              bands: tuple[Band, ...]) -> dict:
    """Units whose band differs from the previous period of the same kind, ranked in
    both (as the band_drop alert: a band on a handful of dossiers, or of a unit listed
    only for its late dossiers after it ceased to exist, is noise); up or down by the
    order of `bands` (the profile's, best first)."""
    order = {b.vi: i for i, b in enumerate(bands)}
    j = now.filter(pl.col("ranked")).join(
        before.filter(pl.col("ranked")).select("unit_code", "unit_valid_from", band_before="band",
                                               score_before="score"),
        on=["unit_code", "unit_valid_from"], how="inner", nulls_equal=True,
    ).filter(pl.col("band") != pl.col("band_before"))
    rank_now = pl.col("band").replace_strict(order, default=None, return_dtype=pl.Int32)
    rank_before = pl.col("band_before").replace_strict(order, default=None, return_dtype=pl.Int32)
    j = j.with_columns(_up=(rank_now < rank_before).fill_null(False), _lv=level_rank()).sort(
        [pl.col("_lv"), ~pl.col("_up"), pl.col("unit_name").fill_null(""), pl.col("unit_code").fill_null("")]
    )
    j = pl.concat([j, texts(j, {"_t_before": ("score_before", SCORE), "_t_score": ("score", SCORE)})],
                  how="horizontal")
    head = [Head(COLUMNS["unit_name"], "text"), Head(COLUMNS["level"], "text"), Head(UI["band_before"]),
            Head(UI["band_now"]), Head(UI["direction"], "text"), Head(UI["score_before"]), Head(COLUMNS["score"])]
    cells = [
        html.th_unit(pl.col("unit_name"), pl.col("unit_code"), pl.col("_slug"), ""),
        html.td_html(html.labelled(pl.col("level"), LEVELS)),
        html.td_band(pl.col("band_before"), bands),
        html.td_band(pl.col("band"), bands),
        pl.when(pl.col("_up")).then(pl.lit(html.crossing_html(True))).otherwise(pl.lit(html.crossing_html(False))),
        html.td_num(pl.col("_t_before")),
        html.td_num(pl.col("_t_score")),
    ]
    note = fmt_lab(UI["crossings_note"], p=plabel(*before_key, mid=True))
    return {"note": note, "table": html.small_table(plabel(*now_key), head, j, cells)}


def previous(site: Site, ptype: str, key: str | None) -> str | None:
    keys = [p["key"] for p in site.facts["periods"] if p["type"] == ptype]
    if key is None or key not in keys or keys.index(key) == 0:
        return None
    return keys[keys.index(key) - 1]


def warned_periods(site: Site) -> list[list[str]]:
    """The periods whose early warnings the page lists, newest first per kind: the
    headline period (even without warnings) and every later one that has some
    (the month in progress carries the bands at risk)."""
    with_rows = set(site.tables["warnings"]["period_key"].unique().to_list())
    out = []
    for ptype in ("month", "week"):
        keys = [p["key"] for p in site.facts["periods"] if p["type"] == ptype]
        head = site.facts["headline"][ptype]["headline"]
        later = keys[keys.index(head) + 1:] if head in keys else keys
        out += [[ptype, k] for k in reversed(later) if k in with_rows]
        if head:
            out.append([ptype, head])
    return out


class CityPage(Kind):
    name = "city"
    reads = {
        "rows": Read("scoreboard", tuple(dict.fromkeys((*CROSSING_COLUMNS, *HEAT_COLUMNS))), by=("period_key",)),
        "warnings": Read("warnings", WARNING_READ, by=("period_key",)),
    }
    facts = ("groups", "bands", "rates", "nav")
    owns = ("city.html",)

    def outputs(self, site: Site) -> list[Output]:
        month = site.facts["headline"]["month"]["headline"]
        pairs = []
        for ptype in ("month", "week"):
            key = site.facts["headline"][ptype]["headline"]
            before = previous(site, ptype, key)
            if key and before:
                pairs.append([[ptype, key], [ptype, before]])
        periods = {p["key"]: p for p in site.facts["periods"]}
        warned = warned_periods(site)
        params = {"month": periods.get(month), "pairs": pairs, "warned": warned}
        keys = {(month,)} if month else set()
        keys |= {(k,) for pair in pairs for _t, k in pair}
        return [Output("city.html", params, {"rows": sorted(keys), "warnings": [(k,) for _t, k in warned]})]

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        groups = data.fact("groups")
        for o in batch:
            month = with_labels(o.params["month"])
            rows = data.frame("rows")
            heat = city_charts(rows.filter(pl.col("period_key") == month["key"]) if month else None, groups)
            figures = [
                figure(c["id"], c["title"], image_links(charts_mod.image_name(c["id"], month["key"])),
                       wide=True, scroll=c["units"] > 40)
                for c in heat["charts"]
            ]
            crossed = [
                crossings(data.part("rows", (now[1],)).select(CROSSING_COLUMNS),
                          data.part("rows", (before[1],)).select(CROSSING_COLUMNS), tuple(now), tuple(before),
                          data.fact("bands"))
                for now, before in o.params["pairs"]
            ]
            warnings = []
            for ptype, key in o.params["warned"]:
                w = data.part("warnings", (key,)).with_columns(_lv=level_rank(), _az=pl.col("z").abs()).sort(
                    ["_lv", "_az", "unit_code", "indicator"], descending=[False, True, False, False], nulls_last=True
                )
                warnings.append(early_warning_table(w, plabel(ptype, key), data.fact("rates"), with_unit=True))
            yield o, page(
                data, "city", root="", title=UI["city_title"], period=month, charts=figures,
                chart_json=chart_json(heat["datasets"], heat["charts"], charts_mod.VI_FORMAT_LOCALE),
                crossings=crossed, warnings=warnings,
            )


KINDS = (CityPage(),)
