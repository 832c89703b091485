"""Delivery policy pieces that need no network: backoff with jitter and the circuit breaker."""

from __future__ import annotations

import random

from connectors.delivery import CircuitBreaker, backoff


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    """Each delay lies in [base, min(cap, base*2^n)], and the jitter really varies."""
    random.seed(1)
    for attempts in range(12):
        ceiling = min(300.0, 1.0 * 2**attempts)
        samples = [backoff(attempts, 1.0, 300.0) for _ in range(200)]
        assert all(1.0 <= s <= ceiling for s in samples)
        if ceiling > 1.0:
            assert max(samples) - min(samples) > ceiling * 0.3
    assert backoff(1000, 1.0, 300.0) <= 300.0  # no overflow for huge attempt counts


def test_breaker_opens_after_consecutive_failures_and_probes_after_cooldown() -> None:
    """Closed -> open at the threshold -> one probe after the cooldown -> closed on success."""
    b = CircuitBreaker(failures_to_open=3, cooldown=10.0)
    for t in (0.0, 1.0):
        b.failure(t)
        assert b.allows(t)
    b.failure(2.0)
    assert b.state == 1
    assert not b.allows(5.0)
    assert b.wait(5.0) == 7.0
    assert b.allows(12.0)  # half-open: a probe may go
    b.failure(12.0)  # the probe failed: open again for a full cooldown
    assert not b.allows(13.0)
    assert b.allows(22.0)
    b.success()
    assert (b.state, b.failures, b.allows(22.0)) == (0, 0, True)
