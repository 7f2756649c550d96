"""The page catalogue: every kind of file the site is made of, in build order.

Each kind (dashboards.build.Kind) declares the tables, columns and facts it
reads and renders its outputs; dashboards.build derives every cache key from
those declarations. Data files come first, then the shared assets, the pages,
the images, the monthly reports and their PDF.
"""

from __future__ import annotations

from dashboards.build import Kind
from dashboards.pages import (
    alerts, assets, city, data, evidence, images, ingestion, methodology, overview, period, quality, report,
    revisions, unit,
)

CATALOGUE: tuple[Kind, ...] = (
    *data.KINDS,
    *revisions.KINDS,
    *assets.KINDS,
    *period.KINDS,
    *overview.KINDS,
    *images.KINDS,
    *city.KINDS,
    *quality.KINDS,
    *report.KINDS,
    *unit.KINDS,
    *evidence.KINDS,
    *ingestion.KINDS,
    *alerts.KINDS,
    *methodology.KINDS,
)
