"""Common base of the service settings: `.env` file, environment, per-user data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from synapse.paths import default_data_dir

MASK = "********"


def env_config(prefix: str) -> SettingsConfigDict:
    """Settings config shared by every service: environment first, then `.env` in the working directory."""
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )


def service_dir(name: str) -> Path:
    """Default data folder of one service under the per-user data directory."""
    return default_data_dir() / name


class ServiceSettings(BaseSettings):
    """Base class of every service's settings."""

    def masked(self) -> dict[str, Any]:
        """The effective values, JSON-ready, with every secret replaced by a mask."""
        out: dict[str, Any] = {}
        for name, value in self:
            if isinstance(value, SecretStr):
                out[name] = MASK if value.get_secret_value() else ""
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        return out
