"""Seed-compatible REST surfaces (contract section 10): thin adapters that translate each
seed system's HTTP shapes to the service layer and back, one module per surface. They
authenticate like GraphQL, call the same services and answer errors in their own shapes;
no module here reaches the database (tests/test_rest_layering.py checks it)."""

from fastapi import FastAPI

from promptgraph.http.rest import agentvista, prompt_repository, prompt_versions, save_api


def mount(app: FastAPI) -> None:
    for module in (agentvista, save_api, prompt_versions, prompt_repository):
        app.include_router(module.router)
