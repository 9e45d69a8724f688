"""Retries with exponential backoff and jitter for calls to TF Serving.

Only failures a retry can fix are retried (server unavailable or overloaded, a timeout);
a bad request fails at once with the server's message.
"""
from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


@dataclasses.dataclass
class CallPolicy:
    timeout_s: float     # per request
    retries: int         # further attempts after a retryable failure
    backoff_s: float     # first retry delay, doubled each time


class ServingError(RuntimeError):
    """A request to TF Serving failed for good; the message says why."""


class RetryableError(ServingError):
    """A request failed in a way that may pass on another try."""


def call_with_retries(call: Callable[[], T], *, retries: int, backoff_s: float,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    for attempt in range(retries + 1):
        try:
            return call()
        except RetryableError as err:
            last = err
            if attempt < retries:
                sleep(backoff_s * 2 ** attempt * (0.5 + random.random()))
    raise ServingError(f"{last} (gave up after {retries + 1} attempts)")
