"""docker/ cannot be run here (no container engine), so its files are checked against the repo:
every service, port, volume, variable, file and module path they name must exist and agree with
deploy/dagster.yaml, deploy/workspace.yaml, pyproject.toml, uv.lock and the Makefile."""

import ast
import importlib.util
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
# The production instance and workspace (the top-level pair is the laptop's).
DEPLOY = REPO / "deploy"
SERVICES = {"postgres", "mlflow", "user_code", "webserver", "daemon", "serving"}
DAGSTER_SERVICES = ("user_code", "webserver", "daemon")
CODE_MODULE = "mlops_assets.definitions"
# ${NAME}, ${NAME:-default}, ${NAME:?message}; `$${NAME}` is escaped for the container's shell.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _yaml(DOCKER / "docker-compose.yml")


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _env_value(value: str) -> str:
    """What compose puts in the container for `${NAME:-default}` with NAME unset."""
    return COMPOSE_VARIABLE.sub(lambda m: _default(m.group(0)), str(value))


def _default(reference: str) -> str:
    found = re.fullmatch(r"\$\{[A-Z0-9_]+:-([^}]*)\}", reference)
    return found.group(1) if found else "<required>"


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return [str(part) for part in command] if isinstance(command, list) else shlex.split(command)


def _option(command: list[str], *names: str) -> str:
    for index, part in enumerate(command):
        if part in names:
            return command[index + 1]
    raise AssertionError(f"none of {names} in {command}")


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            lines.append(current.strip())
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _dockerfile(services: dict[str, Any], name: str) -> Path:
    build = services[name]["build"]
    return (DOCKER / build["context"] / build["dockerfile"]).resolve()


def _env_references(config: Any) -> set[str]:
    """The variables a Dagster YAML file reads through `{env: NAME}`."""
    if isinstance(config, dict):
        if set(config) == {"env"}:
            return {config["env"]}
        return set().union(*(_env_references(value) for value in config.values()))
    if isinstance(config, list):
        return set().union(*(_env_references(value) for value in config))
    return set()


def test_compose_has_the_six_services_each_with_a_health_check(services):
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition["condition"] == "service_healthy", (name, dependency)


def test_every_container_runs_as_a_non_root_user(services):
    assert services["postgres"]["user"] == "postgres"
    for name in ("mlflow", *DAGSTER_SERVICES, "serving"):
        users = [
            args for kind, args in _instructions(_dockerfile(services, name)) if kind == "USER"
        ]
        assert users and users[-1] not in ("root", "0"), f"{name}'s image runs as root"
        assert "user" not in services[name], f"{name} overrides the image's user"


def test_images_are_built_from_the_repo_with_its_lock_file_and_uv(services):
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    project_lock = next(p for p in lock["package"] if p["name"] == "mlops-assets")
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.M)
    assert makefile_uv
    requires = pyproject["project"]["requires-python"]
    for name in ("mlflow", *DAGSTER_SERVICES):
        build = services[name]["build"]
        assert (DOCKER / build["context"]).resolve() == REPO, name
        dockerfile = _dockerfile(services, name)
        assert dockerfile.is_file(), dockerfile
        instructions = _instructions(dockerfile)
        base = next(args for kind, args in instructions if kind == "FROM")
        python = re.fullmatch(r"python:(\d+\.\d+)-slim-bookworm", base)
        assert python and python.group(1) in SpecifierSet(requires), (base, requires)
        assert f"ARG UV_VERSION={makefile_uv.group(1)}" in [
            f"{kind} {args}" for kind, args in instructions
        ], f"{dockerfile.name} uses another uv than the Makefile"
        syncs = [args for kind, args in instructions if kind == "RUN" and "uv sync" in args]
        assert syncs, f"{dockerfile.name} does not install from uv.lock"
        for sync in syncs:
            assert "--frozen" in sync and "--no-dev" in sync, sync
            for extra in re.findall(r"--extra (\S+)", sync):
                assert extra in pyproject["project"]["optional-dependencies"], extra
                assert extra in project_lock["optional-dependencies"], f"{extra} not locked"
        for kind, args in instructions:
            if kind == "COPY":
                *sources, _target = args.split()
                for source in sources:
                    assert (REPO / source).exists(), f"{dockerfile.name} copies missing {source}"


def _env_settings(instructions: list[tuple[str, str]]) -> dict[str, str]:
    """What the ENV instructions set (the `ENV NAME=value ...` form)."""
    settings: dict[str, str] = {}
    for kind, args in instructions:
        if kind == "ENV":
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                settings[name] = value
    return settings


def test_images_compile_the_bytecode_of_everything_they_install(services):
    # With PYTHONDONTWRITEBYTECODE=1 (set in the images) nothing is cached at run time: without
    # bytecode compiled at build time, every run's container would compile mlflow, sklearn,
    # pandas and dagster from source again, seconds of each run (the Makefile's setup says so).
    for name in ("mlflow", *DAGSTER_SERVICES):
        dockerfile = _dockerfile(services, name)
        instructions = _instructions(dockerfile)
        compiled_by_env = _env_settings(instructions).get("UV_COMPILE_BYTECODE") == "1"
        syncs = [args for kind, args in instructions if kind == "RUN" and "uv sync" in args]
        assert syncs, dockerfile.name
        for sync in syncs:
            assert compiled_by_env or "--compile-bytecode" in sync, (dockerfile.name, sync)


def test_locked_docker_extra_holds_the_run_launcher():
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    project = next(p for p in lock["package"] if p["name"] == "mlops-assets")
    assert {"name": "dagster-docker"} in project["optional-dependencies"]["docker"]
    assert any(p["name"] == "dagster-docker" for p in lock["package"])


def test_user_code_serves_the_module_that_workspace_yaml_names(services):
    workspace = _yaml(DEPLOY / "workspace.yaml")
    (location,) = workspace["load_from"]
    grpc = location["grpc_server"]
    assert importlib.util.find_spec(CODE_MODULE) is not None
    env = services["webserver"]["environment"]
    assert env == services["daemon"]["environment"]
    assert env[grpc["host"]["env"]] == "user_code"
    port = env[grpc["port"]["env"]]

    command = _command(services["user_code"])
    assert command[:3] == ["dagster", "api", "grpc"]
    assert _option(command, "--module-name", "-m") == CODE_MODULE
    assert _option(command, "--location-name") == grpc["location_name"]
    assert _option(command, "--port", "-p") == port
    assert services["user_code"]["healthcheck"]["test"][-1] == port

    image = _instructions(_dockerfile(services, "user_code"))
    assert ("EXPOSE", port) in image
    (cmd,) = [yaml.safe_load(args) for kind, args in image if kind == "CMD"]
    assert cmd == command, "the image's CMD and compose's command differ"
    # The run launcher starts runs in the image the code server reports.
    assert (
        services["user_code"]["environment"]["DAGSTER_CURRENT_IMAGE"]
        == (services["user_code"]["image"])
    )


def test_webserver_and_daemon_load_the_workspace_file_the_image_holds(services):
    copies = {
        args.split()[-1]: args.split()[0]
        for kind, args in _instructions(_dockerfile(services, "webserver"))
        if kind == "COPY"
    }
    for name in ("webserver", "daemon"):
        workspace = _option(_command(services[name]), "--workspace", "-w")
        assert copies.get(workspace) == "deploy/workspace.yaml", (name, workspace)
    assert _dockerfile(services, "webserver") == _dockerfile(services, "daemon")


def test_every_variable_the_dagster_files_read_is_set_for_every_dagster_process(services):
    read = _env_references(_yaml(DEPLOY / "dagster.yaml")) | _env_references(
        _yaml(DEPLOY / "workspace.yaml")
    )
    assert {"DAGSTER_PG_PASSWORD", "DAGSTER_GRPC_HOST"} <= read
    for name in DAGSTER_SERVICES:
        missing = read - set(services[name]["environment"])
        assert not missing, f"{name} lacks {sorted(missing)}"


def test_docker_instance_is_the_production_instance_plus_the_docker_run_launcher(
    services, monkeypatch
):
    production = _yaml(DEPLOY / "dagster.yaml")
    docker = _yaml(DOCKER / "dagster.yaml")
    launcher = docker.pop("run_launcher")
    production.pop("run_launcher")  # the process-checking launcher (test_run_health.py)
    assert docker == production, "docker/dagster.yaml drifted from deploy/dagster.yaml"
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")

    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config_schema
    from dagster_docker import DockerRunLauncher

    # Resolved in the daemon's environment, as the daemon resolves it ({env: ...}, the port).
    for key, value in services["daemon"]["environment"].items():
        monkeypatch.setenv(key, _env_value(value))
    for config in (production, {**docker, "run_launcher": launcher}):
        result = process_config(dagster_instance_config_schema(), config)
        assert result.success, result.errors
    result = process_config(DockerRunLauncher.config_type(), launcher["config"])
    assert result.success, result.errors


def test_run_containers_get_the_network_volumes_and_variables_of_the_services(compose, services):
    launcher = _yaml(DOCKER / "dagster.yaml")["run_launcher"]["config"]
    assert launcher["network"] == compose["networks"]["mlops"]["name"]
    for name in ("mlflow", *DAGSTER_SERVICES):
        assert services[name]["networks"] == ["mlops"], name

    declared = {key: (value or {}).get("name") for key, value in compose["volumes"].items()}
    user_code_mounts = dict(
        reversed(mount.split(":")[:2]) for mount in services["user_code"]["volumes"]
    )
    for mount in launcher["container_kwargs"]["volumes"]:
        volume, path = mount.split(":")
        # Compose prefixes volume names with the project unless `name:` fixes them.
        assert volume in declared.values(), f"{volume} has no fixed name in the compose file"
        assert user_code_mounts[path] == volume, f"user_code mounts another volume at {path}"
    env = services["user_code"]["environment"]
    assert any(p == env["MLOPS_HOME"] for p in user_code_mounts), "MLOPS_HOME is not a volume"

    # DockerRunLauncher copies each named variable from the launching process (daemon, or the
    # webserver), and fails a run when one is unset.
    for name in ("daemon", "webserver"):
        missing = set(launcher["env_vars"]) - set(services[name]["environment"])
        assert not missing, f"{name} lacks {sorted(missing)}"
    # Every resource setting definitions.py reads from the environment reaches the run.
    tree = ast.parse((REPO / "mlops_assets" / "definitions.py").read_text())
    settings = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "_setting"
        and isinstance(node.args[0], ast.Constant)
    }
    assert "MLFLOW_TRACKING_URI" in settings
    assert not settings - set(launcher["env_vars"]), sorted(settings - set(launcher["env_vars"]))


def test_volumes_and_bind_mounts_exist(compose, services):
    declared = set(compose["volumes"])
    used = set()
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                if source != "/var/run/docker.sock":
                    assert (DOCKER / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
    assert used == declared, f"declared but unused: {declared - used}"
    init = (DOCKER / "postgres" / "init-databases.sh").read_text()
    for variable in set(re.findall(r"\$([A-Z_]+)", init)) - {"POSTGRES_USER", "POSTGRES_DB"}:
        assert variable in services["postgres"]["environment"], variable


def test_ports_and_urls_agree(services):
    env = services["user_code"]["environment"]
    tracking = urlsplit(env["MLFLOW_TRACKING_URI"])
    assert tracking.hostname == "mlflow"
    mlflow = _command(services["mlflow"])
    assert _option(mlflow, "--port", "-p") == str(tracking.port)
    # MLflow's host-header check must admit the name the code uses.
    allowed = _env_value(_option(mlflow, "--allowed-hosts")).split(",")
    assert f"{tracking.hostname}:{tracking.port}" in allowed
    assert f"localhost:{tracking.port}/health" in " ".join(
        services["mlflow"]["healthcheck"]["test"]
    )
    assert _env_value(services["mlflow"]["ports"][0]).endswith(f":{tracking.port}")
    # The backend store is the Postgres service, through the installed driver.
    store = urlsplit(_env_value(services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"]))
    assert (store.scheme, store.hostname, store.port) == ("postgresql+psycopg2", "postgres", 5432)
    assert env["DAGSTER_PG_HOST"] == "postgres" and env["DAGSTER_PG_PORT"] == "5432"

    webserver = _command(services["webserver"])
    port = _option(webserver, "--port", "-p")
    assert _env_value(services["webserver"]["ports"][0]).endswith(f":{port}")
    assert f"localhost:{port}/server_info" in " ".join(services["webserver"]["healthcheck"]["test"])


def test_env_example_documents_every_variable_and_holds_no_password(services):
    compose_text = (DOCKER / "docker-compose.yml").read_text()
    used = set(COMPOSE_VARIABLE.findall(compose_text))
    example = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            example[key] = value
    assert used == set(example), (
        f"undocumented: {sorted(used - set(example))}; unused: {sorted(set(example) - used)}"
    )
    passwords = {key for key in example if key.endswith("PASSWORD")}
    assert passwords == {"POSTGRES_PASSWORD", "DAGSTER_PG_PASSWORD", "MLFLOW_PG_PASSWORD"}
    for key in passwords:
        assert example[key] == "", f"{key} has a value in .env.example"
        assert re.search(rf"\$\{{{key}:\?", compose_text), f"{key} is not required"
    assert "docker/.env" in (REPO / ".gitignore").read_text().splitlines()


def test_serving_runs_the_package_service_on_the_user_code_image_behind_a_key(services):
    serving, user_code = services["serving"], services["user_code"]
    assert serving["image"] == user_code["image"]
    assert serving["build"] == user_code["build"]
    command = _command(serving)
    assert command == ["python", "-m", "mlops_assets.serving"]
    assert importlib.util.find_spec("mlops_assets.serving.__main__") is not None
    env = serving["environment"]
    port = env["MLOPS_SERVE_PORT"]
    assert _env_value(serving["ports"][0]).endswith(f":{port}")
    assert f"localhost:{port}/health" in " ".join(serving["healthcheck"]["test"])
    # Listening beyond loopback, it must have a key (the service refuses to start without).
    assert env["MLOPS_SERVE_HOST"] == "0.0.0.0"
    assert re.fullmatch(r"\$\{MLOPS_SERVE_API_KEY:\?[^}]+\}", env["MLOPS_SERVE_API_KEY"])
    assert env["MLFLOW_TRACKING_URI"] == user_code["environment"]["MLFLOW_TRACKING_URI"]
    # The request log lands on the volume the runs read MLOPS_SCORING_DATA from.
    assert env["MLOPS_HOME"] == user_code["environment"]["MLOPS_HOME"]
    # The service and the code location read one request log and one mode.
    for name in ("MLOPS_SERVE_LOG_DIR", "MLOPS_SERVE_MODE"):
        assert env[name] == user_code["environment"][name] == f"${{{name}:-}}", name
    assert f"mlops_home:{env['MLOPS_HOME']}" in serving["volumes"]
