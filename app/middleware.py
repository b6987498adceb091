"""Transport-level protections: body size cap, security headers, secrets kept out of logs.

Pure ASGI middleware (no body buffering, no per-request task), because it sits in front of
every tile request. Its refusals come before routing and the access gate, so they record
their own audit rows (:func:`app.audit.record_refusal`) when an audited route was asked.
"""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.audit import record_refusal
from app.errors import problem
from app.formats import getal

#: Headers for every response; HTML pages also get a strict Content-Security-Policy.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
]
#: Maps need inline scripts (folium writes them) and images from the configured basemap;
#: nothing else may load from elsewhere.
HTML_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: {img}; connect-src 'self'; font-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'{forms}"
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, basemap_origin: str = "", form_origins: tuple[str, ...] = ()) -> None:
        """``form_origins``: the identity providers, where signing out continues after the
        form posted to /afmelden (CSP form-action also governs the redirect after a post)."""
        self.app = app
        forms = "".join(f" {origin}" for origin in form_origins)
        self.csp = HTML_CSP.format(img=basemap_origin, forms=forms).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html") and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", self.csp))
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class LivenessMiddleware:
    """``GET /healthz`` answered before any other middleware, routing or dependency runs.

    Liveness must stay fast while the service is saturated: under twice the saturating load
    the route version waited behind the admission gate's bookkeeping, the audit hold, the
    metrics and header wrappers and FastAPI's dependency solving on an event loop shared with
    every other request. Here it costs one path comparison and two ``send`` calls, and no
    database, thread or slot. The route in :mod:`app.routers.health` stays, for the API
    document and for apps built without this middleware.
    """

    BODY: ClassVar[bytes] = b'{"status":"ok"}'
    HEADERS: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
        (b"cache-control", b"no-store"),
        *SECURITY_HEADERS,
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz" and scope["method"] == "GET":
            await send({"type": "http.response.start", "status": 200, "headers": self.HEADERS})
            await send({"type": "http.response.body", "body": self.BODY})
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies above ``limit`` bytes with a 413 problem, before reading them
    whole: by Content-Length when given, else while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:
            # HTTP/1.1: no length and no chunking is no body (every tile and item request):
            # nothing to count, so no wrapper on its way in or out.
            await self.app(scope, receive, send)
            return
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(scope, receive, send, self.limit)
            return
        seen = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Answer now and tell the app the client is gone; whatever it does
                    # with that is not sent.
                    refused = True
                    await _too_large(scope, receive, send, self.limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise


class NulByteMiddleware:
    """Refuse a NUL character in the path or query with a 400 problem.

    PostgreSQL text cannot hold one, so a value carrying it fails deep in a query and would
    surface as a server error on whichever route passes it on; no legitimate parameter of
    this API contains it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if "\x00" in path or b"%00" in query or b"\x00" in query:
            if await record_refusal(scope, receive, send, 400):
                detail = "het adres of een parameter bevat een NUL-teken"
                await problem(400, detail, title="Ongeldig verzoek")(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    if await record_refusal(scope, receive, send, 413):
        detail = f"de inhoud van het verzoek is groter dan {getal(limit)} bytes"
        await problem(413, detail, title="Verzoek te groot")(scope, receive, send)


#: API keys, session and sign-in tokens, and bearer headers, wherever they appear in a log line.
SECRET_PATTERNS = (
    (re.compile(r"okk_[A-Za-z0-9_-]+"), "okk_[verborgen]"),
    # A value may not start with "%": a format placeholder ("Bearer %s") is left for its argument.
    (re.compile(r"(?i)(token|sleutel|key)=[^&\s\"'%][^&\s\"']*"), r"\1=[verborgen]"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"'%][^\s\"']*"), r"\1[verborgen]"),
    (re.compile(r"(?i)(okaart_sessie=)[^;\s\"'%][^;\s\"']*"), r"\1[verborgen]"),
)


def redact(text: str) -> str:
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def install_log_redaction() -> None:
    """Mask secrets in every log record of the process, whichever logger or handler it
    reaches (uvicorn's access log prints the request line, which holds a sign-in link's
    token): done where records are made, so no logger can be forgotten. The message and
    each string argument are masked separately, so formatters that read ``record.args``
    (uvicorn's access formatter does) keep working."""
    current = logging.getLogRecordFactory()
    if getattr(current, "okaart_redacts", False):
        return

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: logging itself reports it
            return record
        cleaned = redact(message)
        if cleaned != message:  # a secret split over the message and its arguments
            record.msg, record.args = cleaned, None
        return record

    redacting_record.okaart_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_record)
