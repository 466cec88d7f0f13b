"""The user service (:8101): registration and login.

    POST /users  {email, name, password, phone?, balance_cents?}
                 → 201 {user_id}; 409 duplicate email; 422 one sentence on bad input
    POST /login  {email, password}
                 → 200 {token, user_id, expires_at (epoch ms)}; 401 bad credentials
    GET  /users/{user_id}/preferences   Authorization: Bearer <token of that user>
                 → 200 {channels: {email, sms, push}, language, marketing_consent};
                   401 no/bad token; 403 another user's; 404 unknown user
    PUT  /users/{user_id}/preferences   same, body: any of those fields (the rest stay)
                 → 200 the whole new set, once Kafka has it; 422 one sentence on bad input

Registration emits UserRegistered on `user-events` and the profile (UserProfile) on the
compacted `users` topic, both keyed by user_id: `users` is the table payment reads balances
from and notification reads contact details and channel preferences from. A login emits
UserLoggedIn. A preferences change emits UserPreferencesUpdated on `user-events` and the
profile again, preferences included, on `users` (see preferences.py). The salted
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
    InvalidToken,
    NotLoggedIn,
    TokenSigner,
    authenticated_user,
    burn_verify,
    hash_password,
    token_key,
    verify_password,
)
from kafkalab.services.http import HttpError, Request, Response, Route, Unavailable
from kafkalab.services.runtime import Service
from kafkalab.services.user import api
from kafkalab.services.user.preferences import Preferences, PreferencesChange, parse_change
from kafkalab.services.user.requests import InvalidRequest, parse_login, parse_registration
from kafkalab.services.user.store import DuplicateEmail, UserRecord, UserStore
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.user")

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
        self.preference_changes = specs.counter(specs.PREFERENCE_CHANGES, self.metrics.registry)

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
            Route(
                "GET",
                "/users/{user_id}/preferences",
                self.get_preferences,
                answer=api.PreferencesAnswer,
                bearer=True,
                errors={401: "not logged in", 403: "another user's", 404: "no such user"},
            ),
            Route(
                "PUT",
                "/users/{user_id}/preferences",
                self.put_preferences,
                body=api.PreferencesBody,
                answer=api.PreferencesAnswer,
                bearer=True,
                errors={
                    401: "not logged in",
                    403: "another user's",
                    404: "no such user",
                    422: BAD_BODY,
                    503: NO_ACK,
                },
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
        profile = self._profile(record)
        trace = new_id()  # one user action, one trace: both events share it
        self.emit(USER_EVENTS, record.user_id, "UserRegistered", profile, trace_id=trace)
        self.emit(
            USERS,
            record.user_id,
            "UserProfile",
            {**profile, "registered_at": record.registered_at},
            trace_id=trace,
        )
        if self.producer.flush(self.settings.publish_timeout) > 0:
            # Undo, so that a retry by the client is not refused as a duplicate.
            self.store.remove(record.user_id, record.email)
            raise Unavailable("Kafka did not acknowledge the registration; try again")
        self.registrations.inc()
        log.info("user registered", extra={"fields": {"user_id": record.user_id}})
        return Response(201, {"user_id": record.user_id})

    def _profile(self, record: UserRecord) -> dict[str, Any]:
        """The public profile (contact fields sealed in secure mode), as UserRegistered and
        UserProfile carry it."""
        return {
            "user_id": record.user_id,
            "email": self._seal_contact(record.email, record.user_id),
            "name": record.name,
            "phone": self._seal_contact(record.phone, record.user_id) if record.phone else None,
            "balance_cents": record.balance_cents,
        }

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
        if self.producer.flush(self.settings.publish_timeout) > 0:
            raise Unavailable("Kafka did not acknowledge the login; try again")
        self.logins.labels("ok").inc()
        self.audit.record(AuditEntry(record.user_id, "login", "token", True, "password ok"))
        return Response(200, {"token": token, "user_id": record.user_id, "expires_at": expires_at})

    # -- preferences: plain functions (caller, user, change → Preferences), then HTTP adapters --

    def read_preferences(self, caller: str, user_id: str) -> Preferences:
        """The preferences of `user_id` as `caller` (the token's user) may see them: their own
        only. Raises HttpError 403 (someone else's) or 404 (no such account)."""
        self._own_account(caller, user_id)
        return Preferences.from_value(self.store.preferences(user_id))

    def update_preferences(
        self, caller: str, user_id: str, change: PreferencesChange
    ) -> Preferences:
        """Apply `change` to the preferences of `user_id`, publish them, and return the whole
        new set. Kafka acknowledges UserPreferencesUpdated (on `user-events`) and the profile
        with them (on `users`) before the change is stored, so a 200 means notification will
        see it; otherwise HttpError 503 and the change is not stored (a record still queued may
        yet arrive: the client's retry publishes the same set again, latest wins)."""
        record = self._own_account(caller, user_id)

        def apply(current: dict[str, Any] | None) -> dict[str, Any]:
            return Preferences.from_value(current).changed(change).as_value()

        def publish(value: dict[str, Any]) -> None:
            trace = new_id()  # one user action, one trace: both records share it
            self.emit(
                USER_EVENTS,
                user_id,
                "UserPreferencesUpdated",
                {"user_id": user_id, "preferences": value},
                trace_id=trace,
            )
            profile = {
                **self._profile(record),
                "registered_at": record.registered_at,
                "preferences": value,
            }
            self.emit(USERS, user_id, "UserProfile", profile, trace_id=trace)
            if self.producer.flush(self.settings.publish_timeout) > 0:
                raise Unavailable("Kafka did not acknowledge the preferences; try again")

        stored = Preferences.from_value(self.store.update_preferences(user_id, apply, publish))
        self.preference_changes.inc()
        log.info(
            "preferences updated",
            extra={"fields": {"user_id": user_id, "opted_out": list(stored.opted_out)}},
        )
        return stored

    def _own_account(self, caller: str, user_id: str) -> UserRecord:
        if caller != user_id:
            raise HttpError(403, "a user may read and change only their own preferences")
        record = self.store.by_id(user_id)
        if record is None:
            raise HttpError(404, f"no user {user_id!r}")
        return record

    def get_preferences(self, request: Request) -> Response:
        """GET /users/{user_id}/preferences: `read_preferences` over HTTP."""
        caller = self._caller(request)
        return Response(200, self.read_preferences(caller, request.params["user_id"]).as_value())

    def put_preferences(self, request: Request) -> Response:
        """PUT /users/{user_id}/preferences: `update_preferences` over HTTP."""
        caller = self._caller(request)
        try:
            change = parse_change(request.body)
        except InvalidRequest as exc:
            raise HttpError(422, str(exc)) from exc
        updated = self.update_preferences(caller, request.params["user_id"], change)
        return Response(200, updated.as_value())

    def _caller(self, request: Request) -> str:
        """The user the bearer token names (401 without a valid one), as order checks it."""
        try:
            return authenticated_user(self.signer, request.headers)
        except NotLoggedIn as exc:
            raise HttpError(
                401, "log in first (POST /login) and send Authorization: Bearer <token>"
            ) from exc
        except InvalidToken as exc:
            raise HttpError(401, f"the token was refused ({exc}); log in again") from exc
