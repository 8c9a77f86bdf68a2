"""CORS for the origins listed in PROMPTGRAPH_CORS_ORIGINS; none by default."""

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

EXPOSED_HEADERS = ("X-Request-ID", "Retry-After", "WWW-Authenticate")
PREFLIGHT_MAX_AGE_S = 600


class ListedOriginsCors:
    """Requests from a listed origin go through Starlette's CORSMiddleware: preflights are
    answered, responses carry Access-Control-Allow-Origin. Requests from any other origin
    bypass it, because it adds some CORS headers (Expose-Headers, a refused preflight's
    Allow-Methods) to every origin's responses. Keys travel in the Authorization header,
    never in cookies, so credentials are not allowed."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.cors = CORSMiddleware(
            app,
            allow_origins=sorted(self.origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=list(EXPOSED_HEADERS),
            max_age=PREFLIGHT_MAX_AGE_S,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and Headers(scope=scope).get("origin") in self.origins:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
