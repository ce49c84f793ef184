"""Runtime settings read from the environment (prefix ``SHAOBING_``) — never at import time."""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)
# TCP/UDP port numbers (RFC 793, RFC 768); 0 binds any free port (used by tests).
Port = Annotated[int, Field(ge=0, le=65535)]


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
    # Out-of-band callbacks of templates (docs/oob-callbacks.md): the zone delegated to
    # this host by an NS record; unset, templates that need callbacks are refused.
    oob_domain: str | None = None
    oob_listen: str = "0.0.0.0"  # noqa: S104 - callbacks arrive from the targets' networks
    # Address in the A/AAAA answers; unset: the listen address, or the primary address.
    oob_advertise: str | None = None
    # The standard DNS port (RFC 1035); below 1024 binding needs root.
    oob_dns_port: Port = 53
    # Organisation-defined default: HTTP (80), LDAP (389) and the RMI registry (1099), the
    # ports SSRF and JNDI (Log4j, fastjson) payloads call back to by default.
    oob_tcp_ports: Annotated[list[Port], NoDecode] = Field(default_factory=lambda: [80, 389, 1099])
    # Seconds to wait for callbacks after a request: Nuclei's default cooldown (5 s); the
    # organisation-defined ceiling of 120 s keeps a template run bounded.
    oob_wait: float = Field(default=5.0, ge=0, le=120)
    # The web scanner's SSRF/RFI listener: "auto" binds the address this host uses to reach
    # the target (any free port), "off" disables those two checks, anything else is the
    # address to bind. Organisation-defined default: auto (the target usually reaches the
    # scanner the way the scanner reaches it).
    web_callback: str = "auto"
    web_callback_port: Port = 0
    # Address:port the target must use when NAT or a container hides the bound one.
    web_callback_advertise: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("oob_domain")
    @classmethod
    def _zone_name(cls, value: str | None) -> str | None:
        text = (value or "").strip().rstrip(".").lower()
        if not text:
            return None
        if not _DOMAIN.match(text):
            raise ValueError(f"invalid callback domain {value!r}")
        return text

    @field_validator("oob_listen", "oob_advertise")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        # Sockets bind to, and DNS answers carry, addresses: a host name here is a mistake.
        if value is None or not value.strip():
            return None if value is None else value
        return str(ipaddress.ip_address(value.strip()))

    @field_validator("oob_tcp_ports", mode="before")
    @classmethod
    def _port_list(cls, value: Any) -> Any:
        # The environment gives "80,389,1099" or a JSON list.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
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
