"""The docker-compose backend: `kafkalab up --docker` / `down --docker` run docker/compose.yaml.

The Docker engine is reached through the docker Python SDK (one clear error when there is
none); the compose file itself is run by the `docker compose` CLI plugin, because the SDK has
no compose support. Everything a container needs is in the compose file, so the same stack
also starts with plain `docker compose -f docker/compose.yaml up`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafkalab.errors import KafkalabError

Notify = Callable[[str], None]
PROJECT = "kafkalab"  # `name:` in docker/compose.yaml; compose labels every container with it
COMPOSE_FILE = "compose.yaml"
THREE_NODES_FILE = "compose.three-nodes.yaml"
UP_TIMEOUT = 600  # seconds for `--wait`: the first run builds the image and pulls six others


class DockerUnavailable(KafkalabError):
    hint = (
        "start Docker (Docker Desktop, or `sudo systemctl start docker`) or point DOCKER_HOST "
        "at a running engine — or leave out --docker: kafkalab runs Kafka itself, no Docker needed"
    )


class ComposeFailed(KafkalabError):
    hint = "see the compose output above; `docker compose -p kafkalab ps` shows each container"


def compose_dir() -> Path:
    """docker/ of the checkout kafkalab runs from (the compose file builds the repo as context)."""
    folder = Path(__file__).resolve().parents[2] / "docker"
    if not (folder / COMPOSE_FILE).is_file():
        raise ComposeFailed(
            f"{folder / COMPOSE_FILE} does not exist",
            hint="`--docker` needs a git clone of kafkalab (the compose file builds it from source)",
        )
    return folder


def compose_files(brokers: int) -> list[Path]:
    """The compose file, plus the three-node overlay when `brokers` is 3."""
    folder = compose_dir()
    files = [folder / COMPOSE_FILE]
    if brokers >= 3:
        files.append(folder / THREE_NODES_FILE)
    return files


def engine() -> Any:
    """A connected docker SDK client, or DockerUnavailable saying why there is none."""
    import docker  # the SDK is only needed for --docker: load it on use
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except (DockerException, OSError) as exc:
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise DockerUnavailable(f"no Docker engine answers at {where}") from exc
    return client


def compose_command(brokers: int, *args: str) -> list[str]:
    """`docker compose -p kafkalab -f … ARGS` for a one- or three-node stack."""
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise DockerUnavailable(
            "the `docker` command is not installed, so compose cannot run",
            hint="install the Docker CLI with its compose plugin (`docker compose version` must work)",
        )
    files = [arg for path in compose_files(brokers) for arg in ("-f", str(path))]
    return [docker_cli, "compose", "-p", PROJECT, *files, *args]


def _run(command: list[str], what: str, timeout: float) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ComposeFailed(f"{what} did not finish within {timeout:.0f} s") from exc
    if result.returncode == 0:
        return
    output = (result.stderr or result.stdout).strip()
    if "unknown command" in output or "is not a docker command" in output:
        raise DockerUnavailable(
            "the Docker CLI has no compose plugin (`docker compose` is unknown)",
            hint="install the docker-compose-plugin package (or Docker Desktop), then run again",
        )
    tail = " | ".join(output.splitlines()[-3:]) or f"exit code {result.returncode}"
    if "address already in use" in output or "port is already allocated" in output:
        raise ComposeFailed(
            f"{what} failed: a published port is taken ({tail})",
            hint="stop what uses it — a local `kafkalab up` / `cluster up` uses the same ports: "
            "`kafkalab down --all` first",
        )
    raise ComposeFailed(f"{what} failed: {tail}")


def up(brokers: int = 1, notify: Notify | None = None) -> None:
    """Build the service image and start the stack, waiting until every health check passes."""
    say = notify or (lambda _m: None)
    engine()
    command = compose_command(
        brokers, "up", "-d", "--build", "--wait", "--wait-timeout", str(UP_TIMEOUT)
    )
    say(
        f"docker compose up ({brokers} Kafka node{'s' if brokers > 1 else ''}): building and waiting for health checks"
    )
    _run(command, "docker compose up", UP_TIMEOUT + 60)


def down(volumes: bool = False, notify: Notify | None = None) -> None:
    """Stop and remove the stack's containers (both variants); `volumes` also drops the data."""
    say = notify or (lambda _m: None)
    engine()
    args = ["down", "--remove-orphans", *(["--volumes"] if volumes else [])]
    say("docker compose down" + (" (and its volumes)" if volumes else ""))
    _run(compose_command(3, *args), "docker compose down", 180)
