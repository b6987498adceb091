"""Settings from the environment (prefix ``OKAART_``), validated once at start-up.

Production mode refuses the defaults that are only safe on a developer's laptop, so a
misconfigured deployment fails at start instead of serving police data openly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All runtime settings of the service, the CLI and the ingest jobs."""

    model_config = SettingsConfigDict(env_prefix="OKAART_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "OKAART_DATABASE_URL"),
        description="Owner connection (migrations, ingest). Unset: the embedded cluster.",
    )
    api_database_url: str | None = Field(
        default=None,
        description="Login of the read-only api role. Unset: the owner URL with SET ROLE.",
    )
    data_dir: Path = Field(
        default=Path(".okaart"),
        description="Project-local directory for the embedded cluster and its state.",
    )
    pg_bindir: Path | None = Field(default=None, description="PostgreSQL binaries directory.")
    host: str = "127.0.0.1"
    port: int = 8000
    statement_timeout_ms: int = 5000
    pool_size: int = 10
    pool_timeout_s: float = 2.0
    reject_share: float = Field(default=0.05, ge=0.0, le=1.0)
    suppression_k: int = Field(default=10, ge=1)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        """Production needs an explicit database and a separate api login."""
        if self.environment == "production":
            missing = [
                name
                for name, value in (
                    ("DATABASE_URL", self.database_url),
                    ("OKAART_API_DATABASE_URL", self.api_database_url),
                )
                if not value
            ]
            if missing:
                raise ValueError("production mode needs " + ", ".join(missing) + " (no embedded database)")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache to change them."""
    return Settings()
