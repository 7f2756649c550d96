"""The site's one cache: which file was made from what.

Every file the builder writes, page or data file or image, has a key: a hash
of the code and templates of this package (and the libraries that shape the
output), of the page kind, of the file's parameters and of the exact data the
kind declared it reads (dashboards.build). `.par-build.json` in the site
folder maps each file to the key it was made with; a file whose key is
unchanged and that still exists is not made again.

While a build runs, `.par-build.dirty` marks the folder: a build that stopped
half way may have changed files its state does not describe, so the next one
ignores that state and makes everything again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

STATE_FILE = ".par-build.json"
DIRTY_FILE = ".par-build.dirty"
ROOT = Path(__file__).parent.parent
# What the site is made of: every code, template and static file of dashboards/
# (the vendored bundle and fonts too), and the modules of other layers whose code shapes
# what it writes.
SITE_CODE = (
    "dashboards/**/*.py", "dashboards/**/*.j2", "dashboards/**/*.css", "dashboards/**/*.js",
    "dashboards/**/*.ttf",
    "transforms/xlsx.py", "transforms/compress.py", "transforms/schema.py", "transforms/insights.py",
    "transforms/evidence.py", "transforms/crosswalk.py",
    "transforms/periods.py", "transforms/score.py", "transforms/profile.py", "quality/completeness.py",
)
LIBRARIES = ("jinja2", "markupsafe", "polars", "pyarrow", "altair", "vl-convert-python", "isal")


@functools.lru_cache(maxsize=32)
def code_version(patterns: tuple[str, ...] = SITE_CODE) -> str:
    """A hash of the files matching `patterns` (relative to the repository; by
    default everything the site is made of) and of the versions of the libraries
    that shape the output."""
    h = hashlib.sha256()
    files = sorted({f for pattern in patterns for f in ROOT.glob(pattern) if f.is_file() and "__pycache__" not in f.parts})
    for f in files:
        h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    for lib in LIBRARIES:
        h.update(f"{lib} {version(lib)}\n".encode())
    return h.hexdigest()[:16]


def digest(*parts: Any) -> str:
    """The one hash helper: bytes as they are, anything else as sorted JSON."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            h.update(part)
        else:
            h.update(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def write_atomic(path: Path, data: bytes) -> None:
    """Write beside and rename over: never in place, so a hard link to the previous
    release's file (dashboards.site.seed_site) keeps the old bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BuildCache:
    """The state of one site folder: relative path -> key."""

    def __init__(self, site_dir: Path):
        self.site = Path(site_dir)
        self.path = self.site / STATE_FILE
        self.dirty = self.site / DIRTY_FILE
        self.old: dict[str, str] = {}
        self.new: dict[str, str] = {}
        self.written: list[str] = []
        if not self.dirty.exists():
            try:
                files = json.loads(self.path.read_bytes()).get("files", {})
                self.old = files if isinstance(files, dict) else {}
            except (OSError, ValueError, AttributeError):
                pass
        self.site.mkdir(parents=True, exist_ok=True)
        self.dirty.touch()

    @property
    def known(self) -> set[str]:
        """Every file this folder's builds made, before and now."""
        return set(self.old) | set(self.new)

    def fresh(self, rel: str, key: str) -> bool:
        """True when `rel` exists and was made with `key` (recorded either way)."""
        self.new[rel] = key
        return self.old.get(rel) == key and (self.site / rel).is_file()

    def write(self, rel: str, data: bytes | None, key: str | None = None) -> None:
        """Write `rel` (`data` None: it was written already, by the second process) and
        record its key."""
        if data is not None:
            write_atomic(self.site / rel, data)
        if key is not None:
            self.new[rel] = key
        self.written.append(rel)

    def forget(self, rel: str) -> None:
        self.new.pop(rel, None)

    def save(self) -> None:
        text = (json.dumps({"code": code_version(), "files": self.new}, sort_keys=True, indent=0) + "\n").encode()
        if self.old != self.new or not self.path.is_file():  # a build that changed nothing leaves it alone
            write_atomic(self.path, text)
        self.dirty.unlink(missing_ok=True)
