"""HTTP glue around the GraphQL schema: ASGI middleware, the GraphQL-over-HTTP router, the
served protocol and the error bodies they share.

A request meets, in order: `request_id` (every response carries X-Request-ID),
`header_limit` (431), `credentials` (the one Authorization header, parsed once),
`body_limit` (413), the response cache, then the app with `graphql_http`'s router; the
HTTP errors any of them answer are GraphQL-shaped (`errors`), with the request's id.
"""
