"""Build a province's crosswalk across the reform of 2025-07-01 (config/registry/<slug>_crosswalk.csv).

Each row says: a share of the old commune ``old_code`` (in force on 2025-06-30)
went to the new ward/commune ``new_code`` (from 2025-07-01). Sources:

* The PyPI package ``vietnamadminunits`` 1.0.4 (MIT; wheel pinned by sha256),
  ``data/converter_2025.json`` and ``data/dataset.db``: for every old commune
  the new units that received any part of it. Old units are matched by their
  GSO code; new units by name (the package carries provisional codes for 29 of
  the 126 new units, the registry's codes are the GSO's).
* For Hà Nội, Nghị quyết 1656/NQ-UBTVQH15 (2025-06-16), Điều 1: which of those parts carry
  population (other provinces: every link is taken to carry population). Where the resolution moves only "một phần diện tích tự nhiên"
  (natural area, no population), or gives an old commune's "toàn bộ quy mô dân
  số" (whole population) to one new unit so that its other parts are land
  only, the link carries no dossiers: ``HANOI_AREA_ONLY`` below lists those links
  with their clause (khoản) so each can be checked against the resolution.

Shares: the resolution gives no population figures for the parts, so an old
commune whose population went to n new units gives each ``1/n`` (written with
12 significant digits). Links without population get no row (a share is in
(0, 1]).

Usage::

    python scripts/build_crosswalk.py                          # Hà Nội: pip download, write the file
    python scripts/build_crosswalk.py --province "Cao Bằng"    # any of the 34 provinces
    python scripts/build_crosswalk.py --wheel-dir W            # use the wheel already in W
    python scripts/build_crosswalk.py --check                  # fail if the file differs

Run after ``scripts/build_registry.py``: codes and validity come from the registry.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path

from build_registry import (
    CROSSWALK_COLUMNS, DEFAULT_PROVINCE, PROVINCES_PACKAGE as PACKAGE, PROVINCES_SHA256 as WHEEL_SHA256,
    PROVINCES_VERSION as VERSION, REFORM, crosswalk_file, download_wheel, find_wheel, fold, nfc, province_key,
    registry_file, render,
)

LAST_OLD_DAY = "2025-06-30"

# (khoản of Điều 1, old code, old name, new name): Hà Nội's links that move land but
# no population, per Nghị quyết 1656/NQ-UBTVQH15 (AREA_ONLY_BY_PROVINCE below).
HANOI_AREA_ONLY: tuple[tuple[int, str, str, str], ...] = (
    (3, "00112", "Phường Thụy Khuê", "Phường Ba Đình"),
    (14, "00139", "Phường Bồ Đề", "Phường Hồng Hà"),
    (14, "00118", "Phường Ngọc Thụy", "Phường Hồng Hà"),
    (15, "00340", "Phường Yên Sở", "Phường Lĩnh Nam"),
    (20, "00316", "Phường Đại Kim", "Phường Hoàng Liệt"),  # all its population: khoản 19
    (23, "00316", "Phường Đại Kim", "Phường Khương Đình"),
    (48, "00316", "Phường Đại Kim", "Phường Thanh Liệt"),
    (23, "00643", "Xã Tân Triều", "Phường Khương Đình"),
    (30, "09853", "Xã Kim Chung", "Phường Tây Tựu"),  # huyện Hoài Đức
    (34, "00607", "Phường Tây Tựu", "Phường Thượng Cát"),  # all its population: khoản 30
    (102, "00607", "Phường Tây Tựu", "Xã Hoài Đức"),
    (107, "00607", "Phường Tây Tựu", "Xã Ô Diên"),
    (33, "00613", "Phường Minh Khai", "Phường Đông Ngạc"),  # quận Bắc Từ Liêm
    (34, "00613", "Phường Minh Khai", "Phường Thượng Cát"),
    (36, "09862", "Xã Vân Canh", "Phường Xuân Phương"),
    (39, "00139", "Phường Bồ Đề", "Phường Long Biên"),
    (39, "00130", "Phường Gia Thụy", "Phường Long Biên"),
    (40, "00145", "Phường Long Biên", "Phường Bồ Đề"),  # all its population: khoản 39
    (40, "00151", "Phường Phúc Đồng", "Phường Bồ Đề"),
    (41, "00136", "Phường Phúc Lợi", "Phường Việt Hưng"),
    (52, "00670", "Xã Duyên Hà", "Xã Thanh Trì"),
    (54, "00661", "Xã Yên Mỹ", "Xã Nam Phù"),  # all its population: khoản 52
    (54, "10192", "Xã Duyên Thái", "Xã Nam Phù"),
    (59, "00685", "Xã Đông Mỹ", "Xã Hồng Vân"),  # all its population: khoản 54
    (78, "10444", "Xã Đồng Tâm", "Xã Trần Phú"),  # all its population: khoản 74
    (81, "09619", "Thị trấn Tây Đằng", "Xã Minh Châu"),
    (81, "09667", "Xã Chu Minh", "Xã Minh Châu"),
    (86, "09685", "Xã Thụy An", "Xã Suối Hai"),  # all its population: khoản 82
    (94, "09922", "Xã Phú Cát", "Xã Hạ Bằng"),
    (95, "09895", "Thị trấn Quốc Oai", "Xã Tây Phương"),
    (95, "09907", "Xã Ngọc Liệp", "Xã Tây Phương"),
    (95, "09904", "Xã Phượng Sơn", "Xã Tây Phương"),
    (98, "09910", "Xã Ngọc Mỹ", "Xã Quốc Oai"),
    (102, "09820", "Xã Tân Lập", "Xã Hoài Đức"),
    (104, "09880", "Xã An Thượng", "Xã Sơn Đồng"),
    (107, "09013", "Xã Văn Khê", "Xã Ô Diên"),
    (119, "09013", "Xã Văn Khê", "Xã Yên Lãng"),
    (108, "09796", "Xã Hồng Hà", "Xã Liên Minh"),  # all its population: khoản 107
    (118, "09796", "Xã Hồng Hà", "Xã Mê Linh"),
    (119, "09796", "Xã Hồng Hà", "Xã Yên Lãng"),
    (108, "09007", "Xã Tiến Thịnh", "Xã Liên Minh"),
    (118, "08974", "Xã Đại Thịnh", "Xã Mê Linh"),
    (118, "09802", "Xã Liên Hà", "Xã Mê Linh"),  # huyện Đan Phượng; all its population: khoản 107
    (118, "09799", "Xã Liên Hồng", "Xã Mê Linh"),
    (118, "09808", "Xã Liên Trung", "Xã Mê Linh"),
    (119, "09787", "Xã Trung Châu", "Xã Yên Lãng"),  # all its population: khoản 108
    (119, "09793", "Xã Thọ Xuân", "Xã Yên Lãng"),
    (119, "09790", "Xã Thọ An", "Xã Yên Lãng"),
    (109, "00583", "Xã Bát Tràng", "Xã Gia Lâm"),
    (111, "00565", "Thị trấn Trâu Quỳ", "Xã Bát Tràng"),  # all its population: khoản 109
    (112, "00556", "Xã Đặng Xá", "Xã Phù Đổng"),  # all its population: khoản 110
    (115, "00457", "Xã Xuân Nộn", "Xã Phúc Thịnh"),  # all its population: khoản 113
    (115, "00502", "Xã Vĩnh Ngọc", "Xã Phúc Thịnh"),
    (116, "09019", "Xã Tiền Phong", "Xã Thiên Lộc"),  # huyện Mê Linh
    (116, "00508", "Xã Hải Bối", "Xã Thiên Lộc"),
    (117, "00493", "Xã Kim Chung", "Xã Vĩnh Thanh"),  # huyện Đông Anh; all its population: khoản 116
    (117, "00490", "Xã Kim Nỗ", "Xã Vĩnh Thanh"),
    (118, "00499", "Xã Đại Mạch", "Xã Mê Linh"),
    (122, "00445", "Xã Phú Minh", "Xã Sóc Sơn"),
    (122, "00409", "Xã Quang Tiến", "Xã Sóc Sơn"),
    (124, "00427", "Xã Mai Đình", "Xã Nội Bài"),  # all its population: khoản 122
)
AREA_ONLY_BY_PROVINCE = {province_key("Hà Nội"): HANOI_AREA_ONLY}

REPO_ROOT = Path(__file__).resolve().parents[1]


def package_links(wheel: Path, province: str) -> dict[str, set[str]]:
    """Old commune code -> names of the new units that received any part of it."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise ValueError(f"{wheel.name}: sha256 {digest}, expected {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory(prefix="vau-") as tmp:
        converter = json.loads(zf.read("vietnamadminunits/data/converter_2025.json"))
        (key,) = [k for k in converter["DICT_PROVINCE"] if province_key(k) == province_key(province)]
        olds = converter["DICT_PROVINCE"][key]
        db_path = Path(tmp) / "dataset.db"
        db_path.write_bytes(zf.read("vietnamadminunits/data/dataset.db"))
        with sqlite3.connect(db_path) as db:
            old_key = dict(db.execute(
                "select provinceKey || '_' || districtKey || '_' || wardKey, wardCode from admin_units_legacy "
                f"where provinceKey in ({','.join('?' * len(olds))})", olds))
            new_key = {k: nfc(name) for k, name in db.execute(
                "select wardKey, ward from admin_units where provinceKey = ?", (key,))}
    links: dict[str, set[str]] = {}
    for new, olds in converter["DICT_PROVINCE_WARD_NO_DIVIDED"][key].items():
        for old in olds:
            links.setdefault(old_key[old], set()).add(new_key[new])
    for old, parts in converter["DICT_PROVINCE_WARD_DIVIDED"].get(key, {}).items():  # none split in some provinces
        for part in parts:
            links.setdefault(old_key[old], set()).add(new_key[part["newWardKey"]])
    return links


def read_registry(path: Path) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Communes in force on the last old day, by code; new units, by name."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    old = {r["unit_code"]: r for r in rows
           if r["level"] == "commune" and r["valid_from"] <= LAST_OLD_DAY and r["valid_to"] == LAST_OLD_DAY}
    new = {r["unit_name"]: r for r in rows if r["level"] == "commune" and r["valid_from"] == REFORM.isoformat()}
    return old, new


def registry_names(links: dict[str, set[str]], new: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    """The package's new-unit names spelt as in the registry: the same name, else the one
    registry name equal to it without diacritics (the package writes 'Xã Đàm Thủy', the
    GSO 'Xã Đàm Thuỷ')."""
    folded: dict[str, list[str]] = {}
    for name in new:
        folded.setdefault(fold(name), []).append(name)

    def spelt(name: str) -> str:
        if name in new:
            return name
        same = folded.get(fold(name), [])
        return same[0] if len(same) == 1 else name

    return {code: {spelt(n) for n in names} for code, names in links.items()}


def share_text(n: int) -> str:
    return f"{1 / n:.12g}"


def crosswalk_rows(links: dict[str, set[str]], old: dict[str, dict[str, str]],
                   new: dict[str, dict[str, str]],
                   area_only: tuple[tuple[int, str, str, str], ...] = ()) -> list[dict[str, str]]:
    if set(links) != set(old):
        raise ValueError(f"source and registry disagree on the old communes: "
                         f"only in source {sorted(set(links) - set(old))}, only in registry {sorted(set(old) - set(links))}")
    unknown = {n for names in links.values() for n in names} - set(new)
    if unknown:
        raise ValueError(f"new units not in the registry: {sorted(unknown)}")
    populated = {code: set(names) for code, names in links.items()}
    for clause, code, name, new_name in area_only:
        if old.get(code, {}).get("unit_name") != name:
            raise ValueError(f"AREA_ONLY khoản {clause}: {code} is not {name} in the registry")
        if new_name not in new:
            raise ValueError(f"AREA_ONLY khoản {clause}: no new unit {new_name}")
        populated[code].discard(new_name)  # the source may already leave a land-only link out
    rows = []
    for code, names in populated.items():
        if not names:
            raise ValueError(f"{code} {old[code]['unit_name']}: no new unit receives its population")
        for new_name in names:
            rows.append({
                "old_code": code,
                "old_valid_from": old[code]["valid_from"],
                "new_code": new[new_name]["unit_code"],
                "new_valid_from": new[new_name]["valid_from"],
                "share": share_text(len(names)),
            })
    if {r["new_code"] for r in rows} != {r["unit_code"] for r in new.values()}:
        raise ValueError("some new unit has no predecessor")
    rows.sort(key=lambda r: (r["old_code"], r["old_valid_from"], r["new_code"]))
    return rows


def build(province: str, wheel_dir: Path | None, registry: Path) -> tuple[str, list[str]]:
    with tempfile.TemporaryDirectory(prefix="vau-") as tmp:
        wheel = find_wheel(PACKAGE, VERSION, wheel_dir) if wheel_dir is not None else download_wheel(PACKAGE, VERSION, Path(tmp))
        links = package_links(wheel, province)
    old, new = read_registry(registry)
    links = registry_names(links, new)
    area_only = AREA_ONLY_BY_PROVINCE.get(province_key(province), ())
    rows = crosswalk_rows(links, old, new, area_only)
    split = {r["old_code"] for r in rows if r["share"] != "1"}
    notes = [
        f"{PACKAGE} {VERSION} sha256={WHEEL_SHA256}: {len(links)} old communes, "
        f"{sum(len(v) for v in links.values())} links",
        f"{len(area_only)} land-only links dropped"
        + (" (Nghị quyết 1656/NQ-UBTVQH15)" if area_only else " (no land-only list for this province)"),
        f"{len(rows)} rows: {len(old)} old communes ({len(split)} split), {len(new)} new units",
    ]
    return render(CROSSWALK_COLUMNS, rows), notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--province", default=DEFAULT_PROVINCE, help="one of the 34 provinces (default Hà Nội)")
    parser.add_argument("--wheel-dir", type=Path, help="use the wheel already downloaded here")
    parser.add_argument("--registry", type=Path, help="the province's registry (default config/registry/<slug>.csv)")
    parser.add_argument("--out", type=Path, help="default config/registry/<slug>_crosswalk.csv")
    parser.add_argument("--check", action="store_true", help="compare with the file on disk, write nothing")
    args = parser.parse_args(argv)
    args.registry = args.registry or registry_file(args.province)
    args.out = args.out or crosswalk_file(args.province)

    text, notes = build(args.province, args.wheel_dir, args.registry)
    for note in notes:
        print(note)
    if args.check:
        if not args.out.exists() or args.out.read_text(encoding="utf-8") != text:
            print(f"out of date: {args.out}")
            return 1
        return 0
    with open(args.out, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
