"""What each worker runs beside its requests, for the state it shares with the others: the
revocation listener (:mod:`app.principal_cache`) and the sealer of failed sign-ins
(:mod:`app.auth_failures`). Started and stopped with the app (its lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from anyio import to_thread

from app.principal_cache import RevocationListener
from app.services import Services
from core import db

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


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    """Run the listener and the sealer for as long as the app serves."""
    own_login = services.engine.url.render_as_string(hide_password=False)
    listener = RevocationListener(db.libpq_uri(own_login), services.principals)
    listener.start(asyncio.get_running_loop())
    sealer = asyncio.create_task(_seal_now_and_then(services))
    try:
        yield
    finally:
        sealer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sealer
        await to_thread.run_sync(listener.stop)
        with contextlib.suppress(Exception):  # the last failures, if the database lets us
            await to_thread.run_sync(services.auth_failures.seal)
