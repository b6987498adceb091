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


class ThrottledLog:
    """One logger line per ``every`` seconds for a recurring failure, with a count."""

    def __init__(self, logger: logging.Logger, level: int, what: str, every: float = EVERY_SECONDS) -> None:
        self.logger = logger
        self.level = level
        self.what = what
        self.every = every
        self.count = 0
        self.last: float | None = None
        self._lock = threading.Lock()

    def report(self, detail: str) -> None:
        """Count one failure; log when the previous line is ``every`` seconds old."""
        with self._lock:
            self.count += 1
            now = time.monotonic()
            if self.last is not None and now - self.last < self.every:
                return
            count, self.count, self.last = self.count, 0, now
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
        self.seen: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        now = time.monotonic()
        with self._lock:
            last, held = self.seen.get(template, (None, 0))
            if last is not None and now - last < self.every:
                self.seen[template] = (last, held + 1)
                return False
            self.seen[template] = (now, 0)
        if held:
            record.msg = f"{template} [{held} more since the last report]"
        return True


#: Loggers that write a line per request when the database is away (the audit trail's
#: "row could not be written; answering 503").
THROTTLED = ("okaart.audit",)


def install() -> None:
    """Throttle :data:`THROTTLED` (once per process)."""
    for name in THROTTLED:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ThrottleFilter) for f in logger.filters):
            logger.addFilter(ThrottleFilter())
