"""An embedded, self-managed PostGIS cluster under a project-local directory.

The demo and the tests need a real PostGIS without Docker or a system service. This
module drives the PostgreSQL binaries (initdb, pg_ctl) directly. PostgreSQL refuses to run
as root, so when we are root every server command runs as the ``postgres`` system user in a
directory that user owns. The cluster listens on 127.0.0.1 only, on a free port that is
recorded in a state file, with a generated password (scram-sha-256): another local user
cannot simply connect to the demo's data.

Next to the owner (a superuser) the cluster gets the service's own login, a member of the
``okaart_api`` group role and nothing else, so the web service never holds a connection
that ``RESET ROLE`` could turn back into the superuser; and the secret that keys the audit
anchors, in a file the database server cannot read (as root) and that lives outside the
database in any case.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

SUPERUSER = "okaart"
DEFAULT_DBNAME = "okaart"
#: The read-only group role the migrations grant to, and the service's login in it.
API_ROLE = "okaart_api"
API_LOGIN = "okaart_api_login"
#: The audit anchors' secret, next to the state file.
AUDIT_KEY_NAME = "audit.key"

#: Server settings for a 2-core machine: parallel query makes the small map queries 2-3x
#: slower (docs/architecture.md §10), JIT costs more than it saves on millisecond queries.
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
    "shared_buffers": "256MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "max_connections": "100",
    # A national address load writes gigabytes of WAL; at the default 1 GB PostgreSQL
    # checkpointed every 13 s during it (benchmarks/national.py), writing each page again.
    "max_wal_size": "4GB",
}

#: Throwaway clusters (tests) trade durability for speed.
FAST_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class ClusterError(RuntimeError):
    """A problem with the embedded cluster, phrased as one line for the operator."""


def find_bindir(configured: Path | None = None) -> Path:
    """Locate the PostgreSQL server binaries (initdb, pg_ctl)."""
    candidates: list[Path] = []
    if configured:
        candidates.append(configured)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(debian)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise ClusterError(
        "PostgreSQL server binaries not found: install them with "
        "`apt-get install postgresql postgresql-15-postgis-3` or set OKAART_PG_BINDIR"
    )


def server_major(bindir: Path) -> str:
    """The major version of the server binaries, e.g. ``"15"``."""
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().split()[-1].split(".")[0]


def postgis_installed(bindir: Path) -> bool:
    """True when the PostGIS extension files exist for these server binaries."""
    major = server_major(bindir)
    sharedirs = [Path(f"/usr/share/postgresql/{major}/extension"), bindir.parent / "share"]
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True)
        if out.returncode == 0:
            sharedirs.insert(0, Path(out.stdout.strip()) / "extension")
    return any((d / "postgis.control").exists() for d in sharedirs)


def require_postgis(bindir: Path) -> None:
    """Fail with one line that names the package to install."""
    if not postgis_installed(bindir):
        major = server_major(bindir)
        raise ClusterError(
            f"PostGIS is not installed for PostgreSQL {major}: "
            f"run `apt-get install postgresql-{major}-postgis-3` as root"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def ensure_api_login(conn: psycopg.Connection[Any], password: str, login: str = API_LOGIN) -> None:
    """Create (or bring back into line) the service's login: LOGIN, a member of the api role
    only, none of the attributes that reach beyond it.

    The group role is created here too when the migrations have not run yet (they create
    it the same way, if missing). Any other membership the login has gained is revoked: a
    membership is what ``SET ROLE`` could climb to. Needs a superuser or CREATEROLE.
    """
    conn.execute(
        sql.SQL(
            "DO $$ BEGIN CREATE ROLE {} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ).format(sql.Identifier(API_ROLE))
    )
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
    conn.execute(
        sql.SQL(
            "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
            " PASSWORD {}"
        ).format(sql.SQL("ALTER" if exists else "CREATE"), sql.Identifier(login), sql.Literal(password))
    )
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(API_ROLE), sql.Identifier(login)))
    others = conn.execute(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
        " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s AND g.rolname <> %s",
        (login, API_ROLE),
    ).fetchall()
    for (group,) in others:
        conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(str(group)), sql.Identifier(login)))


def _is_root() -> bool:
    return os.geteuid() == 0


def _postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ClusterError(
            "running as root needs the `postgres` system user: run `apt-get install postgresql` as root"
        ) from exc


def _accessible_by_postgres(path: Path) -> bool:
    """Can the postgres user create files at path (creating missing parents as root)?"""
    path.mkdir(parents=True, exist_ok=True)
    user = _postgres_user()
    os.chown(path, user.pw_uid, user.pw_gid)
    probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(path)], check=False)
    return probe.returncode == 0


@dataclass
class Cluster:
    """One PostgreSQL cluster in ``root`` (data directory, log and state file)."""

    root: Path
    bindir: Path
    fast: bool = False

    @classmethod
    def at(cls, data_dir: Path, bindir: Path | None = None, *, fast: bool = False) -> Cluster:
        """The cluster for a project data directory.

        As root, the cluster must live where the postgres user can write; when the project
        directory is not reachable for it (a checkout under /root, say), a directory in the
        system temp dir, derived from the project path, takes its place.
        """
        found = find_bindir(bindir)
        root = (data_dir / "pg").resolve()
        if _is_root() and not _accessible_by_postgres(root):
            digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
            root = Path(tempfile.gettempdir()) / f"okaart-{digest}" / "pg"
            if not _accessible_by_postgres(root):
                raise ClusterError(f"the postgres user cannot write to {root}")
        return cls(root=root, bindir=found, fast=fast)

    # -- paths and state ----------------------------------------------------------------
    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    @property
    def statefile(self) -> Path:
        return self.root / "cluster.json"

    def state(self) -> dict[str, str | int]:
        if not self.statefile.exists():
            return {}
        data: dict[str, str | int] = json.loads(self.statefile.read_text())
        return data

    def _write_state(self, state: dict[str, str | int]) -> None:
        tmp = self.statefile.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.statefile)

    @property
    def audit_key_file(self) -> Path:
        return self.root / AUDIT_KEY_NAME

    @property
    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    # -- commands -------------------------------------------------------------------------
    def _as_owner(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if _is_root() else cmd

    def _run(
        self, cmd: list[str], timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._as_owner(cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **env} if env else None,
        )

    def _give_to_owner(self, path: Path) -> None:
        if _is_root():
            user = _postgres_user()
            os.chown(path, user.pw_uid, user.pw_gid)

    def init(self) -> None:
        """Create the cluster once (idempotent)."""
        require_postgis(self.bindir)
        if self.initialised:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self._give_to_owner(self.root)
        password = secrets.token_urlsafe(24)
        pwfile = self.root / "pwfile"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self._give_to_owner(pwfile)
        try:
            result = self._run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    str(pwfile),
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(self.datadir, ignore_errors=True)
            last = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise ClusterError("initdb failed: " + " ".join(last))
        settings = dict(SERVER_SETTINGS)
        if self.fast:
            settings.update(FAST_SETTINGS)
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write("\n# okaart embedded cluster\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")
        self._write_state({"port": free_port(), "password": password, "user": SUPERUSER})
        self._give_to_owner(self.statefile)

    def init_standby(self, primary_dsn: str) -> None:
        """Make this cluster a streaming standby of a running primary (idempotent).

        ``pg_basebackup -R`` from the same binaries copies the primary's data directory while
        it runs and writes the connection back to it (``primary_conninfo``, ``standby.signal``),
        so :meth:`start_server` then starts a hot standby that replays the primary's WAL. The
        roles and their passwords are the primary's: a standby is a copy, not a cluster of its
        own. ``primary_dsn`` names a role with REPLICATION (the owner of an embedded cluster).
        """
        if self.initialised:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self._give_to_owner(self.root)
        params = dict(part.split("=", 1) for part in primary_dsn.split())
        password = params.pop("password", "")
        # The password goes by environment, not on a command line other users can list.
        result = self._run(
            [
                str(self.bindir / "pg_basebackup"),
                "--pgdata",
                str(self.datadir),
                "--write-recovery-conf",
                "--wal-method=stream",
                "--checkpoint=fast",
                "--no-password",
                "--dbname",
                " ".join(f"{k}={v}" for k, v in params.items()),
            ],
            timeout=600,
            env={"PGPASSWORD": password},
        )
        if result.returncode != 0:
            shutil.rmtree(self.datadir, ignore_errors=True)
            last = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise ClusterError("pg_basebackup failed: " + " ".join(last))
        self._write_state({"port": free_port(), "password": password, "user": params["user"]})
        self._give_to_owner(self.statefile)

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.datadir / "postmaster.pid").read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        return int(first) if first.strip().isdigit() else None

    def _clear_stale_pidfile(self) -> None:
        """Remove postmaster.pid when its process is gone or a zombie.

        A postmaster killed with SIGKILL in a container whose init does not reap orphans
        stays a zombie: kill(pid, 0) still succeeds, so both pg_ctl and the new postmaster
        would believe it runs. A zombie holds no resources, so its pid file is stale.
        """
        pid = self._postmaster_pid()
        if pid is None:
            return
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            alive = stat.rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            alive = False
        if not alive:
            (self.datadir / "postmaster.pid").unlink(missing_ok=True)

    def running(self) -> bool:
        if not self.initialised:
            return False
        self._clear_stale_pidfile()
        result = self._run([str(self.bindir / "pg_ctl"), "status", "-D", str(self.datadir)])
        return result.returncode == 0

    def start(self, dbname: str = DEFAULT_DBNAME) -> None:
        """Start (initialising first if needed) and make sure ``dbname`` has PostGIS.

        Idempotent. After a killed postmaster, pg_ctl sees the stale pid file and starts
        anyway; leftover backends may hold the old shared memory for a moment, so a failed
        start is retried for a few seconds before it is reported.
        """
        self.init()
        self.start_server()
        self.ensure_database(dbname)
        self.ensure_api_login()
        self.ensure_audit_key()

    def start_server(self) -> None:
        """Start the server of an initialised cluster (idempotent), nothing more: a standby
        cannot take the database and role set-up that :meth:`start` adds."""
        if not self.running():
            state = self.state()
            port = int(state["port"])
            if port_in_use(port):
                port = free_port()
                state["port"] = port
                self._write_state(state)
            deadline = time.monotonic() + 20
            while True:
                result = self._run(
                    [
                        str(self.bindir / "pg_ctl"),
                        "start",
                        "-D",
                        str(self.datadir),
                        "-l",
                        str(self.logfile),
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        f"-p {port}",
                    ]
                )
                if result.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise ClusterError(f"pg_ctl start failed; see {self.logfile}: {self._log_tail()}")
                time.sleep(1)

    def _log_tail(self) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return lines[-1] if lines else "(empty log)"

    def stop(self) -> None:
        if self.running():
            result = self._run(
                [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast", "-w"]
            )
            if result.returncode != 0:
                raise ClusterError("pg_ctl stop failed: " + result.stderr.strip())

    def destroy(self) -> None:
        """Stop and remove the cluster's files (throwaway test clusters)."""
        with contextlib.suppress(ClusterError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- connections ------------------------------------------------------------------------
    def dsn(self, dbname: str = DEFAULT_DBNAME) -> str:
        """A libpq connection string (psycopg) for the superuser."""
        state = self.state()
        return (
            f"host=127.0.0.1 port={state['port']} user={state['user']} "
            f"password={state['password']} dbname={dbname}"
        )

    def url(self, dbname: str = DEFAULT_DBNAME) -> str:
        """A SQLAlchemy URL for the superuser."""
        state = self.state()
        password = quote(str(state["password"]), safe="")
        return f"postgresql+psycopg://{state['user']}:{password}@127.0.0.1:{state['port']}/{dbname}"

    def _connect_admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """Connect to the maintenance database, waiting briefly for a starting server."""
        deadline = time.monotonic() + 15
        while True:
            try:
                return psycopg.connect(self.dsn("postgres"), autocommit=True, connect_timeout=5)
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(f"the database does not accept connections: {exc}") from exc
                time.sleep(0.3)

    def ensure_database(self, dbname: str) -> None:
        with self._connect_admin() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def ensure_api_login(self) -> None:
        """The service's login, with a password generated once and kept in the state file."""
        state = self.state()
        password = str(state.get("api_password") or "")
        if not password:
            password = secrets.token_urlsafe(24)
            self._write_state({**state, "api_password": password})
        with self._connect_admin() as conn:
            ensure_api_login(conn, password)

    def ensure_audit_key(self) -> Path:
        """Create the audit anchors' secret once (mode 0600, created exclusively).

        It belongs to whoever runs ``okaart``: as root, the database server (user
        ``postgres``) cannot read it, so not even a database superuser reading files
        through the server can learn it. As an ordinary user server and file share an
        owner; that is a developer's setup, and production takes the secret from
        OKAART_AUDIT_KEY or OKAART_AUDIT_KEY_FILE instead.
        """
        path = self.audit_key_file
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        return path

    def api_url(self, dbname: str = DEFAULT_DBNAME) -> str:
        """A SQLAlchemy URL for the service's own login (see :func:`ensure_api_login`)."""
        state = self.state()
        if not state.get("api_password"):
            raise ClusterError("the embedded database has no api login yet: run `okaart db start`")
        password = quote(str(state["api_password"]), safe="")
        return f"postgresql+psycopg://{API_LOGIN}:{password}@127.0.0.1:{state['port']}/{dbname}"

    def status(self) -> dict[str, str | int | bool]:
        state = self.state()
        return {
            "root": str(self.root),
            "initialised": self.initialised,
            "running": self.running(),
            "port": state.get("port", ""),
        }
