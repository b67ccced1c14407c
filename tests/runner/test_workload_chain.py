"""The local application server as a link of a chain (``--upstream``), with real processes."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import httpx

from runner import processes

DELAY_MS = 40.0


def start(cleanup: processes.Cleanup, workdir: Path, name: str, payload: int, *extra: str) -> int:
    port = processes.free_port()
    argv = [sys.executable, "-m", "runner.workload", "--port", str(port)]
    app = processes.start_process(name, [*argv, "--payload-bytes", str(payload), *extra], workdir)
    cleanup.add(app.stop)
    processes.wait_for_port(app, port)
    return port


def test_a_request_waits_for_every_service_of_the_chain(tmp_path: Path) -> None:
    with processes.Cleanup() as cleanup:
        # The last service is slow; the first two answer at once, but only after it did.
        last = start(cleanup, tmp_path, "app-3", 10, "--delay-ms", str(DELAY_MS))
        middle = start(cleanup, tmp_path, "app-2", 20, "--upstream", str(last))
        first = start(cleanup, tmp_path, "app-1", 30, "--upstream", str(middle))
        with httpx.Client(base_url=f"http://127.0.0.1:{first}") as client:
            timings = []
            for _ in range(5):  # over kept-alive connections, every call pays the chain again
                started = time.perf_counter()
                response = client.get("/any/path")
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
                assert response.content == b"x" * 30  # the first service's own payload
        assert min(timings) >= DELAY_MS


def test_answers_keep_the_order_of_pipelined_requests(tmp_path: Path) -> None:
    with processes.Cleanup() as cleanup:
        last = start(cleanup, tmp_path, "app-2", 5)
        first = start(cleanup, tmp_path, "app-1", 7, "--upstream", str(last))
        with socket.create_connection(("127.0.0.1", first), timeout=5) as conn:
            # Three requests in one write; the last one asks to close.
            heads = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n" * 2
            conn.sendall(heads + b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 3
    assert received.endswith(b"x" * 7)


def test_a_dead_next_service_is_a_502_not_a_hang(tmp_path: Path) -> None:
    with processes.Cleanup() as cleanup:
        nobody = processes.free_port()
        first = start(cleanup, tmp_path, "app-1", 30, "--upstream", str(nobody))
        response = httpx.get(f"http://127.0.0.1:{first}/", timeout=5)
    assert response.status_code == 502
