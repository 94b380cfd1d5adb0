"""The one retry policy: exponential backoff with jitter, honouring Retry-After, bounded in
count and in total time. Adapters say *whether* an error is retryable; this says *when*."""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.errors import ProviderError


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    #: No retry is started that would end after this many seconds from the first attempt.
    max_total_s: float = 120.0
    base_s: float = 0.5
    max_backoff_s: float = 20.0

    def delay(
        self, error: ProviderError, retries_so_far: int, elapsed_s: float, rng: random.Random
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if not error.retryable or retries_so_far >= self.max_retries:
            return None
        retry_after = getattr(error, "retry_after_s", None)
        if retry_after is not None and retry_after >= 0:
            # The server said when: wait that long (plus a little jitter so a crowd of
            # cells does not come back in the same millisecond).
            wait = retry_after + rng.uniform(0, min(1.0, 0.1 * retry_after + 0.05))
        else:
            cap = min(self.max_backoff_s, self.base_s * 2**retries_so_far)
            wait = cap * rng.uniform(0.5, 1.0)  # "equal jitter": never near zero
        if elapsed_s + wait > self.max_total_s:
            return None
        return wait
