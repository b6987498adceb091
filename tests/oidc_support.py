"""A real OpenID provider for the tests: the `oidc-provider` npm package under Node.

``tests/oidc/package.json`` pins the package; it is installed at test time with
``npm install --no-package-lock`` into a cache directory outside the repo (keyed by the
package file's hash), never into the repo, and ``tests/oidc/provider.mjs`` runs there on a
loopback port with the test users and clients handed over as JSON. A machine without Node or
without the npm registry fails these tests: it does not skip them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

HARNESS = Path(__file__).resolve().parent / "oidc"
AUDIENCE = "https://okaart.test/api"
CLIENT_ID, CLIENT_SECRET = "okaart", "geheim-van-de-testaanbieder"
SCRIPT_ID, SCRIPT_SECRET = "script", "geheim-van-het-script"
SCRIPT_REDIRECT = "http://127.0.0.1:9/script-terug"


def _user(groups: list[str], amr: list[str], email: str, **extra: Any) -> dict[str, Any]:
    claims = {"email": email, "name": email.split("@")[0].title(), "groups": groups, **extra}
    return {"claims": claims, "amr": amr, "acr": "urn:test:" + "-".join(amr)}


GRONINGEN = {"organisatie": "Gemeente Groningen", "gemeentecode": ["GM0014"]}
#: Test users: who they are, their groups, and how they sign in (amr).
USERS: dict[str, dict[str, Any]] = {
    "anna": _user(["okaart-analisten"], ["pwd", "otp"], "anna@groningen.test", **GRONINGEN),
    "piet": _user(["okaart-analisten"], ["pwd"], "piet@groningen.test", **GRONINGEN),
    "dirk": _user(["okaart-analisten"], ["pwd", "otp"], "dirk@groningen.test", **GRONINGEN),
    "bert": _user(["okaart-analisten"], ["pwd", "otp"], "bert@groningen.test", **GRONINGEN),
    "riet": _user(["okaart-planners"], ["pwd", "otp"], "riet@groningen.test", **GRONINGEN),
    "kees": _user(["medewerkers"], ["pwd", "otp"], "kees@groningen.test", **GRONINGEN),
}


def _cache_dir() -> Path:
    digest = hashlib.sha256((HARNESS / "package.json").read_bytes()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "okaart" / f"oidc-provider-{digest}"


def install_harness() -> Path:
    """The harness with its node_modules, installed once per package.json version."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node and npm are needed for the OpenID provider of the tests"
    target = _cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(HARNESS / "package.json", target / "package.json")
    shutil.copy(HARNESS / "provider.mjs", target / "provider.mjs")
    if not (target / "node_modules" / "oidc-provider" / "package.json").is_file():
        subprocess.run(
            [npm, "install", "--no-package-lock", "--no-audit", "--no-fund", "--silent"],
            cwd=target,
            check=True,
            timeout=300,
        )
    return target


@dataclass
class ProviderUnderTest:
    issuer: str
    app_base: str

    def disable(self, user: str) -> None:
        """Close an account at the provider (its refresh tokens stop working)."""
        assert httpx.post(f"{self.issuer}/test/uitschakelen/{user}").status_code == 204

    def tokens_for_script(self, user: str, scope: str = "openid api") -> dict[str, Any]:
        """A provider-issued token response for ``user`` through the script client: the
        authorization code flow (with PKCE) that a partner's script or tool goes through."""
        import base64
        import secrets

        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        with httpx.Client(timeout=10) as c:
            r = c.get(
                f"{self.issuer}/auth",
                params={
                    "response_type": "code", "client_id": SCRIPT_ID, "redirect_uri": SCRIPT_REDIRECT,
                    "scope": scope, "state": "s", "nonce": "n", "resource": AUDIENCE,
                    "code_challenge": challenge, "code_challenge_method": "S256",
                },
                follow_redirects=True,
            )  # fmt: skip
            redirect = login(c, r, user, stop_at=SCRIPT_REDIRECT)
            code = httpx.URL(redirect.headers["location"]).params["code"]
            answer = c.post(
                f"{self.issuer}/token",
                data={
                    "grant_type": "authorization_code", "code": code, "redirect_uri": SCRIPT_REDIRECT,
                    "code_verifier": verifier, "resource": AUDIENCE,
                },
                auth=(SCRIPT_ID, SCRIPT_SECRET),
            )  # fmt: skip
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


def login(
    c: httpx.Client, form_page: httpx.Response, user: str, stop_at: str | None = None
) -> httpx.Response:
    """Fill in the provider's login form and follow the redirects; returns the last answer
    (with ``stop_at``: the redirect to the URL that starts with it, not followed)."""
    assert form_page.status_code == 200, form_page.text[:500]
    action = re.search(r'action="([^"]+)"', form_page.text)
    assert action, form_page.text[:500]
    r = c.post(urljoin(str(form_page.url), action.group(1)), data={"login": user})
    while r.is_redirect:
        location = urljoin(str(r.url), r.headers["location"])
        if stop_at and location.startswith(stop_at):
            return r
        r = c.get(location)
    return r


@contextmanager
def running_provider(app_port: int, ttl_seconds: int) -> Iterator[ProviderUnderTest]:
    """The provider on a free loopback port, its clients pointing at the app on ``app_port``."""
    from core.pgcluster import free_port

    target = install_harness()
    port = free_port()
    app = f"http://127.0.0.1:{app_port}"
    config = {
        "port": port,
        "audience": AUDIENCE,
        "ttl": {"IdToken": ttl_seconds, "AccessToken": ttl_seconds},
        "users": USERS,
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{app}/aanmelden/oidc/terug"],
                "post_logout_redirect_uris": [f"{app}/aanmelden"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "backchannel_logout_uri": f"{app}/aanmelden/oidc/test/backchannel",
                "backchannel_logout_session_required": True,
            },
            {
                "client_id": SCRIPT_ID,
                "client_secret": SCRIPT_SECRET,
                "redirect_uris": [SCRIPT_REDIRECT],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
        ],
    }
    process = subprocess.Popen(
        ["node", "provider.mjs"],
        cwd=target,
        env={**os.environ, "OIDC_TEST_CONFIG": json.dumps(config)},
        stdout=subprocess.PIPE,
        text=True,  # its stderr goes to the test's, where pytest shows it with a failure
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "klaar", f"the test provider did not start: {line!r}"
        deadline = time.monotonic() + 10
        while httpx.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        yield ProviderUnderTest(issuer=f"http://127.0.0.1:{port}", app_base=app)
    finally:
        process.terminate()
        process.wait(timeout=10)
