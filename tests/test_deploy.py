"""deploy/: the compose files and Kubernetes manifests parse and name their services, no secret is
written into them, the cluster's configuration is 2 shards × 2 replicas with a macro per node, and
the Dockerfile runs as a user that is not root with no build tools in the image that runs. The
image is built where a docker daemon answers (slow lane); elsewhere that test says it was skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SECRET_WORDS = re.compile(r"(password|secret|key|token)", re.I)


def load_all(path: Path) -> list[Any]:
    return [d for d in YAML(typ="safe").load_all(path.read_text(encoding="utf-8")) if d is not None]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def assert_no_literal_secrets(env: dict[str, str], where: str) -> None:
    """A variable whose name says it is secret takes its value from the environment (`${…}`) or
    names a file; a URL's password likewise."""
    for name, value in env.items():
        if SECRET_WORDS.search(name) and not name.endswith("_FILE"):
            assert value.startswith("${"), f"{where}: {name} is written into the file"
        literal = re.sub(r"\$\{[^}]*\}", "", value)  # what is left once the environment's parts go
        assert not re.search(r"://[^/@]*:[^/@]+@", literal), f"{where}: {name} carries a password"


def test_single_server_compose_names_its_services_and_holds_no_secret() -> None:
    (compose,) = load_all(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert {"clickhouse", "keeper", "api", "proxy"} <= set(services)
    for name, service in services.items():
        assert_no_literal_secrets(environment(service), f"compose.yaml {name}")
    api = services["api"]
    assert api["build"]["dockerfile"] == "deploy/Dockerfile"
    assert "LABIS_CLICKHOUSE_URL" in environment(api)
    assert api["read_only"] is True and "pseudonym_key" in api["secrets"]
    assert compose["secrets"]["pseudonym_key"]["file"].startswith("./secrets/")
    # The proxy terminates TLS and keeps the internal routes inside.
    caddy = (DEPLOY / "proxy" / "Caddyfile").read_text(encoding="utf-8")
    assert "reverse_proxy api:8000" in caddy and "/metrics" in caddy and "respond @internal 404" in caddy
    assert {"443:443", "80:80"} <= set(services["proxy"]["ports"])
    assert all(p.startswith("127.0.0.1:") for p in services["clickhouse"]["ports"])
    ET.parse(DEPLOY / "clickhouse" / "config.d" / "labis.xml")
    ET.parse(DEPLOY / "keeper" / "keeper.xml")


def test_cluster_is_two_shards_of_two_replicas_with_macros_from_each_node() -> None:
    (compose,) = load_all(DEPLOY / "cluster" / "compose.yaml")
    services = compose["services"]
    nodes = {n: s for n, s in services.items() if n.startswith("ch-")}
    assert set(nodes) == {"ch-s1-r1", "ch-s1-r2", "ch-s2-r1", "ch-s2-r2"}
    assert {"keeper-1", "keeper-2", "keeper-3", "api", "proxy"} <= set(services)
    identities = {(environment(s)["SHARD"], environment(s)["REPLICA"]) for s in nodes.values()}
    assert identities == {("01", "ch-s1-r1"), ("01", "ch-s1-r2"), ("02", "ch-s2-r1"), ("02", "ch-s2-r2")}
    for name, service in services.items():
        assert_no_literal_secrets(environment(service), f"cluster/compose.yaml {name}")
    assert environment(services["api"])["LABIS_CLUSTER"] == "labis_cluster"
    config = ET.parse(DEPLOY / "cluster" / "config.d" / "cluster.xml").getroot()
    shards = config.findall("remote_servers/labis_cluster/shard")
    assert [len(s.findall("replica")) for s in shards] == [2, 2]
    assert all(s.findtext("internal_replication") == "true" for s in shards)
    hosts = {r.findtext("host") for s in shards for r in s.findall("replica")}
    assert hosts == set(nodes)
    assert config.find("macros/shard").get("from_env") == "SHARD"  # type: ignore[union-attr]
    assert config.find("macros/replica").get("from_env") == "REPLICA"  # type: ignore[union-attr]
    for replica in config.findall("remote_servers/labis_cluster/shard/replica"):
        assert replica.find("password").get("from_env") == "CLICKHOUSE_PASSWORD"  # type: ignore[union-attr]
    keeper = ET.parse(DEPLOY / "cluster" / "keeper.xml").getroot()
    assert len(keeper.findall("keeper_server/raft_configuration/server")) == 3
    assert len(config.findall("zookeeper/node")) == 3


def test_kubernetes_manifests_probe_liveness_and_readiness_as_non_root() -> None:
    docs = load_all(DEPLOY / "k8s" / "labis-api.yaml")
    kinds = {d["kind"]: d for d in docs}
    assert {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} <= set(kinds)
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    (api,) = pod["containers"]
    assert api["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["securityContext"]["readOnlyRootFilesystem"] is True
    url = next(e for e in api["env"] if e["name"] == "LABIS_CLICKHOUSE_URL")
    assert "secretKeyRef" in url["valueFrom"]
    assert not any(SECRET_WORDS.search(k) and not k.endswith("_FILE") for k in kinds["ConfigMap"]["data"])


def test_dockerfile_runs_unprivileged_without_build_tools() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2, "a build stage and a run stage"
    run = stages[-1]
    assert "build-essential" not in run and "apt-get install" not in run and "pip install" not in run
    user = re.search(r"^USER (\S+)", run, re.M)
    assert user is not None and user.group(1).split(":")[0] not in ("0", "root")
    assert "COPY --from=build /opt/labis /opt/labis" in run
    assert not re.search(r"^(ENV|ARG)\s.*(PASSWORD|SECRET|TOKEN|PSEUDONYM_KEY)=", text, re.M | re.I)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[1] == "*" or "*" in ignore, "the context starts from nothing"
    assert not any(line.startswith("!") and ("secrets" in line or ".env" in line) for line in ignore)
    # The environment files and secrets next to the compose files are never committed.
    assert {".env", "secrets/*"} <= set((DEPLOY / ".gitignore").read_text(encoding="utf-8").split())


def _docker_daemon() -> str | None:
    """Why the image cannot be built here, or None when a daemon answers."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return "no docker daemon answers (`docker info` failed)"
    return None


@pytest.mark.slow
def test_the_image_builds_and_runs_as_non_root() -> None:
    reason = _docker_daemon()
    if reason is not None:
        pytest.skip(f"image not built: {reason}")
    tag = "labis-olap:test"
    build = subprocess.run(
        ["docker", "build", "-f", "deploy/Dockerfile", "-t", tag, "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    whoami = subprocess.run(["docker", "run", "--rm", tag, "id", "-u"], capture_output=True, text=True)
    assert whoami.stdout.strip() == "10001"
    tools = subprocess.run(
        ["docker", "run", "--rm", tag, "sh", "-c", "command -v gcc cc make || true"],
        capture_output=True,
        text=True,
    )
    assert tools.stdout.strip() == ""
    version = subprocess.run(
        ["docker", "run", "--rm", tag, "labis", "--help"], capture_output=True, text=True
    )
    assert version.returncode == 0
