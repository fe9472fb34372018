"""The API documentation renders in a real browser with nothing fetched from outside the server."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.conftest import LiveServer


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_swagger_ui_renders_every_operation_offline(
    live_server: LiveServer, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
    try:
        page.goto(f"{live_server.url}/docs")
        page.wait_for_selector(".opblock-summary-path[data-path='/v1/events']", timeout=15_000)
        paths = page.eval_on_selector_all(
            ".opblock-summary-path", "nodes => nodes.map(n => n.getAttribute('data-path'))"
        )
    finally:
        page.close()
    assert "/v1/customers/{external_id}" in paths
    assert "/v1/outbox" in paths
    assert hosts == {urlparse(live_server.url).netloc}, f"fetched from elsewhere: {hosts}"
