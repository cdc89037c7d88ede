"""Per-case-key request and success counters of the test server.

The server's event loop is the only writer; readers in other threads (sync tests) take a
snapshot under the lock, so they never see a half-updated pair of counters.
"""

from __future__ import annotations

import threading
from typing import Any


class CaseStats:
    """Counts requests, successes, faults and requests after success, per case key.

    A *success* is a complete, well-formed 200 answer. A request *after success* is one
    that arrived for a case key that had already succeeded: a runner that resumes or
    retries correctly never causes one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total_requests = 0
        self.total_successes = 0
        self.by_status: dict[int, int] = {}
        self.faults: dict[str, int] = {}
        self._requests: dict[str, int] = {}
        self._successes: dict[str, int] = {}
        self._after_success: dict[str, int] = {}
        self._served: dict[str, str] = {}

    def on_request(self, key: str | None) -> int:
        """Count an arriving request; returns its 1-based attempt number for ``key``."""
        with self._lock:
            self.total_requests += 1
            if key is None:
                return self.total_requests
            n = self._requests.get(key, 0) + 1
            self._requests[key] = n
            if key in self._successes:
                self._after_success[key] = self._after_success.get(key, 0) + 1
            return n

    def on_success(self, key: str | None, served: str | None = None) -> None:
        """Count a complete, well-formed answer (and remember the model it named)."""
        with self._lock:
            self.total_successes += 1
            if key is not None:
                self._successes[key] = self._successes.get(key, 0) + 1
                if served is not None:
                    self._served[key] = served

    def on_status(self, status: int) -> None:
        """Count a response status."""
        with self._lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1

    def on_fault(self, kind: str) -> None:
        """Count an injected fault."""
        with self._lock:
            self.faults[kind] = self.faults.get(kind, 0) + 1

    def requests(self, key: str) -> int:
        """Requests received for ``key``."""
        with self._lock:
            return self._requests.get(key, 0)

    def successes(self, key: str) -> int:
        """Successful answers sent for ``key``."""
        with self._lock:
            return self._successes.get(key, 0)

    def after_success(self) -> dict[str, int]:
        """Keys that were requested again after a success, with how many times."""
        with self._lock:
            return dict(self._after_success)

    def served(self) -> dict[str, str]:
        """Per case key, the model named by its last successful answer (`response.model`)."""
        with self._lock:
            return dict(self._served)

    def keys(self) -> list[str]:
        """Every case key seen, sorted."""
        with self._lock:
            return sorted(self._requests)

    def snapshot(self) -> dict[str, Any]:
        """All counters as JSON-ready data (what ``GET /_nullband/stats`` returns)."""
        with self._lock:
            return {
                "total_requests": self.total_requests,
                "total_successes": self.total_successes,
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "faults": dict(sorted(self.faults.items())),
                "cases": {
                    k: {
                        "requests": n,
                        "successes": self._successes.get(k, 0),
                        "after_success": self._after_success.get(k, 0),
                    }
                    for k, n in sorted(self._requests.items())
                },
                "served": dict(sorted(self._served.items())),
            }

    def reset(self) -> None:
        """Forget every counter."""
        with self._lock:
            self.total_requests = 0
            self.total_successes = 0
            self.by_status.clear()
            self.faults.clear()
            self._requests.clear()
            self._successes.clear()
            self._after_success.clear()
            self._served.clear()
