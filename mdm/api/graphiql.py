"""GraphiQL served from the package: its page and the vendored React and GraphiQL builds.

Hospital networks often have no internet access, so the page loads nothing from a CDN:
React, ReactDOM and GraphiQL are shipped in ``static/graphiql/`` (see its ``VENDORED.md``)
and served under ``/graphql/static/``. A Content-Security-Policy keeps the browser from
loading or sending anything anywhere else.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS_PATH = "/graphql/static"

# GraphiQL's editors style elements inline; fonts and icons come as data: URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>MDM hub · GraphiQL</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{assets}/graphiql/graphiql.min.css">
    <link rel="stylesheet" href="{assets}/mdm-graphiql.css">
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script src="{assets}/graphiql/react.production.min.js"></script>
    <script src="{assets}/graphiql/react-dom.production.min.js"></script>
    <script src="{assets}/graphiql/graphiql.min.js"></script>
    <script src="{assets}/mdm-graphiql.js"></script>
  </body>
</html>
"""


def graphiql_page(_: Request | None = None) -> HTMLResponse:
    """The GraphiQL page for ``GET /graphql`` in a browser; its assets come from this server.

    Its URLs are relative (``graphql/static/…`` from ``/graphql``), so the page also works
    behind a reverse proxy that serves the hub below a path prefix.
    """
    return HTMLResponse(
        _PAGE.format(assets=ASSETS_PATH.lstrip("/")),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def graphiql_routes(enabled: bool) -> list[BaseRoute]:
    """The route of GraphiQL's assets (``/graphql/static/…``), or none when it is off."""
    if not enabled:
        return []
    return [Mount(ASSETS_PATH, app=StaticFiles(directory=STATIC_DIR), name="graphiql-assets")]
