"""Browser sign-in: key or one-time link for a session cookie, sign-out, expiry, no open redirect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from core import sessions
from core.security import hash_key
from core.sessions import SESSION_COOKIE

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def browser(demo_app: Any) -> Iterator[TestClient]:
    """A client of its own (own cookie jar) on localhost, where the cookie is not Secure."""
    with TestClient(demo_app, base_url="http://localhost", raise_server_exceptions=False) as c:
        yield c


def _key_id(engine: Engine, key: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT id FROM api_key WHERE hash = :h"), {"h": hash_key(key)}).scalar_one()
        )


def _link(engine: Engine, key: str, volgende: str = "/kaart") -> str:
    with engine.begin() as conn:
        return sessions.create_link(conn, _key_id(engine, key), volgende)


def _sign_in(client: TestClient, key: str, next_path: str = "/kaart") -> Any:
    return client.post(
        "/aanmelden", data={"sleutel": key, "next": next_path}, headers=HTML, follow_redirects=False
    )


def test_a_key_in_the_form_becomes_a_session_cookie(browser: TestClient, api_keys: dict[str, str]) -> None:
    r = _sign_in(browser, api_keys["analist"], "/kaart?soort=wijk")
    assert r.status_code == 303
    assert r.headers["location"] == "/kaart?soort=wijk"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert api_keys["analist"] not in cookie
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=28800"):
        assert attribute in cookie
    assert "Secure" not in cookie  # localhost
    assert browser.get("/collections").status_code == 200
    page = browser.get("/kaart", headers=HTML)
    assert page.status_code == 200 and "test-analist" in page.text


def test_the_cookie_is_secure_off_localhost(demo_app: Any, api_keys: dict[str, str]) -> None:
    with TestClient(demo_app, base_url="https://kaart.example.nl") as c:
        r = _sign_in(c, api_keys["planner"])
    assert "Secure" in r.headers["set-cookie"]


def test_a_wrong_key_is_refused_in_the_form_and_as_a_problem(browser: TestClient) -> None:
    r = _sign_in(browser, "okk_nietecht_abc")
    assert (
        r.status_code == 401
        and "onbekend" in r.text
        and SESSION_COOKIE not in r.headers.get("set-cookie", "")
    )
    assert r.headers["content-type"].startswith("text/html")
    script = browser.post("/aanmelden", data={"sleutel": "x"})
    assert script.status_code == 401
    assert script.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "kaart", ""],
)
def test_no_open_redirect(browser: TestClient, api_keys: dict[str, str], target: str) -> None:
    r = _sign_in(browser, api_keys["analist"], target)
    assert r.status_code == 303
    assert r.headers["location"] == "/kaart"


def test_a_form_from_another_site_is_refused(browser: TestClient, api_keys: dict[str, str]) -> None:
    r = browser.post(
        "/aanmelden", data={"sleutel": api_keys["analist"]}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert r.status_code == 403
    r = browser.post(
        "/aanmelden", data={"sleutel": api_keys["analist"]}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403


def test_a_sign_in_link_works_once(
    browser: TestClient, demo_app: Any, demo_engine: Engine, api_keys: dict[str, str]
) -> None:
    token = _link(demo_engine, api_keys["planner"], "/gebieden?soort=wijk")
    r = browser.get(f"/aanmelden?token={token}&next=/kaart", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/gebieden?soort=wijk"
    assert SESSION_COOKIE in r.headers["set-cookie"]
    assert browser.get("/collections").status_code == 200
    with TestClient(demo_app, base_url="http://localhost") as other:
        again = other.get(f"/aanmelden?token={token}", headers=HTML, follow_redirects=False)
        assert again.status_code == 400 and "ongeldig, al gebruikt of verlopen" in again.text
        assert "set-cookie" not in again.headers


def test_an_expired_link_or_one_of_a_revoked_key_fails(
    browser: TestClient, demo_engine: Engine, api_keys: dict[str, str]
) -> None:
    token = _link(demo_engine, api_keys["analist"])
    with demo_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE aanmeldlink SET aangemaakt_op = now() - interval '2 hours',"
                " verloopt_op = now() - interval '1 hour' WHERE token_hash = :h"
            ),
            {"h": hash_key(token)},
        )
    assert browser.get(f"/aanmelden?token={token}", follow_redirects=False).status_code == 400
    with demo_engine.begin() as conn:
        _, key_id = _spare_key(conn)
        token = sessions.create_link(conn, key_id, "/kaart")
        conn.execute(text("UPDATE api_key SET ingetrokken_op = now() WHERE id = :i"), {"i": key_id})
    assert browser.get(f"/aanmelden?token={token}", follow_redirects=False).status_code == 400


def _spare_key(conn: Any) -> tuple[str, int]:
    from core.security import create_principal_key

    return create_principal_key(
        conn, naam="test-spare", rol="analist", organisatie="Gemeente Groningen", convenanten=[],
        gemeenten=["GM0014"], doelen=["analyse"],
    )  # fmt: skip


def test_signing_out_ends_the_session_at_once(browser: TestClient, api_keys: dict[str, str]) -> None:
    _sign_in(browser, api_keys["analist"])
    token = browser.cookies[SESSION_COOKIE]
    assert browser.get("/collections").status_code == 200
    out = browser.post("/afmelden", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/aanmelden"
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    replay = browser.get("/collections", cookies={SESSION_COOKIE: token})
    assert replay.status_code == 401


def test_sessions_expire(browser: TestClient, demo_engine: Engine, api_keys: dict[str, str]) -> None:
    with demo_engine.begin() as conn:
        token = sessions.create_session(conn, _key_id(demo_engine, api_keys["analist"]), 1)
        conn.execute(
            text(
                "UPDATE sessie SET aangemaakt_op = now() - interval '2 hours',"
                " verloopt_op = now() - interval '1 hour' WHERE token_hash = :h"
            ),
            {"h": hash_key(token)},
        )
    assert browser.get("/collections", cookies={SESSION_COOKIE: token}).status_code == 401
    # In a browser the expired session means: sign in again, then back to the page.
    page = browser.get(
        "/gebieden/BU00140000", cookies={SESSION_COOKIE: token}, headers=HTML, follow_redirects=False
    )
    assert page.status_code == 303 and page.headers["location"] == "/aanmelden?next=%2Fgebieden%2FBU00140000"


def test_keys_link_prints_a_one_time_link(
    browser: TestClient, demo_engine: Engine, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.keys import keys_cli
    from core.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", demo_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("OKAART_PUBLIC_URL", "http://localhost")
    get_settings.cache_clear()
    try:
        key_id = _key_id(demo_engine, api_keys["partner_riec"])
        result = CliRunner().invoke(keys_cli, ["link", str(key_id), "--next", "/kaart?soort=wijk"])
        assert result.exit_code == 0, result.output
        url = result.output.strip().splitlines()[-1]
        assert url.startswith("http://localhost/aanmelden?token=") and url.endswith(
            "&next=/kaart%3Fsoort%3Dwijk"
        )
        r = browser.get(url.removeprefix("http://localhost"), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/kaart?soort=wijk"
        bad = CliRunner().invoke(keys_cli, ["link", str(key_id), "--next", "https://evil.example/"])
        assert bad.exit_code == 1
    finally:
        get_settings.cache_clear()


def test_safe_next() -> None:
    assert sessions.safe_next("/kaart?soort=wijk") == "/kaart?soort=wijk"
    for bad in ("//x", "/\\x", "http://x/", "x", "", None, "/ka\nart"):
        assert sessions.safe_next(bad) is None
