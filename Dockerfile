# The same steps as the README's quick start, for a container.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY promptgraph ./promptgraph
RUN python -m pip install --no-cache-dir .
ENV PROMPTGRAPH_DATABASE_URL=sqlite+aiosqlite:////data/promptgraph.db
VOLUME /data
EXPOSE 8000
CMD ["promptgraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
