"""The FastAPI app the request deploys: what gantry's pipeline health-checks
and analyses.

- ``GET /health`` answers ``{"status": "ok"}`` (the chart's liveness and
  readiness probes and the pipeline's health-check stages ask it);
- ``GET /metrics`` serves Prometheus metrics in the names the canary
  analysis queries (the simulated clusters serve the same ones):
  ``http_requests_total{handler,method,status}`` and the
  ``http_request_duration_seconds`` histogram, by route template so that
  path parameters do not explode the series;
- ``GET /`` answers who is serving (version and track from the environment
  the chart sets), so a person can see canary and stable side by side.

It must stay small: no state, no outbound calls, nothing that needs root.
"""

import os
import time

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

app = FastAPI(title="fastapi-app", version=os.environ.get("APP_VERSION", "dev"))

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by route, method and status.",
    ["handler", "method", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by route and method.",
    ["handler", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


@app.middleware("http")
async def measure(request: Request, call_next):
    """Count and time every request except the scrapes themselves."""
    if request.url.path == "/metrics":
        return await call_next(request)
    started = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        return response
    finally:
        route = request.scope.get("route")
        handler = getattr(route, "path", "unmatched")
        LATENCY.labels(handler, request.method).observe(time.perf_counter() - started)
        REQUESTS.labels(handler, request.method, str(status)).inc()


@app.get("/health")
def health() -> dict:
    """Liveness and readiness: the process answers."""
    return {"status": "ok"}


@app.get("/")
def root() -> dict:
    """Who is answering: the version and track the deployment set."""
    return {
        "app": "fastapi-app",
        "version": os.environ.get("APP_VERSION", "dev"),
        "track": os.environ.get("TRACK", "unknown"),
    }


@app.get("/metrics")
def metrics() -> Response:
    """Prometheus' text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
