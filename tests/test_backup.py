"""``okaart backup`` and ``okaart restore``: a populated database of the session's cluster into
a second, fresh cluster (initdb), through the command line as an operator runs it.

After the restore the target's own passwords still work (owner and api login), the service
on it answers an item request with a key made on the source, and ``okaart audit verify``
passes with the source's audit key, anchors included.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from typer.testing import CliRunner

from core import db
from core.backup import BackupError
from core.pgcluster import Cluster
from core.security import create_principal_key
from core.settings import Settings, get_settings
from tests.conftest import TestServer


@pytest.fixture
def source(pg_server: TestServer, demo_engine: Engine) -> Iterator[str]:
    """A populated database: a copy of the demo database."""
    name, url = pg_server.copy_database(str(demo_engine.url.database), "okaart_backup")
    yield url
    pg_server.drop_database(name)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Cluster]:
    """A second cluster, fresh from initdb, as `okaart db start` makes it."""
    cluster = Cluster.at(tmp_path / "doel", fast=True)
    cluster.start()
    yield cluster
    cluster.destroy()


def run(*args: str) -> Any:
    from cli.main import cli

    get_settings.cache_clear()
    return CliRunner().invoke(cli, list(args))


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "X-Doel": "analyse"}


def test_backup_restored_into_a_fresh_cluster_serves_keys_and_verifies(
    source: str, target: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_login: Any
) -> None:
    from app.main import create_app

    audit_key = secrets.token_hex(32)
    owner = create_engine(source)
    with owner.begin() as conn:
        key, _ = create_principal_key(
            conn,
            naam="backup-analist",
            rol="analist",
            organisatie="Gemeente Groningen",
            convenanten=["gemeente"],
            gemeenten=["GM0014"],
            doelen=["analyse"],
        )
    api = db.make_engine(api_login(source))
    with TestClient(create_app(Settings(database_url=source, environment="test"), engine=api)) as client:
        page = client.get(
            "/collections/gebieden/items", params={"soort": "wijk", "limit": 2}, headers=_auth(key)
        )
        assert page.status_code == 200
        feature = page.json()["features"][0]
        before = client.get(f"/collections/gebieden/items/{feature['id']}", headers=_auth(key)).json()
    api.dispose()

    monkeypatch.setenv("DATABASE_URL", source)
    monkeypatch.setenv("OKAART_AUDIT_KEY", audit_key)
    anchored = run("audit", "anchor")
    assert anchored.exit_code == 0, anchored.output
    archive = tmp_path / "okaart-backup.tar"
    made = run("backup", str(archive))
    assert made.exit_code == 0, made.output
    with owner.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    owner.dispose()
    assert f"{rows} auditrijen" in made.output

    # The target: the embedded cluster of another data directory, its own passwords and key.
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("OKAART_AUDIT_KEY")
    monkeypatch.setenv("OKAART_DATA_DIR", str(tmp_path / "doel"))
    restored = run("restore", str(archive))
    assert restored.exit_code == 0, restored.output
    assert "okaart_ingest" in restored.output  # a role the fresh cluster did not have
    assert f"{rows} auditrijen" in restored.output

    # The target's passwords survived: owner and api login log in as before.
    with psycopg.connect(target.dsn()) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (rows,)
    service = create_app(Settings(data_dir=tmp_path / "doel", environment="test", rate_limit_per_minute=0))
    with TestClient(service) as client:
        after = client.get(f"/collections/gebieden/items/{feature['id']}", headers=_auth(key))
        assert after.status_code == 200
        assert after.json()["properties"] == before["properties"]
        assert (
            client.get(
                "/collections/gebieden/items", headers={"Authorization": "Bearer okk_onbekend"}
            ).status_code
            == 401
        )

    # The chain and its anchors verify with the source's key (the backup does not hold it) ...
    monkeypatch.setenv("OKAART_AUDIT_KEY", audit_key)
    verified = run("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "keten intact" in verified.output and re.search(r"[1-9][0-9]* ankers kloppen", verified.output)
    # ... and not with the fresh cluster's own, which never keyed these anchors.
    monkeypatch.delenv("OKAART_AUDIT_KEY")
    assert run("audit", "verify").exit_code == 1

    # A second restore finds the database in use and changes nothing.
    again = run("restore", str(archive))
    assert isinstance(again.exception, BackupError) and "niet leeg" in str(again.exception)


def test_the_audit_key_can_travel_separately_into_the_embedded_cluster(
    source: str, target: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "bron-audit.key"
    key_file.write_text(secrets.token_hex(32) + "\n")
    monkeypatch.setenv("DATABASE_URL", source)
    monkeypatch.setenv("OKAART_AUDIT_KEY_FILE", str(key_file))
    assert run("audit", "anchor").exit_code == 0
    folder = tmp_path / "backup"
    assert run("backup", str(folder)).exit_code == 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["bestanden"]) == {"okaart.dump", "rollen.json"}
    roles = (folder / "rollen.json").read_text()
    assert "okaart_api_login" in roles and "password" not in roles.lower() and "SCRAM" not in roles

    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("OKAART_AUDIT_KEY_FILE")
    monkeypatch.setenv("OKAART_DATA_DIR", str(tmp_path / "doel"))
    restored = run("restore", str(folder), "--auditsleutel", str(key_file))
    assert restored.exit_code == 0, restored.output
    verified = run("audit", "verify")  # the embedded cluster's own key file, now the source's
    assert verified.exit_code == 0, verified.output


def test_a_damaged_backup_is_refused_before_anything_changes(
    source: str, target: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", source)
    folder = tmp_path / "backup"
    assert run("backup", str(folder)).exit_code == 0
    with (folder / "okaart.dump").open("r+b") as dump:
        dump.seek(100)
        dump.write(b"\x00" * 16)
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("OKAART_DATA_DIR", str(tmp_path / "doel"))
    refused = run("restore", str(folder))
    assert isinstance(refused.exception, BackupError) and "beschadigd" in str(refused.exception)
    with psycopg.connect(target.dsn()) as conn:
        assert conn.execute("SELECT to_regclass('audit_log')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'okaart_ingest'").fetchone() == (
            0,
        )
