"""The deployment files in deploy/: Kubernetes manifests, compose file, Dockerfile.

There is no Docker engine and no cluster where these tests run. The manifests are
validated offline against the Kubernetes OpenAPI schemas shipped with the
kubernetes-validate package (strict: unknown fields are errors), and the compose
file and Dockerfile are checked for structure only; none of them is built,
started or applied here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
# The oldest minor version still commonly run, and the newest the package knows.
KUBERNETES_VERSIONS = ["1.30", kubernetes_validate.latest_version()]
SECRET_VARIABLES = {"SECRET_KEY", "DATABASE_URL", "METRICS_TOKEN"}
# Set per pod, not shared: the downward API fills it in.
PER_POD_VARIABLES = {"POD_IP"}


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.append((f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return found


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


def pod_spec(resource: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def env_example_variables() -> set[str]:
    text = (DEPLOY / ".env.example").read_text()
    return set(re.findall(r"^([A-Z_]+)=", text, re.MULTILINE))


# --- Kubernetes ---------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(("name", "doc"), documents(), ids=[n for n, _ in documents()])
def test_every_manifest_validates_against_the_kubernetes_schemas(
    name: str, doc: dict[str, Any], version: str
) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_works_offline_and_rejects_a_wrong_field() -> None:
    broken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two", "selector": {}, "template": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_except_the_placeholder_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    expected = {p.name for p in manifest_files()} - {"secret.example.yaml"}
    assert set(kustomization["resources"]) == expected


def test_the_manifests_hold_web_worker_beat_a_migration_job_and_the_config() -> None:
    assert set(by_kind("Deployment")) == {"meshmark-web", "meshmark-worker", "meshmark-beat"}
    assert set(by_kind("Job")) == {"meshmark-migrate"}
    assert set(by_kind("ConfigMap")) == {"meshmark-config"}
    assert set(by_kind("Secret")) == {"meshmark-secrets"}
    assert set(by_kind("Service")) == {"meshmark-web"}


def test_each_deployment_selects_its_own_pods() -> None:
    for name, deployment in by_kind("Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), name
    service = by_kind("Service")["meshmark-web"]
    web_labels = by_kind("Deployment")["meshmark-web"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= web_labels.items()


def app_container(spec: dict[str, Any]) -> dict[str, Any]:
    """The pod's MeshMark container (the web pod also runs its nginx proxy)."""
    (container,) = [c for c in spec["containers"] if c["name"] != "proxy"]
    return container


@pytest.mark.parametrize("name", ["meshmark-web", "meshmark-worker"])
def test_web_and_worker_are_probed_on_healthz_by_a_named_port(name: str) -> None:
    spec = pod_spec(by_kind("Deployment")[name])
    container = app_container(spec)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == "/healthz", (name, probe)
        assert http_get["port"] in ports, (name, probe)
    env = {e["name"]: e for e in container.get("env", [])}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


def test_the_worker_serves_its_endpoints_on_the_probed_port() -> None:
    (container,) = pod_spec(by_kind("Deployment")["meshmark-worker"])["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(env["WORKER_HTTP_PORT"]) == ports["metrics"]


def test_beat_runs_exactly_once_and_is_replaced_not_rolled() -> None:
    beat = by_kind("Deployment")["meshmark-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "meshmark-beat" not in {
        hpa["spec"]["scaleTargetRef"]["name"] for hpa in by_kind("HorizontalPodAutoscaler").values()
    }


def test_the_migration_job_runs_migrate_once_without_restarting_in_place() -> None:
    job = by_kind("Job")["meshmark-migrate"]
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1
    (container,) = spec["containers"]
    assert container["args"][-2:] == ["migrate", "--noinput"]


def test_web_and_workers_scale_with_autoscaling_v2() -> None:
    hpas = by_kind("HorizontalPodAutoscaler")
    targets = {}
    for hpa in hpas.values():
        assert hpa["apiVersion"] == "autoscaling/v2"
        ref = hpa["spec"]["scaleTargetRef"]
        assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
        assert hpa["spec"]["minReplicas"] >= 1
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
        targets[ref["name"]] = hpa
    assert set(targets) == {"meshmark-web", "meshmark-worker"}
    assert targets["meshmark-web"]["spec"]["minReplicas"] >= 2  # one can be drained


def workloads() -> list[tuple[str, dict[str, Any]]]:
    """Everything that runs pods: the Deployments and the Job."""
    return [(name, doc) for name, doc in documents() if "template" in doc.get("spec", {})]


@pytest.mark.parametrize(("name", "workload"), workloads(), ids=[n for n, _ in workloads()])
def test_every_container_is_locked_down_and_sized(name: str, workload: dict[str, Any]) -> None:
    spec = pod_spec(workload)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"]:
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        assert "add" not in security["capabilities"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, kind)
        # A read-only root needs somewhere to write: /tmp (gunicorn, prometheus-client,
        # the beat schedule) on an emptyDir.
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        if container["name"] == "proxy":
            continue  # nginx needs none of the application's settings or secrets
        # Every pod reads the same configuration and secrets.
        refs = {
            key: source[key]["name"]
            for source in container["envFrom"]
            for key in ("configMapRef", "secretRef")
            if key in source
        }
        assert refs == {"configMapRef": "meshmark-config", "secretRef": "meshmark-secrets"}


def test_every_workload_runs_the_same_image() -> None:
    images = {container["image"] for _, workload in workloads()
              for container in [app_container(pod_spec(workload))]}  # fmt: skip
    assert len(images) == 1
    web = pod_spec(by_kind("Deployment")["meshmark-web"])
    (proxy,) = [c for c in web["containers"] if c["name"] == "proxy"]
    assert proxy["image"].startswith("nginxinc/nginx-unprivileged:1.")  # a pinned release


def test_the_configmap_holds_every_non_secret_setting_and_nothing_else() -> None:
    data = by_kind("ConfigMap")["meshmark-config"]["data"]
    expected = env_example_variables() - SECRET_VARIABLES - PER_POD_VARIABLES
    assert set(data) == expected
    assert data["DEBUG"] == "false"
    assert all(isinstance(v, str) for v in data.values())


def test_the_secret_holds_only_clearly_marked_placeholders() -> None:
    secret = by_kind("Secret")["meshmark-secrets"]
    values = secret["stringData"]
    assert set(values) == SECRET_VARIABLES
    assert all("REPLACE-ME" in v for v in values.values())
    assert "placeholder" in str(secret["metadata"]["annotations"])
    assert env_example_variables() >= SECRET_VARIABLES


def test_the_placeholder_secret_is_not_applied_by_kustomize() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert "secret.example.yaml" not in kustomization["resources"]


def test_the_gunicorn_defaults_match_the_configmap() -> None:
    from meshmark import gunicorn_conf

    data = by_kind("ConfigMap")["meshmark-config"]["data"]
    assert int(data["GUNICORN_WORKERS"]) == gunicorn_conf.workers
    assert int(data["GUNICORN_THREADS"]) == gunicorn_conf.threads


# --- compose ------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_has_the_services_and_a_migrate_step(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "postgres",
        "redis",
        "migrate",
        "proxy",
        "web",
        "worker",
        "beat",
    }
    migrate = compose["services"]["migrate"]
    assert migrate["command"][-2:] == ["migrate", "--noinput"]
    assert migrate["restart"] == "no"


def test_compose_starts_each_service_after_what_it_needs(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["beat"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_long_running_compose_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name == "migrate":
            assert service["healthcheck"] == {"disable": True}
            continue
        check = service["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert "interval" in check, name
    assert "/healthz" in " ".join(compose["services"]["web"]["healthcheck"]["test"])
    assert "9100/healthz" in " ".join(compose["services"]["worker"]["healthcheck"]["test"])


def test_compose_app_containers_are_locked_down_and_read_secrets_from_files(
    compose: dict[str, Any],
) -> None:
    for name in ("migrate", "web", "worker", "beat"):
        service = compose["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        env = service["environment"]
        assert env["SECRET_KEY_FILE"].startswith("/run/secrets/"), name
        assert env["DATABASE_URL_FILE"].startswith("/run/secrets/"), name
        assert "SECRET_KEY" not in env and "DATABASE_URL" not in env, name
        assert env["DEBUG"] == "false", name
    assert compose["services"]["worker"]["environment"]["WORKER_HTTP_PORT"] == "9100"
    assert "--schedule" in compose["services"]["beat"]["command"]


# --- Dockerfile (structure only: not built here) ------------------------------


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_the_dockerfile_builds_in_stages(dockerfile: list[tuple[str, str]]) -> None:
    stages = [rest for keyword, rest in dockerfile if keyword == "FROM"]
    assert len(stages) >= 2
    assert all(re.search(r"\bAS\s+\w+", stage, re.IGNORECASE) for stage in stages)
    copies_from_build = [r for k, r in dockerfile if k == "COPY" and r.startswith("--from=build")]
    assert copies_from_build


def test_the_image_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    users = [rest for keyword, rest in dockerfile if keyword == "USER"]
    assert users, "no USER instruction: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # Numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
    assert user.isdigit()
    pods = {pod_spec(w)["securityContext"]["runAsUser"] for _, w in workloads()}
    assert pods == {int(user)}


def test_the_image_exposes_gunicorn_with_a_healthcheck(dockerfile: list[tuple[str, str]]) -> None:
    keywords = [keyword for keyword, _ in dockerfile]
    assert ("EXPOSE", "8000") in dockerfile
    healthcheck = next(rest for keyword, rest in dockerfile if keyword == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    cmd = [rest for keyword, rest in dockerfile if keyword == "CMD"][-1]
    assert cmd.startswith('["gunicorn"') and "meshmark.gunicorn_conf" in cmd
    assert keywords.index("USER") < keywords.index("CMD")


def test_the_image_copies_only_what_it_runs() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore  # everything out, then only the sources back in
    for path in ("smp/", "ingest/", "meshmark/", "templates/", "manage.py"):
        assert f"!{path}" in ignore


def test_only_the_buffering_proxy_is_published_and_it_fronts_gunicorn(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert "ports" not in services["web"]
    assert services["proxy"]["ports"] == ["127.0.0.1:8000:8080"]
    assert services["proxy"]["environment"]["MESHMARK_UPSTREAM"] == "web:8000"
    assert services["web"]["environment"]["NUM_PROXIES"] == "1"
    web = pod_spec(by_kind("Deployment")["meshmark-web"])
    proxy = next(c for c in web["containers"] if c["name"] == "proxy")
    service = by_kind("Service")["meshmark-web"]
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http" == proxy["ports"][0]["name"]
    template = (K8S / "nginx.conf.template").read_text()
    for directive in (
        "proxy_request_buffering on;",
        "proxy_buffering on;",
        "client_header_timeout 10s;",
        "client_body_timeout 10s;",
    ):
        assert directive in template
