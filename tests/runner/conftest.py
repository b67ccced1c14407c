"""Fixtures shared by the runner's cluster tests: a healthy fake cluster behind a fake API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_kube import FakeApiServer, FakeCluster
from .test_kubernetes_mode import healthy_cluster


@pytest.fixture
def cluster() -> FakeCluster:
    return healthy_cluster()


@pytest.fixture
def api(cluster: FakeCluster) -> Iterator[FakeApiServer]:
    with FakeApiServer(cluster) as server:
        yield server
