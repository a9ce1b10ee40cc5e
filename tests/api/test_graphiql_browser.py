"""GraphiQL in a real browser, cut off from the internet: the page, its editors, a query.

Debian's Chromium driven by Playwright (never `playwright install`: the browser comes from
`apt-get install chromium`, which .ci/run does on a fresh machine).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.conftest import Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = os.environ.get("MDM_TEST_SCREENSHOTS")  # set to keep screenshots to look at


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():  # `make test` installs it (as root); never skipped
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium (`make browser` does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class OfflinePage:
    """A browser page that reaches 127.0.0.1 only and records every other request."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.outside: list[str] = []
        self.inside: list[str] = []
        self.errors: list[str] = []
        page.route("**/*", self._route)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            self.inside.append(url)
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


@pytest.fixture
def offline(browser: Browser, request: pytest.FixtureRequest) -> Iterator[OfflinePage]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = OfflinePage(context.new_page())
    try:
        yield page
    finally:
        if SCREENSHOT_DIR:  # what the page showed at the end, passed or failed
            page.page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{request.node.name}.png"))
        context.close()


def _replace_text(page: Page, editor: str, text: str) -> None:
    """Replace a CodeMirror editor's text as a user would: click, select all, type."""
    page.locator(f"{editor} .CodeMirror").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)  # as pasted: no auto-closed brackets


# The page is the same whatever the database; one backend is enough.
@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_graphiql_runs_a_query_with_a_token_and_nothing_but_the_hub(
    server: Server, offline: OfflinePage
) -> None:
    source_id = f"V-{uuid.uuid4().hex[:8]}"
    name = f"Browser Medical {uuid.uuid4().hex[:6]}"
    ingested = server.query(
        """mutation($input: SourceRecordInput!) { ingestRecord(input: $input) {
             ... on IngestRecordSuccess { outcome { status } } } }""",
        {
            "input": {
                "entityType": "vendor",
                "system": "ERP",
                "sourceId": source_id,
                "attributes": {"name": name},
            }
        },
        role="integrator",
    )
    assert ingested["data"]["ingestRecord"]["outcome"]["status"] == "CREATED"
    page = offline.page

    page.goto(f"{server.url}/graphql")
    page.locator(".graphiql-query-editor .CodeMirror").wait_for(timeout=20_000)
    assert page.locator(".graphiql-execute-button").is_visible()
    assert "MDM hub" in page.locator(".graphiql-query-editor").inner_text()

    _replace_text(
        page,
        ".graphiql-editor-tool .graphiql-editor:not(.hidden)",
        f'{{"Authorization": "Bearer {server.tokens["integrator"]}"}}',
    )
    query = (
        f'query Who {{ crosswalk(entityType: "vendor", system: "ERP", sourceId: "{source_id}") '
        "{ found golden { ... on Vendor { name } } } }"
    )
    golden_name = server.query(query, role="integrator")["data"]["crosswalk"]["golden"]["name"]
    _replace_text(page, ".graphiql-query-editor", query)
    # GraphiQL reads the operation name from the editor after a short debounce; a click
    # at once would still send the welcome query's name (a person is never that fast).
    page.wait_for_timeout(1_000)
    page.locator(".graphiql-execute-button").click()
    response = page.locator(".graphiql-response")
    response.get_by_text(golden_name).wait_for(timeout=20_000)
    assert '"found": true' in response.inner_text()
    # With a token in the Headers pane the schema was fetched: the docs can be read.
    page.get_by_role("button", name="Show Documentation Explorer").click()
    page.locator(".graphiql-doc-explorer").get_by_text("Root Types").wait_for(timeout=10_000)

    assert offline.outside == []
    assert offline.errors == []
    assert any("/graphql/static/graphiql/graphiql.min.js" in url for url in offline.inside)


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_graphiql_page_and_assets_are_served_by_the_hub(server: Server) -> None:
    page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    links = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert links and all(u.startswith(("graphql/static/", "data:")) for u in links), links
    for asset in (
        "graphiql/graphiql.min.js",
        "graphiql/graphiql.min.css",
        "graphiql/react.production.min.js",
        "graphiql/react-dom.production.min.js",
        "mdm-graphiql.js",
    ):
        assert f"graphql/static/{asset}" in page.text
        response = httpx.get(f"{server.url}/graphql/static/{asset}")
        assert response.status_code == 200, asset
        assert len(response.content) > 100
