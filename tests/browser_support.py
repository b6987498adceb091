"""Support for the browser tests: the app served over real HTTP, and Debian's Chromium.

The tests drive the system Chromium (``/usr/bin/chromium``, from ``scripts/system-deps.sh``)
through Playwright's Python package; Playwright's own browser download is never used. A
machine without Chromium fails these tests: it does not skip them.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from core.pgcluster import free_port

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    """The system Chromium; an AssertionError (a failure, never a skip) when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is missing: run scripts/system-deps.sh as root (apt-get install chromium)"
    return found


@contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free (or the given) loopback port in a thread; yields
    the base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def artifact(name: str) -> Path:
    """A path under ``test-artifacts/`` (kept by CI, ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
