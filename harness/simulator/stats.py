"""Request counters shared between the server thread and callers (hence the lock)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route_model: Counter[tuple[str, str]] = Counter()
        self._by_fault: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._occurrences: Counter[tuple[str, str, str]] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0

    def enter(self) -> None:
        """A provider request started (gauges the concurrency the server is holding)."""
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def record(self, route: str, model: str) -> None:
        with self._lock:
            self._by_route_model[(route, model)] += 1

    def status(self, status: int) -> None:
        """A response was sent (a hung request that the client gave up on never gets one)."""
        with self._lock:
            self._by_status[status] += 1

    def fault(self, kind: str) -> None:
        """A fault was injected into a request."""
        with self._lock:
            self._by_fault[kind] += 1

    def occurrence(self, route: str, model: str, digest: str) -> int:
        """How many times this exact body was seen before (0 the first time)."""
        key = (route, model, digest)
        with self._lock:
            seen = self._occurrences[key]
            self._occurrences[key] = seen + 1
        return seen

    def reset(self) -> None:
        with self._lock:
            self._by_route_model.clear()
            self._by_fault.clear()
            self._by_status.clear()
            self._occurrences.clear()
            self._max_in_flight = self._in_flight

    def count(self, route: str | None = None, model: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (r, m), n in self._by_route_model.items()
                if (route is None or r == route) and (model is None or m == model)
            )

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            by_route: Counter[str] = Counter()
            by_model: Counter[str] = Counter()
            nested: dict[str, dict[str, int]] = {}
            for (route, model), n in sorted(self._by_route_model.items()):
                by_route[route] += n
                by_model[model] += n
                nested.setdefault(route, {})[model] = n
            return {
                "total": sum(by_route.values()),
                "by_route": dict(by_route),
                "by_model": dict(by_model),
                "by_route_model": nested,
                "by_fault": dict(self._by_fault),
                "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
            }
