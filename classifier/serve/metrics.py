"""Prometheus metrics of a ``feedtag serve`` process: requests, latency, suggestions, decisions.

``prometheus_client`` rather than a hand-written exposition: with ``--workers N`` each worker
counts in its own process, and its multiprocess mode (one memory-mapped file per worker in the
directory ``PROMETHEUS_MULTIPROC_DIR`` names, which ``run`` sets up) adds them up at scrape time,
so ``/metrics`` tells the whole server's story whichever worker answers.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The counters and the histogram, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        disable_created_metrics()  # the *_created series only double what a scrape shows
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "feedtag_requests",
            "HTTP requests answered, by method, route and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "feedtag_request_duration_seconds",
            "Time from request to the end of the response, by route.",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.suggestions = Counter(
            "feedtag_suggestions",
            "Suggestions made, per axis, by status (auto: confidence at or above the threshold).",
            ["axis", "status"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "feedtag_decisions",
            "Decisions received, by action; replayed: a retry found its decision already stored.",
            ["action", "replayed"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format; summed over workers in multiprocess mode."""
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
