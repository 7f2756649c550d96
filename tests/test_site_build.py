"""dashboards.build and dashboards.format: keys from declared inputs, one cache, column-wise formatting."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from dashboards import build
from dashboards.format import Fmt, fmt_date, fmt_int, fmt_num, fmt_pct, signed_text, texts


class Scores(build.Kind):
    """A toy page kind: one file per period with its units' scores."""

    name = "scores"
    reads = {"rows": build.Read("sb", ("unit_code", "score"), by=("period_key",))}
    facts = ("title",)
    owns = ("scores/*.txt",)
    peek: str | None = None  # what render reads beyond its declaration, to show it cannot

    def outputs(self, site):
        keys = site.table("sb")["period_key"].unique().sort().to_list()
        return [build.Output(f"scores/{k}.txt", {"key": k}, {"rows": [(k,)]}) for k in keys]

    def render(self, batch, data):
        for o in batch:
            rows = data.part("rows", (o.params["key"],))
            if self.peek == "column":
                rows.select("band")
            if self.peek == "fact":
                data.fact("other")
            text = data.fact("title") + " " + " ".join(f"{c}={s}" for c, s in rows.select("unit_code", "score").iter_rows())
            yield o, text.encode()


def _site(root: Path, frame: pl.DataFrame, title: str = "T") -> build.Site:
    return build.Site(root, {"sb": frame}, {"title": title, "other": 1})


FRAME = pl.DataFrame({
    "period_key": ["2024-01", "2024-01", "2024-02"], "unit_code": ["a", "b", "a"], "score": [1.0, 2.0, 3.0],
    "band": ["x", "y", "z"],
})


def test_a_page_is_made_again_only_when_what_it_declared_changed(tmp_path):
    build.run(_site(tmp_path, FRAME), [Scores()])
    assert (tmp_path / "scores" / "2024-01.txt").read_text() == "T a=1.0 b=2.0"
    site = _site(tmp_path, FRAME.with_columns(band=pl.lit("changed")))  # not declared: nothing made
    build.run(site, [Scores()])
    assert site.cache.written == []
    site = _site(tmp_path, FRAME.with_columns(score=pl.when(pl.col("period_key") == "2024-02").then(9.0)
                                              .otherwise("score")))
    build.run(site, [Scores()])
    assert site.cache.written == ["scores/2024-02.txt"]  # only the period whose rows changed
    site = _site(tmp_path, FRAME, title="U")  # a declared fact: every file
    build.run(site, [Scores()])
    assert sorted(site.cache.written) == ["scores/2024-01.txt", "scores/2024-02.txt"]
    site = _site(tmp_path, FRAME.filter(pl.col("period_key") == "2024-01"), title="U")
    (tmp_path / "scores" / "notes.md").write_text("not the kind's")
    build.run(site, [Scores()])
    assert sorted(p.name for p in (tmp_path / "scores").iterdir()) == ["2024-01.txt", "notes.md"]  # its own pruned


@pytest.mark.parametrize("peek, error", [("column", pl.exceptions.ColumnNotFoundError), ("fact", KeyError)])
def test_a_render_cannot_read_what_it_did_not_declare(tmp_path, peek, error):
    kind = Scores()
    kind.peek = peek
    with pytest.raises(error):
        build.run(_site(tmp_path, FRAME), [kind])


def test_a_build_that_stopped_half_way_is_made_again(tmp_path):
    build.run(_site(tmp_path, FRAME), [Scores()])
    (tmp_path / ".par-build.dirty").touch()  # as a build killed half way leaves it
    site = _site(tmp_path, FRAME)
    build.run(site, [Scores()])
    assert sorted(site.cache.written) == ["scores/2024-01.txt", "scores/2024-02.txt"]
    assert not (tmp_path / ".par-build.dirty").exists()


# --------------------------------------------------------------------------- formatting, a column at a time


def test_column_formatting_follows_the_scalar_rule():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    ties = [0.125, 2.675, 1.005, 0.0005, -0.125, 89.99999999999999, 74.52146464646465, 1e-07, 123456789.125,
            -0.004, 0.0625, 0.49999999999999994, -0.0, 1e16, 5e-324]
    floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True, min_value=None, max_value=None)
                       .filter(lambda x: math.isnan(x) or math.isinf(x) or abs(x) < 1e15),
                       st.sampled_from(ties), st.none())

    @settings(max_examples=200, deadline=None)
    @given(st.lists(floats, min_size=1, max_size=60), st.integers(0, 3),
           st.lists(st.one_of(st.none(), st.integers(-10**12, 10**12)), min_size=1, max_size=20))
    def check(xs, digits, ints):
        frame = pl.DataFrame({"x": xs}, schema={"x": pl.Float64})
        got = texts(frame, {"n": ("x", Fmt("num", digits)), "p": ("x", Fmt("pct", digits)),
                            "s": ("x", Fmt("signed", digits))})
        finite = [x is not None and not math.isnan(x) and not math.isinf(x) for x in xs]
        assert got["n"].to_list() == [fmt_num(x, digits) if ok else "—" for x, ok in zip(xs, finite)]
        assert got["p"].to_list() == [fmt_pct(x, digits) if ok else "—" for x, ok in zip(xs, finite)]
        assert got["s"].to_list() == [signed_text(x, digits) if ok else "—" for x, ok in zip(xs, finite)]
        whole = texts(pl.DataFrame({"i": ints}, schema={"i": pl.Int64}), {"i": ("i", Fmt("int"))})
        assert whole["i"].to_list() == [fmt_int(i) for i in ints]

    check()


def test_column_formatting_by_hand():
    import datetime as dt

    frame = pl.DataFrame({
        "x": [1234.5, 0.892, -0.01, None, 89.99999999999999, 2.675],
        "d": [dt.date(2024, 2, 12), None, dt.date(2025, 12, 31), dt.date(2016, 1, 4), None, None],
        "n": [29828, 0, -1234567, None, 1000, 7],
    })
    got = texts(frame, {"num": ("x", Fmt("num", 1)), "pct": ("x", Fmt("pct", 1)), "score": ("x", Fmt("num", 2)),
                        "sign": ("x", Fmt("signed", 1)), "date": ("d", Fmt("date")), "int": ("n", Fmt("int"))})
    assert got.row(0) == ("1.234,5", "123.450,0 %", "1.234,50", "+1.234,5", "12/02/2024", "29.828")
    assert got["pct"].to_list()[1] == "89,2 %" and got["score"].to_list()[4] == "90,00"
    assert got["num"].to_list()[2] == "0,0" and got["sign"].to_list()[2] == "0,0"  # never "-0,0"
    assert got["score"].to_list()[5] == "2,68"  # half away from zero on the decimal form, as DuckDB rounds
    assert got["num"].to_list()[3] == "—" and got["date"].to_list()[1] == "—"
    assert got["int"].to_list() == ["29.828", "0", "-1.234.567", "—", "1.000", "7"]
    assert got["date"].to_list()[2] == fmt_date(dt.date(2025, 12, 31)) == "31/12/2025"
