"""promptgraph: a GraphQL registry of versioned prompt templates with per-version analytics."""
