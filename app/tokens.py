"""Tokens of OpenID Connect providers: discovery, keys (JWKS) and validation.

Every token is checked with a maintained JOSE library (PyJWT): the signature against the
provider's published keys, the algorithm against an allow-list of asymmetric ones (never
``none`` or a shared-secret HMAC, which would let a public key sign), the issuer exactly as
configured, the audience, expiry and issue time (a small leeway for clock skew). On top of
that, per kind of token, what OpenID Connect asks: an ID token's nonce and authorised party,
a logout token's event and the absence of a nonce. Every refusal is a :class:`TokenError`
with one Dutch line; the raw token never appears in one.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jwt

from core.settings import OidcProvider

#: Asymmetric signature algorithms accepted from a provider.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
#: Seconds of clock difference tolerated on exp, iat and nbf.
LEEWAY = 30
#: Seconds the provider's discovery document is trusted before it is fetched again.
DISCOVERY_TTL = 3600.0
HTTP_TIMEOUT = 5.0
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class TokenError(Exception):
    """A token or an answer of a provider that is refused; ``str()`` is the Dutch reason."""


@dataclass(frozen=True)
class Endpoints:
    """What a provider's discovery document says (only the parts used here)."""

    authorization: str
    token: str
    jwks_uri: str
    end_session: str | None


class ProviderClient:
    """One configured provider: its endpoints and keys, fetched lazily and cached."""

    def __init__(self, config: OidcProvider) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._endpoints: tuple[float, Endpoints] | None = None
        self._keys: jwt.PyJWKClient | None = None

    @property
    def naam(self) -> str:
        return self.config.naam

    def endpoints(self) -> Endpoints:
        """The discovery document's endpoints; its issuer must be the configured one."""
        with self._lock:
            if self._endpoints is not None and time.monotonic() - self._endpoints[0] < DISCOVERY_TTL:
                return self._endpoints[1]
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                response = httpx.get(url, timeout=HTTP_TIMEOUT)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise TokenError(f"aanmeldaanbieder {self.naam!r} is niet bereikbaar") from exc
            if document.get("issuer") != self.config.issuer:
                raise TokenError(f"aanmeldaanbieder {self.naam!r} noemt een andere uitgever dan ingesteld")
            found = Endpoints(
                authorization=str(document["authorization_endpoint"]),
                token=str(document["token_endpoint"]),
                jwks_uri=str(document["jwks_uri"]),
                end_session=document.get("end_session_endpoint"),
            )
            self._endpoints = (time.monotonic(), found)
            self._keys = jwt.PyJWKClient(found.jwks_uri, cache_keys=True, lifespan=300, timeout=HTTP_TIMEOUT)
            return found

    def _decode(self, token: str, audience: str, require: list[str]) -> dict[str, Any]:
        self.endpoints()
        assert self._keys is not None  # set together with the endpoints
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in ALGORITHMS:
                raise TokenError(f"token met algoritme {header.get('alg')!r} wordt niet aanvaard")
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(ALGORITHMS),
                audience=audience,
                issuer=self.config.issuer,
                leeway=LEEWAY,
                options={"require": require},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("het token is verlopen") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenError("het token is niet voor deze dienst bestemd (audience)") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenError("het token komt van een andere uitgever") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenError("de handtekening van het token klopt niet") from exc
        except (jwt.PyJWKClientError, jwt.PyJWKClientConnectionError) as exc:
            raise TokenError("het token is ondertekend met een onbekende sleutel") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"het token is ongeldig ({type(exc).__name__})") from exc
        return claims

    def validate_id_token(self, token: str, *, nonce: str | None, sub: str | None = None) -> dict[str, Any]:
        """An ID token for this client; with ``nonce`` (a sign-in) it must carry exactly that
        one, with ``sub`` (a refresh) it must be the same person."""
        claims = self._decode(token, self.config.client_id, ["exp", "iat", "iss", "aud", "sub"])
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise TokenError("het ID-token is voor meer partijen en niet aan deze dienst uitgereikt (azp)")
        if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise TokenError("het ID-token hoort niet bij deze aanmelding (nonce)")
        if sub is not None and claims["sub"] != sub:
            raise TokenError("het vernieuwde ID-token is van een ander persoon")
        return claims

    def validate_access_token(self, token: str) -> dict[str, Any]:
        """An access token a script sends: for this service's audience, not expired."""
        if self.config.audience is None:
            raise TokenError(f"aanmeldaanbieder {self.naam!r} levert geen tokens voor scripts")
        return self._decode(token, self.config.audience, ["exp", "iss", "aud", "sub"])

    def validate_logout_token(self, token: str) -> dict[str, Any]:
        """A back-channel logout token (OpenID Connect Back-Channel Logout 1.0, §2.6)."""
        claims = self._decode(token, self.config.client_id, ["iat", "iss", "aud", "jti"])
        events = claims.get("events")
        if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
            raise TokenError("het afmeldtoken mist het afmeldgebeurtenis")
        if "nonce" in claims:
            raise TokenError("een afmeldtoken mag geen nonce hebben")
        if not claims.get("sid") and not claims.get("sub"):
            raise TokenError("het afmeldtoken noemt geen sessie en geen persoon")
        return claims

    def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        secret = self.config.secret()
        auth = (quote(self.config.client_id, safe=""), quote(secret, safe="")) if secret else None
        data = form if secret else {**form, "client_id": self.config.client_id}
        try:
            response = httpx.post(self.endpoints().token, data=data, auth=auth, timeout=HTTP_TIMEOUT)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TokenError(f"aanmeldaanbieder {self.naam!r} is niet bereikbaar") from exc
        if response.status_code != 200 or not isinstance(answer, dict):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise TokenError(f"de aanmeldaanbieder weigerde ({error or response.status_code})")
        return answer

    def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token response for an authorization code (with the PKCE verifier)."""
        return self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            }
        )

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """New tokens for a refresh token; refused when the account was closed or disabled."""
        return self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})


class Providers:
    """The configured providers by name and by issuer."""

    def __init__(self, configs: tuple[OidcProvider, ...]) -> None:
        self.by_name = {c.naam: ProviderClient(c) for c in configs}

    def get(self, naam: str) -> ProviderClient | None:
        return self.by_name.get(naam)

    def for_access_token(self, token: str) -> ProviderClient:
        """The provider that issued ``token`` (by its unverified ``iss``: only a lookup;
        the signature is then checked against that provider's keys)."""
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.InvalidTokenError as exc:
            raise TokenError("het token is geen geldig JWT") from exc
        for client in self.by_name.values():
            if client.config.issuer == issuer and client.config.audience is not None:
                return client
        raise TokenError("het token komt van een onbekende uitgever")


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")
