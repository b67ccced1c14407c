"""At most one waiting processing task for single uploads, whatever the burst.

Every single upload used to publish its own ``ingest.process_submission``
message. A worker task takes the whole waiting backlog in one batch
(:func:`ingest.processing.submission_process_with_backlog`), so after a burst
thousands of messages found their submission done and drained as no-ops (16-17 s
of worker time in issue 19's bench). Now an upload publishes only when no task is
already waiting: a Redis key, set with NX when a message is published and
deleted by the task as it starts, says one is. Uploads committed while the key is
held are taken by that task's claim of the backlog (it reads the backlog after
deleting the key, so no upload falls between the two). A task that leaves
uploads waiting (the backlog was bigger than a batch) publishes the next one, so
several workers still share a burst.

Without a Redis broker (eager mode, tests, other brokers) every upload publishes,
as before. The key expires after ``KEY_TTL_S``: a message lost with the key held
delays the uploads behind it by that long at most (the periodic sweep also
finds them).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import redis

logger = logging.getLogger(__name__)

KEY = "meshmark:ingest:processing-task-waiting"
KEY_TTL_S = 30


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis(conf: Any) -> redis.Redis | None:
    """The broker's Redis, when tasks go through one; None in eager mode or another broker."""
    url = str(conf.broker_url or "")
    if conf.task_always_eager or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return _client(url)


def waiting_claim(conf: Any) -> bool:
    """True when the caller should publish a task (and now holds the key); False when
    one is already waiting and will take the caller's upload with its backlog."""
    client = _redis(conf)
    if client is None:
        return True
    try:
        return bool(client.set(KEY, b"1", nx=True, ex=KEY_TTL_S))
    except redis.RedisError:
        return True  # publishing will fail too, and the upload is left to the sweep


def waiting_release(conf: Any) -> None:
    """A task has started (or its publish failed): the next upload publishes again."""
    client = _redis(conf)
    if client is None:
        return
    try:
        client.delete(KEY)
    except redis.RedisError:
        logger.warning("could not clear %s; it expires in %d s", KEY, KEY_TTL_S)
