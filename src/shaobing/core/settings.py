"""Runtime settings read from the environment (prefix ``SHAOBING_``) — never at import time."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".shaobing"


class Settings(BaseSettings):
    """Platform settings; every field can be set as ``SHAOBING_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="SHAOBING_", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    database_url: str | None = None
    timezone: str = "Asia/Shanghai"
    language: str = "zh-CN"
    # Organisation-defined default: how the asset value is derived from C/I/A (see
    # shaobing.assets.valuation for the methods and their sources).
    valuation_method: str = "log2"
    valuation_weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    # Work orders for new findings: one per finding, or one per host (organisation choice).
    workorder_grouping: Literal["finding", "host"] = "finding"
    # Where de-duplication looks for an earlier copy of a finding.
    dedup_scope: Literal["engagement", "client"] = "engagement"
    # The key that encrypts recovered credentials; kept outside the database (J2).
    vault_key_file: Path | None = None
    # nmap's service probe file, loaded as an extra identification database when present.
    nmap_service_probes: Path | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'shaobing.db'}"

    @property
    def tz(self) -> ZoneInfo:
        """The configured time zone as a ZoneInfo."""
        return ZoneInfo(self.timezone)

    @property
    def vault_key_path(self) -> Path:
        """Where the vault key lives (``vault_key_file`` or ``<home>/vault.key``)."""
        return self.vault_key_file or self.home / "vault.key"

    @property
    def log_dir(self) -> Path:
        """Where error logs are written."""
        return self.home / "logs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, created on first use and cached."""
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the CLI's ``--home`` option change the environment)."""
    get_settings.cache_clear()
