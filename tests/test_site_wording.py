"""What the pages say in words: every code the configuration ships is shown as
words in both languages, and every sentence says what its number means. Real
site builds of the worked example (tests/fixtures/example), changed where a
case needs it."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from config import config_path
from dashboards import i18n
from dashboards.site import build_site
from tests.helpers import read_expected_scoreboard
from tests.test_site import example_inputs
from transforms.units import load_registry

DEPARTMENT = i18n.LEVELS["department"]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def departments_site(tmp_path_factory) -> Path:
    """The worked example with its two communes made the city's departments, the
    peer group the shipped Hà Nội registry gives them (config/registry/hanoi.csv)."""
    scoreboard = read_expected_scoreboard().with_columns(
        pl.when(pl.col("level") == "commune").then(pl.lit("department")).otherwise(pl.col(c)).alias(c)
        for c in ("level", "peer_group")
    )
    root = tmp_path_factory.mktemp("departments")
    build_site(root, scoreboard, **example_inputs(scoreboard))
    return root


def shipped_peer_groups() -> set[str]:
    """The peer groups of every registry shipped in config/registry/ (crosswalks and
    source lists have none)."""
    groups: set[str] = set()
    for path in sorted(config_path("registry").glob("*.csv")):
        if "peer_group" in pl.read_csv(path, n_rows=0).columns:
            groups |= set(load_registry(path)["peer_group"].drop_nulls())
    return groups


def test_every_peer_group_of_a_shipped_registry_has_a_label():
    groups = shipped_peer_groups()
    assert "department" in groups and "urban" in groups  # the registries were read
    assert groups <= set(i18n.PEER_GROUPS), sorted(groups - set(i18n.PEER_GROUPS))


def test_the_departments_peer_group_is_words_on_every_page(departments_site):
    cell = f'<td class="t"><span data-en="{DEPARTMENT.en}">{DEPARTMENT.vi}</span></td>'
    for name in ("index.html", "periods/2024-01.html", "report-2024-01.html"):
        page = read(departments_site / name)
        assert ">department<" not in page, name
        assert cell in page, name
    for name in ("index.html", "periods/2024-01.html"):
        page = read(departments_site / name)
        assert f'<option value="department" data-en="{DEPARTMENT.en}">{DEPARTMENT.vi}</option>' in page, name
    unit = read(departments_site / "units" / "00001-2008-08-01.html")
    assert ": department" not in unit
    assert re.search(rf'Nhóm so sánh</span>: <span data-en="{DEPARTMENT.en}">{DEPARTMENT.vi}</span>', unit)
