"""The gRPC application server of local mode (``grpc-1k``): one unary method, fixed answer.

It stands in for a gRPC application pod. ``/smp.runner.Echo/Call`` answers every
request with a message of exactly the profile's ``payload_bytes`` (raw bytes: the
method needs no generated code, a gRPC message is a length-prefixed byte string on
the wire), over HTTP/2 without TLS (h2c), as an application behind a sidecar
listens. Built on grpcio's asyncio server, so that one Python process serves the
profile's rate with its CPU a small, measurable share of the machine.

Run as ``python -m runner.grpc_workload --port 0 --payload-bytes 1024``; it prints
``listening HOST:PORT`` once it accepts connections and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

import grpc

SERVICE = "smp.runner.Echo"
METHOD = "Call"
PATH = f"/{SERVICE}/{METHOD}"
"""The method's full name, as a client calls it."""


def handlers(payload_bytes: int) -> grpc.GenericRpcHandler:
    answer = b"x" * payload_bytes

    async def call(request: bytes, context: Any) -> bytes:
        return answer

    # No (de)serializers: the request and the answer stay bytes.
    return grpc.method_handlers_generic_handler(
        SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(call)}
    )


async def serve(host: str, port: int, payload_bytes: int) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((handlers(payload_bytes),))
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening {host}:{bound}", flush=True)
    await stop.wait()
    await server.stop(grace=0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="smp-runner's local gRPC application server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--payload-bytes", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.payload_bytes))
    sys.exit(0)


if __name__ == "__main__":
    main()
