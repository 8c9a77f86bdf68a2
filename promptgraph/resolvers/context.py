"""What every resolver gets: the database, the caller, and this request's loaders."""

from strawberry.fastapi import BaseContext

from promptgraph.db import Database
from promptgraph.resolvers.loaders import Loaders
from promptgraph.response_cache import Ticket
from promptgraph.services.auth import Principal
from promptgraph.services.errors import Unauthenticated


class Context(BaseContext):
    def __init__(
        self,
        db: Database,
        principal: Principal | None,
        request_id: str,
        cache_ticket: Ticket | None = None,
    ) -> None:
        super().__init__()
        self.db = db
        self._principal = principal
        self.request_id = request_id
        self.cache_ticket = cache_ticket
        self.loaders = Loaders(db)

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            raise Unauthenticated("a valid API key is required: Authorization: Bearer <key>")
        return self._principal
