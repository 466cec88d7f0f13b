"""The user service (:8101): registration and login.

    POST /users  {email, name, password, phone?, balance_cents?}
                 → 201 {user_id}; 409 duplicate email; 422 one sentence on bad input
    POST /login  {email, password}
                 → 200 {token, user_id, expires_at (epoch ms)}; 401 bad credentials

Registration emits UserRegistered on `user-events` and the profile (UserProfile) on the
compacted `users` topic, both keyed by user_id: `users` is the table payment reads balances
from and notification reads contact details from. A login emits UserLoggedIn. The salted
password hash never leaves the service: it lives in the service's own store (see store.py).
The service consumes nothing, so it has no consumer group.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from kafkalab.catalogue import metrics as specs
from kafkalab.connection import Connection
from kafkalab.events.serde import new_id, now_ms
from kafkalab.events.topics import USER_EVENTS, USERS
from kafkalab.security import fields
from kafkalab.security.audit import AuditEntry
from kafkalab.services.auth import (
    TokenSigner,
    burn_verify,
    hash_password,
    token_key,
    verify_password,
)
from kafkalab.services.http import HttpError, Request, Response, Route
from kafkalab.services.runtime import Service
from kafkalab.services.user import api
from kafkalab.services.user.requests import InvalidRequest, parse_login, parse_registration
from kafkalab.services.user.store import DuplicateEmail, UserRecord, UserStore
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.user")

PUBLISH_TIMEOUT = 10.0
BAD_BODY = "the body is not what the schema says (one sentence says what)"
NO_ACK = "Kafka did not acknowledge the events in time; nothing was kept, try again"


class UserService(Service):
    name = "user"

    def __init__(
        self, settings: Settings, conn: Connection, replica: int = 0, port: int | None = None
    ) -> None:
        super().__init__(settings, conn, replica, port)
        self.store = UserStore(settings.data_dir / "services" / "user" / "accounts.jsonl")
        self.signer = TokenSigner(token_key(settings))
        self.contact_key = fields.sealer(settings, "contact")  # public half: seal only
        self.registrations = specs.counter(specs.USERS_REGISTERED, self.metrics.registry)
        self.logins = specs.counter(specs.LOGINS, self.metrics.registry)

    def routes(self) -> list[Route]:
        return [
            Route(
                "POST",
                "/users",
                self.register,
                body=api.RegistrationBody,
                answer=api.Registered,
                status=201,
                errors={409: "an account with this email exists", 422: BAD_BODY, 503: NO_ACK},
            ),
            Route(
                "POST",
                "/login",
                self.login,
                body=api.LoginBody,
                answer=api.LoginAnswer,
                errors={401: "wrong email or password", 422: BAD_BODY, 503: NO_ACK},
            ),
        ]

    def health(self) -> dict[str, Any]:
        return {"accounts": len(self.store)}

    def register(self, request: Request) -> Response:
        """Create an account, then publish its events; 201 only once Kafka has them."""
        try:
            form = parse_registration(request.body)
        except InvalidRequest as exc:
            raise HttpError(422, str(exc)) from exc
        record = UserRecord(
            user_id=str(uuid.uuid4()),
            email=form.email,
            name=form.name,
            phone=form.phone,
            balance_cents=form.balance_cents,
            registered_at=now_ms(),
            password_hash=hash_password(form.password),
        )
        try:
            self.store.add(record)
        except DuplicateEmail as exc:
            raise HttpError(409, f"an account with email {form.email!r} already exists") from exc
        profile = {
            "user_id": record.user_id,
            "email": self._seal_contact(record.email, record.user_id),
            "name": record.name,
            "phone": self._seal_contact(record.phone, record.user_id) if record.phone else None,
            "balance_cents": record.balance_cents,
        }
        trace = new_id()  # one user action, one trace: both events share it
        self.emit(USER_EVENTS, record.user_id, "UserRegistered", profile, trace_id=trace)
        self.emit(
            USERS,
            record.user_id,
            "UserProfile",
            {**profile, "registered_at": record.registered_at},
            trace_id=trace,
        )
        if self.producer.flush(PUBLISH_TIMEOUT) > 0:
            # Undo, so that a retry by the client is not refused as a duplicate.
            self.store.remove(record.user_id, record.email)
            raise HttpError(503, "Kafka did not acknowledge the registration; try again")
        self.registrations.inc()
        log.info("user registered", extra={"fields": {"user_id": record.user_id}})
        return Response(201, {"user_id": record.user_id})

    def _seal_contact(self, value: str, user_id: str) -> str:
        """Secure mode: e-mail and phone go on the topics sealed for notification, the one
        reader that needs them (payment reads `users` for balances only)."""
        if self.contact_key is None:
            return value
        return fields.seal(self.contact_key, value, "contact", user_id)

    def login(self, request: Request) -> Response:
        """Check the password and hand out a signed token (valid for TOKEN_TTL_SECONDS)."""
        try:
            credentials = parse_login(request.body)
        except InvalidRequest as exc:
            raise HttpError(422, str(exc)) from exc
        record = self.store.by_email(credentials.email)
        if record is None:
            burn_verify(credentials.password)  # same cost as a real check: no email probing
            ok = False
        else:
            ok = verify_password(credentials.password, record.password_hash)
        if record is None or not ok:
            self.logins.labels("refused").inc()
            raise HttpError(401, "wrong email or password")
        token, expires_at = self.signer.issue(record.user_id)
        self.emit(USER_EVENTS, record.user_id, "UserLoggedIn", {"user_id": record.user_id})
        if self.producer.flush(PUBLISH_TIMEOUT) > 0:
            raise HttpError(503, "Kafka did not acknowledge the login; try again")
        self.logins.labels("ok").inc()
        self.audit.record(AuditEntry(record.user_id, "login", "token", True, "password ok"))
        return Response(200, {"token": token, "user_id": record.user_id, "expires_at": expires_at})
