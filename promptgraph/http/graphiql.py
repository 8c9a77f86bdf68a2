"""GraphiQL from the package itself: the page at GET /graphql (from a browser, no key
needed) and its assets under /static/graphiql/, pinned by graphiql/package-lock.json and
copied there by graphiql/build. Nothing is fetched from a CDN, so it works offline."""

from functools import cache
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/static/graphiql"


@cache
def page() -> str:
    return (files("promptgraph.http") / "graphiql.html").read_text(encoding="utf-8")


class PackagedGraphiQL:
    """Mixed into strawberry's GraphQLRouter: its own hook for the page it serves to
    browsers, which would otherwise load React and GraphiQL from unpkg.com."""

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(page())


def mount_assets(app: FastAPI) -> None:
    directory = files("promptgraph") / "static" / "graphiql"
    app.mount(ASSETS_PATH, StaticFiles(directory=str(directory)), name="graphiql-assets")
