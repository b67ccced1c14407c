"""The local mode's "sidecar pair": two real proxies, configured and run from a temp dir.

Topology of the mesh run (all on 127.0.0.1, free ports)::

    load generator -> client-side proxy -> server-side proxy -> application
                       (plain HTTP in)    (HTTP, or mTLS with --mtls)

Each proxy is its own nginx (master + 1 worker) or haproxy (1 thread)
instance, the way each pod of a mesh has its own sidecar; both keep upstream
connections alive (``keepalive`` / ``http-reuse always``), except for the churn
profiles (``Hop.reuse`` False): there each request the client side receives on a
new connection goes out on a new one too, with a full TLS handshake (no session
resumption) under --mtls, so the handshake's cost is in every request. With mTLS the
client-side proxy presents a client certificate and verifies the server's
against the run's throw-away CA, and the server-side proxy requires and
verifies the client's; certificates come from :mod:`runner.certs`.
One worker / thread per proxy is the sidecar's usual size (Istio's default
proxy concurrency is 2 on most installs; Linkerd's proxy is single-core by
default); it is recorded as ``proxy_concurrency``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runner.certs import Certificates
from runner.processes import ManagedProcess, find_binary, start_process

PROXIES: tuple[str, ...] = ("nginx", "haproxy")
PROXY_WORKERS = 1
SERVER_NAME = "server.smp.local"
"""The name on the server-side proxy's certificate, checked by the client side."""


@dataclass(frozen=True)
class Hop:
    """One proxy: where it listens, where it forwards, and its TLS role (if any)."""

    name: str
    listen_port: int
    upstream_port: int
    tls_in: bool = False
    """Terminates mTLS (the server-side proxy with --mtls)."""
    tls_out: bool = False
    """Originates mTLS (the client-side proxy with --mtls)."""
    protocol: str = "http"
    """``grpc``: HTTP/2 on both sides (h2c, or h2 over TLS), nginx's ``grpc_pass``."""
    reuse: bool = True
    """Keep upstream connections (and TLS sessions) for the next requests; False for the
    churn profiles: one upstream connection, one full handshake, per request."""


def proxy_version(proxy: str) -> str | None:
    """``1.22.1`` from ``nginx -v``, ``2.6.12`` from ``haproxy -v``; None when unreadable."""
    binary = find_binary(proxy)
    flag = "-v"
    done = subprocess.run(  # noqa: S603 - fixed argv
        [binary, flag], capture_output=True, text=True, timeout=10, check=False
    )
    text = done.stdout + done.stderr
    match = re.search(r"(?:nginx/|HA-?Proxy version )(\d+\.\d+(?:\.\d+)?)", text, re.IGNORECASE)
    return match.group(1) if match else None


def render_nginx(hop: Hop, workdir: Path, certs: Certificates | None) -> str:
    """nginx.conf for one hop; every path it writes to is inside ``workdir``."""
    grpc = hop.protocol == "grpc"
    flags = (" ssl" if hop.tls_in else "") + (" http2" if grpc else "")
    listen = f"listen 127.0.0.1:{hop.listen_port}{flags};"
    server_tls = ""
    if hop.tls_in:
        assert certs is not None
        server_tls = f"""
    ssl_certificate {certs.server_crt};
    ssl_certificate_key {certs.server_key};
    ssl_client_certificate {certs.ca_crt};
    ssl_verify_client on;
    ssl_protocols TLSv1.3;
    ssl_session_cache shared:smp:1m;"""
    # The same upstream TLS settings, spelled proxy_ssl_* or grpc_ssl_*.
    prefix = "grpc" if grpc else "proxy"
    upstream_tls = ""
    if hop.tls_out:
        assert certs is not None
        upstream_tls = f"""
      {prefix}_ssl_certificate {certs.client_crt};
      {prefix}_ssl_certificate_key {certs.client_key};
      {prefix}_ssl_trusted_certificate {certs.ca_crt};
      {prefix}_ssl_verify on;
      {prefix}_ssl_name {SERVER_NAME};
      {prefix}_ssl_server_name on;
      {prefix}_ssl_protocols TLSv1.3;
      {prefix}_ssl_session_reuse {"on" if hop.reuse else "off"};"""
    if grpc:
        scheme = "grpcs" if hop.tls_out else "grpc"
        forward = f"grpc_pass {scheme}://next_hop;"
    else:
        scheme = "https" if hop.tls_out else "http"
        forward = f"proxy_pass {scheme}://next_hop;\n      proxy_http_version 1.1;\n" + (
            '      proxy_set_header Connection "";' if hop.reuse else ""
        )
    # Without a keepalive pool nginx closes each upstream connection after its response.
    pool = "\n    keepalive 128;\n    keepalive_requests 1000000;" if hop.reuse else ""
    return f"""# smp-runner: {hop.name}
daemon off;
master_process on;
worker_processes {PROXY_WORKERS};
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/client_body;
  proxy_temp_path {workdir}/proxy_temp;
  fastcgi_temp_path {workdir}/fastcgi_temp;
  uwsgi_temp_path {workdir}/uwsgi_temp;
  scgi_temp_path {workdir}/scgi_temp;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream next_hop {{
    server 127.0.0.1:{hop.upstream_port};{pool}
  }}
  server {{
    {listen}{server_tls}
    location / {{
      {forward}{upstream_tls}
    }}
  }}
}}
"""


def render_haproxy(hop: Hop, workdir: Path, certs: Certificates | None) -> str:
    """haproxy.cfg for one hop."""
    # gRPC is HTTP/2 on both sides: h2c in the clear, negotiated by ALPN over TLS.
    h2 = hop.protocol == "grpc"
    bind = f"bind 127.0.0.1:{hop.listen_port}"
    if hop.tls_in:
        assert certs is not None
        bind += f" ssl crt {certs.server_pem} ca-file {certs.ca_crt} verify required"
        bind += " ssl-min-ver TLSv1.3" + (" alpn h2" if h2 else "")
    elif h2:
        bind += " proto h2"
    server = f"server hop 127.0.0.1:{hop.upstream_port}"
    if hop.tls_out:
        assert certs is not None
        server += (
            f" ssl crt {certs.client_pem} ca-file {certs.ca_crt} verify required"
            f" sni str({SERVER_NAME}) verifyhost {SERVER_NAME} ssl-min-ver TLSv1.3"
        )
        server += "" if hop.reuse else " no-ssl-reuse"
        server += " alpn h2" if h2 else ""
    elif h2:
        server += " proto h2"
    reuse = (
        "option http-keep-alive\n  http-reuse always"
        if hop.reuse
        else "option http-server-close\n  http-reuse never"
    )
    return f"""# smp-runner: {hop.name}
global
  nbthread {PROXY_WORKERS}
  maxconn 4096
  pidfile {workdir}/haproxy.pid
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  {reuse}
frontend inbound
  {bind}
  default_backend next_hop
backend next_hop
  {server}
"""


def start_proxy(proxy: str, hop: Hop, workdir: Path, certs: Certificates | None) -> ManagedProcess:
    """Write the hop's config under ``workdir/<hop>`` and start the proxy in the foreground."""
    hop_dir = workdir / hop.name
    hop_dir.mkdir(parents=True, exist_ok=True)
    binary = find_binary(proxy)
    if proxy == "nginx":
        config = hop_dir / "nginx.conf"
        config.write_text(render_nginx(hop, hop_dir, certs))
        argv = [binary, "-p", str(hop_dir), "-c", str(config), "-e", str(hop_dir / "error.log")]
    elif proxy == "haproxy":
        config = hop_dir / "haproxy.cfg"
        config.write_text(render_haproxy(hop, hop_dir, certs))
        argv = [binary, "-db", "-f", str(config)]
    else:
        raise ValueError(f"unknown proxy {proxy!r}; known: {', '.join(PROXIES)}")
    return start_process(hop.name, argv, workdir)
