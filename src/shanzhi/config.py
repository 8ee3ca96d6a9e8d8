"""Settings from the environment (SHANZHI_*), with defaults that make a checkout just work."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHANZHI_", extra="ignore")

    data_dir: Path = Field(default=Path("./shanzhi-data"), description="where SQLite and files live")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite in data_dir"
    )
    secret_key: str = Field(
        default="dev-only-insecure-secret-change-me",
        description="signs cookies and derives encryption keys; set it in production",
    )
    tile_url: str | None = Field(
        default=None,
        description="an XYZ tile URL for the map background, e.g. http://tiles.intranet/{z}/{x}/{y}.png;"
        " without one the map draws polygons on a plain background",
    )
    tile_attribution: str = ""
    pii_keys: str | None = Field(
        default=None,
        description="keys for all personal data (users, reporters, contacts, grid people, residents), newest first: 'k2:secret2,k1:secret1';"
        " new writes use the first, reads use the key id stored with each value (rotation:"
        " `shanzhi pii rotate-keys`); unset: one key 'k0' derived from secret_key",
    )
    policy_dir: Path | None = Field(
        default=None, description="a district's own policy files, overriding the shipped defaults"
    )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'shanzhi.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
