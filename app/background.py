"""What each worker runs beside its requests, for the state it shares with the others: the
revocation listener (:mod:`app.principal_cache`), the sealer of failed sign-ins
(:mod:`app.auth_failures`) and the replicas' health check (:mod:`core.replica`), which a
request then only reads. Started and stopped with the app (its lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from anyio import to_thread

from app.principal_cache import RevocationListener
from app.services import Services
from core import db
from core.replica import ReplicaSet

log = logging.getLogger("okaart.achtergrond")


async def _seal_now_and_then(services: Services) -> None:
    every = min(float(services.settings.auth_failure_window_s), 15.0)
    failing = False
    while True:
        await asyncio.sleep(every)
        try:
            await to_thread.run_sync(services.auth_failures.seal)
            failing = False
        except Exception as exc:  # the database is away: the next round tries again
            if not failing:
                log.warning("failed sign-ins could not be sealed (%s); retrying", exc)
                failing = True


async def _check_replicas(replicas: ReplicaSet) -> None:
    """Check the replicas at once, then every ``check_s``: the verdicts reads go by.

    In a thread: a check connects and queries, and a replica that does not answer holds it
    for its connect timeout, which must not stop the event loop (or /healthz) meanwhile.
    """
    failing = False
    while True:
        try:
            await to_thread.run_sync(replicas.check)
            failing = False
        except Exception as exc:  # e.g. the pool is exhausted: the next round tries again
            if not failing:
                log.warning("replica check failed (%s); reads stay on the primary meanwhile", exc)
                failing = True
        await asyncio.sleep(replicas.check_s)


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    """Run the listener, the sealer and the replica check for as long as the app serves."""
    own_login = services.engine.url.render_as_string(hide_password=False)
    listener = RevocationListener(db.libpq_uri(own_login), services.principals)
    listener.start(asyncio.get_running_loop())
    tasks = [asyncio.create_task(_seal_now_and_then(services))]
    if services.replicas is not None:
        tasks.append(asyncio.create_task(_check_replicas(services.replicas)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await to_thread.run_sync(listener.stop)
        with contextlib.suppress(Exception):  # the last failures, if the database lets us
            await to_thread.run_sync(services.auth_failures.seal)
