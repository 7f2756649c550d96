"""The provinces file (config/provinces.yaml shows its fields): the provinces of a lake
deployment, and what each province's run is configured with. Read without Dagster's
graph, so that one city's settings can name its registry's authority
(ScoreboardSettings.report_authority) from the same file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from config import config_path
from pipelines import lake


@dataclass(frozen=True)
class Province:
    slug: str
    name: str
    registry: Path
    landing: Path
    site: Path
    crosswalk: Path | None
    # the printed report's issuing authority (Vietnamese, English); None: the report names none
    authority: tuple[str, str] | None = None
    # the province's own alerts file; None: no recipient, whatever SCOREBOARD_ALERTS says
    alerts: Path | None = None


@dataclass(frozen=True)
class Deployment:
    provinces: dict[str, Province]
    national: Path


def _config_file(value: str, folder: Path, shipped: str) -> Path:
    """A bare file name is one of config/<shipped>/; a path is taken from the provinces file's folder."""
    path = Path(value)
    return config_path(shipped, value) if len(path.parts) == 1 else (folder / path)


def _authority(entry: dict, file: str, slug: str) -> tuple[str, str] | None:
    """`authority: {vi: UBND TỈNH …, en: … PEOPLE'S COMMITTEE}` (the English defaults to the Vietnamese)."""
    given = entry.get("authority")
    if given is None:
        return None
    if not isinstance(given, dict) or not str(given.get("vi") or "").strip():
        raise ValueError(f"{file}: the authority of province {slug} is {{vi: …, en: …}}, not {given!r}")
    vi = str(given["vi"]).strip()
    return vi, str(given.get("en") or vi).strip()


def load_deployment(path: Path | str) -> Deployment:
    """The provinces file (config/provinces.yaml shows its fields)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the provinces file {path} does not exist")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    root = Path(raw.get("root", "data/provinces"))
    provinces = {}
    for slug, entry in (raw.get("provinces") or {}).items():
        lake.province_schema(slug)  # a slug the lake can name a schema by
        if not isinstance(entry, dict) or "registry" not in entry:
            raise ValueError(f"{path.name}: province {slug} names no registry")
        crosswalk, alerts = entry.get("crosswalk"), entry.get("alerts")
        provinces[slug] = Province(
            slug=slug,
            name=str(entry.get("name", slug)),
            registry=_config_file(entry["registry"], path.parent, "registry"),
            landing=Path(entry.get("landing", root / slug / "landing")),
            site=Path(entry.get("site", root / slug / "site")),
            crosswalk=_config_file(crosswalk, path.parent, "registry") if crosswalk else None,
            authority=_authority(entry, path.name, slug),
            alerts=path.parent / alerts if alerts else None,
        )
    if not provinces:
        raise ValueError(f"{path.name} lists no province")
    return Deployment(provinces, Path(raw.get("national", root / "national")))


def registry_authority(provinces_file: Path | str, registry: Path | str) -> tuple[str, str] | None:
    """The authority of the province whose registry is `registry` in the provinces file
    (None when the file does not exist or lists no such province)."""
    if not Path(provinces_file).is_file():
        return None
    wanted = Path(registry).resolve()
    for p in load_deployment(provinces_file).provinces.values():
        if p.registry.resolve() == wanted:
            return p.authority
    return None
