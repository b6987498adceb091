"""Database URLs, engines and migrations.

Two kinds of connection: the *owner* (migrations, ingest, admin commands) and the *api*
connection the web service reads through. The api connection logs in as a member of the
``okaart_api`` role, whose grants are the last line of access control (pg_featureserv's
idea): a mistake in Python cannot make the service write a source table or rewrite the
audit trail. It is a login of its own (OKAART_API_DATABASE_URL, or the embedded cluster's
``okaart_api_login``), not the owner with ``SET ROLE``: a ``RESET ROLE`` smuggled into a
query would give the owner back.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Row, create_engine, event, text
from sqlalchemy.engine import make_url

from core.pgcluster import API_ROLE, Cluster, ClusterError
from core.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("okaart.db")
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver whatever scheme the operator wrote."""
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq_uri(url: str) -> str:
    """A SQLAlchemy URL as a libpq URI with its password, for psycopg or a PostgreSQL tool
    outside an engine's pool (a LISTEN connection, pg_dump)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def embedded_cluster(settings: Settings) -> Cluster:
    """The project's own cluster, as configured."""
    return Cluster.at(settings.data_dir, settings.pg_bindir)


def owner_url(settings: Settings) -> str:
    """The owner connection: DATABASE_URL, else the embedded cluster (which must be started)."""
    if settings.database_url:
        return normalise_url(settings.database_url)
    cluster = embedded_cluster(settings)
    if not cluster.initialised or not cluster.state():
        raise ClusterError("the embedded database does not exist yet: run `okaart db start`")
    return cluster.url()


@dataclass(frozen=True)
class Session:
    """How a connection of the service is set up: its role and its statement timeout."""

    role: str | None
    statement_timeout_ms: int | None

    def statements(self, plans: str = "force_custom_plan") -> tuple[str, ...]:
        """What the connection runs first: its role, its statement timeout, its name in
        ``pg_stat_activity`` and its ``plan_cache_mode``.

        Custom plans by default: psycopg prepares a statement after five runs, and
        PostgreSQL may then switch to a generic plan, blind to the bound values: for a bbox
        over the indicator view that plan took 600 ms where the custom one takes 6 ms.
        Planning each run costs far less than that risk. Only connections kept for
        statements that are safe on a generic plan ask for one (app/async_reads.py)."""
        statements = [f'SET ROLE "{self.role}"'] if self.role else []
        if self.statement_timeout_ms:
            statements.append(f"SET statement_timeout = {int(self.statement_timeout_ms)}")
        statements.append("SET application_name = 'okaart'")
        statements.append(f"SET plan_cache_mode = {plans}")
        return tuple(statements)


#: How each engine of :func:`make_engine` sets up its connections, for code that opens
#: connections of its own to the same database as the same role (app/async_reads.py).
_SESSIONS: weakref.WeakKeyDictionary[Engine, Session] = weakref.WeakKeyDictionary()


def session_of(engine: Engine) -> Session | None:
    """How ``engine``'s connections are set up; None: not an engine of :func:`make_engine`
    (its set-up is unknown)."""
    return _SESSIONS.get(engine)


def make_engine(
    url: str,
    *,
    role: str | None = None,
    statement_timeout_ms: int | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine whose every connection runs as ``role`` with a statement timeout."""
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(normalise_url(url), **kwargs)
    session = _SESSIONS[engine] = Session(role, statement_timeout_ms)
    statements = session.statements()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        dbapi_conn.commit()

    return engine


def one_row(engine: Engine, sql: str, params: dict[str, Any]) -> Row[Any]:
    """A one-row statement in autocommit: it commits as it ends, in its one round trip (a
    read together with its audit row, app/audit.py)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return conn.execute(text(sql), params).one()


def api_url(settings: Settings) -> tuple[str, str | None]:
    """Where the service logs in, and the role to ``SET`` there (None: the login is it).

    OKAART_API_DATABASE_URL, else the embedded cluster's own api login. Only an external
    DATABASE_URL without an api login (development, tests; production refuses it) falls
    back to the owner with ``SET ROLE``, which limits mistakes but not a hostile query.
    """
    if settings.api_database_url:
        return normalise_url(settings.api_database_url), None
    if not settings.database_url:
        owner_url(settings)  # the same one-line error when the cluster is not there yet
        return embedded_cluster(settings).api_url(), None
    log.warning("no OKAART_API_DATABASE_URL: the service reads as the owner with SET ROLE %s", API_ROLE)
    return owner_url(settings), API_ROLE


def api_engine(settings: Settings) -> Engine:
    """The service's read engine, limited to the api role."""
    url, role = api_url(settings)
    return make_engine(
        url,
        role=role,
        statement_timeout_ms=settings.statement_timeout_ms,
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_timeout=settings.pool_timeout_s,
        # An unreachable host fails a request in 2 s, not after the kernel's TCP timeout.
        connect_args={"connect_timeout": 2},
        # A ping is a round trip per request (a tenth of a small tile's cost); recycling
        # connections and the error handler's 503 cover a restarted database instead.
        pool_pre_ping=False,
        pool_recycle=600,
    )


def alembic_config(url: str) -> Config:
    """An Alembic configuration built in code, so no ini file needs to be found.

    Alembic is imported where it is used: it costs 0.4 s of every command's start-up, and
    only migrations need it.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Downgrade the database to ``revision`` (``base`` removes the whole schema)."""
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest migration in the code."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("postgresql://localhost/x"))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ping(engine: Engine) -> None:
    """Raise when the database does not answer."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
