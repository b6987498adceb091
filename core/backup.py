"""Backup and restore of one okaart database, roles and grants included.

A plain ``pg_dump``/``pg_restore`` into a fresh cluster loses the roles the grants name
(``okaart_api``, ``okaart_ingest``, the service's login), so the restored service cannot log
in or reads nothing; ``pg_dumpall --globals-only`` brings them back but also sets every
password, the target cluster's own owner included. A backup here is therefore three files:

* ``okaart.dump``: ``pg_dump --format=custom`` of the database (data, grants, the audit
  chain as it is: the audit triggers are created after the rows are loaded, so restored rows
  keep their hashes);
* ``rollen.json``: the cluster's roles and memberships, *without passwords*;
* ``manifest.json``: what was backed up (revision, audit rows, checksums of the other two).

:func:`restore` creates the missing roles, brings existing ones to the backed-up attributes
without touching any password (and never the role it connects as), then restores the dump
in one transaction into an empty database. The secret that keys the audit anchors is never
in a backup: it lives outside the database on purpose (docs/operations.md).

A backup is a directory, or one tar file of the same three files when its name ends in
``.tar``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from core import db
from core.pgcluster import ClusterError

DUMP = "okaart.dump"
ROLES = "rollen.json"
MANIFEST = "manifest.json"
FORMAT = 1
#: Role attributes restored as they were (never the password).
ATTRIBUTES = (
    ("rolsuper", "SUPERUSER"),
    ("rolinherit", "INHERIT"),
    ("rolcreaterole", "CREATEROLE"),
    ("rolcreatedb", "CREATEDB"),
    ("rolcanlogin", "LOGIN"),
    ("rolreplication", "REPLICATION"),
    ("rolbypassrls", "BYPASSRLS"),
)
#: The bootstrap superuser of a cluster has this oid; it is the target's own, never changed.
BOOTSTRAP_OID = 10


class BackupError(ClusterError):
    """A backup or restore that cannot go on, as one line for the operator."""


@dataclass
class Manifest:
    database: str
    revisie: str | None
    audit_rijen: int
    gemaakt: str
    bestanden: dict[str, str] = field(default_factory=dict)
    formaat: int = FORMAT


@dataclass
class RestoreReport:
    manifest: Manifest
    rollen_aangemaakt: list[str]
    rollen_bijgewerkt: list[str]
    #: Login roles created without a password: they cannot log in until one is set.
    zonder_wachtwoord: list[str]
    audit_rijen: int
    seconden: float


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for the client programs, and the password for their environment
    (never on a command line other local users can list)."""
    parsed = make_url(url)
    args = [f"--host={parsed.host or '127.0.0.1'}", f"--port={parsed.port or 5432}"]
    if parsed.username:
        args.append(f"--username={parsed.username}")
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return args, env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **env}, check=False, timeout=24 * 3600
    )
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise BackupError(f"{what} mislukt: " + " | ".join(last))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _roles(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """The cluster's own roles (not the predefined ``pg_*`` ones, not the bootstrap superuser)
    and who is a member of what, without passwords."""
    columns = ", ".join(name for name, _ in ATTRIBUTES)
    roles = [
        {
            "naam": row[0],
            **dict(zip([n for n, _ in ATTRIBUTES], row[1:-1], strict=True)),
            "rolconnlimit": row[-1],
        }
        for row in conn.execute(
            f"SELECT rolname, {columns}, rolconnlimit FROM pg_roles"
            " WHERE rolname !~ '^pg_' AND oid <> %s ORDER BY rolname",
            (BOOTSTRAP_OID,),
        )
    ]
    members = [
        {"rol": row[0], "lid": row[1], "admin": row[2]}
        for row in conn.execute(
            "SELECT g.rolname, u.rolname, m.admin_option FROM pg_auth_members m"
            " JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
            " WHERE u.rolname !~ '^pg_' ORDER BY 1, 2"
        )
    ]
    return {"rollen": roles, "lidmaatschappen": members}


def backup(owner_url: str, target: Path, bindir: Path) -> Manifest:
    """Write a backup of the database at ``owner_url`` (a superuser, or a role that may read
    every table and ``pg_roles``) to ``target``: a new directory, or a ``.tar`` file."""
    if target.exists() and (target.is_file() or any(target.iterdir())):
        raise BackupError(f"{target} bestaat al en is niet leeg: kies een nieuwe plek voor de backup")
    args, env = _libpq(owner_url)
    database = str(make_url(owner_url).database)
    with tempfile.TemporaryDirectory(prefix="okaart-backup-") as work:
        folder = Path(work) if target.suffix == ".tar" else target
        folder.mkdir(parents=True, exist_ok=True)
        with psycopg.connect(db.libpq_uri(owner_url), autocommit=True) as conn:
            (folder / ROLES).write_text(json.dumps(_roles(conn), indent=2, ensure_ascii=False) + "\n")
            revision = _scalar(conn, "SELECT version_num FROM alembic_version")
            rows = int(_scalar(conn, "SELECT count(*) FROM audit_log") or 0)
        _run(
            [
                str(bindir / "pg_dump"),
                *args,
                "--format=custom",
                "--no-password",
                f"--file={folder / DUMP}",
                database,
            ],
            env,
            "pg_dump",
        )
        manifest = Manifest(
            database=database,
            revisie=str(revision) if revision is not None else None,
            audit_rijen=rows,
            gemaakt=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            bestanden={name: _sha256(folder / name) for name in (DUMP, ROLES)},
        )
        (folder / MANIFEST).write_text(json.dumps(manifest.__dict__, indent=2) + "\n")
        if target.suffix == ".tar":
            target.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(target, "w") as archive:
                for name in (MANIFEST, ROLES, DUMP):
                    archive.add(folder / name, arcname=name)
    return manifest


def _scalar(conn: psycopg.Connection[Any], query: str) -> Any:
    try:
        row = conn.execute(query).fetchone()
    except psycopg.errors.UndefinedTable as exc:
        raise BackupError(
            f"geen okaart-database ({exc.diag.message_primary}): eerst `okaart db migrate`"
        ) from exc
    return row[0] if row else None


def _unpacked(source: Path, work: Path) -> Path:
    """The folder holding the three files: ``source`` itself, or its tar unpacked into
    ``work`` (only the three names, read as data: no paths from the archive are followed)."""
    if source.is_dir():
        return source
    if not source.is_file() or not tarfile.is_tarfile(source):
        raise BackupError(f"{source} is geen backup (een map of .tar van `okaart backup`)")
    with tarfile.open(source) as archive:
        for name in (MANIFEST, ROLES, DUMP):
            try:
                member = archive.extractfile(name)
            except KeyError:
                member = None
            if member is None:
                raise BackupError(f"{source} mist {name}: geen backup van `okaart backup`")
            with member, (work / name).open("wb") as out:
                shutil.copyfileobj(member, out)
    return work


def read_manifest(folder: Path) -> Manifest:
    """The manifest, after checking that the other files are the ones it names."""
    try:
        data = json.loads((folder / MANIFEST).read_text())
        manifest = Manifest(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise BackupError(f"{folder / MANIFEST} is onleesbaar: geen backup van `okaart backup`") from exc
    if manifest.formaat != FORMAT:
        raise BackupError(f"backupformaat {manifest.formaat} wordt niet ondersteund (verwacht {FORMAT})")
    for name, expected in manifest.bestanden.items():
        path = folder / name
        if not path.is_file() or _sha256(path) != expected:
            raise BackupError(f"{path} ontbreekt of is beschadigd (controlegetal klopt niet)")
    return manifest


def _empty(conn: psycopg.Connection[Any]) -> list[str]:
    """Tables, views and sequences in the target besides PostGIS's own."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        " AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
        " ORDER BY 1 LIMIT 5"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _apply_roles(
    conn: psycopg.Connection[Any], wanted: dict[str, Any]
) -> tuple[list[str], list[str], list[str]]:
    """Create missing roles and align existing ones, passwords untouched; then memberships.

    The role this connection logs in as, and the target's bootstrap superuser, are the
    target's own: they are left exactly as they are.
    """
    own = {
        str(r[0])
        for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE oid = %s OR rolname = current_user", (BOOTSTRAP_OID,)
        )
    }
    existing = {str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles")}
    created, updated, no_password = [], [], []
    for role in wanted["rollen"]:
        name = str(role["naam"])
        if name in own:
            continue
        options = sql.SQL(" ").join(
            sql.SQL(keyword if role[column] else "NO" + keyword) for column, keyword in ATTRIBUTES
        )
        limit = sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(role["rolconnlimit"])))
        verb = "ALTER" if name in existing else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} WITH {} {}").format(sql.Identifier(name), options, limit))
        if verb == "CREATE":
            created.append(name)
            if role["rolcanlogin"]:
                no_password.append(name)
        else:
            updated.append(name)
    present = {str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles")}
    for grant in wanted["lidmaatschappen"]:
        if grant["rol"] in present and grant["lid"] in present:
            conn.execute(
                sql.SQL("GRANT {} TO {}" + (" WITH ADMIN OPTION" if grant["admin"] else "")).format(
                    sql.Identifier(grant["rol"]), sql.Identifier(grant["lid"])
                )
            )
    return created, updated, no_password


def restore(owner_url: str, source: Path, bindir: Path) -> RestoreReport:
    """Restore a backup into the empty database at ``owner_url`` (a superuser of the target).

    All or nothing: the roles in one transaction, the dump in one more (``--single-transaction
    --exit-on-error``); a database that holds anything is refused, so running it twice
    changes nothing the second time.
    """
    started = time.monotonic()
    args, env = _libpq(owner_url)
    database = str(make_url(owner_url).database)
    with tempfile.TemporaryDirectory(prefix="okaart-restore-") as work:
        folder = _unpacked(source, Path(work))
        manifest = read_manifest(folder)
        wanted = json.loads((folder / ROLES).read_text())
        with psycopg.connect(db.libpq_uri(owner_url), autocommit=True) as conn:
            present = _empty(conn)
            if present:
                raise BackupError(
                    f"database {database} is niet leeg ({', '.join(present)}, ...): "
                    "zet een backup alleen terug in een lege database"
                )
            with conn.transaction():
                created, updated, no_password = _apply_roles(conn, wanted)
        _run(
            [
                str(bindir / "pg_restore"),
                *args,
                "--no-password",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={database}",
                str(folder / DUMP),
            ],
            env,
            "pg_restore",
        )
    with psycopg.connect(db.libpq_uri(owner_url), autocommit=True) as conn:
        conn.execute("ANALYZE")  # a restore has no statistics; the map queries need them
        rows = int(_scalar(conn, "SELECT count(*) FROM audit_log") or 0)
    if rows != manifest.audit_rijen:
        raise BackupError(f"audit_log telt {rows} rijen na het terugzetten, de backup {manifest.audit_rijen}")
    return RestoreReport(manifest, created, updated, no_password, rows, time.monotonic() - started)


def dump_size(folder: Path) -> int:
    """Bytes of a backup on disk (a directory or a tar)."""
    if folder.is_file():
        return folder.stat().st_size
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
