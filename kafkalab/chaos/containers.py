"""Chaos on the docker stack: the same four faults, done to a compose container via the SDK.

kill = SIGKILL to the container, pause/resume = the cgroup freezer (`docker pause`, the
container's SIGSTOP), restart = `docker restart` (SIGTERM, then start). Docker suspends the
restart policy of a container killed through its API, so after a service kill kafkalab starts
it again itself after the local supervisor's first back-off — the same story as without
Docker: the group rebalances, the replacement joins. A killed broker stays down until
`chaos restart broker-N --docker`, as locally.
"""

from __future__ import annotations

import time
from typing import Any

from kafkalab.errors import KafkalabError

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
RESTART_AFTER = 1.0  # seconds; the local supervisor's first back-off


class NoSuchContainer(KafkalabError):
    hint = "start the stack with `kafkalab up --docker` (`docker compose -p kafkalab ps` lists it)"


def compose_service(name: str) -> str:
    """The compose service of a chaos target: `payment` → payment, `broker-2` → kafka-2."""
    return f"kafka-{name.removeprefix('broker-')}" if name.startswith("broker-") else name


def find(client: Any, project: str, name: str, replica: int = 0) -> Any:
    """The container of `name` (replica r is compose's container number r+1), running or not."""
    service = compose_service(name)
    found = client.containers.list(
        all=True, filters={"label": [f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"]}
    )
    for container in found:
        if container.labels.get(NUMBER_LABEL, "1") == str(replica + 1):
            return container
    what = f"{service} #{replica + 1}" if replica else service
    raise NoSuchContainer(f"no container for {what} in the compose project '{project}'")


def main_pid(container: Any) -> int:
    """The host pid of the container's main process: a new one means it was started again."""
    container.reload()
    return int(container.attrs.get("State", {}).get("Pid") or 0)


def healthy(container: Any) -> bool:
    """Running and, where the compose file defines a health check, reported healthy by it."""
    container.reload()
    state = container.attrs.get("State", {})
    health = state.get("Health")
    return bool(state.get("Running")) and (health is None or health.get("Status") == "healthy")


def inject(container: Any, action: str, is_broker: bool) -> str:
    """Do `action` to `container`; a one-line description for the timeline."""
    name = container.name
    if action == "kill":
        container.kill(signal="SIGKILL")
        if is_broker:
            return f"SIGKILL → container {name}"
        time.sleep(RESTART_AFTER)
        container.start()
        return f"SIGKILL → container {name}; started again after {RESTART_AFTER:.0f} s (Docker suspends the restart policy of a killed container)"
    if action == "pause":
        container.pause()
        return f"docker pause → container {name} (frozen, like SIGSTOP)"
    if action == "resume":
        container.unpause()
        return f"docker unpause → container {name}"
    container.restart(timeout=15)
    return f"docker restart → container {name} (SIGTERM, then start)"
