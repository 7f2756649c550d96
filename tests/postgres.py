"""A throwaway PostgreSQL server for the lake's tests and benchmark: the distribution's
own server binaries (initdb, pg_ctl), a temporary data directory, 127.0.0.1 only,
trust authentication, no fsync. initdb refuses to run as root: as root the server runs
as the `postgres` user (or `nobody`), which owns the data directory.

    python -m tests.postgres start DIR   # prints the libpq connection string
    python -m tests.postgres stop DIR

.ci/run starts one this way and passes it to the tests in SCOREBOARD_TEST_POSTGRES;
without it, the tests start their own (tests/conftest.py: `postgres`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import free_port

USER = "scoreboard"


def server_binaries() -> Path | None:
    """The folder of initdb, pg_ctl and postgres: on the PATH, or Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when this process is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and no `postgres` or `nobody` user to run PostgreSQL as")


@dataclass
class Server:
    port: int
    host: str = "127.0.0.1"
    user: str = USER

    @classmethod
    def from_dsn(cls, dsn: str) -> "Server":
        """A running server named by a libpq connection string (host, port, user)."""
        fields = dict(part.split("=", 1) for part in dsn.split())
        return cls(int(fields.get("port", 5432)), fields.get("host", "127.0.0.1"), fields.get("user", USER))

    def dsn(self, dbname: str = "postgres") -> str:
        """The libpq connection string of a database of this server."""
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def create_database(self, name: str) -> str:
        import psycopg2

        con = psycopg2.connect(self.dsn())
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            con.close()
        return self.dsn(name)


def _command(args: list[str], folder: Path, owner: tuple[int, int] | None, log: Path | None = None) -> None:
    def demote() -> None:
        if owner:
            os.setgid(owner[1])
            os.setuid(owner[0])

    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        done = subprocess.run(args, preexec_fn=demote, stdout=out, stderr=subprocess.STDOUT, cwd=folder, timeout=120)
    finally:
        if log:
            out.close()
    if done.returncode:
        tail = log.read_text(errors="replace")[-1500:] if log else ""
        raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {tail}")


def start(folder: Path) -> Server:
    """initdb a fresh cluster in `folder`/data and start it on a free port of 127.0.0.1."""
    binaries = server_binaries()
    if binaries is None:
        raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    folder = Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    owner = _run_as()
    if owner:
        os.chown(folder, *owner)
    _command([str(binaries / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", USER, "-E", "UTF8",
              "--no-sync", "--locale", "C"], folder, owner, folder / "initdb.log")
    port = free_port()
    options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=200")
    _command([str(binaries / "pg_ctl"), "-D", str(folder / "data"), "-o", options, "-l", str(folder / "server.log"),
              "-w", "-t", "60", "start"], folder, owner, folder / "pg_ctl.log")
    server = Server(port)
    deadline = time.monotonic() + 30
    while True:  # pg_ctl -w returns once it accepts connections; be sure of TCP
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return server
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(folder: Path) -> None:
    binaries = server_binaries()
    folder = Path(folder).absolute()
    if binaries is None or not (folder / "data" / "postmaster.pid").is_file():
        return
    _command([str(binaries / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w", "stop"], folder, _run_as())


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session: the one .ci/run started, else a
    throwaway one from this machine's binaries; skipped only when there are none (and
    failed instead where SCOREBOARD_REQUIRE_POSTGRES=1, as in CI)."""
    given = os.environ.get("SCOREBOARD_TEST_POSTGRES")
    if given:
        yield Server.from_dsn(given)
        return
    if server_binaries() is None:
        reason = "no PostgreSQL server binaries (initdb, pg_ctl) on this machine: apt-get install postgresql"
        if os.environ.get("SCOREBOARD_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    import tempfile

    # not under pytest's tmp folder: that one is private to this user, the server's is not
    folder = Path(tempfile.mkdtemp(prefix="scoreboard-pg-"))
    try:
        yield start(folder)
    finally:
        stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "start":
        print(start(Path(argv[1])).dsn())
    else:
        stop(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
