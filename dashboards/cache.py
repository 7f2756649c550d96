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

import ast
import functools
import hashlib
import json
import os
import re
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any, Iterator

STATE_FILE = ".par-build.json"
DIRTY_FILE = ".par-build.dirty"
ROOT = Path(__file__).parent.parent
# The repository's packages whose modules a site's code can import (the others are
# libraries, versioned by LIBRARIES).
PACKAGES = ("dashboards", "transforms", "quality", "config")
# What the site is made of: the modules `dashboards.site` imports, and those they import,
# found in their source (so a key cannot forget a module the site uses), and every
# template, static file and vendored file of dashboards/.
SITE_CODE = (
    "dashboards.site",
    "dashboards/**/*.j2", "dashboards/**/*.css", "dashboards/**/*.js", "dashboards/**/*.ttf",
)
LIBRARIES = ("jinja2", "markupsafe", "polars", "pyarrow", "altair", "vl-convert-python", "isal")


@functools.lru_cache(maxsize=32)
def code_version(code: tuple[str, ...] = SITE_CODE, libraries: tuple[str, ...] = LIBRARIES) -> str:
    """A hash of the files `code` names (by default everything the site is made of)
    and of the versions of the `libraries` that shape the output. `code` holds module
    names (`dashboards.pages.data`: that module and every module of PACKAGES it imports,
    at any depth) and globs of files relative to the repository."""
    h = hashlib.sha256()
    for f in sorted(code_files(code)):
        h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    for lib in libraries:
        h.update(f"{lib} {version(lib)}\n".encode())
    return h.hexdigest()[:16]


def code_files(code: tuple[str, ...], root: Path = ROOT) -> set[Path]:
    """The files `code` names (see code_version), under `root`."""
    files: set[Path] = set()
    for entry in code:
        if "/" in entry or "*" in entry:
            files.update(f for f in root.glob(entry) if f.is_file() and "__pycache__" not in f.parts)
        else:
            files.update(_imported_files(entry, root))
    return files


def _imported_files(module: str, root: Path) -> set[Path]:
    """The source of `module` and of every module of PACKAGES it imports, at any depth,
    with the `__init__` of each package on the way (Python runs them): read from the
    import statements (those inside functions too), not from what a process happens to
    have imported."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_file(name, root)
        if path is None or path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(path, root))
        todo.extend(name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1))
    return seen


# An import statement at any indentation; a parenthesised name list may span lines.
# Parsing only these (not whole modules) keeps a build's first key cheap.
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]*(?:\([^)]*\)|.*)|import[ \t]+.*)$", re.MULTILINE)


# A block that only type checkers run: what it imports is not run with the module.
_TYPE_CHECKING = re.compile(r"^([ \t]*)if (?:typing\.)?TYPE_CHECKING:.*\n(?:(?:\1[ \t]+.*)?\n)*", re.MULTILINE)


def _import_statements(source: str) -> Iterator[ast.stmt]:
    for match in _IMPORT.finditer(_TYPE_CHECKING.sub("", source)):
        try:
            yield from ast.parse(match.group(0).strip()).body
        except SyntaxError:  # text in a string that looks like one
            continue


def _module_file(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(path: Path, root: Path) -> list[str]:
    """The modules of PACKAGES that the file at `path` imports; `from package import name`
    names the submodule `package.name` where there is one."""
    package = ".".join(path.relative_to(root).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in _import_statements(path.read_text(encoding="utf-8")):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.append(base)
            found.extend(f"{base}.{alias.name}" for alias in node.names)
    return [name for name in found if name.split(".")[0] in PACKAGES]


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
