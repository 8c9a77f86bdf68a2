"""The dashboard (contract section 9) in a real browser: headless Chromium driven by
Playwright against a real `promptgraph serve` with demo data, on both databases. What it
shows is checked against what the API answers; its writes are checked through the API.

Screenshots of every page at 1280 and 390 px are written to dashboard/screenshots/<backend>/.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright import sync_api as playwright_api

from tests.conftest import BACKENDS, _admin, _url_of, run_blocking

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "promptgraph" / "static" / "dashboard"
SCREENSHOTS = REPO / "dashboard" / "screenshots"
PORTS = range(18900, 19000)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = (1280, 390)
EN_DASH = "\u2013"  # in ranges: "1-3 of 3", "81.6% - 89.3%"
PROMPT = "classify-intent"  # demo data: v1..v3, production on v2, staging on v3


# --- The page and its bundle, through the app (no browser) ---------------------------------


class References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value and not value.startswith("data:"):
                self.urls.append(value)


async def test_the_dashboard_and_its_bundle_are_served_by_the_app_without_a_key(api):
    response = await api.http.get("/")  # no key
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert re.findall(r"https?://", response.text, flags=re.IGNORECASE) == []
    parser = References()
    parser.feed(response.text)
    assert sorted(parser.urls) == ["/static/dashboard/app.css", "/static/dashboard/app.js"]
    for url in parser.urls:
        asset = await api.http.get(url)
        assert asset.status_code == 200, url
        assert asset.content == (ASSETS / url.rsplit("/", 1)[1]).read_bytes(), url
        kind = "javascript" if url.endswith(".js") else "css"
        assert kind in asset.headers["content-type"], url


def test_the_bundle_comes_from_exactly_pinned_packages():
    declared = json.loads((REPO / "dashboard" / "package.json").read_text())
    lock = json.loads((REPO / "dashboard" / "package-lock.json").read_text())
    for group in ("dependencies", "devDependencies"):
        for name, version in declared[group].items():
            assert re.fullmatch(r"\d+\.\d+\.\d+", version), (name, version)  # no ranges
            assert lock["packages"][f"node_modules/{name}"]["version"] == version, name


# --- A real server with demo data, and one browser for the module --------------------------


@dataclass
class Served:
    base: str
    backend: str
    keys: dict[str, str]  # role -> key

    def gql(self, role: str, query: str, **variables: Any) -> Any:
        response = httpx.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.keys[role]}"},
            timeout=10,
        )
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {PORTS}")


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "promptgraph.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp(f"dashboard-{request.param}")
    database = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'promptgraph.db'}"
    else:
        template = request.getfixturevalue("postgres_template")
        database = f"promptgraph_dashboard_{uuid.uuid4().hex[:12]}"
        run_blocking(_admin, f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
        url = _url_of(database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTGRAPH_")}
    env |= {"PYTHONPATH": str(REPO), "PROMPTGRAPH_DATABASE_URL": url}
    _cli(env, "db", "upgrade")
    _cli(env, "demo", "seed", "--traces", "900")
    keys = {
        role: _cli(env, "keys", "create", "--workspace", "demo", "--user", role, "--role", role)
        for role in ("admin", "editor", "viewer")
    }
    port = _free_port()
    log = (folder / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "promptgraph.cli", "serve", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            assert server.poll() is None, (folder / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield Served(base, request.param, keys)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
        if database:
            run_blocking(_admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"needs the system Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Tab:
    """One browser page that records every console error and uncaught exception."""

    def __init__(self, browser: Any, served: Served, width: int = 1280) -> None:
        self.served = served
        self.width = width
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda message: message.type == "error" and self.problems.append(message.text),
        )
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))

    def sign_in(self, role: str) -> None:
        self.page.goto(f"{self.served.base}/")
        self.page.fill("#key", self.served.keys[role])
        self.page.click("button:text-is('Sign in')")
        self.page.wait_for_selector("h1:text-is('Prompts')")

    def go(self, fragment: str, ready: str) -> None:
        self.page.goto(f"{self.served.base}/{fragment}")
        self.page.wait_for_selector(ready)

    def shot(self, name: str) -> None:
        folder = SCREENSHOTS / self.served.backend
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / f"{name}-{self.width}.png"), full_page=True)

    def fits_the_width(self) -> bool:
        return self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, served: Served) -> Iterator[Callable[..., Tab]]:
    opened: list[Tab] = []

    def open_tab(width: int = 1280) -> Tab:
        opened.append(Tab(browser, served, width))
        return opened[-1]

    yield open_tab
    for each in opened:
        each.close()


# --- What the API says, written as the dashboard writes it ---------------------------------


def _fixed(value: float, places: int) -> str:
    """JavaScript's toFixed: the exact binary value rounded half up (Python's format rounds
    exact ties to even)."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def percent(value: float | None) -> str:
    return "—" if value is None else f"{_fixed(value * 100, 1)}%"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{_fixed(value, 0)} ms"


def usd(value: float | None) -> str:
    return "—" if value is None else f"${_fixed(value, 5)}"


def p_value(row: dict[str, Any]) -> str:
    if row["isBaseline"]:
        return "baseline"
    value = row["successRatePValue"]
    return "—" if value is None else "< 0.0001" if value < 0.0001 else _fixed(value, 4)


def interval(value: dict[str, float] | None) -> str:
    return "—" if value is None else f"{percent(value['low'])} {EN_DASH} {percent(value['high'])}"


COMPARED: dict[str, Callable[[dict[str, Any]], str]] = {
    "Baseline": lambda row: "baseline" if row["isBaseline"] else "",
    "Traces": lambda row: str(row["totalTraces"]),
    "Success rate": lambda row: percent(row["successRate"]),
    "95% interval": lambda row: interval(row["successRateCi95"]),
    "p-value vs baseline": p_value,
    "p50 latency": lambda row: ms(row["p50LatencyMs"]),
    "p95 latency": lambda row: ms(row["p95LatencyMs"]),
    "Avg latency": lambda row: ms(row["avgLatencyMs"]),
    "Avg cost": lambda row: usd(row["avgCostUsd"]),
}


def read_table(table: Any) -> tuple[list[str], list[list[str]]]:
    headers = [cell.strip() for cell in table.locator("thead th").all_inner_texts()]
    rows = [
        [cell.strip() for cell in row.locator("th, td").all_inner_texts()]
        for row in table.locator("tbody tr").all()
    ]
    return headers, rows


def label_of(served: Served, label: str) -> int:
    data = served.gql(
        "admin", "query($n: String!) { prompt(name: $n) { labels { name version } } }", n=PROMPT
    )
    return {each["name"]: each["version"] for each in data["prompt"]["labels"]}[label]


def is_active(served: Served, version: int) -> bool:
    data = served.gql(
        "admin",
        "query($n: String!) { prompt(name: $n) { versions(includeArchived: true) { items { version isActive } } } }",
        n=PROMPT,
    )
    return {each["version"]: each["isActive"] for each in data["prompt"]["versions"]["items"]}[
        version
    ]


# --- The tests -------------------------------------------------------------------------------


def test_a_wrong_key_is_refused_in_words_and_a_right_one_signs_in_by_keyboard(tab, served):
    browser_tab = tab(390)
    page = browser_tab.page
    page.goto(f"{served.base}/")
    page.wait_for_selector("#key:focus")  # the key field has the focus, ready to type
    page.keyboard.type("pgk_not-a-key")
    page.keyboard.press("Enter")
    alert = page.locator("[role=alert]")
    alert.wait_for()
    assert "not accepted" in alert.inner_text() and "UNAUTHENTICATED" in alert.inner_text()
    assert page.evaluate("sessionStorage.length") == 0
    browser_tab.shot("signin")
    # The only console error is the browser's own line for the refused request.
    assert all("401" in problem for problem in browser_tab.problems), browser_tab.problems
    browser_tab.problems.clear()

    page.fill("#key", "")
    page.keyboard.type(served.keys["viewer"])
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text-is('Prompts')")
    assert "viewer @ demo" in page.inner_text("header")
    page.reload()  # the key is kept for the tab's session
    page.wait_for_selector("h1:text-is('Prompts')")
    # Keyboard reachable: Tab walks real links and buttons, each with a visible focus ring.
    reached = []
    for _ in range(6):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "(() => { const e = document.activeElement;"
                " return [e.tagName, getComputedStyle(e).outlineStyle]; })()"
            )
        )
    assert {tag for tag, _ in reached} <= {"A", "BUTTON", "INPUT", "SELECT"}, reached
    assert all(style != "none" for _, style in reached), reached
    assert browser_tab.problems == []


def test_every_page_loads_without_console_errors_at_both_widths(tab, served):
    prompts = served.gql("viewer", "{ prompts { pagination { total } items { name } } }")["prompts"]
    for width in WIDTHS:
        browser_tab = tab(width)
        page = browser_tab.page
        browser_tab.sign_in("admin")
        rows = page.locator("table.prompts tbody tr")
        assert rows.count() == prompts["pagination"]["total"] == len(prompts["items"])
        assert (
            f"1{EN_DASH}{len(prompts['items'])} of {prompts['pagination']['total']}"
            in page.inner_text(".pager")
        )
        assert browser_tab.fits_the_width()
        browser_tab.shot("prompts")

        page.fill("#tag", "experiment")
        page.click("button:text-is('Filter')")
        page.wait_for_selector("caption:has-text('tag “experiment”')")
        tagged = served.gql("viewer", '{ prompts(tag: "experiment") { items { name } } }')
        assert rows.locator("th").all_inner_texts() == [
            item["name"] for item in tagged["prompts"]["items"]
        ]

        browser_tab.go(f"#/prompt/{PROMPT}", "#versions-title")
        assert page.locator("article.version").count() == 3
        assert "+ You are a precise classifier." in page.inner_text("pre.diff")
        assert browser_tab.fits_the_width()
        browser_tab.shot("prompt")

        browser_tab.go(f"#/compare/{PROMPT}", "#chart-series table tbody tr")
        assert page.locator("canvas[role=img]").count() == 5
        assert browser_tab.fits_the_width()
        browser_tab.shot("compare")

        browser_tab.go("#/prompt/no-such-prompt", "[role=alert]")
        assert "no prompt named “no-such-prompt”" in page.inner_text("[role=alert]")
        browser_tab.shot("not-found")
        assert browser_tab.problems == [], (width, browser_tab.problems)


def test_every_chart_table_shows_the_apis_figures(tab, served):
    data = served.gql(
        "viewer",
        """query($n: String!) {
          comparePromptVersions(name: $n) { versions { version totalTraces successRate
            avgCostUsd avgLatencyMs p95LatencyMs successRateCi95 { low high }
            successRatePValue isBaseline } }
          prompt(name: $n) { versions(includeArchived: true) { items { version metrics { p50LatencyMs } } } }
        }""",
        n=PROMPT,
    )
    p50 = {
        item["version"]: item["metrics"]["p50LatencyMs"]
        for item in data["prompt"]["versions"]["items"]
    }
    expected = {
        row["version"]: {"p50LatencyMs": p50[row["version"]], **row}
        for row in data["comparePromptVersions"]["versions"]
    }
    browser_tab = tab()
    page = browser_tab.page
    browser_tab.sign_in("viewer")
    browser_tab.go(f"#/compare/{PROMPT}", "#chart-series table tbody tr")

    tables = page.locator("figure.chart:not(#chart-series) table, #all-figures ~ div table")
    assert tables.count() == 5
    compared_cells = 0
    for table in tables.all():
        headers, rows = read_table(table)
        assert headers[0] == "Version"
        assert [int(re.match(r"v(\d+)", row[0]).group(1)) for row in rows] == list(expected)
        for row in rows:
            version = int(re.match(r"v(\d+)", row[0]).group(1))
            for title, text in zip(headers[1:], row[1:], strict=True):
                assert text == COMPARED[title](expected[version]), (title, version)
                compared_cells += 1
    assert compared_cells >= 3 * 9 * 2  # every figure, in its chart's table and in the full one

    for metric, title, bucket, shown in (
        ("successRate", "Success rate", "DAY", percent),
        ("totalTraces", "Traces", "HOUR", str),
        ("p95LatencyMs", "p95 latency", "DAY", ms),
    ):
        per = "per day" if bucket == "DAY" else "per hour"
        caption = "#chart-series caption:has-text('{}')"
        page.select_option("#series-metric", metric)
        page.wait_for_selector(caption.format(f"{title} per"))
        page.select_option("#series-bucket", bucket)
        page.wait_for_selector(caption.format(f"{title} {per}"))
        series_table = page.locator("#chart-series table")
        since = series_table.locator("time.since").get_attribute("datetime")
        until = series_table.locator("time.until").get_attribute("datetime")
        api_series = served.gql(
            "viewer",
            """query($n: String!, $s: DateTime!, $u: DateTime!, $b: Bucket!) {
              prompt(name: $n) { versions(includeArchived: true) { items { version
                metricsSeries(since: $s, until: $u, bucket: $b) { start totalTraces successRate p95LatencyMs } } } } }""",
            n=PROMPT,
            s=since,
            u=until,
            b=bucket,
        )["prompt"]["versions"]["items"]
        headers, rows = read_table(series_table)
        assert headers[1:] == [f"v{item['version']}" for item in api_series]
        assert len(rows) == len(api_series[0]["metricsSeries"]) > 1
        for index, row in enumerate(rows):
            start = api_series[0]["metricsSeries"][index]["start"]
            assert row[0] == (start[:10] if bucket == "DAY" else start[:16].replace("T", " "))
            assert row[1:] == [shown(item["metricsSeries"][index][metric]) for item in api_series]
        if metric == "totalTraces":  # the series adds up to the traces in the window
            assert sum(int(cell) for row in rows for cell in row[1:]) > 0
    assert browser_tab.problems == []


def test_promoting_and_rolling_back_through_the_ui_moves_the_label(tab, served):
    assert label_of(served, "production") == 2
    browser_tab = tab()
    page = browser_tab.page
    browser_tab.sign_in("editor")
    browser_tab.go(f"#/prompt/{PROMPT}", "#labels-title")
    row = "tr[data-label=production]"

    page.select_option(f"{row} select", "3")
    page.click(f"{row} button:text-is('Promote production to v3')")
    page.wait_for_selector("[role=status]:has-text('production now points to v3')")
    assert label_of(served, "production") == 3
    page.wait_for_selector(f"{row} td:text-is('v3')")
    browser_tab.shot("promoted")

    page.select_option(f"{row} select", "2")
    page.click(f"{row} button:text-is('Roll back production to v2')")
    page.wait_for_selector("[role=status]:has-text('production now points to v2')")
    assert label_of(served, "production") == 2

    page.click("button:text-is('Archive v1')")
    page.wait_for_selector("[role=status]:has-text('v1 archived')")
    assert not is_active(served, 1)
    page.click("a:text-is('Show archived versions')")
    page.click("button:text-is('Restore v1')")
    page.wait_for_selector("[role=status]:has-text('v1 restored')")
    assert is_active(served, 1)
    assert browser_tab.problems == []


def test_a_viewer_sees_no_write_actions(tab, served):
    reads = ("Sign out", "Filter")  # the only buttons that change nothing
    writes = ", ".join(
        ["input[name=label]", "button" + "".join(f":not(:text-is('{text}'))" for text in reads)]
    )
    seen: dict[str, int] = {}
    for role in ("viewer", "editor"):
        browser_tab = tab()
        browser_tab.sign_in(role)
        count = browser_tab.page.locator(writes).count()
        for fragment, ready in (
            (f"#/prompt/{PROMPT}?archived=1", "#versions-title"),
            (f"#/compare/{PROMPT}", "#chart-series"),
        ):
            browser_tab.go(fragment, ready)
            count += browser_tab.page.locator(writes).count()
        seen[role] = count
        if role == "viewer":
            page = browser_tab.page
            browser_tab.go(f"#/prompt/{PROMPT}", "#versions-title")
            assert page.locator("select[name=version], form.inline").count() == 0
            browser_tab.shot("prompt-as-viewer")
        assert browser_tab.problems == []
    assert seen["viewer"] == 0
    assert seen["editor"] >= 3 + 2 + 1  # archive per version, move per label, set a label


@pytest.fixture(scope="module", autouse=True)
def _clean_screenshots() -> None:
    for backend in BACKENDS:
        shutil.rmtree(SCREENSHOTS / backend, ignore_errors=True)
