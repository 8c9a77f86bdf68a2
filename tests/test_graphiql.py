"""GraphiQL loads with no network beyond the server (contract section 6): the page served at
GET /graphql references only assets the server itself serves, pinned by version. CI rebuilds the assets from graphiql/package-lock.json and fails if they differ
from the committed ones (`graphiql/build --check` in .ci/run)."""

import asyncio
import json
import os
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "promptgraph" / "static" / "graphiql"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


class References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value and not value.startswith("data:"):
                self.urls.append(value)


async def graphiql_page(http) -> str:
    response = await http.get("/graphql", headers=BROWSER)  # no key
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def test_the_page_references_no_other_host(api):
    page = await graphiql_page(api.http)
    assert "GraphiQL" in page
    assert re.findall(r"https?://", page, flags=re.IGNORECASE) == []
    assert "//unpkg" not in page and "cdn" not in page.lower()


async def test_every_asset_the_page_references_is_served_by_the_app(api):
    parser = References()
    parser.feed(await graphiql_page(api.http))
    scripts_and_styles = [url for url in parser.urls if url.endswith((".js", ".css"))]
    assert len(scripts_and_styles) == 6  # React, ReactDOM, GraphiQL and its explorer plugin
    for url in parser.urls:
        assert url.startswith("/"), url
        response = await api.http.get(url)  # no key either
        assert response.status_code == 200, url
        packaged = (ASSETS / url.rsplit("/", 1)[1]).read_bytes()
        assert response.content == packaged and len(packaged) > 500, url
        kind = "javascript" if url.endswith(".js") else "css"
        assert kind in response.headers["content-type"], url


def test_the_packaged_assets_are_the_locked_versions():
    lock = json.loads((REPO / "graphiql" / "package-lock.json").read_text())
    manifest = json.loads((ASSETS / "versions.json").read_text())
    for name, version in manifest["versions"].items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
    declared = json.loads((REPO / "graphiql" / "package.json").read_text())["dependencies"]
    for name, version in manifest["versions"].items():
        assert declared[name] == version  # exact pins, no ranges
    served = sorted(path.name for path in ASSETS.iterdir() if path.name != "versions.json")
    assert served == manifest["files"]


CHROMIUM = next(
    (
        shutil.which(name)
        for name in ("chromium", "chromium-browser", "google-chrome")
        if shutil.which(name)
    ),
    None,
)


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs a headless Chromium (Debian: apt-get install chromium)"
)
async def test_graphiql_renders_in_a_browser_with_the_network_closed(tmp_path):
    """A real `promptgraph serve` and a headless Chromium that can resolve no host but the
    server's: GraphiQL's editors are rendered (the CDN page stayed at "Loading...")."""
    port = 18380 + os.getpid() % 10
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTGRAPH_")}
    env |= {
        "PYTHONPATH": str(REPO),
        "PROMPTGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "promptgraph.cli",
            "serve",
            "--port",
            str(port),
            env=env,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            for _ in range(150):
                assert server.returncode is None, log.read_text()
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        browser = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"http://127.0.0.1:{port}/graphql",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        dom, _ = await asyncio.wait_for(browser.communicate(), timeout=120)
    finally:
        server.terminate()
        await server.wait()
    rendered = dom.decode()
    assert "Loading..." not in rendered
    for part in ("graphiql-editors", "graphiql-execute-button", "graphiql-logo"):
        assert part in rendered, rendered[:2000]
