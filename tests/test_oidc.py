"""Signing in with OpenID Connect against a real provider (the certified `oidc-provider` npm
package under Node, tests/oidc_support.py): the flow with PKCE, state and nonce, roles from a
group claim, MFA for points, sessions that end with the token, refresh, a closed account,
sign-out at the provider, back-channel logout, and scripts with provider-issued access tokens.
Tokens that are tampered with, for another audience or nonce, or from an unknown issuer are
refused. The browser flow runs in Chromium (tests/browser_support.py)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine, text

from app import tokens
from app.oidc import STATE_COOKIE
from app.services import services_of
from app.tokens import ProviderClient, Providers, TokenError
from core import claims, db
from core.pgcluster import free_port
from core.settings import OidcProvider, Settings
from tests.browser_support import CHROMIUM_ARGS, chromium_path, serving
from tests.oidc_support import (
    AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    SCRIPT_ID,
    SCRIPT_SECRET,
    ProviderUnderTest,
    login,
    running_provider,
)

#: Lifetime of the provider's ID and access tokens: short, so that expiry can be awaited.
TTL = 6


@dataclass
class Env:
    provider: ProviderUnderTest
    base: str
    app: Any
    engine: Engine

    def forget_cached(self) -> None:
        """The service trusts a looked-up caller for a few seconds; a test that waits for a
        token to run out clears that, as the next lookup after the TTL would."""
        services_of(self.app).principals.clear()


@pytest.fixture(scope="module")
def env(demo_engine: Engine, api_login: Any) -> Iterator[Env]:
    from app.main import create_app

    app_port = free_port()
    with running_provider(app_port, TTL) as provider:
        with demo_engine.begin() as conn:
            claims.load_profiles(conn, claims.current(None))
        url = demo_engine.url.render_as_string(hide_password=False)
        api = db.make_engine(api_login(url), statement_timeout_ms=5000)
        settings = Settings(
            database_url=url,
            environment="test",
            basemap_url="",
            public_url=f"http://127.0.0.1:{app_port}",
            oidc_providers=(
                OidcProvider(
                    naam="test",
                    titel="Testaanbieder",
                    issuer=provider.issuer,
                    client_id=CLIENT_ID,
                    client_secret=CLIENT_SECRET,
                    scopes=("openid", "email", "profile", "okaart"),
                    audience=AUDIENCE,
                ),
            ),
        )
        app = create_app(settings, engine=api)
        with serving(app, app_port) as base:
            yield Env(provider, base, app, demo_engine)
        api.dispose()


def sign_in(env: Env, user: str, target: str = "/kaart") -> tuple[httpx.Client, httpx.Response]:
    """A browser-like client through the whole flow; returns it and the callback's answer."""
    c = httpx.Client(timeout=15)
    form = c.get(f"{env.base}/aanmelden/oidc/test", params={"next": target}, follow_redirects=True)
    return c, login(c, form, user)


def last_audit(engine: Engine, route: str) -> Any:
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT principal, rol, status, object_ids FROM audit_log WHERE route = :r ORDER BY id DESC LIMIT 1"
            ),
            {"r": route},
        ).one()


def test_sign_in_gives_the_role_of_the_group_claim(env: Env) -> None:
    c, back = sign_in(env, "anna")
    assert back.status_code == 200 and "/aanmelden/oidc/terug" in str(back.url)
    assert 'content="0;url=/kaart"' in back.text  # moves on from our own origin (SameSite=Strict)
    ids = [x["id"] for x in c.get(f"{env.base}/collections").json()["collections"]]
    assert "signalen" in ids
    row = last_audit(env.engine, "/aanmelden/oidc/terug")
    assert (row.principal, row.rol, row.status, row.object_ids) == (
        "anna@groningen.test",
        "analist",
        200,
        ["test:anna"],
    )
    with env.engine.connect() as conn:
        session = conn.execute(
            text("SELECT verloopt_op - aangemaakt_op AS duur, tweede_factor, oidc_sid FROM sessie"
                 " WHERE persoon = 'anna@groningen.test' ORDER BY id DESC LIMIT 1")
        ).one()  # fmt: skip
    # The session lives as long as the ID token, not the configured 8 hours.
    assert session.duur.total_seconds() <= TTL + 1 and session.tweede_factor is True
    assert session.oidc_sid  # kept for the provider's back-channel logout
    r = c.get(f"{env.base}/collections/signalen/items", params={"limit": 3, "doel": "analyse"})
    assert r.status_code == 200 and r.json()["features"]


def test_without_second_factor_only_aggregates_and_told_why(env: Env) -> None:
    c, back = sign_in(env, "piet")
    assert back.status_code == 200
    ids = [x["id"] for x in c.get(f"{env.base}/collections").json()["collections"]]
    assert "signalen" not in ids and "buurten" in ids
    r = c.get(f"{env.base}/collections/signalen/items", params={"doel": "analyse"})
    assert r.status_code == 403 and "tweede factor" in r.json()["detail"]
    assert c.get(f"{env.base}/gebieden", params={"soort": "buurt", "periode": "2024"}).status_code == 200
    square = {
        "type": "Polygon",
        "coordinates": [[[6.5, 53.2], [6.6, 53.2], [6.6, 53.25], [6.5, 53.25], [6.5, 53.2]]],
    }
    r = c.post(f"{env.base}/selectie", json=square, params={"periode": "2024", "doel": "analyse"})
    assert r.status_code == 200 and "tweede factor" in r.json()["toelichting"]
    page = c.get(f"{env.base}/aanmelden", headers={"Accept": "text/html"})
    assert "zonder tweede factor" in page.text


def test_no_mapped_group_gets_nothing(env: Env) -> None:
    c, back = sign_in(env, "kees")
    assert back.status_code == 403 and "Geen toegang" in back.text and "geen regel geldt" in back.text
    assert "okaart_sessie" not in c.cookies
    assert c.get(f"{env.base}/collections").status_code == 401
    row = last_audit(env.engine, "/aanmelden/oidc/terug")
    assert (row.principal, row.status, row.object_ids) == (None, 403, ["test:kees"])


def test_a_replayed_state_is_refused(env: Env) -> None:
    c, back = sign_in(env, "anna")
    assert back.status_code == 200
    state = httpx.URL(str(back.url)).params["state"]
    c.cookies.set(STATE_COOKIE, state, path="/aanmelden/oidc")
    again = c.get(str(back.url))
    assert again.status_code == 400 and "al gebruikt" in again.text
    foreign = httpx.get(f"{env.base}/aanmelden/oidc/terug", params={"state": state, "code": "x"})
    assert foreign.status_code == 400 and "niet in deze browser begonnen" in foreign.text


def _script_client(env: Env, client_id: str = SCRIPT_ID) -> ProviderClient:
    return ProviderClient(
        OidcProvider(
            naam="test", titel="t", issuer=env.provider.issuer, client_id=client_id,
            client_secret=SCRIPT_SECRET, audience=AUDIENCE,
        )
    )  # fmt: skip


def _forged(payload: dict[str, Any], kid: str = "test-1") -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def test_tampered_foreign_and_replayed_tokens_are_refused(env: Env) -> None:
    answer = env.provider.tokens_for_script("anna", scope="openid api email okaart")
    id_token, access = answer["id_token"], answer["access_token"]
    client = _script_client(env)
    assert client.validate_id_token(id_token, nonce="n")["sub"] == "anna"
    # Tampered: the payload changed after signing (a group added).
    head, body, sig = id_token.split(".")
    claims_ = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims_["groups"] = ["okaart-beheerders"]
    forged_body = base64.urlsafe_b64encode(json.dumps(claims_).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError, match="handtekening"):
        client.validate_id_token(f"{head}.{forged_body}.{sig}", nonce="n")
    # A nonce of another sign-in (an ID token replayed into a new flow).
    with pytest.raises(TokenError, match="nonce"):
        client.validate_id_token(id_token, nonce="een-andere-aanmelding")
    # Wrong audience: this ID token was issued to the script client, not to the service.
    with pytest.raises(TokenError, match="audience"):
        _script_client(env, client_id=CLIENT_ID).validate_id_token(id_token, nonce="n")
    assert (
        httpx.get(f"{env.base}/collections", headers={"Authorization": f"Bearer {id_token}"}).status_code
        == 401
    )
    # Unknown issuer, and a key the provider never published under its kid.
    now = int(time.time())
    payload = {"sub": "anna", "aud": AUDIENCE, "iat": now, "exp": now + 60, "groups": ["okaart-beheerders"]}
    stranger = _forged({**payload, "iss": "http://127.0.0.1:1/elders"})
    with pytest.raises(TokenError, match="onbekende uitgever"):
        Providers((client.config,)).for_access_token(stranger)
    impostor = _forged({**payload, "iss": env.provider.issuer})
    with pytest.raises(TokenError, match="handtekening"):
        client.validate_access_token(impostor)
    unsigned = jwt.encode({**payload, "iss": env.provider.issuer}, "", algorithm="none")
    for bad in (stranger, impostor, unsigned, access[:-4] + "AAAA"):
        r = httpx.get(f"{env.base}/collections", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad


def test_a_script_reads_the_api_as_the_persons_role(env: Env) -> None:
    anna = env.provider.tokens_for_script("anna")["access_token"]
    r = httpx.get(
        f"{env.base}/collections/signalen/items",
        params={"limit": 2},
        headers={"Authorization": f"Bearer {anna}", "X-Doel": "analyse"},
    )
    assert r.status_code == 200 and r.json()["features"]
    row = last_audit(env.engine, "/collections/{collection_id}/items")
    assert (row.principal, row.rol, row.status) == ("anna@groningen.test", "analist", 200)
    riet = env.provider.tokens_for_script("riet")["access_token"]
    r = httpx.get(f"{env.base}/collections", headers={"Authorization": f"Bearer {riet}"})
    assert r.status_code == 200 and "signalen" not in [x["id"] for x in r.json()["collections"]]
    kees = env.provider.tokens_for_script("kees")["access_token"]
    assert (
        httpx.get(f"{env.base}/collections", headers={"Authorization": f"Bearer {kees}"}).status_code == 401
    )


def test_an_expired_access_token_is_refused(
    env: Env, monkeypatch: pytest.MonkeyPatch, api_keys: dict[str, str]
) -> None:
    monkeypatch.setattr(tokens, "LEEWAY", 0)  # the clock-skew tolerance is not what is tested here
    token = env.provider.tokens_for_script("anna")["access_token"]
    time.sleep(TTL + 1)
    r = httpx.get(f"{env.base}/collections", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    # Keys keep working beside the provider.
    key = api_keys["analist"]
    assert httpx.get(f"{env.base}/collections", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def _session_row(env: Env, persoon: str) -> Any:
    with env.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id, verloopt_op, beeindigd_op FROM sessie WHERE persoon = :p ORDER BY id DESC LIMIT 1"
            ),
            {"p": persoon},
        ).one()


def test_sessions_end_with_the_token_refresh_and_a_closed_account(env: Env) -> None:
    dirk, _ = sign_in(env, "dirk")
    bert, _ = sign_in(env, "bert")
    # Bert's provider gave no refresh token (as one that does not allow refreshing).
    with env.engine.begin() as conn:
        conn.execute(text("UPDATE sessie SET oidc_ververs = NULL WHERE persoon = 'bert@groningen.test'"))
    first = _session_row(env, "dirk@groningen.test")
    assert dirk.get(f"{env.base}/collections").status_code == 200
    time.sleep(TTL + 1)
    env.forget_cached()
    assert bert.get(f"{env.base}/collections").status_code == 401  # the token ran out: so did the session
    assert dirk.get(f"{env.base}/collections").status_code == 200  # renewed with the refresh token
    renewed = _session_row(env, "dirk@groningen.test")
    assert renewed.id == first.id and renewed.verloopt_op > first.verloopt_op
    env.provider.disable("dirk")
    time.sleep(TTL + 1)
    env.forget_cached()
    assert dirk.get(f"{env.base}/collections").status_code == 401
    assert _session_row(env, "dirk@groningen.test").beeindigd_op is not None


def _confirm_logout(c: httpx.Client, page: httpx.Response) -> httpx.Response:
    """Press the provider's 'sign me out' button (its form, with its xsrf field)."""
    import re

    form = re.search(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.S)
    assert form, page.text[:800]
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(2)))
    return c.post(
        httpx.URL(str(page.url)).join(form.group(1)), data={**fields, "logout": "yes"}, follow_redirects=True
    )


def test_sign_out_ends_the_provider_session_too(env: Env) -> None:
    c, _ = sign_in(env, "anna")
    assert c.get(f"{env.base}/collections").status_code == 200
    r = c.post(f"{env.base}/afmelden", headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"{env.provider.issuer}/session/end")
    assert "id_token_hint=" in r.headers["location"]
    done = _confirm_logout(c, c.get(r.headers["location"], follow_redirects=True))
    assert str(done.url).startswith(f"{env.base}/aanmelden")
    assert c.get(f"{env.base}/collections").status_code == 401
    row = last_audit(env.engine, "/afmelden")
    assert (row.principal, row.status) == ("anna@groningen.test", 303)
    # The provider's session is gone as well: signing in asks for the login again.
    form = c.get(f"{env.base}/aanmelden/oidc/test", follow_redirects=True)
    assert 'name="login"' in form.text


def test_back_channel_logout_ends_the_session_here(env: Env) -> None:
    c, _ = sign_in(env, "anna")
    assert c.get(f"{env.base}/collections").status_code == 200
    # The person signs out at the provider (another application, or the provider's portal).
    _confirm_logout(c, c.get(f"{env.provider.issuer}/session/end", follow_redirects=True))
    assert c.get(f"{env.base}/collections").status_code == 401
    row = last_audit(env.engine, "/aanmelden/oidc/{aanbieder}/backchannel")
    assert row.status == 200 and row.object_ids and row.object_ids[0].startswith("test:")
    forged = _forged({"iss": env.provider.issuer, "aud": CLIENT_ID, "iat": int(time.time()), "jti": "x", "sub": "anna",
                      "events": {tokens.BACKCHANNEL_EVENT: {}}})  # fmt: skip
    r = httpx.post(f"{env.base}/aanmelden/oidc/test/backchannel", data={"logout_token": forged})
    assert r.status_code == 400


def test_browser_sign_in_mfa_and_sign_out(env: Env) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            for user, mfa in (("anna", True), ("piet", False)):
                context = browser.new_context(locale="nl-NL")
                page = context.new_page()
                page.goto(f"{env.base}/kaart")
                assert "/aanmelden" in page.url
                page.click("a.aanbieder")
                page.fill("#login", user)
                page.click("#inloggen")
                page.wait_for_url(f"{env.base}/kaart**")
                content = page.content()
                assert f"{user}@groningen.test" in content and "(analist)" in content
                assert ("zonder tweede factor" in content) is not mfa
                points = page.request.get(f"{env.base}/collections/signalen/items?limit=1&doel=analyse")
                assert points.status == (200 if mfa else 403)
                page.click("form[action='/afmelden'] button")
                page.click("button[name=logout]")  # the provider asks to confirm
                page.wait_for_url(f"{env.base}/aanmelden**")
                assert page.request.get(f"{env.base}/collections").status == 401
                context.close()
        finally:
            browser.close()


def test_sign_in_page_offers_the_providers_beside_the_key_form(env: Env) -> None:
    page = httpx.get(f"{env.base}/aanmelden", headers={"Accept": "text/html"})
    assert "Aanmelden via Testaanbieder" in page.text and 'id="sleutel"' in page.text


ANNA = {
    "sub": "anna",
    "email": "anna@groningen.test",
    "groups": ["okaart-analisten"],
    "gemeentecode": ["GM0014"],
}


def test_the_mapping_decides_and_explains() -> None:
    mapping = claims.current(None)
    besluit = mapping.decide(ANNA)
    assert besluit.profiel is not None and besluit.profiel.naam == "analist-groningen"
    assert any("regel 2 (analist-groningen)" in line and "geldt" in line for line in besluit.uitleg)
    elders = mapping.decide({**ANNA, "gemeentecode": ["GM0106"]})
    assert elders.profiel is None and "gemeentecode 'GM0014' ontbreekt" in "\n".join(elders.uitleg)
    assert "geen toegang" in elders.reden
    # Entra ID puts app roles in "roles": read too.
    assert mapping.decide({"sub": "x", "roles": ["okaart-planners"]}).profiel.rol == "planner"  # type: ignore[union-attr]
    assert claims.tweede_factor({"amr": ["pwd"]}, ())[0] is False
    assert claims.tweede_factor({"amr": ["pwd", "mfa"]}, ())[0] is True
    assert claims.tweede_factor({"acr": "urn:keycloak:mfa"}, ("urn:keycloak:mfa",))[0] is True


@pytest.mark.parametrize(
    ("text_", "fout"),
    [
        ("[profielen.a]\nrol = 'koning'\norganisatie = 'x'\n", "rol moet een van"),
        ("[profielen.a]\nrol = 'planner'\n", "organisatie ontbreekt"),
        ("[[regels]]\ngroep = 'g'\nprofiel = 'nergens'\n", "staat niet onder"),
        (
            "[profielen.a]\nrol = 'planner'\norganisatie = 'x'\n[[regels]]\nprofiel = 'a'\n",
            "noemt altijd een groep",
        ),
        ("[profielen.a]\nrol = 'planner'\norganisatie = 'x'\nwachtwoord = 1\n", "onbekend veld"),
        ("[[regels\n", "geen geldige TOML"),
    ],
)
def test_a_broken_mapping_names_its_mistake(text_: str, fout: str) -> None:
    with pytest.raises(claims.ToegangError, match=fout):
        claims.parse(text_)


def test_the_mapping_is_read_again_when_it_changes(tmp_path: Any) -> None:
    path = tmp_path / "toegang.toml"
    base = "[profielen.p]\nrol = 'planner'\norganisatie = 'x'\n"
    path.write_text(base)
    assert claims.current(path).decide(ANNA).profiel is None
    path.write_text(base + "[[regels]]\ngroep = 'okaart-analisten'\nprofiel = 'p'\n")
    import os

    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert claims.current(path).decide(ANNA).profiel is not None


def test_okaart_toegang_uitleg(env: Env, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cli.toegang import toegang_cli
    from core.settings import get_settings

    sign_in(env, "anna")
    monkeypatch.setenv("DATABASE_URL", env.engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(toegang_cli, ["uitleg", "anna@groningen.test"])
        assert result.exit_code == 0, result.output
        assert (
            "profiel 'analist-groningen'" in result.output
            and "tweede factor volgens amr: otp" in result.output
        )
        file = tmp_path / "claims.json"
        file.write_text(json.dumps({"sub": "x", "groups": ["medewerkers"]}))
        refused = CliRunner().invoke(toegang_cli, ["uitleg", "--claims", str(file)])
        assert refused.exit_code == 2 and "geen regel geldt" in refused.output
        loaded = CliRunner().invoke(toegang_cli, ["laad"])
        assert loaded.exit_code == 0 and "oidc:analist-groningen" in loaded.output
    finally:
        get_settings.cache_clear()


def test_key_sign_ins_are_audited_too(client: Any, demo_engine: Engine, api_keys: dict[str, str]) -> None:
    """The key form and one-time links stay, and their sign-ins get a row; a refused key is
    counted in its address's aggregate row of failed sign-ins (tests/test_aanmelden_limiet.py)."""
    same = {"Sec-Fetch-Site": "same-origin"}
    ok = client.post(
        "/aanmelden", data={"sleutel": api_keys["planner"]}, headers=same, follow_redirects=False
    )
    assert ok.status_code == 303
    row = last_audit(demo_engine, "/aanmelden")
    assert (row.principal, row.rol, row.status) == ("test-planner", "planner", 303)
    bad = client.post("/aanmelden", data={"sleutel": "okk_nee_nee"}, headers=same, follow_redirects=False)
    assert bad.status_code == 401
    row = last_audit(demo_engine, "/aanmelden")
    assert (row.principal, row.status) == ("test-planner", 303)  # no row of its own
    client.cookies.clear()


def test_production_needs_https_issuers_and_a_public_url(tmp_path: Any) -> None:
    from pydantic import ValidationError

    key = tmp_path / "audit.key"
    key.write_text("x" * 40)
    base = {
        "environment": "production",
        "database_url": "postgresql://a/b",
        "api_database_url": "postgresql://c/d",
    }
    provider = {"naam": "g", "titel": "G", "issuer": "https://idp.example/", "client_id": "c"}
    with pytest.raises(ValidationError, match="https issuers"):
        Settings(**base, audit_key_file=key, oidc_providers=({**provider, "issuer": "http://idp.example/"},))
    with pytest.raises(ValidationError, match="OKAART_PUBLIC_URL"):
        Settings(**base, audit_key_file=key, oidc_providers=(provider,))
    assert Settings(
        **base, audit_key_file=key, public_url="https://okaart.example", oidc_providers=(provider,)
    )
