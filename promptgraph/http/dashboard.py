"""The dashboard (contract section 9) from the package itself: its page at GET / and its
bundle under /static/dashboard/, built from dashboard/ by dashboard/build. It talks to the
server only through /graphql with the key the user enters, so the page needs no key."""

from functools import cache
from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/static/dashboard"


def _directory() -> str:
    return str(files("promptgraph") / "static" / "dashboard")


@cache
def page() -> str:
    return (files("promptgraph") / "static" / "dashboard" / "index.html").read_text(
        encoding="utf-8"
    )


def mount_dashboard(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        # The page names its assets without a content hash: revalidate it on each visit.
        return HTMLResponse(page(), headers={"Cache-Control": "no-cache"})

    app.mount(ASSETS_PATH, StaticFiles(directory=_directory()), name="dashboard-assets")
