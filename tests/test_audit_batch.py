"""Group commit of audit rows (app/audit_batch.py) and cached tiles answered before the
dependencies (app/tile_hits.py), issue 16: cheaper, and still no data before its row.

On a private copy of the demo database, so that taking the api role's INSERT away (a commit
that fails) and revoking a key touch no other test.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from app import metrics
from app.audit import AuditEntry
from app.audit_batch import AuditBatch
from app.services import services_of
from app.tms import GRIDS, WEB_MERCATOR
from core import db
from core.security import create_principal_key
from core.settings import Settings
from tests.conftest import PRINCIPALS, scalar

CENTRE = (6.567, 53.219)
#: A street-level signal tile with points in the demo data (as tests/test_tilecache.py's).
TILE = GRIDS[WEB_MERCATOR].tms.tile(*CENTRE, 18)
URL = f"/collections/signalen/tiles/WebMercatorQuad/18/{TILE.x}/{TILE.y}"
LABEL = f"tegel 18/{TILE.x}/{TILE.y}"


@dataclass
class Copy:
    owner: Engine
    api: Engine
    app: Any
    client: TestClient
    keys: dict[str, str]
    key_ids: dict[str, int]
    doelen: dict[str, str]


@pytest.fixture(scope="module")
def copy(pg_server: Any, demo_engine: Engine, api_login: Callable[[str], str]) -> Iterator[Copy]:
    from app.main import create_app

    name, url = pg_server.copy_database(str(demo_engine.url.database), "okaart_batch")
    owner = create_engine(url)
    keys: dict[str, str] = {}
    key_ids: dict[str, int] = {}
    doelen: dict[str, str] = {}
    kinds = {"analist": "analist", "planner": "planner", "partner_riec": "partner_riec"}
    kinds |= {"partner_zorg": "partner_zorg", "ingetrokken": "analist"}  # the last one revoked later
    with owner.begin() as c:
        for who, kind in kinds.items():
            spec: dict[str, Any] = dict(PRINCIPALS[kind])
            keys[who], key_ids[who] = create_principal_key(c, naam=f"batch-{who}", **spec)
            doelen[who] = spec["doelen"][0]
    api = db.make_engine(api_login(url), statement_timeout_ms=5000)
    app = create_app(Settings(database_url=url, environment="test", admission_slots=40), engine=api)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Copy(owner, api, app, client, keys, key_ids, doelen)
    api.dispose()
    owner.dispose()
    pg_server.drop_database(name)


def headers(c: Copy, who: str | None, doel: str | None = None) -> dict[str, str]:
    if who is None:
        return {}
    return {"Authorization": f"Bearer {c.keys[who]}", "X-Doel": c.doelen[who] if doel is None else doel}


def entry(route: str, methode: str = "GET") -> AuditEntry:
    return AuditEntry(methode=methode, route=route, client="127.0.0.1", data=True, aantal=1)


def early_hits() -> float:
    return metrics.REGISTRY.get_sample_value("okaart_tile_hits_early_total") or 0.0


@pytest.fixture(autouse=True)
def lasting_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Data versions known for the whole test once looked up: the early path never looks
    one up itself (a stale one sends the request through the route), and a slow machine
    must not make a test about that path test the route instead."""
    monkeypatch.setattr("app.dataversion.TTL", 600.0)


def fresh_versions(c: Copy) -> None:
    """The data version looked up just now, so the early path may use it (it never waits
    for a lookup: a stale one sends the request through the route)."""
    services_of(c.app).versions.expire()
    services_of(c.app).versions.runs()


# -- the writer ---------------------------------------------------------------------------------


def test_rows_handed_over_together_are_one_insert_chained_in_order(copy: Copy) -> None:
    """Forty requests waiting at once: one statement, one chain, forty rows linked one after
    the other, and the whole trail still verifies."""
    batch = AuditBatch(copy.api, autostart=False)
    n = 40
    with ThreadPoolExecutor(n) as pool:
        waiting = [pool.submit(batch.write, entry(f"/samen/{i}"), 200) for i in range(n)]
        while batch._queue.qsize() < n:
            time.sleep(0.01)
        batch.start()
        for w in waiting:
            w.result(timeout=60)
    batch.stop()
    assert (batch.batches, batch.rows) == (1, n)
    with copy.owner.connect() as conn:
        rows = conn.execute(
            text("SELECT id, keten, prev_hash, hash FROM audit_log WHERE route LIKE '/samen/%' ORDER BY id")
        ).all()
        assert len(rows) == n and len({r.keten for r in rows}) == 1
        for before, after in itertools.pairwise(rows):
            assert after.prev_hash == before.hash  # nothing of another writer in between
        assert conn.execute(text("SELECT count(*) FROM audit_log_verify()")).scalar_one() == 0


def test_a_lone_row_is_written_without_waiting_for_others(copy: Copy) -> None:
    """No batch to fill and no timer: one row alone is committed and its caller released."""
    batch = AuditBatch(copy.api)
    alone = entry("/alleen")
    batch.write(alone, 200)
    assert alone.accounted == 200
    assert (batch.batches, batch.rows) == (1, 1)
    assert scalar(copy.owner, "SELECT count(*) FROM audit_log WHERE route = '/alleen'") == 1
    batch.stop()


def test_a_failed_commit_fails_every_row_of_its_batch(copy: Copy) -> None:
    """One row the database refuses (a NUL byte) sinks the statement: every request of the
    batch hears of it, and none of their rows is stored."""
    batch = AuditBatch(copy.api, autostart=False)
    entries = [entry(f"/kapot/{i}") for i in range(5)] + [entry("/kapot/nul", methode="GE\x00T")]
    with ThreadPoolExecutor(len(entries)) as pool:
        waiting = [pool.submit(batch.write, e, 200) for e in entries]
        while batch._queue.qsize() < len(entries):
            time.sleep(0.01)
        batch.start()
        failures = [w.exception(timeout=60) for w in waiting]
    batch.stop()
    assert all(f is not None for f in failures)
    assert all(e.accounted is None for e in entries)
    assert scalar(copy.owner, "SELECT count(*) FROM audit_log WHERE route LIKE '/kapot/%'") == 0


# -- cached tiles through the app ----------------------------------------------------------------


def _tile_rows(c: Copy) -> int:
    return int(scalar(c.owner, "SELECT count(*) FROM audit_log WHERE bbox = :b AND status = 200", b=LABEL))


def test_concurrent_cached_tiles_each_get_a_chained_row_or_all_a_503(copy: Copy) -> None:
    c = copy
    built = c.client.get(URL, headers=headers(c, "analist"))
    assert built.status_code == 200 and built.content
    fresh_versions(c)
    before, hits = _tile_rows(c), early_hits()
    n = 24
    with ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(lambda _: c.client.get(URL, headers=headers(c, "analist")), range(n)))
    assert [a.status_code for a in answers] == [200] * n
    assert all(a.content == built.content for a in answers)
    assert early_hits() - hits == n  # all answered before the dependencies ran
    assert _tile_rows(c) == before + n
    assert scalar(c.owner, "SELECT count(*) FROM audit_log_verify()") == 0

    with c.owner.begin() as conn:
        conn.execute(text("REVOKE INSERT ON audit_log FROM okaart_api"))
    try:
        fresh_versions(c)
        with ThreadPoolExecutor(n) as pool:
            refused = list(pool.map(lambda _: c.client.get(URL, headers=headers(c, "analist")), range(n)))
    finally:
        with c.owner.begin() as conn:
            conn.execute(text("GRANT INSERT ON audit_log TO okaart_api"))
    for answer in refused:
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert "toegangslogboek" in answer.json()["detail"]
        assert built.content not in answer.content
    assert c.client.get(URL, headers=headers(c, "analist")).status_code == 200  # the trail is back


def _answer(c: Copy, who: str | None, doel: str | None = None) -> tuple[int, str, bytes]:
    r = c.client.get(URL, headers=headers(c, who, doel))
    return r.status_code, r.headers.get("content-type", ""), r.content


def _cold_and_warm(c: Copy, who: str | None, warm_with: str, doel: str | None = None) -> tuple[Any, Any]:
    """The answer to ``who`` with the tile cache empty, and after ``warm_with`` has had the
    tile served from memory before the dependencies ran."""
    services_of(c.app).tile_cache.clear()
    cold = _answer(c, who, doel)
    assert c.client.get(URL, headers=headers(c, warm_with)).status_code == 200
    fresh_versions(c)
    hits = early_hits()
    assert c.client.get(URL, headers=headers(c, warm_with)).status_code == 200
    assert early_hits() == hits + 1  # the warm path is the one being compared
    return cold, _answer(c, who, doel)


@pytest.mark.parametrize(
    ("who", "warm_with", "doel", "status"),
    [
        (None, "analist", None, 401),  # no key
        ("planner", "analist", None, 404),  # a layer the role may not see: as if missing
        ("analist", "analist", "", 400),  # no purpose below aggregate level
        ("analist", "analist", "opsporing", 403),  # a purpose not the key's own
        ("partner_zorg", "partner_riec", None, 200),  # another covenant: its own tile, not the cached one
    ],
)
def test_a_warm_cache_refuses_exactly_like_a_cold_one(
    copy: Copy, who: str | None, warm_with: str, doel: str | None, status: int
) -> None:
    cold, warm = _cold_and_warm(copy, who, warm_with, doel)
    assert cold[0] == status
    assert warm == cold


def test_a_revoked_key_is_refused_from_a_warm_cache_as_from_a_cold_one(copy: Copy) -> None:
    c = copy
    services_of(c.app).tile_cache.clear()
    assert _answer(c, "ingetrokken")[0] == 200
    fresh_versions(c)
    hits = early_hits()
    assert _answer(c, "ingetrokken")[0] == 200
    assert early_hits() == hits + 1
    with c.owner.begin() as conn:
        conn.execute(
            text("UPDATE api_key SET ingetrokken_op = now() WHERE id = :i"), {"i": c.key_ids["ingetrokken"]}
        )
    # What the revocation listener does on the trigger's notification, done here at once.
    services_of(c.app).principals.clear()
    warm = _answer(c, "ingetrokken")
    services_of(c.app).tile_cache.clear()
    services_of(c.app).principals.clear()
    cold = _answer(c, "ingetrokken")
    assert warm[0] == 401 and warm == cold
