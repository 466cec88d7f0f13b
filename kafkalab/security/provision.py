"""Create the services' SCRAM users and their ACLs on a running secure cluster (as admin).

Idempotent, run on every secure `cluster up`: upserting a SCRAM credential with the same
password and creating an ACL that already exists both change nothing. The admin user itself is
created earlier, at format time, because the brokers need it to talk to each other.
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from kafkalab import clients
from kafkalab.catalogue.services import LEARNER_SERVICES, SERVICES
from kafkalab.connection import Connection
from kafkalab.errors import KafkalabError
from kafkalab.security import acls

SCRAM_ITERATIONS = 8192


class SecurityProvisioningFailed(KafkalabError):
    hint = "see the broker log (`kafkalab cluster status` names it); `cluster reset` starts afresh"


def upsert_users(admin: AdminClient, users: dict[str, str], timeout: float = 30.0) -> None:
    """Create or update SCRAM-SHA-512 credentials for `users` ({name: password})."""
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    alterations = [
        UserScramCredentialUpsertion(name, info, secret.encode())
        for name, secret in sorted(users.items())
    ]
    futures = admin.alter_user_scram_credentials(alterations, request_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - the broker's reason is the message
            raise SecurityProvisioningFailed(f"could not create SCRAM user {name}: {exc}") from exc


def apply(admin_conn: Connection, passwords: dict[str, str], timeout: float = 30.0) -> int:
    """Every service's SCRAM user (`passwords`: the data dir's) and ACLs, the learner's refund
    service's included, as the super user `admin_conn` logs in as; returns the number of ACL
    bindings in force."""
    admin = clients.admin(admin_conn)
    upsert_users(admin, {name: passwords[name] for name in (*SERVICES, *LEARNER_SERVICES)}, timeout)
    bindings = acls.all_bindings()
    futures = admin.create_acls(bindings, request_timeout=timeout)
    for binding, future in futures.items():
        try:
            future.result(timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            raise SecurityProvisioningFailed(f"could not create ACL {binding}: {exc}") from exc
    return len(bindings)


def apply_service(
    admin_conn: Connection, service: str, password: str, timeout: float = 30.0
) -> int:
    """One service's SCRAM user and ACLs (idempotent), waiting until the broker lists them, so
    a process started next logs in and is authorised at its first request. For the learner's
    refund service on a secure cluster that was provisioned before it had a user."""
    admin = clients.admin(admin_conn)
    upsert_users(admin, {service: password}, timeout)
    bindings = acls.service_bindings(service)
    for binding, future in admin.create_acls(bindings, request_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            raise SecurityProvisioningFailed(f"could not create ACL {binding}: {exc}") from exc
    wait_listed(admin, service, len(bindings), timeout)
    return len(bindings)


def wait_listed(admin: AdminClient, user: str, count: int, timeout: float) -> None:
    """The SCRAM login and the ACLs reach the broker through the metadata log a moment after
    the admin calls return: wait until it lists them (then it enforces them)."""
    wanted = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        f"User:{user}",
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            admin.describe_user_scram_credentials([user])[user].result(timeout)
            if len(admin.describe_acls(wanted, request_timeout=timeout).result()) >= count:
                return
        except KafkaException:
            pass
        time.sleep(0.2)
    raise SecurityProvisioningFailed(
        f"the broker does not list {user}'s login and ACLs after {timeout:g} s"
    )
