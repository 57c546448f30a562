"""The deploy artefacts, validated offline: no Docker engine, no cluster.

- every kustomize overlay renders (kubectl's built-in kustomize) and every rendered object validates against
  the Kubernetes OpenAPI schemas (kubernetes-validate, strict: unknown fields are errors);
- docker-compose.yml parses under the Compose specification (compose-spec) and has what `docker compose up`
  needs: healthchecks, `service_healthy` dependencies, required secrets, Redis with AOF;
- the Dockerfile passes hadolint;
- nothing drifts from the code: every FIRSTIN_* variable set in compose, Kubernetes or a Dockerfile is a field
  of that service's settings class, every port is the settings default, every probe and healthcheck path is
  one the service serves, and each service's settings accept the environment each deployment gives it.

The tools are dev dependencies (`make test` syncs them into .venv); a missing tool fails, never skips.
"""

import ast
import base64
import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import compose_spec
import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings

from firstin_api.main import create_app as create_api
from firstin_api.settings import ApiSettings
from firstin_notifier.main import create_app as create_notifier
from firstin_notifier.settings import NotifierSettings
from firstin_processor.main import create_app as create_processor
from firstin_processor.settings import ProcessorSettings

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
# The oldest Kubernetes release we claim to support, and the newest the schemas know.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
VENV_BIN = Path(sys.executable).parent  # not resolved: the venv's bin, where dev dependencies put their tools
SECRET_NAME = "firstin-secrets"
# A value of the right shape for secrets that only exist in the cluster (prod) or the shell (compose).
PLACEHOLDER_SECRET = "placeholder-secret-for-validation-0123456789abcdef"
# hadolint rules ignored on purpose, rule -> reason. Findings at warning level and above fail.
HADOLINT_IGNORED: dict[str, str] = {}


@dataclass(frozen=True)
class Service:
    name: str  # the compose service, the Kubernetes `app` label and the services/<name> folder
    settings: type[BaseSettings]
    port_field: str
    host_field: str

    @property
    def default_port(self) -> int:
        port = self.settings.model_fields[self.port_field].default
        assert isinstance(port, int)
        return port

    @property
    def env_names(self) -> set[str]:
        return {f"FIRSTIN_{field.upper()}" for field in self.settings.model_fields}

    @property
    def module(self) -> str:
        return f"firstin_{self.name}"


SERVICES = {
    s.name: s
    for s in (
        Service("api", ApiSettings, "api_port", "api_host"),
        Service("processor", ProcessorSettings, "processor_port", "processor_host"),
        Service("notifier", NotifierSettings, "notifier_port", "notifier_host"),
    )
}


APP_FACTORIES = {"api": create_api, "processor": create_processor, "notifier": create_notifier}


@cache
def served_paths(service: str) -> frozenset[str]:
    """The HTTP paths the service's app really routes, read off the app itself (no server, no Redis)."""
    app = APP_FACTORIES[service](SERVICES[service].settings())
    app = getattr(app, "other_asgi_app", app)  # the notifier's Socket.IO app wraps its HTTP app
    # FastAPI and Starlette routes have a path; FastStream's ASGI routes are (path, handler) pairs.
    return frozenset(r[0] if isinstance(r, tuple) else getattr(r, "path", "") for r in app.routes)


def test_every_service_serves_health_and_metrics() -> None:
    for name in SERVICES:
        assert {"/livez", "/readyz", "/metrics"} <= served_paths(name), name


def tool(name: str) -> str:
    """A tool installed into the venv by the dev dependency group; its absence is a failure."""
    found = shutil.which(name, path=str(VENV_BIN))
    if found is None:
        pytest.fail(f"{name} not found in {VENV_BIN}: run `make sync` (it is a dev dependency in pyproject.toml)")
    return found


def first(pattern: str, text: str, group: int = 0) -> str:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in {text!r}"
    return match[group]


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{shlex.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# --- Kubernetes ---------------------------------------------------------------------------------------------


@cache
def render(path: str) -> tuple[dict[str, Any], ...]:
    out = run(tool("kubectl"), "kustomize", str(DEPLOY / path))
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def objects(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs: tuple[dict[str, Any], ...]) -> Iterator[dict[str, Any]]:
    yield from (d for d in docs if d["kind"] in ("Deployment", "StatefulSet"))


def service_of(workload: dict[str, Any]) -> Service | None:
    return SERVICES.get(workload["spec"]["template"]["metadata"]["labels"]["app"])


def test_overlays_are_dev_and_prod() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS), OVERLAYS


@pytest.mark.parametrize("path", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_renders_and_validates_against_kubernetes_schemas(path: str) -> None:
    docs = render(path)
    assert docs, path
    for doc in docs:
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{path}: {doc['kind']}/{doc['metadata']['name']} invalid for {version}: {exc.message}")


def test_base_holds_no_secret_only_references() -> None:
    docs = render("base")
    assert not objects(docs, "Secret")
    refs = {
        ref["secretKeyRef"]["name"]
        for w in workloads(docs)
        for c in w["spec"]["template"]["spec"]["containers"]
        for e in c.get("env", [])
        if (ref := e.get("valueFrom", {})) and "secretKeyRef" in ref
    }
    assert refs == {SECRET_NAME}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_deployment_service_account_and_hardened_pods(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    services = objects(docs, "Service")
    accounts = objects(docs, "ServiceAccount")
    apps = set()
    for w in workloads(docs):
        name, spec = w["metadata"]["name"], w["spec"]
        pod = spec["template"]["spec"]
        app = spec["template"]["metadata"]["labels"]["app"]
        apps.add(app)
        assert w["metadata"]["labels"]["app"] == app == spec["selector"]["matchLabels"]["app"], name
        assert services[app]["spec"]["selector"] == {"app": app}, name
        assert pod["serviceAccountName"] == app and app in accounts, name
        assert pod["automountServiceAccountToken"] is False, name
        # A Service named like a FIRSTIN_ prefix would otherwise inject e.g. FIRSTIN_API_PORT=tcp://... into pods.
        assert pod["enableServiceLinks"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][bound]), (name, bound)
            assert "livenessProbe" in c and "readinessProbe" in c, name
            image = c["image"].rsplit("/", 1)[-1]
            assert ":" in image and not image.endswith(":latest"), c["image"]
        if service_of(w) is not None:
            # Read-only root: Python's temp files (and the api's multiprocess metrics) need a writable /tmp.
            mounts = {m["mountPath"]: m["name"] for c in pod["containers"] for m in c.get("volumeMounts", [])}
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            assert "emptyDir" in volumes[mounts["/tmp"]], name
    assert set(SERVICES) <= apps, apps


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_redis_is_a_stateful_set_with_a_volume_and_aof_or_managed(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    redis = objects(docs, "StatefulSet").get("redis")
    if redis is None:  # the managed-redis component: the URL must come from the Secret
        for name in SERVICES:
            env = container(objects(docs, "Deployment")[name])["env"]
            url = next(e for e in env if e["name"] == "FIRSTIN_REDIS_URL")
            assert url["valueFrom"]["secretKeyRef"]["name"].startswith(SECRET_NAME), name
        return
    c = container(redis)
    argv = [*c.get("command", []), *c.get("args", [])]
    assert flags(argv) >= {("--appendonly", "yes"), ("--appendfsync", "everysec")}, argv
    claims = {t["metadata"]["name"] for t in redis["spec"]["volumeClaimTemplates"]}
    assert {m["name"] for m in c["volumeMounts"] if m["mountPath"] == "/data"} <= claims
    assert objects(docs, "Service")["redis"]["spec"]["clusterIP"] == "None"  # the governing (headless) Service


def test_dev_overlay_runs_one_of_each_and_generates_a_dev_secret() -> None:
    docs = render("overlays/dev")
    for w in workloads(docs):
        assert w["spec"]["replicas"] == 1, w["metadata"]["name"]
    (secret,) = objects(docs, "Secret").values()
    assert secret["metadata"]["name"].startswith(SECRET_NAME)
    assert {"token-secret", "admin-token"} <= set(secret["data"])


def test_prod_overlay_scales_api_and_notifier_and_runs_two_processors() -> None:
    docs = render("overlays/prod")
    deployments = objects(docs, "Deployment")
    pods = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in objects(docs, "HorizontalPodAutoscaler").values()}
    pdbs = objects(docs, "PodDisruptionBudget").values()
    for name in ("api", "notifier"):
        assert hpas[name]["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert hpas[name]["spec"]["minReplicas"] >= 2
        assert "replicas" not in deployments[name]["spec"], f"{name}: the HPA owns its replica count"
        assert any(p["spec"]["selector"]["matchLabels"].items() <= pods[name].items() for p in pdbs), name
    assert deployments["processor"]["spec"]["replicas"] == 2
    assert objects(docs, "Service")["notifier"]["spec"]["sessionAffinity"] == "ClientIP"
    assert not objects(docs, "Secret"), "prod's Secret is created in the cluster, never committed"


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (c,) = workload["spec"]["template"]["spec"]["containers"]
    return c


def flags(argv: list[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(argv))


def pod_env(docs: tuple[dict[str, Any], ...], c: dict[str, Any]) -> dict[str, str]:
    """The environment a container gets, as the kubelet builds it: envFrom first, then env, later wins."""
    config_maps, secrets = objects(docs, "ConfigMap"), objects(docs, "Secret")
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        assert "configMapRef" in source, f"{c['name']}: only ConfigMaps in envFrom, so every key is checked"
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif ref := e["valueFrom"].get("secretKeyRef"):
            assert ref["name"].startswith(SECRET_NAME), e
            secret = secrets.get(ref["name"])  # dev generates it; elsewhere it lives only in the cluster
            env[e["name"]] = decode(secret["data"][ref["key"]]) if secret else placeholder(e["name"])
        else:
            ref = e["valueFrom"]["configMapKeyRef"]
            env[e["name"]] = config_maps[ref["name"]]["data"][ref["key"]]
    return env


def decode(value: str) -> str:
    return base64.b64decode(value).decode()


def placeholder(name: str) -> str:
    return "redis://managed-redis.invalid:6379/0" if name == "FIRSTIN_REDIS_URL" else PLACEHOLDER_SECRET


def load_settings(service: Service, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The service's settings as the process would read them from exactly this environment."""
    with monkeypatch.context() as m:
        for name in service.env_names:
            m.delenv(name, raising=False)
        for name, value in env.items():
            m.setenv(name, value)
        return service.settings()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifests_match_what_the_services_read_and_serve(overlay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render(f"overlays/{overlay}")
    k8s_services = objects(docs, "Service")
    for w in workloads(docs):
        service = service_of(w)
        if service is None:
            continue
        c = container(w)
        env = pod_env(docs, c)
        unknown = set(env) - service.env_names
        assert not unknown, f"{overlay}/{service.name}: no such setting: {sorted(unknown)}"
        settings = load_settings(service, env, monkeypatch)
        port = getattr(settings, service.port_field)
        assert port == service.default_port, f"{overlay}/{service.name}: set the port in the settings, not here"
        (http,) = c["ports"]
        assert http["containerPort"] == port, service.name
        for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
            get = c[probe]["httpGet"]
            assert get["path"] == path and path in served_paths(service.name), (service.name, probe)
            assert get["port"] in (http["name"], http["containerPort"]), (service.name, probe)
        (svc_port,) = k8s_services[service.name]["spec"]["ports"]
        assert svc_port["port"] == port and svc_port["targetPort"] in (http["name"], port), service.name
        redis = urlsplit(settings.redis_url)
        if redis.hostname != "managed-redis.invalid":
            (redis_port,) = k8s_services[redis.hostname]["spec"]["ports"]
            assert redis.port == redis_port["port"], service.name


# --- Docker Compose -----------------------------------------------------------------------------------------

COMPOSE_FILE = REPO / "docker-compose.yml"
REQUIRED = re.compile(r"^\$\{(?P<name>[A-Z_][A-Z0-9_]*):\?[^}]+\}$")


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves the file's YAML anchors and merge keys
    assert isinstance(loaded, dict)
    try:  # strict: unknown keys, bad durations, ports or conditions fail
        compose_spec.PyCompose.from_json(json.dumps(loaded))
    except ValueError as exc:
        pytest.fail(f"docker-compose.yml breaks the Compose specification: {exc}")
    return loaded


def test_compose_has_redis_with_aof_on_a_named_volume() -> None:
    doc = compose()
    redis = doc["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    assert flags(redis["command"]) >= {("--appendonly", "yes"), ("--appendfsync", "everysec")}
    (volume,) = redis["volumes"]
    name, target = volume.split(":")
    assert target == "/data" and name in doc["volumes"]
    # One Redis version everywhere.
    assert redis["image"] == container(objects(render("overlays/dev"), "StatefulSet")["redis"])["image"]


def test_compose_waits_for_healthy_dependencies_and_requires_secrets() -> None:
    doc = compose()
    services = doc["services"]
    assert set(services) == {"redis", *SERVICES}
    for name, spec in services.items():
        assert spec["healthcheck"]["test"][0] == "CMD", name
        for dependency, condition in spec.get("depends_on", {}).items():
            assert dependency in services and condition == {"condition": "service_healthy"}, name
    for name in SERVICES:
        assert services[name]["depends_on"] == {"redis": {"condition": "service_healthy"}}
    for name in ("api", "notifier"):
        env = services[name]["environment"]
        assert env["FIRSTIN_ENV"] == "production", name
        assert REQUIRED.match(env["FIRSTIN_TOKEN_SECRET"]), name
    assert REQUIRED.match(services["api"]["environment"]["FIRSTIN_ADMIN_TOKEN"])
    # No interpolation that could silently come out empty: each ${VAR} is required or has a default.
    for expr in re.findall(r"\$\{[^}]*\}", COMPOSE_FILE.read_text()):
        assert ":?" in expr or ":-" in expr, expr


def test_compose_matches_what_the_services_read_and_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose()["services"]
    published = {}
    for name, service in SERVICES.items():
        spec = services[name]
        env = {k: str(v) for k, v in spec["environment"].items()}
        unknown = set(env) - service.env_names
        assert not unknown, f"compose/{name}: no such setting: {sorted(unknown)}"
        env = {k: PLACEHOLDER_SECRET if REQUIRED.match(v) else v for k, v in env.items()}
        settings = load_settings(service, env, monkeypatch)
        port = getattr(settings, service.port_field)
        assert port == service.default_port, f"compose/{name}: set the port in the settings, not here"
        for mapping in spec.get("ports", []):
            host, inside = mapping.split(":")
            assert int(inside) == port, name
            published[name] = int(host)
        assert [str(p) for p in spec.get("expose", [])] in ([], [str(port)]), name
        probe = urlsplit(first(r"http://[^']+", spec["healthcheck"]["test"][-1]))
        assert probe.port == port and probe.path in served_paths(name), name
        redis = urlsplit(settings.redis_url)
        assert (redis.hostname, redis.port) == ("redis", 6379), name
    # The demo page (api on localhost:8000) reaches the notifier at its published port, and may.
    assert published == {"api": 8000, "notifier": 8001}
    public = services["api"]["environment"]["FIRSTIN_NOTIFIER_PUBLIC_URL"]
    assert public == f"http://localhost:{published['notifier']}"
    origins = services["notifier"]["environment"]["FIRSTIN_CORS_ALLOWED_ORIGINS"].split(",")
    assert f"http://localhost:{published['api']}" in origins
    # A page may call the api exactly when it may open a socket.
    assert services["api"]["environment"]["FIRSTIN_CORS_ALLOWED_ORIGINS"].split(",") == origins


# --- Dockerfile ---------------------------------------------------------------------------------------------

DOCKERFILE = REPO / "Dockerfile"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#"))
    )
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1].strip()) for ln in joined.splitlines() if ln.strip()]


def stages(steps: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Each named stage's own instructions, FROM included."""
    named: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for kind, arg in steps:
        if kind == "FROM":
            current = named.setdefault(arg.split()[-1] if " AS " in arg.upper() else arg, [])
        current.append((kind, arg))
    return named


def image_steps(target: str) -> list[tuple[str, str]]:
    """What building `--target <target>` runs: the target's stage after the stages it is built from."""
    by_stage = stages(instructions(DOCKERFILE))
    chain, stage = [], target
    while stage in by_stage:
        chain.insert(0, by_stage[stage])
        stage = by_stage[stage][0][1].split()[0]
    copied_from = {a.split()[0].removeprefix("--from=") for s in chain for k, a in s if k == "COPY"}
    built = [by_stage[name] for name in copied_from if name in by_stage]
    return [step for stage_steps in (*built, *chain) for step in stage_steps]


def test_dockerfile_passes_hadolint() -> None:
    ignores = [arg for rule in HADOLINT_IGNORED for arg in ("--ignore", rule)]
    run(tool("hadolint"), "--no-color", "--failure-threshold", "warning", *ignores, str(DOCKERFILE))


def test_compose_builds_each_service_from_its_target() -> None:
    services = compose()["services"]
    for name in SERVICES:
        assert services[name]["build"] == {"context": ".", "target": name, "args": {"SERVICE": name}}
        assert name in stages(instructions(DOCKERFILE)), f"no target {name}"


@pytest.mark.parametrize("name", list(SERVICES))
def test_dockerfile_target_matches_the_service(name: str) -> None:
    service = SERVICES[name]
    steps = image_steps(name)
    kinds = [kind for kind, _ in steps]
    assert kinds.count("FROM") >= 2, "multi-stage"
    args = dict(a.split("=", 1) for kind, a in instructions(DOCKERFILE) if kind == "ARG" and "=" in a)
    for kind, arg in steps:
        if kind == "FROM" and arg.split()[0] not in stages(instructions(DOCKERFILE)):
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], arg.split()[0])
            assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), image
    uv_version = first(r"(?m)^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), group=1)
    assert ("COPY", f"--from=ghcr.io/astral-sh/uv:{uv_version} /uv /uvx /bin/") in steps, "uv as pinned in Makefile"
    syncs = [i for i, (kind, arg) in enumerate(steps) if kind == "RUN" and "uv sync" in arg]
    assert len(syncs) == 2 and all("--frozen --no-dev" in steps[i][1] for i in syncs)
    assert "--no-install-workspace" in steps[syncs[0]][1], "dependencies first, without the source"
    sources = [i for i, (kind, arg) in enumerate(steps) if kind == "COPY" and "/src " in arg]
    assert sources and min(sources) > syncs[0], "source is copied after the dependencies are installed"
    # The builder installs the package SERVICE names, and the target refuses a venv without its own module.
    assert all('"firstin-${SERVICE' in steps[i][1] for i in syncs)
    assert ("COPY", "services/${SERVICE}/src services/${SERVICE}/src") in steps
    assert ("RUN", f'["python", "-c", "import firstin_{name}"]') in steps
    # .dockerignore excludes everything, then lets paths back in: each COPY from the context must be let in.
    let_in = [ln[1:].rstrip("/") for ln in (REPO / ".dockerignore").read_text().splitlines() if ln.startswith("!")]
    for kind, arg in steps:
        if kind == "COPY" and not arg.startswith("--from"):
            for source in arg.split()[:-1]:
                source = source.replace("${SERVICE}", name)
                assert any(source == p or source.startswith(f"{p}/") for p in let_in), f"{source} not in context"
    env = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', " ".join(a for kind, a in steps if kind == "ENV")))
    firstin = {k for k in env if k.startswith("FIRSTIN_")}
    assert firstin <= service.env_names, firstin - service.env_names
    assert env[f"FIRSTIN_{service.host_field.upper()}"] == "0.0.0.0"
    user = next(a for kind, a in reversed(steps) if kind == "USER")
    uid = int(user.split(":")[0])
    assert uid > 0
    for w in workloads(render("base")):
        if service_of(w) is service:
            assert w["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid
    assert ("EXPOSE", str(service.default_port)) in steps
    [healthcheck] = [a for kind, a in steps if kind == "HEALTHCHECK"]
    assert f"'{service.default_port}') + '/livez'" in healthcheck and "/livez" in served_paths(name)
    assert f"FIRSTIN_{service.port_field.upper()}" in healthcheck
    assert steps[-1] == ("CMD", f'["python", "-m", "{service.module}"]'), "exec form, the service's module"


def normalize(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


@cache
def locked_closure(distribution: str) -> frozenset[str]:
    """Every distribution `uv sync --frozen --no-dev --package <distribution>` installs: the image's venv."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for package in tomllib.loads((REPO / "uv.lock").read_text())["package"]:
        by_name.setdefault(package["name"], []).append(package)
    seen: set[str] = set()
    todo = [(distribution, ())]
    while todo:
        name, extras = todo.pop()
        key = f"{name}{sorted(extras)}"
        if key in seen:
            continue
        seen.add(key)
        for package in by_name[name]:
            deps = list(package.get("dependencies", []))
            for extra in extras:
                deps += package.get("optional-dependencies", {}).get(extra, [])
            todo += [(dep["name"], tuple(dep.get("extra", ()))) for dep in deps]
    return frozenset(key.split("[", 1)[0] for key in seen)


def third_party_imports(source: Path) -> set[str]:
    names = set()
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "__future__" and not n.startswith("firstin_")}


@pytest.mark.parametrize("name", list(SERVICES))
def test_image_installs_every_package_the_service_imports(name: str) -> None:
    """The image gets only the service's locked dependencies (the dev venv has every service's): an import
    of a package the service does not declare works in `make run` and crashes the container."""
    closure = locked_closure(f"firstin-{name}")
    providers = packages_distributions()
    sources = [REPO / "services" / name / "src"]
    if "firstin-contracts" in closure:
        sources.append(REPO / "libs" / "contracts" / "src")
    missing = {
        module: providers.get(module, [])
        for source in sources
        for module in third_party_imports(source)
        if not {normalize(d) for d in providers.get(module, [])} & closure
    }
    assert not missing, (
        f"firstin-{name} imports {missing} (module: distributions) but does not depend on them: "
        f"add them to services/{name}/pyproject.toml and run `uv lock`"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_and_notifier_allow_the_same_pages(overlay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One list of page origins for both: a page that may call the api but not open a socket (or the other way
    round) half works, which is harder to tell than not at all."""
    docs = render(f"overlays/{overlay}")
    allowed = {}
    for w in workloads(docs):
        service = service_of(w)
        if service is not None and service.name in ("api", "notifier"):
            env = pod_env(docs, container(w))
            assert "FIRSTIN_CORS_ALLOWED_ORIGINS" in env, (
                f"{overlay}/{service.name}: FIRSTIN_CORS_ALLOWED_ORIGINS unset"
            )
            allowed[service.name] = load_settings(service, env, monkeypatch).cors_allowed_origins
    assert allowed["api"] == allowed["notifier"], allowed


@pytest.mark.parametrize("overlay", ["prod", "prod-managed-redis"])
def test_prod_overlays_name_the_proxies_the_api_and_notifier_believe(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind an ingress, the per-IP limit needs the client's address from the proxy's X-Forwarded-For; only the
    proxies named in FIRSTIN_TRUSTED_PROXIES are believed (a placeholder range, commented, to be set per cluster)."""
    docs = render(f"overlays/{overlay}")
    for w in workloads(docs):
        service = service_of(w)
        if service is None or service.name not in ("api", "notifier"):
            continue
        env = pod_env(docs, container(w))
        assert env.get("FIRSTIN_TRUSTED_PROXIES"), f"{overlay}/{service.name}: FIRSTIN_TRUSTED_PROXIES unset"
        settings = load_settings(service, env, monkeypatch)
        assert settings.trusted_proxies and all("/" in p for p in settings.trusted_proxies), settings.trusted_proxies
    assert "PLACEHOLDER" in (DEPLOY / "overlays" / "prod" / "kustomization.yaml").read_text()
