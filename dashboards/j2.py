"""Jinja2 for the alert and reconciliation pages and the alert e-mail text
(templates/alert*.j2, templates/reconcile*.j2). HTML is autoescaped; text
templates are not."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from dashboards.i18n import UI

TEMPLATE_DIR = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=1)
def env() -> jinja2.Environment:
    from dashboards.pages.common import CSP  # the site's Content-Security-Policy, so these pages follow it

    e = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    e.globals.update(UI=UI, csp=CSP)
    return e


def render(name: str, **context: Any) -> str:
    return env().get_template(name).render(**context)
