"""The learner's own service in the shop: lesson 22's refund service as a seventh service.

`kafkalab up --with refund[=PATH]` records here which file to run and the set-up it gets; the
supervisor then runs it like the six (restarted when it dies, `kafkalab chaos kill refund`
kills it) through the exercise launcher (`python -m kafkalab.exercise SETUP FILE RESULT`), so
the learner's unchanged file finds the shop's own topics behind `lab.topic(...)`: the real
`order-events`, `payments`, `refunds` and `refunds.DLT`, its group `kafkalab-refund`, its
transactional id `kafkalab-refund-0` and its /metrics on service_port + 7. On kafkalab's secure
cluster it logs in as its own SCRAM user `refund`, whose ACLs grant exactly those names.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from kafkalab.catalogue.services import LEARNER_SERVICES, group_id, service_port
from kafkalab.connection import Connection
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.events import topics as t
from kafkalab.exercise import Setup, write_spec
from kafkalab.platform import files
from kafkalab.security import acls, material, provision
from kafkalab.settings import Settings

REFUND = acls.REFUND
LESSON = {REFUND: 22}
"""The lesson whose exercise each learner's service is."""
BANK_SECONDS = 0.02
"""What the bank takes per refund in the shop (lesson 22's grader uses 0.2 s on purpose)."""


class NoLearnerFile(KafkalabError):
    hint = "give the file: `kafkalab up --with refund=PATH/TO/exercise.py`"


class LearnerServiceOnForeignCluster(KafkalabError):
    hint = (
        "run it on kafkalab's own cluster (`kafkalab up --with refund`, or `--secure` for SASL_SSL "
        "with its own SCRAM user); `kafkalab lesson 22` grades it on a secure cluster of its own"
    )


@dataclass(frozen=True)
class LearnerService:
    name: str
    program: Path
    setup: Path


def _folder(settings: Settings) -> Path:
    return files.platform_dir(settings) / "learner"


def _index(settings: Settings) -> Path:
    return _folder(settings) / "services.json"


def check_name(name: str) -> str:
    if name not in LEARNER_SERVICES:
        raise InvalidChoice(
            f"--with knows no service '{name}'",
            hint=f"the learner's services: {', '.join(LEARNER_SERVICES)} (lesson 22)",
        )
    return name


def enable(settings: Settings, conn: Connection, name: str, program: Path) -> LearnerService:
    """Record `program` as the learner's `name` service, with the set-up it will run with.

    On kafkalab's secure cluster (`conn` is admin's) the service gets its own SCRAM user with
    the ACLs of `security.acls.LEARNER_ACCESS`, created here if the cluster predates them, and
    its set-up holds that login only: nothing in the learner's process logs in as admin."""
    check_name(name)
    if conn.security_protocol != "PLAINTEXT" and not conn.secure_mode:
        raise LearnerServiceOnForeignCluster(
            f"the learner's {name} service runs in the shop on kafkalab's own cluster only, and "
            f"this one is {conn.describe()}"
        )
    if not program.is_file():
        raise NoLearnerFile(f"there is no file {program}")
    folder = _folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    setup = folder / f"{name}-setup.json"
    write_spec(setup, _refund_setup(settings, _own_login(settings, conn, name)))
    found = read(settings)
    found[name] = LearnerService(name, program.resolve(), setup)
    files.write_json(
        _index(settings),
        {n: {"program": str(s.program), "setup": str(s.setup)} for n, s in found.items()},
    )
    return found[name]


def disable(settings: Settings, name: str | None = None) -> None:
    """Forget the learner's `name` service (None: all of them); the supervisor stops it once
    desired.json no longer asks for it."""
    found = read(settings)
    for gone in [name] if name else list(found):
        found.pop(gone, None)
    if found:
        files.write_json(
            _index(settings),
            {n: {"program": str(s.program), "setup": str(s.setup)} for n, s in found.items()},
        )
    else:
        _index(settings).unlink(missing_ok=True)


def read(settings: Settings) -> dict[str, LearnerService]:
    try:
        raw = json.loads(_index(settings).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {
        n: LearnerService(n, Path(v["program"]), Path(v["setup"]))
        for n, v in raw.items()
        if n in LEARNER_SERVICES
    }


def groups(settings: Settings) -> list[str]:
    """The consumer groups of the learner's services recorded now (the platform's /metrics
    reports their lag beside the six services')."""
    return [group_id(name) for name in read(settings)]


def command(settings: Settings, name: str, replica: int) -> list[str] | None:
    """How the supervisor starts the learner's `name` service (None: none recorded)."""
    found = read(settings).get(name)
    if found is None:
        return None
    result = _folder(settings) / f"{name}-{replica}-result.json"
    return [
        sys.executable,
        "-m",
        "kafkalab.exercise",
        str(found.setup),
        str(found.program),
        str(result),
    ]


def _own_login(settings: Settings, conn: Connection, name: str) -> Connection:
    """`conn` itself on a plain cluster; on a secure one the service's own SCRAM login (its
    password made if this data dir has none yet, its user and ACLs made if missing)."""
    if not conn.secure_mode:
        return conn
    material.ensure_material(settings)
    secret = material.password(settings, name)
    provision.apply_service(conn, name, secret)
    return conn.as_user(name, secret)


def _refund_setup(settings: Settings, conn: Connection) -> Setup:
    """Lesson 22's set-up, pointed at the shop instead of a side cluster; `conn` is the login
    the service uses for everything (its own on a secure cluster: `lab.config` too)."""
    config = {k: str(v) for k, v in conn.librdkafka().items()}
    return Setup(
        lesson=22,
        config=config,
        registry={k: str(v) for k, v in conn.registry().items()},
        topics={
            "order-events": t.ORDER_EVENTS,
            "payments": t.PAYMENTS,
            "refunds": t.REFUNDS,
            "refunds.DLT": t.REFUNDS_DLT,
        },
        # the names its ACLs grant on a secure cluster (security/acls.py LEARNER_ACCESS)
        groups={"refund": acls.REFUND_GROUPS[0], "payments-table": acls.REFUND_GROUPS[1]},
        params={
            # client.id names the member in the group as the six do ("refund-0"), so `chaos`
            # sees it join and leave.
            "service": {**config, "client.id": f"{REFUND}-0"},
            "transactional_id": acls.REFUND_TRANSACTIONAL_ID,
            "bank_seconds": BANK_SECONDS,
            "metrics_port": service_port(settings, REFUND),
        },
    )
