"""The site's shared files: style and script (package files under static/), the
vendored Vega bundle, and the chart specs every unit page shares."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from dashboards import charts
from dashboards.build import Data, Kind, Output, Site
from dashboards.pages.common import script_json
from dashboards.vega import bundle_bytes, bundle_tag

STATIC = Path(__file__).parent.parent / "static"


class Static(Kind):
    """`assets/site.css`, `assets/site.js`: copies of the package's static files."""

    name = "assets"
    owns = ("assets/*",)

    def outputs(self, site: Site) -> list[Output]:
        out = [Output(f"assets/{p.name}", {"file": p.name}) for p in sorted(STATIC.iterdir()) if p.is_file()]
        # every page with a chart loads the bundle (its versions: the key)
        out.append(Output("assets/vega-bundle.js", {"bundle": bundle_tag()}))
        if site.facts["unit_pages"]:
            out.append(Output("assets/charts.js", {"specs": "unit"}))
        return out

    def render(self, batch: list[Output], data: Data) -> Iterator[tuple[Output, bytes]]:
        for o in batch:
            if "file" in o.params:
                yield o, (STATIC / o.params["file"]).read_bytes()
            elif "bundle" in o.params:
                yield o, bundle_bytes()
            else:
                yield o, (b"/* Vega-Lite specs shared by the unit pages (Altair). */\nwindow.PAR_CHART_SPECS = "
                          + str(script_json(charts.unit_chart_specs())).encode() + b";\n")


KINDS = (Static(),)
