"""`charts/<name>.svg|.png`: the overview's and the city page's charts as image
files, rendered with vl-convert (no browser, no network), in the run's second
process when it has one (transforms.aside), while the other kinds render here.

Each image's key is its whole spec and data (its parameters), so an image is
rendered again only when what it draws changed. The pages compute the same
charts from their own declared inputs (`overview_charts`, `city_charts`) and
link the images by name.
"""

from __future__ import annotations

from typing import Any, Iterator

import polars as pl

from dashboards import charts as charts_mod
from dashboards.build import Data, Kind, Later, Output, Site
from dashboards.images import chart_files
from dashboards.groups import Group
from dashboards.pages.common import level_lab
from dashboards.i18n import Band, Label
from dashboards.vega import vega_lite_version
from transforms import aside

TREND_COLUMNS = ("period_type", "period_key", "period_start", "level", "unit_code", "unit_valid_from", "unit_name",
                 "score", "ranked")
HEAT_COLUMNS = ("level", "unit_code", "unit_name", "rank", "score", "ranked", "points_*", "max_points_*")


def trend_keys(site: Site) -> list[str]:
    """The months the trend chart follows: every final month up to the headline month."""
    head = site.facts["headline"]["month"]["headline"]
    if head is None:
        return []
    months = [p for p in site.facts["periods"] if p["type"] == "month"]
    keys = [p["key"] for p in months]
    return [p["key"] for p in months[: keys.index(head) + 1] if not p["provisional"] or p["key"] == head]


def overview_charts(month: pl.DataFrame | None, months: pl.DataFrame, bands: tuple[Band, ...]) -> dict[str, Any]:
    return charts_mod.overview_charts(month if month is not None and month.height else None, months, bands)


def city_charts(month: pl.DataFrame | None, groups: tuple[Group, ...]) -> dict[str, Any]:
    if month is None or month.is_empty():
        return {"datasets": {}, "charts": []}
    heat = charts_mod.heatmap_charts(month, [(g.key, g.label.vi, g.label.en) for g in groups])
    for c in heat["charts"]:
        lv = level_lab(c["level"])
        c["title"] = Label(f"{c['title'].vi} · {lv.vi}", f"{c['title'].en} · {lv.en}")
        c["scale"] = 2.0 if c["units"] <= 60 else 1.0  # a tall heatmap at 1:1, or its PNG runs to megabytes
    return heat


def image_links(name: str, root: str = "") -> list[dict]:
    return [{"href": f"{root}charts/{name}.png", "label": "PNG"}, {"href": f"{root}charts/{name}.svg", "label": "SVG"}]


class ChartImages(Kind):
    name = "chart images"
    owns = ("charts/*",)
    aside_first = True
    # what an image shows is all in its parameters (spec, data, renderer versions); how
    # it is drawn is dashboards.images and the fonts it ships
    code = ("dashboards/pages/images.py", "dashboards.images", "dashboards/build.py", "dashboards/cache.py",
            "dashboards/vendor/fonts/*.ttf")

    def outputs(self, site: Site) -> list[Output]:
        month_key = site.facts["headline"]["month"]["headline"]
        sb = site.tables["scoreboard"]
        month = sb.filter(pl.col("period_key") == month_key) if month_key else None
        months = sb.filter(pl.col("period_key").is_in(trend_keys(site))).select(TREND_COLUMNS)
        out = []
        for data, scale in ((overview_charts(month, months, site.facts["bands"]), None),
                            (city_charts(month, site.facts["groups"]), None)):
            for c in data["charts"]:
                name = charts_mod.image_name(c["id"], month_key)
                spec = charts_mod.static_spec(c["vi"], data["datasets"])
                params = {"spec": spec, "scale": c.get("scale", scale or 2.0), "vl": vega_lite_version(),
                          "locale": charts_mod.VI_FORMAT_LOCALE}
                out += [Output(f"charts/{name}.svg", dict(params, format="svg")),
                        Output(f"charts/{name}.png", dict(params, format="png"))]
        return out

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, Later]]:
        charts: dict[str, list[Output]] = {}
        for o in batch:
            charts.setdefault(o.path.rsplit(".", 1)[0], []).append(o)
        for outs in charts.values():
            p = outs[0].params
            drawn = aside.submit(chart_files, p["spec"], p["vl"], p["locale"], p["scale"],
                                 [o.params["format"] for o in outs])
            yield outs[0], Later.files(drawn, outs)


KINDS = (ChartImages(),)
