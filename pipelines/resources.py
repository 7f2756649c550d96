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
from dashboards.cache import code_version
from transforms.profile import DEFAULT_PROFILE_PATH
from transforms.schema import LOCAL_TZ

DEFAULTS = {
    "SCOREBOARD_LANDING": "data/landing",
    "SCOREBOARD_WAREHOUSE": "data/warehouse.duckdb",
    "SCOREBOARD_SITE": "build/site",
    "SCOREBOARD_REGISTRY": str(config_path("registry", "hanoi.csv")),
    "SCOREBOARD_PROFILE": str(DEFAULT_PROFILE_PATH),
    "SCOREBOARD_CALENDAR": str(config_path("calendar", "vn_overlay.csv")),
    # thresholds of the quality rules (an office's file only names what it changes:
    # the shipped config/quality.yaml gives the rest)
    "SCOREBOARD_QUALITY": str(config_path("quality.yaml")),
    # alert rules, recipients and relay (the same: over the shipped config/alerts.yaml)
    "SCOREBOARD_ALERTS": str(config_path("alerts.yaml")),
    # reconciliation with the national portal (over the shipped config/reconcile.yaml)
    "SCOREBOARD_RECONCILE": str(config_path("reconcile.yaml")),
    # the national portal's fields -> our groups (a whole mapping, not merged)
    "SCOREBOARD_PORTAL_FIELDS": str(config_path("portal_fields.csv")),
    # export headers -> canonical fields
    "SCOREBOARD_ALIASES": str(config_path("header_aliases.csv")),
    # optional: derive a missing due date from legal processing days (config/procedures.csv)
    "SCOREBOARD_CATALOGUE": "",
    # optional (empty: none): old units -> new units, for unit trends across a reform
    "SCOREBOARD_CROSSWALK": str(config_path("registry", "hanoi_crosswalk.csv")),
    # where the CLI records its runs when DAGSTER_HOME is not set (empty: in memory only)
    "SCOREBOARD_DAGSTER_HOME": "dagster_home",
    # raw exports, once ingested, wait here this many days, then are deleted
    # (empty: the folder `archive` beside the landing folder)
    "SCOREBOARD_ARCHIVE": "",
    "SCOREBOARD_RETENTION_DAYS": "90",
    # the provinces of a lake deployment (pipelines/deployment.py); one city's run reads
    # its registry's authority there
    "SCOREBOARD_PROVINCES": str(config_path("provinces.yaml")),
}
TRUE = ("1", "true", "yes", "on")
# What makes a period's numbers besides its inputs: the scoring assets' module, the
# warehouse's SQL that feeds it, and every module of ours they import; and the
# libraries that compute. A change to any of them scores every period again at the
# next run (config_fingerprint), as a new profile does.
SCORING_CODE = ("pipelines.scoring", "pipelines.warehouse")
SCORING_LIBRARIES = ("polars", "duckdb")


def env_default(name: str) -> str:
    return os.environ.get(name) or DEFAULTS[name]


def mappings_dir(landing: Path, configured: str = "") -> Path:
    """Where the per-source mapping files are (README: Per-source mappings): the
    configured folder, else the folder `mappings` beside the landing folder."""
    return Path(configured) if configured else Path(landing).parent / "mappings"


def local_now() -> datetime:
    """The moment of ingestion, naive local time; SCOREBOARD_NOW pins it (tests, re-runs):
    local time, or any time with its offset (2026-11-22T02:00:00Z is 09:00 here)."""
    pinned = os.environ.get("SCOREBOARD_NOW")
    if pinned:
        try:
            moment = datetime.fromisoformat(pinned)
        except ValueError:
            raise ValueError(
                f"SCOREBOARD_NOW={pinned!r} is not a date and time such as 2026-11-22T09:00:00 (local) "
                "or 2026-11-22T02:00:00Z"
            ) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(LOCAL_TZ))
        return moment.replace(tzinfo=None)
    return datetime.now(ZoneInfo(LOCAL_TZ)).replace(tzinfo=None, microsecond=0)


class ScoreboardSettings(dg.ConfigurableResource):
    """Folders and configuration files of one scoreboard deployment: the one place
    the pipeline learns where its configuration is (each from an environment
    variable, SCOREBOARD_*, or the shipped file)."""

    landing_dir: str = DEFAULTS["SCOREBOARD_LANDING"]
    site_dir: str = DEFAULTS["SCOREBOARD_SITE"]
    registry_path: str = DEFAULTS["SCOREBOARD_REGISTRY"]
    profile_path: str = DEFAULTS["SCOREBOARD_PROFILE"]
    calendar_path: str = DEFAULTS["SCOREBOARD_CALENDAR"]
    catalogue_path: str = DEFAULTS["SCOREBOARD_CATALOGUE"]
    crosswalk_path: str = DEFAULTS["SCOREBOARD_CROSSWALK"]
    quality_path: str = DEFAULTS["SCOREBOARD_QUALITY"]
    aliases_path: str = DEFAULTS["SCOREBOARD_ALIASES"]
    alerts_path: str = DEFAULTS["SCOREBOARD_ALERTS"]
    reconcile_path: str = DEFAULTS["SCOREBOARD_RECONCILE"]
    portal_fields_path: str = DEFAULTS["SCOREBOARD_PORTAL_FIELDS"]
    # the SMTP relay's host, port and user (empty: the alerts file's); its password
    # is never a setting (pipelines/delivery.py reads SCOREBOARD_SMTP_PASSWORD)
    smtp_host: str = ""
    smtp_port: str = ""
    smtp_user: str = ""
    # the vendors' per-source mapping files (empty: `mappings` beside the landing folder)
    mappings_path: str = ""
    # raw exports: moved here once ingested (empty: `archive` beside the landing
    # folder), deleted `retention_days` days later (pipelines/retention.py)
    archive_path: str = DEFAULTS["SCOREBOARD_ARCHIVE"]
    retention_days: int = int(DEFAULTS["SCOREBOARD_RETENTION_DAYS"])
    # publish to the draft site beside the public one; `scoreboard approve` makes it public
    draft: bool = False
    # the provinces file, and the authority that issues the printed report (Vietnamese,
    # English; empty: the entry of the registry in the provinces file: report_authority)
    provinces_path: str = DEFAULTS["SCOREBOARD_PROVINCES"]
    authority: str = ""
    authority_en: str = ""

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
            "quality_path": env_default("SCOREBOARD_QUALITY"),
            "aliases_path": env_default("SCOREBOARD_ALIASES"),
            "alerts_path": env_default("SCOREBOARD_ALERTS"),
            "reconcile_path": env_default("SCOREBOARD_RECONCILE"),
            "portal_fields_path": env_default("SCOREBOARD_PORTAL_FIELDS"),
            "smtp_host": os.environ.get("SCOREBOARD_SMTP_HOST", ""),
            "smtp_port": os.environ.get("SCOREBOARD_SMTP_PORT", ""),
            "smtp_user": os.environ.get("SCOREBOARD_SMTP_USER", ""),
            "mappings_path": os.environ.get("SCOREBOARD_MAPPINGS", ""),
            "archive_path": os.environ.get("SCOREBOARD_ARCHIVE", ""),
            "retention_days": retention_days(env_default("SCOREBOARD_RETENTION_DAYS")),
            "draft": os.environ.get("SCOREBOARD_DRAFT", "").strip().lower() in TRUE,
            "provinces_path": env_default("SCOREBOARD_PROVINCES"),
        }
        values.update({k: v if isinstance(v, (bool, int)) else str(v) for k, v in overrides.items() if v is not None})
        return cls(**values)

    def profile(self):
        """The scoring profile and its catalogue of groups and indicators."""
        from transforms.profile import load_profile

        return load_profile(self.profile_path)

    def quality_config(self) -> dict:
        """The quality thresholds: the deployment's file over the shipped one."""
        from quality.settings import load_quality_config

        return load_quality_config(Path(self.quality_path))

    def alert_config(self) -> dict:
        """Alert rules, recipients and relay: the deployment's file over the shipped one,
        the relay's host, port and user replaced by the settings that name them."""
        from transforms.alerts import load_alert_config

        smtp = {"host": self.smtp_host, "port": self.smtp_port, "username": self.smtp_user}
        return load_alert_config(Path(self.alerts_path), smtp=smtp)

    def report_authority(self) -> tuple[str, str] | None:
        """Who issues the printed report, in Vietnamese and English: the settings' own, else
        the authority of the registry's province in the provinces file (the shipped Hà Nội
        registry: UBND THÀNH PHỐ HÀ NỘI); None where neither names one."""
        from pipelines.deployment import registry_authority

        if self.authority:
            return self.authority, self.authority_en or self.authority
        return registry_authority(self.provinces_path, self.registry_path)

    def reconcile_settings(self):
        """How reconciliation explains gaps: the deployment's file over the shipped one."""
        from transforms.reconcile import load_reconcile_settings

        return load_reconcile_settings(Path(self.reconcile_path))

    def portal_fields(self):
        """The national portal's fields and what each means (transforms.reconcile.FieldMap)."""
        from transforms.reconcile import load_field_map

        return load_field_map(Path(self.portal_fields_path))

    def aliases(self) -> Path:
        """The header alias table the reader applies over the shipped one (the shipped
        one itself by default)."""
        path = Path(self.aliases_path)
        if not path.is_file():
            raise FileNotFoundError(f"the header aliases {self.aliases_path} do not exist")
        return path

    def mappings(self) -> Path:
        """The folder of the vendors' per-source mapping files."""
        return mappings_dir(self.landing, self.mappings_path)

    def config_versions(self) -> dict:
        """What the numbers are made with, besides the dossiers: profile, registry,
        calendar, quality thresholds, header aliases and software versions (for
        manifests and re-scoring decisions)."""
        from transforms.calendar import calendar_version

        profile = self.profile()
        registry = Path(self.registry_path)
        try:
            software = version("par-scoreboard")
        except PackageNotFoundError:
            software = "unknown"
        return {
            "software": {"par-scoreboard": software},
            # the version names a release; the code's digest changes with any change to
            # how numbers are made, released or not
            "scoring_code": code_version(SCORING_CODE, SCORING_LIBRARIES),
            "profile": {"name": profile.name, "version": profile.version, "sha256": profile.digest},
            "registry": {
                "file": registry.name,
                "sha256": hashlib.sha256(registry.read_bytes()).hexdigest()[:12],
            },
            "calendar": calendar_version(Path(self.calendar_path)),
            "quality": _file_version(Path(self.quality_path)),
            "aliases": _file_version(Path(self.aliases_path)),
            # a vendor's mapping decides how its files read
            "mappings": [_file_version(p) for p in sorted(self.mappings().glob("*")) if p.is_file()]
            if self.mappings().is_dir() else [],
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
        """Changes when what scores a period changes: a period scored with another
        fingerprint is scored again. (The header aliases only change how files are
        read: a file read again is re-scored through the periods it changes.)"""
        versions = {k: v for k, v in self.config_versions().items() if k != "aliases"}
        text = json.dumps(versions, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)

    @property
    def site(self) -> Path:
        return Path(self.site_dir)

    @property
    def draft_site(self) -> Path:
        """Where a draft publication goes: `<site>-draft` beside the public site."""
        site = Path(self.site_dir)
        return site.with_name(f"{site.name}-draft")

    @property
    def archive(self) -> Path:
        """Where ingested raw exports wait until their retention runs out."""
        return Path(self.archive_path) if self.archive_path else self.landing.parent / "archive"


def retention_days(text: str) -> int:
    """SCOREBOARD_RETENTION_DAYS: a whole number of days, 0 or more."""
    try:
        days = int(text.strip())
    except ValueError:
        days = -1
    if days < 0:
        raise ValueError(f"SCOREBOARD_RETENTION_DAYS={text!r} is not a number of days (0 or more)")
    return days


def _file_version(path: Path) -> dict:
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:12]}


# The Dagster pool of every step that opens the DuckDB file (limit 1: dagster_home/dagster.yaml)
WRITER_POOL = "duckdb_writer"


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file (one writer at a time: every step that opens it is in the
    `duckdb_writer` pool, limit 1), or with ``ducklake:<catalog>`` one province's tables
    in the lake (pipelines/lake.py: one writer per province)."""

    path: str = DEFAULTS["SCOREBOARD_WAREHOUSE"]
    # the lake only: the province whose tables a run writes, and the data files' folder or URL
    province: str = ""
    lake_data: str = ""

    @classmethod
    def from_env(cls, path: str | None = None, province: str | None = None) -> "Warehouse":
        return cls(
            path=str(path or env_default("SCOREBOARD_WAREHOUSE")),
            province=province or os.environ.get("SCOREBOARD_PROVINCE", ""),
            lake_data=os.environ.get("SCOREBOARD_LAKE_DATA", ""),
        )

    def connect(self, read_only: bool = False):
        from pipelines.warehouse import connect

        return connect(self.path, read_only=read_only, province=self.province, lake_data=self.lake_data)
