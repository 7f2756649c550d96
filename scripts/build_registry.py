"""Build the unit registry of a province (config/registry/<slug>.csv) from PyPI data.

The crosswalk across the reform is built by scripts/build_crosswalk.py.

Sources (the PyPI package ``vietnam-provinces``, whose data is the General
Statistics Office's list of administrative units, and ``vietnamadminunits`` for
which old provinces formed each of the 34 provinces of 2025-07-01):

* ``vietnam-provinces 0.5.0`` (data retrieved 2023-05-07): the 63 provinces'
  districts and communes, the lists in force until the merges of 2024–2025
  (for Hà Nội until 2024-12-31).
* ``vietnam-provinces 0.6.0`` (data retrieved 2025-01-04): the same after those
  merges (Hà Nội: Nghị quyết 1286/NQ-UBTVQH15, in force 2025-01-01); the last
  lists before the reform of 2025-07-01.
* ``vietnam-provinces 2025.10.1`` (data retrieved 2025-10-18): the 34
  provinces' wards, communes and special zones from 2025-07-01, when the
  district level ended.
* ``vietnamadminunits 1.0.4``, ``converter_2025.json`` (``DICT_PROVINCE``): the
  old provinces each new province was formed from (Hà Nội: Hà Nội alone).

Validity dates (both inclusive):

* A district or commune of the old lists is valid from 2008-08-01 (Hà Nội's
  expansion: the snapshot is *treated as* valid since then; earlier changes,
  such as the Từ Liêm split of 2013–2014, are not modelled) until 2025-06-30.
  A commune that is in the 2023 list but not in the 2025-01 list ends the day
  before ``--second-list-from`` (default 2025-01-01, Hà Nội's date); one that is
  only in the 2025-01 list starts that day (a unit is identified by code +
  name + parent, so a code that changed its name yields two rows).
  ``--single-snapshot`` skips the 2023 list and treats the 2025-01 list as
  valid for the whole period 2008-08-01..2025-06-30.
* A unit of the 2025 list is valid from 2025-07-01, ``valid_to`` empty.
* Departments (sở, ban, ngành) are not in these packages: they come from the
  hand-kept file ``config/registry/<slug>_departments.csv`` (sources in its
  ``source`` column and in docs/registry.md), copied as they are.

Usage::

    python scripts/build_registry.py                            # Hà Nội: pip download, write files
    python scripts/build_registry.py --province "Cao Bằng"      # any of the 34 provinces
    python scripts/build_registry.py --wheel-dir W              # use wheels already in W
    python scripts/build_registry.py --province "Cao Bằng" --check  # fail if the file differs

The script needs pip and network access to PyPI (or ``--wheel-dir``); it
reads the data inside the wheels and never imports the packages.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

PACKAGE = "vietnam-provinces"
OLD_RELEASES = ("0.5.0", "0.6.0")  # in force from EPOCH, then from --second-list-from
NEW_RELEASE = "2025.10.1"
PROVINCES_PACKAGE = "vietnamadminunits"
PROVINCES_VERSION = "1.0.4"
PROVINCES_SHA256 = "737ee3662e877290386c1c45ed4d71f2e5fae34ab6fb9c64bfb4cb74b216ea35"
EPOCH = date(2008, 8, 1)
SECOND_LIST_FROM = date(2025, 1, 1)
REFORM = date(2025, 7, 1)
DEFAULT_PROVINCE = "Hà Nội"

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "config" / "registry"

REGISTRY_COLUMNS = ("unit_code", "unit_name", "level", "parent_code", "peer_group", "valid_from", "valid_to",
                    "agency_code")
CROSSWALK_COLUMNS = ("old_code", "old_valid_from", "new_code", "new_valid_from", "share")
DEPARTMENT_COLUMNS = ("unit_code", "unit_name", "valid_from", "valid_to", "agency_code", "source")
DEPARTMENT_PEER_GROUP = "department"

# Level words, longest first so "Thị xã"/"Thị trấn" win over shorter prefixes.
LEVEL_WORDS: dict[str, tuple[str, str]] = {
    # word: (level, peer_group)
    "Thị trấn": ("commune", "urban"),
    "Thị xã": ("district", "urban"),
    "Thành phố": ("district", "urban"),
    "Đặc khu": ("commune", "urban"),  # special zones (2025): typed with the wards by Decree 307/2025
    "Phường": ("commune", "urban"),
    "Quận": ("district", "urban"),
    "Huyện": ("district", "rural"),
    "Xã": ("commune", "rural"),
}
LEVEL_ORDER = {"district": 0, "commune": 1, "department": 2}


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: str
    parent: str
    peer_group: str


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))


def fold(text: str) -> str:
    """Lower case, no diacritics, đ -> d, letters and digits only: 'Thành phố Hà Nội' -> 'thanhphohanoi'."""
    text = unicodedata.normalize("NFD", nfc(text).lower().replace("đ", "d"))
    return re.sub(r"[^a-z0-9]", "", "".join(ch for ch in text if not unicodedata.combining(ch)))


def province_key(name: str) -> str:
    """A province's name without its level word, folded: 'Tỉnh Cao Bằng', 'Cao Bằng' -> 'caobang'."""
    return re.sub(r"^(tinh|thanhpho)", "", fold(name))


def slug(province: str) -> str:
    """File name of a province's registry: Hà Nội -> hanoi, Cao Bằng -> caobang."""
    return province_key(province)


def registry_file(province: str, out_dir: Path = OUT_DIR) -> Path:
    return out_dir / f"{slug(province)}.csv"


def crosswalk_file(province: str, out_dir: Path = OUT_DIR) -> Path:
    return out_dir / f"{slug(province)}_crosswalk.csv"


def departments_file(province: str, out_dir: Path = OUT_DIR) -> Path:
    return out_dir / f"{slug(province)}_departments.csv"


def classify(name: str, expected_level: str) -> tuple[str, str, str]:
    """The name with its level word spelt as in LEVEL_WORDS ('Thành Phố Đồng Hới' ->
    'Thành phố Đồng Hới'), and the level and peer group that word gives.

    The 0.x releases label every district ``huyện`` and every commune ``xã``
    in ``division_type``, so the name is the reliable source.
    """
    for word, (level, peer) in LEVEL_WORDS.items():
        if name.lower() == word.lower() or name.lower().startswith(word.lower() + " "):
            if level != expected_level:
                raise ValueError(f"{name!r}: level word says {level}, data says {expected_level}")
            return word + name[len(word):], level, peer
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


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_nested(wheel: Path) -> list[dict]:
    """The nested-divisions JSON of a vietnam-provinces wheel."""
    with zipfile.ZipFile(wheel) as zf:
        return json.loads(zf.read("vietnam_provinces/data/nested-divisions.json"))


def old_province_codes(wheel: Path, province: str) -> list[int]:
    """The GSO codes of the old provinces that formed ``province`` on 2025-07-01
    (codes, not names: Tỉnh Thừa Thiên Huế became Thành phố Huế in 2025)."""
    digest = sha256(wheel)
    if digest != PROVINCES_SHA256:
        raise ValueError(f"{wheel.name}: sha256 {digest}, expected {PROVINCES_SHA256}")
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory(prefix="vau-") as tmp:
        mapping = json.loads(zf.read("vietnamadminunits/data/converter_2025.json"))["DICT_PROVINCE"]
        db_path = Path(tmp) / "dataset.db"
        db_path.write_bytes(zf.read("vietnamadminunits/data/dataset.db"))
        with sqlite3.connect(db_path) as db:
            code_of = dict(db.execute("select distinct provinceKey, provinceCode from admin_units_legacy"))
    hits = {new: olds for new, olds in mapping.items() if province_key(new) == province_key(province)}
    if len(hits) != 1:
        raise ValueError(f"{province!r} is not one of the 34 provinces of 2025-07-01 "
                         f"({', '.join(sorted(mapping))})")
    (olds,) = hits.values()
    return sorted(int(code_of[k]) for k in olds)


def pick_provinces(data: list[dict], codes: list[int], release: str) -> list[dict]:
    found = [p for p in data if p["code"] in codes]
    if sorted(p["code"] for p in found) != sorted(codes):
        raise ValueError(f"{PACKAGE} {release}: provinces {codes} not all found")
    return found


def pick_new_province(data: list[dict], province: str) -> dict:
    found = [p for p in data if province_key(p["name"]) == province_key(province)]
    if len(found) != 1:
        raise ValueError(f"{PACKAGE} {NEW_RELEASE}: no single province named {province!r}")
    return found[0]


def old_units(provinces: list[dict]) -> list[Unit]:
    units: list[Unit] = []
    for province in provinces:
        for d in province["districts"]:
            dname, level, peer = classify(nfc(d["name"]), "district")
            dcode = f"{int(d['code']):03d}"
            units.append(Unit(dcode, dname, level, "", peer))
            for w in d["wards"]:
                wname, level, peer = classify(nfc(w["name"]), "commune")
                units.append(Unit(f"{int(w['code']):05d}", wname, level, dcode, peer))
    return units


def new_units(province: dict) -> list[Unit]:
    units = []
    for w in province["wards"]:
        wname, level, peer = classify(nfc(w["name"]), "commune")
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


def read_departments(path: Path) -> list[dict[str, str]]:
    """The hand-kept department rows of a province, as registry rows."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != DEPARTMENT_COLUMNS:
            raise ValueError(f"{path}: the header must be {','.join(DEPARTMENT_COLUMNS)}")
        rows = list(reader)
    out = []
    for line, r in enumerate(rows, start=2):
        if not r["unit_code"] or r["unit_code"].isdigit():
            raise ValueError(f"{path}: line {line}: a department code has letters, so that it never "
                             "collides with the GSO's numeric codes")
        if not r["source"]:
            raise ValueError(f"{path}: line {line}: no source")
        out.append({
            "unit_code": r["unit_code"], "unit_name": nfc(r["unit_name"]), "level": "department",
            "parent_code": "", "peer_group": DEPARTMENT_PEER_GROUP,
            "valid_from": date.fromisoformat(r["valid_from"]).isoformat(),
            "valid_to": date.fromisoformat(r["valid_to"]).isoformat() if r["valid_to"] else "",
            "agency_code": r["agency_code"],
        })
    return out


def registry_rows(old_lists: list[tuple[date, list[Unit]]], new: list[Unit],
                  departments: list[dict[str, str]]) -> list[dict[str, str]]:
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
            "agency_code": "",
        }
        for u, start, end in dated
    ] + departments
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
    agency = [(r["agency_code"], r["valid_from"]) for r in rows if r["agency_code"]]
    if len(set(agency)) != len(agency):
        raise ValueError("an agency code is given to two units valid from the same day")
    # A district renamed between lists (Thị xã -> Thành phố) has two rows: its communes
    # may span both, so a parent's rows are joined where one ends the day before the next.
    covered: dict[str, list[list[str]]] = {}
    for r in sorted((r for r in rows if r["level"] == "district"), key=lambda r: r["valid_from"]):
        spans_of = covered.setdefault(r["unit_code"], [])
        if spans_of and (date.fromisoformat(spans_of[-1][1]) + timedelta(days=1)).isoformat() == r["valid_from"]:
            spans_of[-1][1] = r["valid_to"]
        else:
            spans_of.append([r["valid_from"], r["valid_to"]])
    for r in rows:
        if r["parent_code"]:
            ok = any(start <= r["valid_from"] and r["valid_to"] <= end
                     for start, end in covered.get(r["parent_code"], []))
            if not ok:
                raise ValueError(f"{r['unit_code']} {r['unit_name']}: parent {r['parent_code']} not valid")


def render(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def build(province: str, wheel_dir: Path | None, single_snapshot: bool, second_list_from: date,
          departments: Path | None) -> tuple[str, list[str]]:
    starts = [(OLD_RELEASES[-1], EPOCH)] if single_snapshot else list(zip(OLD_RELEASES, (EPOCH, second_list_from)))
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vnp-") as tmp:
        def wheel(package: str, version: str) -> Path:
            if wheel_dir is not None:
                return find_wheel(package, version, wheel_dir)
            return download_wheel(package, version, Path(tmp))

        olds = old_province_codes(wheel(PROVINCES_PACKAGE, PROVINCES_VERSION), province)
        notes.append(f"{PROVINCES_PACKAGE} {PROVINCES_VERSION}: {province} was formed from the provinces "
                     f"{', '.join(f'{c:02d}' for c in olds)} of 2025-06-30")
        old_lists = []
        for version, start in starts:
            path = wheel(PACKAGE, version)
            units = old_units(pick_provinces(read_nested(path), olds, version))
            old_lists.append((start, units))
            notes.append(f"{PACKAGE} {version} sha256={sha256(path)} from {start}: "
                         f"{sum(u.level == 'district' for u in units)} districts, "
                         f"{sum(u.level == 'commune' for u in units)} communes")
        path = wheel(PACKAGE, NEW_RELEASE)
        new = new_units(pick_new_province(read_nested(path), province))
        notes.append(f"{PACKAGE} {NEW_RELEASE} sha256={sha256(path)} from {REFORM}: {len(new)} communes")
    dept_rows = read_departments(departments) if departments is not None and departments.exists() else []
    if dept_rows:
        notes.append(f"{departments.name}: {len(dept_rows)} department rows")
    rows = registry_rows(old_lists, new, dept_rows)
    # The package does not say which old units each new one was formed from:
    # scripts/build_crosswalk.py builds the crosswalk from another source.
    return render(REGISTRY_COLUMNS, rows), notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--province", default=DEFAULT_PROVINCE,
                        help="one of the 34 provinces of 2025-07-01, with or without 'Tỉnh'/'Thành phố' (default Hà Nội)")
    parser.add_argument("--wheel-dir", type=Path, help="use wheels already downloaded here")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--single-snapshot", action="store_true",
                        help="treat the 2025-01 list as valid 2008-08-01..2025-06-30 (no boundary in between)")
    parser.add_argument("--second-list-from", type=date.fromisoformat, default=SECOND_LIST_FROM,
                        help="the day the province's 2024-2025 commune merges took effect (default 2025-01-01)")
    parser.add_argument("--check", action="store_true", help="compare with the file on disk, write nothing")
    args = parser.parse_args(argv)

    registry, notes = build(args.province, args.wheel_dir, args.single_snapshot, args.second_list_from,
                            departments_file(args.province))  # kept in config/registry, wherever the output goes
    for note in notes:
        print(note)
    target = registry_file(args.province, args.out_dir)
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != registry:
            print(f"out of date: {target}")
            return 1
        return 0
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="") as fh:
        fh.write(registry)
    print(f"wrote {target} ({registry.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
