"""Request dependencies: the caller, the layer the caller may see, and what it asks of it.

The caller comes from ``Authorization: Bearer <key>`` or, in a browser, from the session
cookie. The access gate (:mod:`app.access`) has already refused anonymous callers on
every non-open route; :func:`visible_layer` then decides per layer: a layer the caller may
not see answers exactly like one that does not exist (404). A route that reads a layer's
rows takes :func:`readable_layer` instead, which also binds the purpose: a layer with data
below aggregate level needs a purpose (``doel``) from the caller's allowed list. What a
request asks of the layer (filters, bbox, period) becomes a :class:`Selection` in the route,
from its parameters (:mod:`app.params`).

The tree of dependencies is kept flat on purpose: FastAPI solves a dependency again at every
place it appears in a route's tree (its cache saves only the call), and the tile and items
routes are the hot paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from app import audit
from app import oidc_principal as oidc
from app.errors import BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError
from app.filtering import PARAMETERS
from app.layer_sql import Selection
from app.params import BBox, CollectionId, Interval, PurposeHeader, PurposeQuery, purpose_of
from app.principal_cache import Credentials
from app.services import Services, services_of
from app.tokens import looks_like_jwt
from core.security import Principal, principal_for_key
from core.sessions import SESSION_COOKIE, principal_for_session
from core.settings import Settings
from layers import REGISTRY
from layers.base import Layer

#: Query parameters with a meaning of their own; every other one filters a property.
RESERVED = (
    frozenset({"f", "limit", "offset", "cursor", "bbox", "bbox-crs", "crs", "datetime", "doel"}) | PARAMETERS
)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _presented(request: Request) -> Credentials | None:
    """The credentials the request presents (``sleutel``, ``jwt`` or ``sessie``), or None."""
    token, kind = _bearer(request), "sleutel"
    if token is None:
        token, kind = request.cookies.get(SESSION_COOKIE), "sessie"
        if not token:
            return None
    elif looks_like_jwt(token):
        kind = "jwt"  # a provider-issued access token (app/oidc.py)
    return Credentials.of(kind, token)


@dataclass(slots=True)
class Caller:
    """Who a request is from, resolved once per request and kept on ``request.state``.

    ``resolved``: the cache or a lookup answered (``principal`` None then means unknown or
    refused credentials); ``looked_up``: it took a lookup (a cache miss), which is what the
    failed sign-in limit counts.
    """

    credentials: Credentials | None
    principal: Principal | None = None
    resolved: bool = False
    looked_up: bool = False


#: Where the caller of a request is kept (``request.state``).
CALLER = "okaart_caller"


def caller_of(request: Request) -> Caller:
    """The request's caller: credentials parsed and hashed, and the cache asked, the first
    time only (no I/O). The access gate calls it first; routes get the same object."""
    state = request.scope.setdefault("state", {})
    caller: Caller | None = state.get(CALLER)
    if caller is None:
        caller = Caller(_presented(request))
        if caller.credentials is not None:
            caller.resolved, caller.principal = services_of(request.app).principals.get(caller.credentials)
        state[CALLER] = caller
    return caller


async def look_up(request: Request, caller: Caller) -> Principal | None:
    """Resolve a caller the cache did not know, in a worker thread, and cache the answer."""
    credentials = caller.credentials
    if credentials is None:
        return None
    services = services_of(request.app)
    generation = services.principals.generation
    caller.principal = await run_in_threadpool(_lookup, services, credentials)
    caller.resolved = caller.looked_up = True
    services.principals.put(credentials, caller.principal, generation)
    return caller.principal


async def current_principal(request: Request) -> Principal | None:
    """The caller, from ``Authorization: Bearer <key>`` or the session cookie; None when
    anonymous or unknown.

    The dependencies are ``async`` so FastAPI does not send each one to the thread pool; only
    a cache miss looks the key up, in a worker thread. This one runs on every request, so it
    takes the services straight from the app rather than as dependencies of its own (FastAPI
    solves each dependency again wherever it appears in a route's tree, cached or not). The
    access gate resolves the caller first on routes that are not open (:func:`caller_of`);
    here it is then only read back.
    """
    caller = caller_of(request)
    if caller.resolved or caller.credentials is None:
        return caller.principal
    return await look_up(request, caller)


def _lookup(services: Services, credentials: Credentials) -> Principal | None:
    engine, mapping = services.engine, services.settings.toegang
    kind, token = credentials.kind, credentials.token
    if kind == "jwt":
        return oidc.principal_for_access_token(engine, services.providers, mapping, token)
    with engine.connect() as conn:
        if kind == "sleutel":
            return principal_for_key(conn, token)
        found = principal_for_session(conn, token)
    if found is None and services.providers.by_name:
        # An OpenID Connect session whose token ran out is renewed here, if it may be.
        return oidc.refresh_session(engine, services.providers, mapping, token)
    return found


OptionalPrincipalDep = Annotated[Principal | None, Depends(current_principal)]


async def require_principal(principal: OptionalPrincipalDep) -> Principal:
    if principal is None:
        raise UnauthorizedError(
            "aanmelden vereist: stuur een geldige API-sleutel als 'Authorization: Bearer <sleutel>'",
            headers={"WWW-Authenticate": 'Bearer realm="ondermijningskaart"'},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(require_principal)]


def _visible(request: Request, collection_id: str, principal: Principal) -> Layer:
    layer = REGISTRY.get(collection_id)
    if (
        layer is not None
        and principal.role_can_see(layer.clearance)
        and not principal.can_see(layer.clearance)
    ):
        # The role may see this layer, the sign-in lacks the second factor: say so (the
        # layer's existence is no secret to this role).
        raise ForbiddenError(
            f"collectie {collection_id!r} vraagt aanmelden met een tweede factor (MFA); "
            "zonder tweede factor ziet u alleen cijfers per gebied"
        )
    if layer is None or not principal.can_see(layer.clearance):
        raise NotFoundError(f"collectie {collection_id!r} bestaat niet")
    entry = audit.entry_of(request)
    if entry is not None:
        entry.laag = layer.id
    return layer


async def visible_layer(request: Request, collection_id: CollectionId, principal: PrincipalDep) -> Layer:
    """The layer, if this principal may see it; otherwise exactly like a missing one.

    Enough for the layer's metadata (its description, TileJSON); a route that serves its
    rows takes :data:`ReadableLayerDep`.
    """
    return _visible(request, collection_id, principal)


LayerDep = Annotated[Layer, Depends(visible_layer)]


async def readable_layer(
    request: Request,
    collection_id: CollectionId,
    principal: PrincipalDep,
    x_doel: PurposeHeader = None,
    doel: PurposeQuery = None,
) -> Layer:
    """The layer, if this principal may see it (else a 404, as :func:`visible_layer`), and
    may read its rows for the purpose stated.

    Data below aggregate level (signals, addresses, vacancy points) needs a purpose the
    principal is allowed: missing is a 400, not allowed a 403. The purpose given is
    audited either way, also on an aggregate layer. The purpose parameters are declared
    here rather than taken as :data:`app.params.PurposeDep`: one dependency fewer to solve
    on every tile.
    """
    layer = _visible(request, collection_id, principal)
    stated = purpose_of(x_doel, doel)
    record_purpose(request, stated)
    if layer.clearance != "aggregaat":
        require_purpose(principal, stated, f"laag {layer.id!r} bevat gegevens op objectniveau")
    return layer


ReadableLayerDep = Annotated[Layer, Depends(readable_layer)]


def require_purpose(principal: Principal, stated: str | None, why: str) -> None:
    """Refuse a read below aggregate level without a purpose (400) or with one the
    principal may not use (403). The refused value is never echoed or stored: it may be
    anything, up to a pasted key."""
    if stated is None:
        raise BadRequestError(
            f"{why}: vermeld het doel van uw verzoek met de header 'X-Doel' of de parameter 'doel' "
            f"(toegestaan: {', '.join(principal.doelen) or '(geen)'})"
        )
    if not principal.allows_doel(stated):
        allowed = ", ".join(principal.doelen) or "(geen)"
        raise ForbiddenError(f"het opgegeven doel is voor u niet toegestaan; toegestaan: {allowed}")


def record_purpose(request: Request, doel: str | None) -> None:
    """Put the stated purpose in the request's audit row."""
    entry = audit.entry_of(request)
    if entry is not None:
        entry.doel = doel


def property_filters(request: Request, layer: Layer) -> dict[str, str]:
    """The query parameters that filter a property (``thema=drugs``); a 400 for one the
    layer does not filter on, so a typo never silently widens the answer."""
    filters = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    allowed = {p.name for p in layer.properties if p.filterable}
    unknown = sorted(set(filters) - allowed)
    if unknown:
        raise BadRequestError(
            f"onbekende parameter(s) {', '.join(unknown)}; "
            f"filters op deze laag: {', '.join(sorted(allowed)) or '(geen)'}"
        )
    return filters


def _check_period(layer: Layer, period: Interval) -> None:
    if (period.start or period.end) and not layer.datetime_column:
        raise BadRequestError(f"laag {layer.id!r} heeft geen tijd; datetime kan hier niet")


def feature_selection(
    request: Request, layer: Layer, box: BBox, period: Interval, settings: Settings
) -> Selection:
    """What an items request asks of the layer: property filters, bbox and period.

    A point layer's bbox is capped (``OKAART_POINT_BBOX_MAX_KM2``): a city-wide box of
    points is paged with limit/offset instead. The bbox is audited, refused or not.
    """
    filters = property_filters(request, layer)
    if box.box is not None:
        audit.note(request, bbox=box.label())
        cap = settings.point_bbox_max_km2
        if layer.kind == "punten" and box.km2() > cap:
            raise BadRequestError(
                f"bbox is te groot voor een puntenlaag: hoogstens {cap:g} km²; "
                "vraag een kleiner gebied op of laat bbox weg en blader met limit/offset"
            )
    _check_period(layer, period)
    return Selection(filters=filters, bbox=box.box, bbox_srid=box.srid, start=period.start, end=period.end)


def tile_selection(request: Request, layer: Layer, period: Interval) -> Selection:
    """What a tile request asks of the layer: property filters (the layer's defaults for
    those not named, as the map draws it) and period; a tile's area is the tile."""
    filters = property_filters(request, layer)
    _check_period(layer, period)
    return Selection(filters={**layer.defaults_for(filters), **filters}, start=period.start, end=period.end)
