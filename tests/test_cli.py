"""The `scoreboard` command line as a user meets it: real processes, files and DuckDB files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.publication import release
from tests.helpers import EXAMPLE, free_port

REPO = Path(__file__).resolve().parents[1]


def scoreboard(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`scoreboard <args>` in its own process (the tests' Dagster instance: in memory)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *args], cwd=REPO, text=True,
        env={**os.environ, **(env or {}), "SCOREBOARD_DAGSTER_HOME": "", "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def publish(site: Path, text: str) -> None:
    """A publication as the pipeline makes it: a new release folder, the link moved to it."""
    release(site, lambda folder: (folder / "index.html").write_text(text, encoding="utf-8"))


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def wait_for(url: str, server: subprocess.Popen) -> None:
    """Until the server answers: it imports Dagster first, slow on a busy machine."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"serve ended: {server.stderr.read()}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:  # refused, or a timeout, until it listens
            time.sleep(0.1)
    pytest.fail("serve did not answer")


def test_serve_follows_each_publication(tmp_path):
    """`build/site` is a link each publication moves to a new release (two kept): the
    server answers with the release published last, not the one current at its start."""
    site = tmp_path / "build" / "site"
    publish(site, "first")
    port = free_port()
    server = scoreboard("serve", "--site", str(site), "--port", str(port))
    try:
        url = f"http://127.0.0.1:{port}/index.html"
        wait_for(url, server)
        assert get(url) == (200, "first")
        publish(site, "second")
        assert get(url) == (200, "second")
        publish(site, "third")  # the first release is deleted now
        assert get(url) == (200, "third")
    finally:
        server.terminate()  # it ends in seconds, more on a busy machine
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_serve_on_a_busy_port_names_it(tmp_path):
    site = tmp_path / "site"
    publish(site, "x")
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = scoreboard("serve", "--site", str(site), "--port", str(port))
        out, err = done.communicate(timeout=120)
    assert done.returncode == 1
    assert err.strip().splitlines() == [err.strip()] and f"port {port}" in err and "Traceback" not in err


def example_landing(tmp_path: Path) -> dict[str, Path]:
    """A landing folder with the worked example's export, and where its run writes."""
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(EXAMPLE / "dossiers.csv", landing / "dossiers.csv")
    return {"landing": landing, "warehouse": tmp_path / "w.duckdb", "site": tmp_path / "site",
            "registry": EXAMPLE / "units.csv"}


def options(paths: dict[str, Path]) -> list[str]:
    return [arg for name, path in paths.items() for arg in (f"--{name}", str(path))]


@pytest.mark.parametrize("command, keys, said", [
    ("run", ["--from", "2025-13"], "--from '2025-13' is not a month"),
    ("run", ["--from", "2024-02", "--to", "2024-W20x"], "--to '2024-W20x' is neither"),
    ("run", ["--from", "2024-02", "--to", "2024-01"], "--to 2024-01 comes before --from 2024-02"),
    ("backfill", ["--from", "2024-W05", "--to", "2024-W01"], "--to 2024-W01 comes before --from 2024-W05"),
    ("backfill", ["--from", "2024-00"], "--from '2024-00' is not a month"),
])
def test_a_wrong_range_is_refused_before_anything_is_ingested(tmp_path, capsys, command, keys, said):
    paths = example_landing(tmp_path)
    assert main([command, *options(paths), *keys]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"scoreboard: {said}") and err.count("\n") == 1
    assert (paths["landing"] / "dossiers.csv").is_file()  # not archived
    assert not paths["warehouse"].exists() and not (tmp_path / "archive").exists()


def test_a_landing_file_is_said_to_be_a_file(tmp_path, capsys):
    paths = example_landing(tmp_path)
    paths["landing"] = paths["landing"] / "dossiers.csv"
    assert main(["run", *options(paths)]) == 1
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and err.count("\n") == 1


def test_a_second_command_on_the_warehouse_waits_for_the_first(tmp_path):
    """A `run` (cron's) started while a `backfill` goes on, on the same DuckDB file: it
    says whose run it waits for, then runs; neither meets DuckDB's file lock."""
    paths = example_landing(tmp_path)
    env = {"SCOREBOARD_NOW": "2026-11-22T09:00:00"}
    first = scoreboard("backfill", *options(paths), "--from", "2024-01", env=env)
    lock = Path(f"{paths['warehouse']}.lock")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # until the backfill holds the warehouse
        if first.poll() is not None or (lock.is_file() and lock.read_text().strip() == str(first.pid)):
            break
        time.sleep(0.05)
    second = scoreboard("run", *options(paths), env=env)
    (out1, err1), (out2, err2) = first.communicate(timeout=600), second.communicate(timeout=600)
    assert (first.returncode, second.returncode) == (0, 0), err1[-2000:] + err2[-2000:]
    assert f"waiting for the run of PID {first.pid} on {paths['warehouse']} to finish…" in err2.splitlines()
    assert "Published 9 weeks and 2 months" in out1
    assert not any("lock" in text.lower() for text in (err1, out1, out2))


@pytest.mark.parametrize("option, content, said", [
    ("--catalogue", None, "the procedure catalogue {path} (--catalogue) does not exist"),
    ("--catalogue", "code,days\nX,5\n", "the procedure catalogue {path} has no column procedure_code, "
     "processing_days (--catalogue)"),
    ("--catalogue", "", "the file given as --catalogue cannot be read: empty CSV"),
    ("--mappings", None, "the mappings folder {path} (--mappings) does not exist"),
    ("--warehouse", "folder", "--warehouse {path} is a folder: name the DuckDB file, e.g. {path}/warehouse.duckdb"),
])
def test_a_wrong_file_option_is_one_sentence_before_anything_is_ingested(tmp_path, capsys, option, content, said):
    paths = example_landing(tmp_path)
    path = tmp_path / "given"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    args = ["run", *options({**paths, option.lstrip("-"): path})]
    assert main(args) == 1
    assert capsys.readouterr().err == f"scoreboard: {said.format(path=path)}\n"
    assert (paths["landing"] / "dossiers.csv").is_file()


def test_the_default_mappings_folder_may_be_absent(tmp_path, capsys):
    paths = example_landing(tmp_path)
    from pipelines.cli import check_configuration
    from pipelines.resources import ScoreboardSettings

    check_configuration(ScoreboardSettings.from_env(
        landing_dir=str(paths["landing"]), mappings_path=str(paths["landing"].parent / "mappings")))


def test_a_failed_step_is_one_sentence_without_dagsters_traceback(tmp_path):
    """A warehouse file that is not DuckDB's fails the ingestion step: its error, once,
    as the last line; Dagster's ERROR lines and traceback only with --debug."""
    paths = example_landing(tmp_path)
    paths["warehouse"].write_text("not a database", encoding="utf-8")
    done = scoreboard("run", *options(paths))
    _, err = done.communicate(timeout=300)
    assert done.returncode == 1
    assert "dagster - ERROR" not in err and "Traceback" not in err and "Stack Trace" not in err, err
    assert err.splitlines()[-1].startswith("scoreboard: ") and str(paths["warehouse"]) in err.splitlines()[-1]
    debug = scoreboard("--debug", "run", *options(paths))
    _, err = debug.communicate(timeout=300)
    assert debug.returncode == 1 and "dagster - ERROR" in err and "Traceback" in err


def test_debug_is_taken_after_the_subcommand_too(tmp_path):
    from pipelines.cli import CliError

    for argv in (["--debug", "serve", "--site", str(tmp_path)], ["serve", "--site", str(tmp_path), "--debug"]):
        with pytest.raises(CliError, match="no published site"):
            main(argv)
    assert main(["serve", "--site", str(tmp_path)]) == 1


# --------------------------------------------------------------------------- alerts

from tests.test_alerts import office, publish_week_one, publish_week_two  # noqa: E402, F401 (the fixture)


def office_args(settings, warehouse) -> list[str]:
    return ["--landing", str(settings.landing), "--warehouse", warehouse.path, "--site", str(settings.site),
            "--registry", settings.registry_path]


def test_alerts_whose_delivery_fails_exit_1_after_the_summary(office, capsys):
    """The relay and the webhook are down: `scoreboard alerts` says so in its summary and
    fails, so that cron reports it."""
    settings, warehouse, mailbox, hook, monkeypatch = office
    publish_week_one(settings, warehouse, monkeypatch)
    publish_week_two(settings, warehouse, monkeypatch)  # nothing listens
    capsys.readouterr()
    assert main(["alerts", "--period", "2024-W03", *office_args(settings, warehouse)]) == 1
    out = capsys.readouterr().out
    assert "alerts for 2024-W03: 1 alerts, 0 digests queued, 0 sent, 3 failed (tried again at the next run)" in out
    mailbox.start()
    hook.start()
    assert main(["alerts", "--period", "2024-W03", *office_args(settings, warehouse)]) == 0
    assert "0 digests queued, 3 sent" in capsys.readouterr().out


def test_a_run_with_a_wrong_alerts_file_is_refused_before_anything_is_ingested(office, capsys):
    settings, warehouse, _, _, monkeypatch = office
    wrong = Path(settings.registry_path).parent / "wrong.yaml"
    wrong.write_text("recipients:\n  city:\n    - {email: vanphong.example.gov.vn}\n", encoding="utf-8")
    monkeypatch.setenv("SCOREBOARD_ALERTS", str(wrong))
    monkeypatch.setenv("SCOREBOARD_NOW", "2024-01-16T09:00:00")
    (settings.landing / "w02.csv").write_text("whatever\n", encoding="utf-8")
    assert main(["run", *office_args(settings, warehouse)]) == 1
    assert capsys.readouterr().err == ("scoreboard: wrong.yaml: recipients.city[0] 'vanphong.example.gov.vn' is not "
                                      "an e-mail address (SCOREBOARD_ALERTS)\n")
    assert (settings.landing / "w02.csv").is_file() and not Path(warehouse.path).exists()


def test_a_dry_run_says_when_nothing_would_reach_anyone(office, capsys):
    settings, warehouse, _, _, monkeypatch = office
    publish_week_one(settings, warehouse, monkeypatch)
    publish_week_two(settings, warehouse, monkeypatch)
    folder = Path(settings.registry_path).parent
    (folder / "nobody.yaml").write_text("lang: vi\n", encoding="utf-8")
    (folder / "relative.yaml").write_text(
        (folder / "alerts.yaml").read_text(encoding="utf-8").replace("site_url: https://cchc.example.gov.vn/bxh/",
                                                                      'site_url: ""'), encoding="utf-8")
    capsys.readouterr()
    said = {}
    for name in ("nobody", "relative", "alerts"):
        monkeypatch.setenv("SCOREBOARD_ALERTS", str(folder / f"{name}.yaml"))
        assert main(["alerts", "--period", "2024-W03", "--dry-run", *office_args(settings, warehouse)]) == 0
        said[name] = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert said["nobody"] == f"No recipient is configured in {folder / 'nobody.yaml'} (SCOREBOARD_ALERTS): nothing would be sent."
    assert said["relative"] == (f"site_url is empty in {folder / 'relative.yaml'}: the digests' links are relative "
                                "(alerts/2024-W03.html), not to the published site.")
    assert said["alerts"] == "2024-W03: 1 alerts; 3 digests would be sent (dry run: nothing sent)."


def test_alerts_of_a_period_without_data_say_where_the_data_are(office, capsys):
    settings, warehouse, _, _, monkeypatch = office
    publish_week_one(settings, warehouse, monkeypatch)
    capsys.readouterr()
    assert main(["alerts", "--period", "2031-01", *office_args(settings, warehouse)]) == 1
    assert capsys.readouterr().err == "scoreboard: 2031-01 has no data: the data run from 12/01/2024 to 12/01/2024\n"


def test_the_summary_says_what_was_published_and_what_was_held(tmp_path, monkeypatch, capsys):
    """A file that shifts its due dates holds the week and month it touches at their last
    good figures: the summary says they were held, not published; a run with nothing new
    says the site is as before (and its own line that the site shows the same periods)."""
    from tests.test_quality_pipeline import phuc_xa_export

    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    paths = example_landing(tmp_path)
    args = ["run", *options(paths)]
    assert main(args) == 0
    assert "Published 9 weeks and 2 months in " in capsys.readouterr().out
    (paths["landing"] / "PhucXa 2024-01.csv").write_text(phuc_xa_export(2023), encoding="utf-8")
    assert main(args) == 0
    assert ("Published 0 weeks and 0 months; 1 week and 1 month held back at their last good figures (the site's "
            "quality page says why) in ") in capsys.readouterr().out
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "shows the same 11 periods (33 data files) as before" in captured.err
    assert "published 11 periods" not in captured.err
    assert "No new figures: the site shows the same 11 periods as before in " in captured.out


def test_a_file_set_aside_is_said_once_with_where_it_went(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCOREBOARD_NOW", "2026-11-22T09:00:00")
    paths = example_landing(tmp_path)
    (paths["landing"] / "X.xlsx").write_bytes(b"not a spreadsheet")
    assert main(["run", *options(paths)]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "set aside in" in line]
    assert said == ["X.xlsx: set aside in _rejected/X.xlsx — no recognisable header row (not a dossier table)"]
    assert (paths["landing"] / "_rejected" / "X.xlsx").is_file()
