"""Where the service keeps its files on each platform."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

APP_NAME = "triz-agent"


def default_data_dir() -> Path:
    """Per-user data directory (e.g. ~/.local/share/triz-agent, %LOCALAPPDATA%\\triz-agent)."""
    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_cache_dir() -> Path:
    """Per-user cache directory for things that can be rebuilt (embedding caches)."""
    return Path(user_cache_dir(APP_NAME, appauthor=False))
