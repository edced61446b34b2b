"""The production topology on one machine, with no container engine: `make stack`.

Starts, in a temp directory and on free ports of 127.0.0.1:

    postgres          run, event-log and schedule storage (database `dagster`) and the MLflow
                      backend store (database `mlflow`); each with its own role and password
    mlflow server     tracking and registry on Postgres, artefacts in a local directory
    dagster api grpc  the code location (`mlops_assets.definitions`), which also launches runs
    dagster-webserver the UI and GraphQL API
    dagster-daemon    run queue, schedules, sensors, run monitoring

with `deploy/dagster.yaml` (Postgres) and `deploy/workspace.yaml` (gRPC) exactly as a deployment
uses them, connection settings passed through the environment (DAGSTER_PG_*, DAGSTER_GRPC_*,
MLFLOW_TRACKING_URI). Each service is waited for by its health check, and all are stopped (the
whole process group of each) on exit, Ctrl-C or SIGTERM.

    python scripts/stack.py [--root DIR]     # prints the URLs, runs until Ctrl-C

The deployment test uses it as a context manager:

    with Stack(tmp_dir) as stack:
        stack.webserver_url, stack.mlflow_url, stack.dagster_dsn ...
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
# The production instance and workspace (the top-level pair is the laptop's).
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent  # the venv's dagster, dagster-webserver, mlflow
LOCATION_NAME = "mlops_assets"
CODE_MODULE = "mlops_assets.definitions"
HOST = "127.0.0.1"
# Roles and databases, one pair per consumer, as a team's database administrator would set up.
DAGSTER_DB = "dagster"
MLFLOW_DB = "mlflow"
# Daemons whose health the stack waits for: without them no queued run starts, no schedule or
# sensor ticks.
REQUIRED_DAEMONS = ("SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR")
_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """A service did not start or did not become healthy; the message ends with its log."""


def postgres_bin_dir() -> Path | None:
    """Where initdb and postgres are: MLOPS_PG_BIN, Debian's newest /usr/lib/postgresql/N/bin,
    or the PATH. None when PostgreSQL is not installed."""
    if os.environ.get("MLOPS_PG_BIN"):
        return Path(os.environ["MLOPS_PG_BIN"])
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free on 127.0.0.1 a moment ago (all held open together,
    so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _die_with_parent(sig: int) -> Callable[[], None]:
    """For preexec_fn: the child gets `sig` if this process dies without stopping it (killed
    with SIGKILL, say), so even then no service outlives the stack."""

    def set_pdeathsig() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return set_pdeathsig


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM
    # Asks the service to stop by its own API before any signal is sent.
    graceful_stop: Callable[[], None] | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        """Signal the service's whole process group (its runs and workers too), wait, and kill
        what is left."""
        pgid = self.process.pid  # start_new_session: the leader's pid is the group id
        if self.graceful_stop is not None and self.alive():
            with contextlib.suppress(Exception):
                self.graceful_stop()
                self.process.wait(timeout=timeout)
        for sig, wait in ((self.stop_signal, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.process.poll()
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            else:
                continue
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


@dataclass
class Stack:
    """Postgres, MLflow server, gRPC code server, webserver and daemon in `root`.

    Args:
        root: the directory for everything (DAGSTER_HOME, MLOPS_HOME, MLflow artefacts, logs);
            a new temp directory, removed on stop, when None.
        extra_env: more environment for the Dagster processes (e.g. MLOPS_SCORING_CRON).
        timeout: seconds each service has to become healthy.
        log: called with a line as each service becomes healthy or is stopped.
    """

    root: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 180.0
    log: Callable[[str], None] = field(default=lambda message: None)
    services: list[Service] = field(default_factory=list, init=False)
    _own_root: bool = field(default=False, init=False)
    _pg_dir: Path | None = field(default=None, init=False)
    _pg_bin: Path | None = field(default=None, init=False)
    _pg_data: Path | None = field(default=None, init=False)
    _started: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="mlops-stack-"))
            self._own_root = True
        self.root = Path(self.root).resolve()
        (
            self.pg_port,
            self.mlflow_port,
            self.grpc_port,
            self.webserver_port,
        ) = free_ports(4)
        self.dagster_password = secrets.token_urlsafe(18)
        self.mlflow_password = secrets.token_urlsafe(18)
        self.dagster_home = self.root / "dagster_home"
        self.mlops_home = self.root / "mlops"
        self.mlflow_artifacts = self.root / "mlartifacts"
        self.logs = self.root / "logs"

    # What a client needs -------------------------------------------------------------------

    @property
    def webserver_url(self) -> str:
        return f"http://{HOST}:{self.webserver_port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.webserver_url}/graphql"

    @property
    def mlflow_url(self) -> str:
        return f"http://{HOST}:{self.mlflow_port}"

    @property
    def dagster_dsn(self) -> str:
        """Dagster's database as its own role (password included: keep it in memory)."""
        return self._dsn(DAGSTER_DB, self.dagster_password)

    @property
    def mlflow_dsn(self) -> str:
        # The driver is named: SQLAlchemy 2.1 would pick psycopg 3, which is not installed.
        return self._dsn(MLFLOW_DB, self.mlflow_password).replace(
            "postgresql://", "postgresql+psycopg2://", 1
        )

    def _dsn(self, name: str, password: str) -> str:
        return f"postgresql://{name}:{password}@{HOST}:{self.pg_port}/{name}"

    @property
    def dagster_env(self) -> dict[str, str]:
        """The environment of every Dagster process (code server, its runs, webserver, daemon):
        what a deployment sets, and all that dagster.yaml and workspace.yaml read."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DAGSTER_PG_", "DAGSTER_GRPC_", "MLFLOW_"))
        }
        env.update(
            {
                "DAGSTER_HOME": str(self.dagster_home),
                "MLOPS_HOME": str(self.mlops_home),
                "DAGSTER_PG_HOST": HOST,
                "DAGSTER_PG_PORT": str(self.pg_port),
                "DAGSTER_PG_USER": DAGSTER_DB,
                "DAGSTER_PG_PASSWORD": self.dagster_password,
                "DAGSTER_PG_DB": DAGSTER_DB,
                "DAGSTER_GRPC_HOST": HOST,
                "DAGSTER_GRPC_PORT": str(self.grpc_port),
                "MLFLOW_TRACKING_URI": self.mlflow_url,
                "MLOPS_MLFLOW_UI_URL": self.mlflow_url,
                "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
                "DAGSTER_DISABLE_TELEMETRY": "1",
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    # Life cycle ----------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        for directory in (self.dagster_home, self.mlops_home, self.mlflow_artifacts, self.logs):
            directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEPLOY / "dagster.yaml", self.dagster_home / "dagster.yaml")
        self._started = time.monotonic()
        self._start_postgres()

        # MLflow and the code server start side by side; the webserver and the daemon need the
        # code server (they load the code location from it), nothing needs MLflow before a run.
        mlflow = self._start_mlflow()
        # Dagster's schema is created once, before any Dagster process could race to create it
        # (what an operator runs before an upgrade, too).
        self._run("dagster instance migrate", [BIN / "dagster", "instance", "migrate"])
        code_server = self._spawn(
            "code_server",
            [
                BIN / "dagster",
                "api",
                "grpc",
                "--module-name",
                CODE_MODULE,
                "--working-directory",
                REPO,
                "--location-name",
                LOCATION_NAME,
                "--host",
                HOST,
                "--port",
                self.grpc_port,
            ],
            self.dagster_env,
        )
        code_server.graceful_stop = self._shut_down_code_server
        self._wait(code_server, self._code_server_healthy)

        workspace = DEPLOY / "workspace.yaml"
        webserver = self._spawn(
            "webserver",
            [
                BIN / "dagster-webserver",
                "--workspace",
                workspace,
                "--host",
                HOST,
                "--port",
                self.webserver_port,
            ],
            self.dagster_env,
        )
        daemon = self._spawn(
            "daemon", [BIN / "dagster-daemon", "run", "--workspace", workspace], self.dagster_env
        )
        self._wait(mlflow, self._mlflow_healthy)
        self._wait(webserver, self._webserver_healthy)
        self._wait(daemon, self._daemons_healthy)

    def stop(self) -> None:
        """Stop every service, newest first (Postgres last), and remove what the stack made
        outside `root`. Safe to call twice."""
        while self.services:
            service = self.services.pop()
            began = time.monotonic()
            service.stop()
            self.log(f"{service.name} stopped in {time.monotonic() - began:.1f} s")
        if self._pg_dir is not None:
            shutil.rmtree(self._pg_dir, ignore_errors=True)
            self._pg_dir = None
        if self._own_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        atexit.unregister(self.stop)

    def check_alive(self) -> None:
        for service in self.services:
            if not service.alive():
                raise StackError(
                    f"{service.name} exited with {service.process.returncode}; "
                    f"its log ({service.log}) ends:\n{service.log_tail()}"
                )

    # Postgres ------------------------------------------------------------------------------

    def _start_postgres(self) -> None:
        pg_bin = postgres_bin_dir()
        if pg_bin is None:
            raise StackError(
                "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on the "
                "PATH): `apt-get install postgresql`, or set MLOPS_PG_BIN."
            )
        user = _postgres_os_user()
        if user is None:
            data_parent = self.root
        else:
            # PostgreSQL refuses to run as root: its files belong to `user`, in a directory that
            # user can reach (a pytest or mkdtemp root is private to root).
            data_parent = Path(tempfile.mkdtemp(prefix="mlops-stack-pg-"))
            self._pg_dir = data_parent
            os.chown(data_parent, user.pw_uid, user.pw_gid)
        data = data_parent / "data"
        self._pg_bin, self._pg_data = pg_bin, data
        as_user = _as_user(user)
        initdb = subprocess.run(
            [
                str(pg_bin / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                "postgres",
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            cwd=data_parent,
            check=False,
            **as_user,
        )
        if initdb.returncode != 0:
            raise StackError(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
        socket_dir = data_parent
        postgres = self._spawn(
            "postgres",
            [
                pg_bin / "postgres",
                "-D",
                data,
                "-p",
                self.pg_port,
                "-c",
                f"listen_addresses={HOST}",
                "-c",
                f"unix_socket_directories={socket_dir}",
            ],
            {**os.environ, "LC_ALL": "C"},
            stop_signal=signal.SIGINT,  # fast shutdown: roll back open transactions, then exit
            cwd=data_parent,
            **as_user,
        )
        self._wait(postgres, lambda: self._pg_ready(pg_bin))
        self._create_databases(socket_dir)

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`pg_ctl <args>` on the stack's database cluster, as the account it runs as: how a
        test restarts Postgres under the running stack. A server that pg_ctl starts is not one
        of the stack's services: stop it with `pg_ctl stop` before the stack stops."""
        if self._pg_bin is None or self._pg_data is None:
            raise StackError("this stack has not started Postgres")
        return subprocess.run(
            [
                str(self._pg_bin / "pg_ctl"),
                *args,
                "-D",
                str(self._pg_data),
                "-w",
                "-t",
                "60",
                # Beside the data: the postgres account may not write to the stack's logs.
                "-l",
                str(self._pg_data.parent / "pg_ctl.log"),
            ],
            capture_output=True,
            text=True,
            cwd=self._pg_data.parent,
            check=False,
            **_as_user(_postgres_os_user()),
        )

    def _pg_ready(self, pg_bin: Path) -> bool:
        ready = subprocess.run(
            [str(pg_bin / "pg_isready"), "-h", HOST, "-p", str(self.pg_port), "-q"],
            check=False,
        )
        return ready.returncode == 0

    def _create_databases(self, socket_dir: Path) -> None:
        """One role with a password and one database per consumer. The superuser comes in over
        the Unix socket (trust); every TCP client must give its password (scram-sha-256)."""
        import psycopg2
        from psycopg2 import sql

        connection = psycopg2.connect(
            host=str(socket_dir), port=self.pg_port, user="postgres", dbname="postgres"
        )
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                for name, password in (
                    (DAGSTER_DB, self.dagster_password),
                    (MLFLOW_DB, self.mlflow_password),
                ):
                    cursor.execute(
                        sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(name)),
                        (password,),
                    )
                    cursor.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(name), sql.Identifier(name)
                        )
                    )
        finally:
            connection.close()

    # MLflow --------------------------------------------------------------------------------

    def _start_mlflow(self) -> Service:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DAGSTER_", "MLFLOW_"))
        }
        # The store URI holds the password: environment, not the command line (`ps` shows that).
        env["MLFLOW_BACKEND_STORE_URI"] = self.mlflow_dsn
        # MLflow's job runner (GenAI scorers, prompt optimisation: unused here) would start
        # seven more Python processes.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        return self._spawn(
            "mlflow",
            [
                BIN / "mlflow",
                "server",
                "--artifacts-destination",
                self.mlflow_artifacts,
                "--host",
                HOST,
                "--port",
                self.mlflow_port,
                "--workers",
                "1",
                # The host-header check: clients reach this server as 127.0.0.1:<port>. Under a
                # service name (docker compose) that name goes here instead.
                "--allowed-hosts",
                f"{HOST}:{self.mlflow_port},localhost:{self.mlflow_port}",
            ],
            env,
            cwd=self.root,
        )

    def _mlflow_healthy(self) -> bool:
        return _http_ok(f"{self.mlflow_url}/health")

    # Dagster -------------------------------------------------------------------------------

    def _code_server_healthy(self) -> bool:
        # The CLI check costs a Python start; knock on the port first.
        with socket.socket() as probe:
            if probe.connect_ex((HOST, self.grpc_port)) != 0:
                return False
        check = subprocess.run(
            [
                str(BIN / "dagster"),
                "api",
                "grpc-health-check",
                "--host",
                HOST,
                "--port",
                str(self.grpc_port),
            ],
            capture_output=True,
            env=self.dagster_env,
            check=False,
        )
        return check.returncode == 0

    def _shut_down_code_server(self) -> None:
        """The code server's own shutdown call: on SIGTERM or SIGINT it stops serving but its
        process waits for this call (or a SIGKILL)."""
        from dagster._grpc.client import DagsterGrpcClient

        DagsterGrpcClient(port=self.grpc_port, host=HOST).shutdown_server(timeout=10)

    def _webserver_healthy(self) -> bool:
        return _http_ok(f"{self.webserver_url}/server_info")

    def _daemons_healthy(self) -> bool:
        statuses = self.daemon_statuses()
        return all(statuses.get(name) for name in REQUIRED_DAEMONS)

    def daemon_statuses(self) -> dict[str, bool]:
        data = self.graphql(
            "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }"
        )
        statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        return {status["daemonType"]: bool(status["healthy"]) for status in statuses}

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One GraphQL request to the webserver; raises on transport or GraphQL errors."""
        response = requests.post(
            self.graphql_url, json={"query": query, "variables": dict(variables or {})}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise StackError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    # Processes -----------------------------------------------------------------------------

    def _spawn(
        self,
        name: str,
        command: list[Any],
        env: Mapping[str, str],
        *,
        stop_signal: int = signal.SIGTERM,
        cwd: Path | None = None,
        **popen: Any,
    ) -> Service:
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [str(part) for part in command],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=cwd or REPO,
                start_new_session=True,
                preexec_fn=_die_with_parent(stop_signal),
                **popen,
            )
        service = Service(name, process, log, stop_signal)
        self.services.append(service)
        return service

    def _run(self, name: str, command: list[Any]) -> None:
        result = subprocess.run(
            [str(part) for part in command],
            capture_output=True,
            text=True,
            env=self.dagster_env,
            cwd=REPO,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"{name} failed:\n{result.stdout}\n{result.stderr}")

    def _wait(self, service: Service, healthy: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if not service.alive():
                raise StackError(
                    f"{service.name} exited with {service.process.returncode} while starting; "
                    f"its log ({service.log}) ends:\n{service.log_tail()}"
                )
            with contextlib.suppress(requests.RequestException, StackError, KeyError):
                if healthy():
                    self.log(f"{service.name} healthy at {time.monotonic() - self._started:.1f} s")
                    return
            time.sleep(0.5)
        raise StackError(
            f"{service.name} not healthy after {self.timeout:.0f} s; its log ({service.log}) "
            f"ends:\n{service.log_tail()}"
        )


def _http_ok(url: str) -> bool:
    with contextlib.suppress(requests.RequestException):
        return requests.get(url, timeout=5).status_code == 200
    return False


def _as_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """subprocess arguments that run a command as `user` (none: as ourselves)."""
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}


def _postgres_os_user() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs as when this process is root (it refuses root): Debian's
    `postgres`, else one created for the stack. None when not root: run as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "mlops-stack-pg"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    name = "mlops-stack-pg"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
    )
    return pwd.getpwnam(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, help="directory for the stack's state (default: a temp directory)"
    )
    args = parser.parse_args(argv)

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)

    started = time.monotonic()
    stack = Stack(args.root, log=lambda line: print(f"  {line}", flush=True))
    print(f"Starting the stack in {stack.root} (logs in {stack.logs}) ...", flush=True)
    try:
        stack.start()
        env = stack.dagster_env
        print(
            f"\nReady in {time.monotonic() - started:.0f} s.\n"
            f"  Dagster UI        {stack.webserver_url}\n"
            f"  MLflow            {stack.mlflow_url}\n"
            f"  gRPC code server  {HOST}:{stack.grpc_port} (location {LOCATION_NAME})\n"
            f"  Postgres          {HOST}:{stack.pg_port} (databases {DAGSTER_DB}, {MLFLOW_DB})\n"
            f"  DAGSTER_HOME      {env['DAGSTER_HOME']}\n"
            f"  MLOPS_HOME        {env['MLOPS_HOME']}\n"
            "Launch training_job from the UI (Jobs -> training_job -> Materialize all).\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        while True:
            stack.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        print("\nStopping the stack ...", flush=True)
        return 0
    except StackError as error:
        print(f"\n{error}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C must not cut the stop short and leave services behind.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
