"""dashboards.cache's code version: the code a site file's key covers is found from
the import statements, so a key cannot forget a module the file is made with."""

from __future__ import annotations

import inspect
import json
import pickle
import subprocess
import sys
from pathlib import Path

import polars as pl

from dashboards.cache import ROOT, SITE_CODE, code_files
from dashboards.catalogue import CATALOGUE
from tests.helpers import SCOREBOARD_COLUMNS
from tests.test_site import FIXTURE, example_inputs

BUILD_AND_LIST_MODULES = """
import json, pickle, sys
scoreboard, inputs, out = pickle.loads(open(sys.argv[1], "rb").read())
from dashboards.site import build_site
build_site(out, scoreboard, **inputs)
print(json.dumps(sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)})))
"""


def test_the_site_code_holds_every_module_a_build_runs(tmp_path):
    """A fresh process builds the worked example's site: every module of the repository
    it imported on the way is in the site's code version."""
    scoreboard = pl.read_csv(FIXTURE, schema_overrides=SCOREBOARD_COLUMNS)
    args = tmp_path / "args.pickle"
    args.write_bytes(pickle.dumps((scoreboard, example_inputs(scoreboard), tmp_path / "site")))
    done = subprocess.run([sys.executable, "-c", BUILD_AND_LIST_MODULES, str(args)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    ran = {Path(f).resolve() for f in json.loads(done.stdout.splitlines()[-1])}
    ours = {f for f in ran if f.is_relative_to(ROOT) and ".venv" not in f.parts and f.parent != ROOT}
    assert (tmp_path / "site" / "index.html").is_file()
    # the lazily imported ones too: the completeness of the periods, the calendar's overlay
    assert {ROOT / "quality" / "completeness.py", ROOT / "transforms" / "calendar.py"} <= ours
    assert ours - code_files(SITE_CODE) == set()
    # and no more than the site's: the pipelines' modules are not in it
    assert not {f for f in code_files(SITE_CODE) if f.is_relative_to(ROOT / "pipelines")}


def test_every_kind_s_code_holds_the_module_that_makes_it():
    """A kind that names fewer files than the whole site (its data files, images,
    revisions) still covers its own module and those it calls."""
    for kind in CATALOGUE:
        files = code_files(kind.code)
        assert Path(inspect.getsourcefile(type(kind))).resolve() in files, kind.name
    data = next(k for k in CATALOGUE if k.name.startswith("data scoreboard"))
    assert {ROOT / "transforms" / "csv_cut.py", ROOT / "transforms" / "xlsx.py"} <= code_files(data.code)
    images = next(k for k in CATALOGUE if k.name == "chart images")
    assert {f.name for f in code_files(images.code) if f.suffix == ".ttf"} == {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf"}


def test_imports_are_followed_through_functions_packages_and_relative_names(tmp_path):
    def module(rel: str, text: str = "") -> Path:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    page = module("dashboards/page.py", (
        "import polars as pl\n"
        "from dashboards import helper\n"
        "from . import sibling\n"
        "from transforms.rules import (\n    one,\n    two,\n)\n"
        "def later():\n    import quality.check\n"
        "if TYPE_CHECKING:\n    from quality.typing_only import Kind\n\n    from quality.typing_too import X\n"
        'TEXT = """\nimport quality.unused\n"""\n'
    ))
    expected = {
        page,
        module("dashboards/__init__.py"),
        module("dashboards/helper.py", "from .deep import x\n"),
        module("dashboards/deep.py"),
        module("dashboards/sibling.py"),
        module("transforms/rules.py"),
        module("transforms/__init__.py"),  # Python runs a package's file before its module's
        module("quality/__init__.py"),
        module("quality/check.py"),
    }
    module("dashboards/unused.py")
    module("dashboards/static/site.css", "body {}")
    unused = module("quality/unused.py")
    module("quality/typing_only.py")
    module("quality/typing_too.py")
    found = code_files(("dashboards.page", "dashboards/static/*.css"), root=tmp_path)
    # a docstring that reads like an import is taken for one: a key covers too much, never too little
    assert found == expected | {tmp_path / "dashboards/static/site.css", unused}

