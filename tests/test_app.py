"""The service's skeleton: health, readiness, problem+json errors, OpenAPI, settings."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.main import create_app
from core import db
from core.settings import Settings


def client_for(url: str) -> TestClient:
    settings = Settings(database_url=url, environment="test")
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_readyz_is_ok_at_head(shared_url: str) -> None:
    with client_for(shared_url) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["schema"] == db.head_revision()


def test_readyz_reports_an_old_schema(fresh_db: str) -> None:
    db.downgrade(fresh_db, "base")
    with client_for(fresh_db) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "schema" in response.json()["detail"]


def test_readyz_reports_an_unreachable_database() -> None:
    with client_for("postgresql://nobody:x@127.0.0.1:1/none") as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"] == "de database is niet bereikbaar"


def test_unknown_path_is_a_problem_document(shared_url: str) -> None:
    with client_for(shared_url) as client:
        response = client.get("/bestaat-niet")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404 and body["title"] == "Niet gevonden"
    assert "/bestaat-niet" in body["detail"]


def test_openapi_is_served_at_api(shared_url: str) -> None:
    with client_for(shared_url) as client:
        spec = client.get("/api").json()
    assert spec["openapi"].startswith("3.")
    assert "/readyz" in spec["paths"]


def test_production_refuses_the_embedded_database() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(environment="production", database_url=None)
    with pytest.raises(ValidationError, match="OKAART_API_DATABASE_URL"):
        Settings(environment="production", database_url="postgresql://u:p@db/okaart")
