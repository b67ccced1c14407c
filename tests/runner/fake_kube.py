"""An in-process fake Kubernetes API server: just the endpoints smp-runner calls.

It keeps namespaces and the objects created in them, answers the reads the
runner makes, "completes" every Job at once (its pod's container terminated
with the configured exit code) and serves the configured log for it. The
real ``kubernetes`` client talks to it over HTTP on 127.0.0.1 through a
kubeconfig file, so the runner's client code runs for real.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ISTIOD = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "istiod", "namespace": "istio-system"},
    "spec": {
        "template": {
            "spec": {"containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.24.1"}]}
        }
    },
    "status": {"readyReplicas": 1},
}

NODES = [
    {
        "metadata": {
            "name": f"node-{i}",
            "labels": {
                "node.kubernetes.io/instance-type": "n2-standard-8",
                "kubernetes.io/arch": "amd64",
            },
        },
        "spec": {"providerID": f"gce://project/zone/node-{i}"},
        "status": {
            "capacity": {"cpu": "8", "memory": "32880456Ki"},
            "nodeInfo": {"kernelVersion": "6.1.0-28-cloud-amd64", "architecture": "amd64"},
        },
    }
    for i in range(3)
]


@dataclass
class JobOutcome:
    exit_code: int = 0
    log: str = ""


@dataclass
class FakeCluster:
    """The fake's state; tests read it to check what the runner did."""

    logs: dict[str, Callable[[str], JobOutcome]] = field(default_factory=dict)
    """job name -> (namespace -> outcome of its container)."""
    installed: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"/apis/apps/v1/namespaces/istio-system/deployments/istiod": ISTIOD}
    )
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_namespaces: list[str] = field(default_factory=list)
    deleted_namespaces: list[str] = field(default_factory=list)
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    created: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """Every object created, (namespace, kind, body), kept after its namespace is deleted."""
    requests: list[tuple[str, str]] = field(default_factory=list)
    metrics_calls: int = 0
    nodes_ready: int = 3
    """How many of the nodes report Ready (the rest NotReady), as the kubelet does."""
    clock_offset_s: float = 0.0
    """How far the nodes' clocks are from this machine's: their heartbeat times move by it."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _nodes(self) -> list[dict[str, Any]]:
        beat = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.clock_offset_s - 5)
        stamp = beat.strftime("%Y-%m-%dT%H:%M:%SZ")
        return [
            {
                **node,
                "status": {
                    **node["status"],
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True" if i < self.nodes_ready else "False",
                            "lastHeartbeatTime": stamp,
                        }
                    ],
                },
            }
            for i, node in enumerate(NODES)
        ]

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, path))
            return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "/version":
            return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.2"}
        if method == "GET" and path == "/api/v1/nodes":
            return 200, {"kind": "NodeList", "items": self._nodes()}
        if path == "/api/v1/namespaces":
            if method == "POST":
                name = body["metadata"]["name"]
                if name in self.namespaces:
                    return 409, _status(409, f'namespaces "{name}" already exists')
                self.namespaces[name] = body
                self.created_namespaces.append(name)
                return 201, body
            return 200, {"kind": "NamespaceList", "items": list(self.namespaces.values())}
        match = re.fullmatch(r"/api/v1/namespaces/([^/]+)", path)
        if match and method == "DELETE":
            name = match.group(1)
            if self.namespaces.pop(name, None) is None:
                return 404, _status(404, f'namespaces "{name}" not found')
            self.deleted_namespaces.append(name)
            for key in [k for k in self.objects if k[0] == name]:
                del self.objects[key]
            return 200, _status(200, "deleted")
        if path in self.installed and method == "GET":
            return 200, self.installed[path]
        match = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods", path)
        if match and method == "GET":
            return 200, {"kind": "PodList", "items": self._pods(match.group(1), query)}
        match = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/log", path)
        if match and method == "GET":
            ns, pod = match.groups()
            job = pod.rsplit("-", 1)[0]
            if (ns, "jobs", job) not in self.objects:
                return 404, _status(404, f'pods "{pod}" not found')
            return 200, self._outcome(job, ns).log
        match = re.fullmatch(r"/apis/metrics.k8s.io/v1beta1/namespaces/([^/]+)/pods", path)
        if match and method == "GET":
            self.metrics_calls += 1
            return 200, {"kind": "PodMetricsList", "items": self._pod_metrics(match.group(1))}
        match = re.fullmatch(
            r"/apis?/(?:apps/v1|batch/v1|v1)/namespaces/([^/]+)/(\w+)(?:/([^/]+))?", path
        )
        if match:
            return self._namespaced(method, *match.groups(), body=body)
        return 404, _status(404, f"the fake does not serve {method} {path}")

    def _namespaced(
        self, method: str, ns: str, kind: str, name: str | None, body: Any
    ) -> tuple[int, Any]:
        if kind not in ("deployments", "services", "jobs", "daemonsets", "statefulsets"):
            return 404, _status(404, f"unknown kind {kind}")
        if method == "POST" and name is None:
            if ns not in self.namespaces:
                return 404, _status(404, f'namespaces "{ns}" not found')
            self.objects[(ns, kind, body["metadata"]["name"])] = body
            self.created.append((ns, kind, body))
            return 201, body
        if method == "GET" and name is not None:
            found = self.objects.get((ns, kind, name))
            if found is None:
                return 404, _status(404, f'{kind} "{name}" not found')
            return 200, {**found, "status": {"readyReplicas": 1, "replicas": 1}}
        return 404, _status(404, f"the fake does not serve {method} on {kind}")

    def _outcome(self, job: str, ns: str) -> JobOutcome:
        """The outcome configured for ``job``, or for the name it numbers (a capacity
        search's trial jobs ``smp-load-t1``, ``smp-load-t2``, ... take ``smp-load``'s)."""
        if job in self.logs:
            return self.logs[job](ns)
        for name, outcome in self.logs.items():
            if job.startswith(f"{name}-t") and job[len(name) + 2 :].isdigit():
                return outcome(ns)
        return JobOutcome()

    def _pods(self, ns: str, query: dict[str, str]) -> list[dict[str, Any]]:
        selector = query.get("labelSelector", "")
        job = selector.split("=", 1)[1] if selector.startswith("job-name=") else None
        if job is None or (ns, "jobs", job) not in self.objects:
            return []
        spec = self.objects[(ns, "jobs", job)]["spec"]["template"]["spec"]
        outcome = self._outcome(job, ns)
        statuses = [
            {
                "name": c["name"],
                "state": {
                    "terminated": {
                        "exitCode": outcome.exit_code,
                        "startedAt": "2024-05-01T12:00:00Z",
                        "finishedAt": "2024-05-01T12:01:00Z",
                    }
                },
            }
            for c in spec["containers"]
        ]
        mesh_phase = self.namespaces[ns]["metadata"]["labels"].get("istio-injection") == "enabled"
        if mesh_phase:  # the injected sidecar keeps running after the load container exits
            statuses.append({"name": "istio-proxy", "state": {"running": {}}})
        return [
            {
                "metadata": {"name": f"{job}-x7k2p", "namespace": ns, "labels": {"job-name": job}},
                "status": {"phase": "Running", "containerStatuses": statuses},
            }
        ]

    def _pod_metrics(self, ns: str) -> list[dict[str, Any]]:
        if ns == "istio-system":
            return [_pod_metric("istiod-5f4d9-abcde", [("discovery", "35m", "120Mi")])]
        if ns not in self.namespaces:
            return []
        mesh_phase = self.namespaces[ns]["metadata"]["labels"].get("istio-injection") == "enabled"
        app = [("app", "150m", "30Mi")]
        load = [("load", "400m", "60Mi")]
        if mesh_phase:
            app.append(("istio-proxy", "95000000n", "51200Ki"))
            load.append(("istio-proxy", "60m", "48Mi"))
        return [_pod_metric("smp-app-6d8f7-q9z8x", app), _pod_metric("smp-load-x7k2p", load)]


def _pod_metric(name: str, containers: list[tuple[str, str, str]]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "timestamp": "2024-05-01T12:00:30Z",
        "window": "15s",
        "containers": [
            {"name": c, "usage": {"cpu": cpu, "memory": mem}} for c, cpu, mem in containers
        ],
    }


def _status(code: int, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "code": code,
    }


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw.strip() else None
        path = parts.path.rstrip("/") or "/"  # the client asks for /version/
        status, payload = self.cluster.handle(method, path, query, body)
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header(
            "Content-Type", "text/plain" if isinstance(payload, str) else "application/json"
        )
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")


class FakeApiServer:
    def __init__(self, cluster: FakeCluster) -> None:
        handler = type("Handler", (_Handler,), {"cluster": cluster})
        self.cluster = cluster
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(
            f"""apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {self.url}
users:
- name: fake
  user:
    token: fake-token
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
current-context: fake
"""
        )
        return path
