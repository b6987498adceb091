"""Log lines that would repeat once per request while something is down: at most one a minute.

A 30 s database outage used to write a traceback per request (3,400 of them, 18 MB). Each
kind of trouble (the database unreachable, statement timeouts, an exhausted pool) now logs
its first occurrence at once and then at most one line per :data:`EVERY_SECONDS`, saying how
many requests failed since the previous line. The requests themselves still get their 503.
"""

from __future__ import annotations

import logging
import threading
import time

#: Seconds between two lines about the same trouble.
EVERY_SECONDS = 60.0


class Throttle:
    """Lets a recurring event through at most once per ``every`` seconds, counting the rest:
    the one throttle behind both a named report (:class:`ThrottledLog`) and a logger's filter
    (:class:`ThrottleFilter`)."""

    def __init__(self, every: float = EVERY_SECONDS) -> None:
        self.every = every
        self.count = 0
        self.last: float | None = None
        self._lock = threading.Lock()

    def tick(self) -> int | None:
        """Count one occurrence; when it may pass, how many were counted since the previous
        one that passed (itself included), else None."""
        with self._lock:
            self.count += 1
            now = time.monotonic()
            if self.last is not None and now - self.last < self.every:
                return None
            count, self.count, self.last = self.count, 0, now
            return count


class ThrottledLog(Throttle):
    """One logger line per ``every`` seconds for a recurring failure, with a count."""

    def __init__(self, logger: logging.Logger, level: int, what: str, every: float = EVERY_SECONDS) -> None:
        super().__init__(every)
        self.logger = logger
        self.level = level
        self.what = what

    def report(self, detail: str) -> None:
        """Count one failure; log when the previous line is ``every`` seconds old."""
        count = self.tick()
        if count is None:
            return
        first_line = detail.strip().splitlines()[0] if detail.strip() else ""
        self.logger.log(
            self.level,
            "%s: %d failed request(s) since the last report; last: %s",
            self.what,
            count,
            first_line,
        )


_log = logging.getLogger("okaart.errors")
DATABASE_DOWN = ThrottledLog(_log, logging.ERROR, "database unreachable")
STATEMENT_TIMEOUT = ThrottledLog(_log, logging.WARNING, "statement timeout")
POOL_EXHAUSTED = ThrottledLog(_log, logging.WARNING, "connection pool exhausted")


class ThrottleFilter(logging.Filter):
    """The same throttle for lines logged elsewhere: a recurring line (same logger, same
    message template) passes once per ``every`` seconds, and the next one that passes says
    how many were held back. Installed on loggers that log once per failed request."""

    def __init__(self, every: float = EVERY_SECONDS) -> None:
        super().__init__()
        self.every = every
        #: One throttle per message template (the templates are the code's, so few).
        self.throttles: dict[str, Throttle] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        throttle = self.throttles.get(template)
        if throttle is None:
            throttle = self.throttles.setdefault(template, Throttle(self.every))
        count = throttle.tick()
        if count is None:
            return False
        if count > 1:
            record.msg = f"{template} [{count - 1} more since the last report]"
        return True


#: Loggers that write a line per request when the database is away (the audit trail's
#: "row could not be written; answering 503"; psycopg_pool's "error connecting" of the early
#: paths' async connections, app/async_reads.py).
THROTTLED = ("okaart.audit", "psycopg.pool")


def install() -> None:
    """Throttle :data:`THROTTLED` (once per process)."""
    for name in THROTTLED:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ThrottleFilter) for f in logger.filters):
            logger.addFilter(ThrottleFilter())
