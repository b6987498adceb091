"""``/api.html`` in a real browser (headless Chromium): Swagger UI from /static renders every
operation of the API document, with no request blocked by the CSP, failed, or sent elsewhere."""

from __future__ import annotations

import httpx
from playwright.sync_api import sync_playwright

from tests.browser_support import CHROMIUM_ARGS, artifact, chromium_path

# base_url: tests/conftest.py.


def test_api_html_renders_every_operation_with_nothing_blocked(base_url: str) -> None:
    page_response = httpx.get(f"{base_url}/api.html")
    assert page_response.status_code == 200
    csp = page_response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-eval" not in csp
    assert "cdn" not in page_response.text.lower() and "https://" not in page_response.text
    operations = sum(len(ops) for ops in httpx.get(f"{base_url}/api").json()["paths"].values())

    problems: list[str] = []
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("request", lambda r: requested.append(r.url))
        page.goto(f"{base_url}/api.html")
        page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
        page.wait_for_load_state("networkidle")
        shown = page.locator(".swagger-ui .opblock").count()
        title = page.locator(".swagger-ui .info .title").inner_text()
        page.screenshot(path=artifact("api-docs.png"), full_page=False)
        browser.close()
    assert problems == []
    assert title.startswith("Ondermijningskaart")
    assert shown == operations > 10
    assert requested and all(u.startswith(base_url) or u.startswith("data:") for u in requested), requested
    assert f"{base_url}/static/vendor/swagger-ui/swagger-ui-bundle.js" in requested
