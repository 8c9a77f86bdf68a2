"""Settings are read and checked at start (contract section 7): a value that is not valid stops
the command with one line naming the variable and what it accepts, exit status 2."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_client_schema, build_schema, get_introspection_query, print_schema
from graphql.utilities import lexicographic_sort_schema
from pydantic import ValidationError

from promptgraph.app import create_app
from promptgraph.config import Settings

REPO = Path(__file__).resolve().parent.parent

INVALID = [
    ("PROMPTGRAPH_INTROSPECTION", "flase", "true or false"),
    ("PROMPTGRAPH_MAX_BODY_BYTES", "-1", "at least 1"),
    ("PROMPTGRAPH_MAX_DEPTH", "ten", "whole number"),
    ("PROMPTGRAPH_RESPONSE_CACHE_BYTES", "lots", "whole number"),
    ("PROMPTGRAPH_CHANGE_RETENTION_DAYS", "0", "at least 1"),
    ("PROMPTGRAPH_LOG_FORMAT", "xml", "text or json"),
    ("PROMPTGRAPH_CORS_ORIGINS", "https://app.example.com/", "origins"),
    ("PROMPTGRAPH_DATABASE_URL", "mysql://root:hunter2@db/x", "postgresql+asyncpg://"),
]
COMMANDS = [["serve", "--port", "18301"], ["db", "upgrade"], ["keys", "list"], ["schema"]]


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """`python -m promptgraph.cli ARGS` with this checkout's package, in `cwd`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTGRAPH_")}
    return subprocess.run(
        [sys.executable, "-m", "promptgraph.cli", *args],
        env={**base, "PYTHONPATH": str(REPO), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize(("variable", "value", "accepts"), INVALID, ids=lambda v: str(v)[:24])
def test_an_invalid_setting_stops_the_command_with_one_line(
    tmp_path, command, variable, value, accepts
):
    database = tmp_path / "promptgraph.db"
    env = {"PROMPTGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{database}", variable: value}
    done = run_cli(command, env, tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert variable in lines[0] and accepts in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert "hunter2" not in done.stderr  # a database URL's password is never echoed
    assert not database.exists()  # nothing was done


def test_valid_settings_are_accepted_by_every_command(tmp_path):
    env = {
        "PROMPTGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        "PROMPTGRAPH_INTROSPECTION": "Off",
        "PROMPTGRAPH_MAX_BODY_BYTES": "2048",
        "PROMPTGRAPH_MAX_DEPTH": "12",
        "PROMPTGRAPH_RESPONSE_CACHE_BYTES": "0",
        "PROMPTGRAPH_CHANGE_RETENTION_DAYS": "7",
        "PROMPTGRAPH_LOG_FORMAT": "JSON",
        "PROMPTGRAPH_CORS_ORIGINS": " https://app.example.com , http://localhost:5173",
    }
    for command in (["db", "upgrade"], ["keys", "list"], ["schema"]):
        done = run_cli(command, env, tmp_path)
        assert done.returncode == 0, done.stderr


def test_settings_are_parsed_into_their_types():
    settings = Settings.from_env(
        {
            "PROMPTGRAPH_INTROSPECTION": "no",
            "PROMPTGRAPH_MAX_COST": "900",
            "PROMPTGRAPH_CHANGE_RETENTION_DAYS": "3",
            "PROMPTGRAPH_CORS_ORIGINS": "https://App.Example.com,,http://localhost:5173 ",
            "PROMPTGRAPH_LOG_FORMAT": "json",
        }
    )
    assert settings.introspection is False
    assert settings.limits.max_cost == 900
    assert settings.change_retention_days == 3
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert settings.log_format == "json"
    defaults = Settings.from_env({})
    assert (defaults.change_retention_days, defaults.cors_origins, defaults.log_format) == (
        30,
        (),
        "text",
    )
    with pytest.raises(ValidationError):
        Settings.from_env({"PROMPTGRAPH_INTROSPECTION": "flase"})


async def test_introspection_off_from_the_environment_is_off(db, api):
    """`PROMPTGRAPH_INTROSPECTION=off` reaches the served schema (and a typo never leaves it on)."""
    import httpx

    app = create_app(db=db, settings=Settings.from_env({"PROMPTGRAPH_INTROSPECTION": "off"}))
    key = await api.key()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://promptgraph"
    ) as http:
        response = await http.post(
            "/graphql",
            json={"query": "{ __schema { queryType { name } } }"},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.json().get("data") is None
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_promptgraph_schema_prints_the_served_schema(api, tmp_path):
    cwd = tmp_path / "cli"
    cwd.mkdir()
    done = run_cli(["schema"], {}, cwd)
    assert done.returncode == 0, done.stderr
    printed = lexicographic_sort_schema(build_schema(done.stdout))
    served = (
        await api.gql(
            get_introspection_query(
                descriptions=True,
                specified_by_url=True,
                directive_is_repeatable=True,
                input_value_deprecation=True,
            )
        )
    ).ok()
    assert print_schema(printed) == print_schema(
        lexicographic_sort_schema(build_client_schema(served))
    )
    assert list(cwd.iterdir()) == []  # needs no database
