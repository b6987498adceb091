"""Settings from the environment (prefix ``OKAART_``), validated once at start-up.

Production mode refuses the defaults that are only safe on a developer's laptop, so a
misconfigured deployment fails at start instead of serving police data openly.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: A shorter audit secret could be guessed offline from one published anchor.
AUDIT_KEY_MIN_BYTES = 32


class OidcProvider(BaseModel):
    """One OpenID Connect provider people may sign in with (``OKAART_OIDC_PROVIDERS``, a JSON
    list of these; docs/oidc.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    naam: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$", description="Short name, in the sign-in URL.")
    titel: str = Field(description="What the sign-in button says, e.g. 'Gemeente Groningen (Entra ID)'.")
    issuer: str = Field(description="Issuer URL exactly as the provider's tokens carry it.")
    client_id: str
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = Field(default=None, description="File holding the client secret.")
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    audience: str | None = Field(
        default=None,
        description="Expected 'aud' of access tokens scripts send; unset: no bearer tokens from here.",
    )
    mfa_acr: tuple[str, ...] = Field(default=(), description="acr values that mean a second factor.")
    ververs: bool = Field(default=True, description="Refresh the session with a refresh token.")

    def secret(self) -> str | None:
        """The client secret, from the file when one is named."""
        if self.client_secret_file is not None:
            return self.client_secret_file.read_text(encoding="utf-8").strip()
        return self.client_secret.get_secret_value() if self.client_secret else None


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
        description="Login of a member of the api role. Unset: the embedded cluster's own api login.",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Secret of the audit anchors (HMAC-SHA256), kept outside the database.",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="File holding that secret. Neither set: the embedded cluster's own key file.",
    )
    data_dir: Path = Field(
        default=Path(".okaart"),
        description="Project-local directory for the embedded cluster and its state.",
    )
    pg_bindir: Path | None = Field(default=None, description="PostgreSQL binaries directory.")
    risicobranches: Path | None = Field(
        default=None,
        description="Own mapping of SBI codes and permit types to risk branches (default: the packaged one).",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    statement_timeout_ms: int = 5000
    pool_size: int = 10
    pool_timeout_s: float = Field(
        default=0.5,
        gt=0,
        description="Wait for a pooled connection before a 503; admission control keeps this rare.",
    )
    async_reads: bool = Field(
        default=True,
        description="Read early items pages and uncached tiles on async connections from the "
        "event loop (app/async_reads.py); off: in a worker thread through the engine.",
    )
    admission_slots: int = Field(
        default=0,
        ge=0,
        description="Requests per worker doing database work at once (0: derived from the "
        "database's CPU cores and the workers, see admission_slots_for).",
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Worker processes of this instance sharing the database's cores; the default "
        "admission slots are divided among them (`okaart serve --workers` sets it).",
    )
    database_cores: int = Field(
        default=0,
        ge=0,
        description="CPU cores of the database server, for the default admission slots "
        "(0: this machine's, right for the embedded cluster).",
    )
    admission_queue: int = Field(
        default=64,
        ge=0,
        description="Requests per worker waiting for a slot; beyond it a fast 503. Waiting is "
        "bounded by OKAART_ADMISSION_WAIT_S; the count only bounds memory, and a small one turned "
        "clients that repeat at once into a storm of instant 503s.",
    )
    admission_tile_queue: int = Field(
        default=256,
        ge=0,
        description="Map requests (tiles, TileJSON, styles, tile matrix sets) per worker waiting "
        "for a slot; they go before other requests and are refused only when this line is full.",
    )
    admission_wait_s: float = Field(
        default=0.5, gt=0, lt=1.0, description="Longest wait for a slot before a 503 with Retry-After."
    )
    auth_failures_per_window: int = Field(
        default=30,
        ge=0,
        description="Failed sign-ins (unknown key, bad session) per client address per window "
        "before a 429 (0: no limit); shared by all workers through the database.",
    )
    auth_failure_window_s: int = Field(
        default=60, ge=1, description="Window of that limit, and of the aggregate audit row per address."
    )
    replica_urls: tuple[str, ...] = Field(
        default=(),
        description="Streaming replicas the reads may go to (JSON list of URLs of the api login there; "
        "docs/operations.md). Empty: every read on the primary.",
    )
    replica_max_lag_s: float = Field(
        default=5.0, gt=0, description="A replica further behind than this is skipped (seconds)."
    )
    replica_check_s: float = Field(
        default=1.0,
        gt=0,
        description="How often each worker checks its replicas' health (lag, up or down), in the background.",
    )
    reject_share: float = Field(default=0.05, ge=0.0, le=1.0)
    suppression_k: int = Field(default=10, ge=1)
    log_level: str = "INFO"
    rate_limit_per_minute: int = Field(
        default=1200,
        ge=0,
        description="Sustained requests per key per minute, shared by all workers and replicas (0: off).",
    )
    rate_limit_burst: int = Field(default=300, ge=1, description="Requests a key may send at once.")
    rate_limit_lease: int = Field(
        default=10,
        ge=1,
        description="Requests a worker takes from a key's shared bucket in one round trip (1: exact).",
    )
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="Largest request body accepted.")
    point_bbox_max_km2: float = Field(
        default=100.0, gt=0, description="Largest bbox a point-layer items request may cover."
    )
    tile_cache_mb: int = Field(
        default=64, ge=0, description="Built vector tiles kept in memory per worker (0: none)."
    )
    session_hours: float = Field(default=8.0, gt=0, le=24 * 7, description="Browser session lifetime.")
    basemap_url: str | None = Field(
        default="https://service.pdok.nl/brt/achtergrondkaart/wmts/v2_0/standaard/EPSG:3857/{z}/{x}/{y}.png",
        description="Basemap tile template for maps; empty: no basemap (tests, offline).",
    )
    basemap_attribution: str = Field(
        default="Kaartgegevens © Kadaster (BRT-Achtergrondkaart)",
        description="Attribution shown with the basemap.",
    )
    signin_link_minutes: float = Field(
        default=30.0, gt=0, le=7 * 24 * 60, description="How long a one-time sign-in link can be used."
    )
    public_url: str | None = Field(
        default=None,
        description="Address users reach the service at, for sign-in links. Unset: http://host:port.",
    )

    oidc_providers: tuple[OidcProvider, ...] = Field(
        default=(), description="OpenID Connect providers (JSON list); none: keys and links only."
    )
    toegang: Path | None = Field(
        default=None, description="Own mapping of claims to profiles (default: core/toegang.toml)."
    )

    def slots_per_worker(self) -> int:
        """``OKAART_ADMISSION_SLOTS``, or the rule of :func:`admission_slots_for`."""
        if self.admission_slots:
            return self.admission_slots
        return admission_slots_for(self.database_cores or machine_cores(), self.pool_size, self.workers)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        """Production needs an explicit database, a separate api login and an audit secret
        that is not left to a file next to a database the service does not manage."""
        names = [p.naam for p in self.oidc_providers]
        if len(set(names)) != len(names):
            raise ValueError("OKAART_OIDC_PROVIDERS names a provider twice")
        if self.environment == "production":
            plain = [p.naam for p in self.oidc_providers if not p.issuer.startswith("https://")]
            if plain:
                raise ValueError("production mode needs https issuers; not: " + ", ".join(plain))
            if self.oidc_providers and not self.public_url:
                # Else the return address would follow the Host header of each request.
                raise ValueError("production mode with OKAART_OIDC_PROVIDERS needs OKAART_PUBLIC_URL")
            missing = [
                name
                for name, value in (
                    ("DATABASE_URL", self.database_url),
                    ("OKAART_API_DATABASE_URL", self.api_database_url),
                    ("OKAART_AUDIT_KEY or OKAART_AUDIT_KEY_FILE", self.audit_key or self.audit_key_file),
                )
                if not value
            ]
            if missing:
                raise ValueError("production mode needs " + ", ".join(missing) + " (no embedded database)")
            if self.audit_key_file is not None and not self.audit_key_file.is_file():
                raise ValueError(f"OKAART_AUDIT_KEY_FILE {self.audit_key_file} does not exist")
            if (
                self.audit_key is not None
                and len(self.audit_key.get_secret_value().encode()) < AUDIT_KEY_MIN_BYTES
            ):
                raise ValueError(f"OKAART_AUDIT_KEY is shorter than {AUDIT_KEY_MIN_BYTES} bytes")
        return self


def admission_slots_for(cores: int, pool_size: int, workers: int = 1) -> int:
    """Default requests per worker doing database work at once: two per database core, shared
    by the instance's workers, at most one per pooled connection (and at least one).

    A request's statements are CPU-bound in PostgreSQL, and more of them at once than the
    cores can run do not finish sooner: they share the cores and each takes longer, until
    under twice the saturating load they run into their statement timeouts and goodput falls
    (issue 16: 0.57 of the peak with 10 per worker on 2 cores). Too few leave cores idle
    while a request spends its time outside the database (the key check, the audit commit's
    round trip, the answer's bytes): with one per core, items at 32 clients ran at about 0.7 of
    what 10 gave. Two per core keeps a statement ready for every core while another request is
    outside it. A slot needs a connection, hence the pool size as the cap. Set
    ``OKAART_DATABASE_CORES`` when the database runs on another machine.

    The two per core are the instance's, not each worker's: with two per core in every
    worker, two workers ran four statements per core, and the backends crowded the workers
    off the cores. ``/healthz`` then took up to 60-67 ms under twice the saturating load,
    and items ran at 0.95x MapServer; divided among the workers, 19-22 ms and 1.29x in the
    same benchmarks (docs/decisions.md).
    """
    return max(1, min(2 * cores // workers, pool_size))


def machine_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache to change them."""
    return Settings()
