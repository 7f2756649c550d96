"""Where the pipeline reads and writes, from the environment with sensible defaults."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from config import config_path
from transforms.schema import LOCAL_TZ

DEFAULTS = {
    "SCOREBOARD_LANDING": "data/landing",
    "SCOREBOARD_WAREHOUSE": "data/warehouse.duckdb",
    "SCOREBOARD_SITE": "build/site",
    "SCOREBOARD_REGISTRY": str(config_path("registry", "hanoi.csv")),
    "SCOREBOARD_PROFILE": str(config_path("profiles", "default.yaml")),
    "SCOREBOARD_CALENDAR": str(config_path("calendar", "vn_overlay.csv")),
    # optional: derive a missing due date from legal processing days (config/procedures.csv)
    "SCOREBOARD_CATALOGUE": "",
    # optional (empty: none): old units -> new units, for unit trends across a reform
    "SCOREBOARD_CROSSWALK": str(config_path("registry", "hanoi_crosswalk.csv")),
}


def env_default(name: str) -> str:
    return os.environ.get(name) or DEFAULTS[name]


def mappings_dir(landing: Path) -> Path:
    """Where the per-source mapping files are (README: Per-source mappings):
    SCOREBOARD_MAPPINGS, else the folder `mappings` beside the landing folder."""
    return Path(os.environ.get("SCOREBOARD_MAPPINGS") or Path(landing).parent / "mappings")


def local_now() -> datetime:
    """The moment of ingestion, naive local time; SCOREBOARD_NOW pins it (tests, re-runs)."""
    pinned = os.environ.get("SCOREBOARD_NOW")
    if pinned:
        return datetime.fromisoformat(pinned).replace(tzinfo=None)
    return datetime.now(ZoneInfo(LOCAL_TZ)).replace(tzinfo=None, microsecond=0)


class ScoreboardSettings(dg.ConfigurableResource):
    """Folders and configuration files of one scoreboard deployment."""

    landing_dir: str = DEFAULTS["SCOREBOARD_LANDING"]
    site_dir: str = DEFAULTS["SCOREBOARD_SITE"]
    registry_path: str = DEFAULTS["SCOREBOARD_REGISTRY"]
    profile_path: str = DEFAULTS["SCOREBOARD_PROFILE"]
    calendar_path: str = DEFAULTS["SCOREBOARD_CALENDAR"]
    catalogue_path: str = DEFAULTS["SCOREBOARD_CATALOGUE"]
    crosswalk_path: str = DEFAULTS["SCOREBOARD_CROSSWALK"]

    @classmethod
    def from_env(cls, **overrides: str | None) -> "ScoreboardSettings":
        values = {
            "landing_dir": env_default("SCOREBOARD_LANDING"),
            "site_dir": env_default("SCOREBOARD_SITE"),
            "registry_path": env_default("SCOREBOARD_REGISTRY"),
            "profile_path": env_default("SCOREBOARD_PROFILE"),
            "calendar_path": env_default("SCOREBOARD_CALENDAR"),
            "catalogue_path": os.environ.get("SCOREBOARD_CATALOGUE", ""),
            "crosswalk_path": os.environ.get("SCOREBOARD_CROSSWALK", DEFAULTS["SCOREBOARD_CROSSWALK"]),
        }
        values.update({k: str(v) for k, v in overrides.items() if v is not None})
        return cls(**values)

    def config_versions(self) -> dict:
        """What the numbers are made with, besides the dossiers: profile, registry,
        calendar and software versions (for manifests and re-scoring decisions)."""
        from transforms.calendar import calendar_version
        from transforms.profile import load_profile

        profile = load_profile(self.profile_path)
        registry = Path(self.registry_path)
        try:
            software = version("par-scoreboard")
        except PackageNotFoundError:
            software = "unknown"
        return {
            "software": {"par-scoreboard": software},
            "profile": {"name": profile.name, "version": profile.version, "sha256": profile.digest},
            "registry": {
                "file": registry.name,
                "sha256": hashlib.sha256(registry.read_bytes()).hexdigest()[:12],
            },
            "calendar": calendar_version(Path(self.calendar_path)),
            "catalogue": (
                {
                    "file": Path(self.catalogue_path).name,
                    "sha256": hashlib.sha256(Path(self.catalogue_path).read_bytes()).hexdigest()[:12],
                }
                if self.catalogue_path
                else None
            ),
        }

    def catalogue(self):
        from transforms.classify import load_catalogue

        return load_catalogue(self.catalogue_path) if self.catalogue_path else None

    def crosswalk(self):
        """The crosswalk checked against the registry, or None without one. Not a
        scoring input: it only draws unit trends across a reform on the site.
        The shipped crosswalk goes with the shipped registry only: with another
        registry, name its crosswalk (SCOREBOARD_CROSSWALK) or get none."""
        from transforms.crosswalk import load_crosswalk
        from transforms.units import load_registry

        shipped = DEFAULTS["SCOREBOARD_CROSSWALK"], DEFAULTS["SCOREBOARD_REGISTRY"]
        if not self.crosswalk_path:
            return None
        if Path(self.crosswalk_path).resolve() == Path(shipped[0]).resolve() and (
            Path(self.registry_path).resolve() != Path(shipped[1]).resolve()
        ):
            return None
        return load_crosswalk(self.crosswalk_path, load_registry(self.registry_path))

    def config_fingerprint(self) -> str:
        text = json.dumps(self.config_versions(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)

    @property
    def site(self) -> Path:
        return Path(self.site_dir)


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file. One writer at a time: every step that opens it is in the
    `duckdb_writer` pool (limit 1)."""

    path: str = DEFAULTS["SCOREBOARD_WAREHOUSE"]

    @classmethod
    def from_env(cls, path: str | None = None) -> "Warehouse":
        return cls(path=str(path or env_default("SCOREBOARD_WAREHOUSE")))

    def connect(self, read_only: bool = False):
        from pipelines.warehouse import connect

        return connect(self.path, read_only=read_only)
