"""Workstation configuration: a TOML file in the user's config folder plus OMNIDESK_* variables."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "omnidesk"


class ConfigError(Exception):
    """The configuration file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    config_file: Path
    profile: str = "staff"
    map_tile_url: str | None = None  # an XYZ tile server for the broadcast map; without it, the offline outlines


KNOWN_KEYS = {"database_url", "data_dir", "profile", "map_tile_url"}
PROFILES = ("staff", "store", "broadcast")


def default_config_file() -> Path:
    return Path(os.environ.get("OMNIDESK_CONFIG") or platformdirs.user_config_path(APP_NAME) / "config.toml")


def default_data_dir() -> Path:
    """The user's data folder; for root, /var/lib/omnidesk.

    The embedded server never runs as root: pgserver runs it as a system user that must be able to
    reach the data folder, and opening /root to other users for that would be worse than this.
    """
    if os.geteuid() == 0:
        return Path("/var/lib") / APP_NAME
    return platformdirs.user_data_path(APP_NAME)


def load_settings(config_file: Path | None = None) -> Settings:
    """Read the config file (if any) and let environment variables override it."""
    path = config_file or default_config_file()
    values: dict = {}
    if path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{path} cannot be read: {exc.strerror}") from exc
        unknown = sorted(set(values) - KNOWN_KEYS)
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_KEYS))}")
        for key in KNOWN_KEYS & set(values):
            if not isinstance(values[key], str):
                raise ConfigError(f"{path}: {key} must be a string")
    database_url = os.environ.get("OMNIDESK_DATABASE_URL") or values.get("database_url") or None
    data_dir = Path(os.environ.get("OMNIDESK_DATA_DIR") or values.get("data_dir") or default_data_dir())
    profile = os.environ.get("OMNIDESK_PROFILE") or values.get("profile") or "staff"
    if profile not in PROFILES:
        raise ConfigError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    if database_url and not database_url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise ConfigError(
            f"database_url must be a PostgreSQL URL such as postgresql+psycopg://user@host/omnidesk, not {database_url!r}"
        )
    map_tile_url = os.environ.get("OMNIDESK_MAP_TILE_URL") or values.get("map_tile_url") or None
    if map_tile_url and not (
        map_tile_url.startswith(("http://", "https://")) and all(p in map_tile_url for p in ("{z}", "{x}", "{y}"))
    ):
        raise ConfigError(
            "map_tile_url must be an http(s) tile URL with {z}, {x} and {y} in it, such as "
            f"https://tiles.example.net/{{z}}/{{x}}/{{y}}.png, not {map_tile_url!r}"
        )
    return Settings(database_url=database_url, data_dir=data_dir.expanduser(), config_file=path, profile=profile,
                    map_tile_url=map_tile_url)
