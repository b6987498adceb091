"""The sign-in form under the failed sign-in limit (issue 16): keys posted to
``/aanmelden`` that resolve to nobody count per client address like bearer keys do; past the
limit a 429 with ``Retry-After`` (the form again for a browser), no audit row per failure but
one aggregate row per address and window; a key this worker has seen resolve still signs in
from that address."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.auth_failures import ROUTE
from app.services import services_of
from tests.conftest import scalar
from tests.test_aanmelden import _link
from tests.test_overload import make_app as make_app  # the fixture, reused

WINDOW = 3600


def test_failed_form_sign_ins_get_429_beyond_the_limit_and_one_aggregate_audit_row(
    make_app: Callable[..., tuple[FastAPI, Engine]], demo_engine: Engine, api_keys: dict[str, str]
) -> None:
    if WINDOW - time.time() % WINDOW < 60:  # not across a window's end
        time.sleep(WINDOW - time.time() % WINDOW + 1)
    app, _ = make_app(auth_failures_per_window=3, auth_failure_window_s=WINDOW)
    address = f"203.0.113.{secrets.randbelow(250) + 1}"  # TEST-NET-3: an address of this test alone
    rows = "SELECT count(*) FROM audit_log WHERE client = :c"
    known = {"sleutel": api_keys["analist"]}
    with TestClient(app, raise_server_exceptions=False, client=(address, 40000)) as client:
        assert services_of(app).principals.listening.wait(30)
        signed_in = client.post("/aanmelden", data=known, follow_redirects=False)
        before = scalar(demo_engine, rows, c=address)
        answers = [
            client.post("/aanmelden", data={"sleutel": f"okk_fout_{n}_x"}, follow_redirects=False)
            for n in range(6)
        ]
        page = client.post(
            "/aanmelden",
            data={"sleutel": "okk_nog_een"},
            headers={"Accept": "text/html"},
            follow_redirects=False,
        )
        still_known = client.post("/aanmelden", data=known, follow_redirects=False)
        after = scalar(demo_engine, rows, c=address)
        written = services_of(app).auth_failures.seal(now=time.time() + WINDOW)
    assert signed_in.status_code == 303
    assert [a.status_code for a in answers] == [401] * 3 + [429] * 3
    limited = answers[3]
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["title"] == "Te veel verzoeken"
    assert 1 <= int(limited.headers["retry-after"]) <= WINDOW
    assert all(1 <= int(a.headers["retry-after"]) <= WINDOW for a in answers[3:])
    # A browser gets the form again, with the reason and the same Retry-After.
    assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
    assert "Te veel mislukte aanmeldingen" in page.text and int(page.headers["retry-after"]) >= 1
    # A key this worker has seen resolve still signs in from the blocked address.
    assert still_known.status_code == 303
    assert after == before + 1  # that sign-in's own row; no row per failure
    assert written >= 1
    with demo_engine.connect() as conn:
        aggregate = (
            conn.execute(
                text("SELECT status, aantal, principal_id FROM audit_log WHERE client = :c AND route = :r"),
                {"c": address, "r": ROUTE},
            )
            .mappings()
            .all()
        )
    assert [dict(r) for r in aggregate] == [{"status": 401, "aantal": 7, "principal_id": None}]


def test_guessed_sign_in_links_count_as_failed_sign_ins_and_are_refused_beyond_the_limit(
    make_app: Callable[..., tuple[FastAPI, Engine]], demo_engine: Engine, api_keys: dict[str, str]
) -> None:
    """A one-time link is a credential in a URL: guessing links counts against the address's
    failed sign-ins like guessing keys, and past the limit even a valid link is refused (a
    link is never vouched for: it works once), without being used up."""
    if WINDOW - time.time() % WINDOW < 60:
        time.sleep(WINDOW - time.time() % WINDOW + 1)
    app, _ = make_app(auth_failures_per_window=2, auth_failure_window_s=WINDOW)
    address = f"198.51.100.{secrets.randbelow(250) + 1}"  # TEST-NET-2: an address of this test alone
    link = _link(demo_engine, api_keys["analist"], "/kaart")
    with TestClient(app, raise_server_exceptions=False, client=(address, 40000)) as client:
        assert services_of(app).principals.listening.wait(30)
        guesses = [
            client.get(f"/aanmelden?token={secrets.token_urlsafe(16)}", follow_redirects=False)
            for _ in range(4)
        ]
        valid_but_blocked = client.get(f"/aanmelden?token={link}", follow_redirects=False)
        written = services_of(app).auth_failures.seal(now=time.time() + WINDOW)
    assert [g.status_code for g in guesses] == [400, 400, 429, 429]
    assert all(1 <= int(g.headers["retry-after"]) <= WINDOW for g in guesses[2:])
    assert valid_but_blocked.status_code == 429 and "set-cookie" not in valid_but_blocked.headers
    # Refused before its lookup: the link is not used up and works from another address.
    with TestClient(app, raise_server_exceptions=False, client=("192.0.2.7", 40000)) as other:
        redeemed = other.get(f"/aanmelden?token={link}", follow_redirects=False)
    assert redeemed.status_code == 303 and redeemed.headers["location"] == "/kaart"
    assert written >= 1
    aggregate = scalar(
        demo_engine, "SELECT sum(aantal) FROM audit_log WHERE client = :c AND route = :r", c=address, r=ROUTE
    )
    assert aggregate == 5  # every refusal of the address, in its aggregate row(s)
