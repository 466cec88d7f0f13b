"""The user service on the real broker: registration events, login tokens, bad input."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from kafkalab import localhttp
from kafkalab.connection import Connection
from kafkalab.events.topics import USER_EVENTS, USERS
from kafkalab.services.auth import TokenSigner, token_key
from kafkalab.services.user.service import UserService
from kafkalab.settings import Settings
from tests.integration.services import (
    assert_documented,
    ensure_topics,
    read_events,
    read_raw,
    running,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def user_service(conn: Connection, cluster: Settings) -> Iterator[UserService]:
    ensure_topics(conn)
    with running(UserService, cluster, conn) as service:
        yield service


def url(service: UserService, path: str) -> str:
    return f"http://127.0.0.1:{service.port}{path}"


def register(service: UserService, email: str, **extra: object) -> httpx.Response:
    body = {"email": email, "name": "Ada Lovelace", "password": "correct-horse", **extra}
    return localhttp.post(url(service, "/users"), json=body, timeout=30)


def test_registration_publishes_the_event_and_the_profile(
    conn: Connection, cluster: Settings, user_service: UserService, unique: Callable[[str], str]
) -> None:
    email = f"{unique('ada')}@example.com"
    response = register(user_service, email, phone="+44 7700 900123", balance_cents=2500)
    assert response.status_code == 201, response.text
    user_id = response.json()["user_id"]

    [registered] = read_events(
        conn, USER_EVENTS, 1, where=lambda e: e.key == user_id and e.type == "UserRegistered"
    )
    assert registered.value["email"] == email
    assert registered.value["balance_cents"] == 2500
    assert registered.value["phone"] == "+44 7700 900123"
    assert registered.service == "user"

    [profile] = read_events(conn, USERS, 1, where=lambda e: e.key == user_id)
    assert profile.type == "UserProfile"
    assert profile.value["email"] == email and profile.value["balance_cents"] == 2500
    assert profile.trace_id == registered.trace_id  # one user action, one trace

    # The password (and its hash) stay in the service: not on either topic.
    for topic in (USER_EVENTS, USERS):
        for msg in read_raw(conn, topic, 1, where=lambda m: m.key() == user_id.encode()):
            assert b"correct-horse" not in msg.value()
            assert b"scrypt" not in msg.value()


def test_duplicate_email_is_refused_case_insensitively(
    user_service: UserService, unique: Callable[[str], str]
) -> None:
    email = f"{unique('dup')}@example.com"
    assert register(user_service, email).status_code == 201
    again = register(user_service, email.upper())
    assert again.status_code == 409
    assert again.json()["error"] == f"an account with email {email!r} already exists"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "Ada", "password": "correct-horse"}, "missing field: email"),
        (
            {"email": "ada-at-example.com", "name": "Ada", "password": "correct-horse"},
            "email 'ada-at-example.com' is not a valid address",
        ),
        (
            {"email": "a@example.com", "name": "Ada", "password": "short"},
            "password must be at least 8 characters",
        ),
    ],
)
def test_bad_registrations_get_422_and_one_sentence(
    user_service: UserService, body: dict[str, object], error: str
) -> None:
    response = localhttp.post(url(user_service, "/users"), json=body, timeout=30)
    assert response.status_code == 422
    assert response.json() == {"error": error}


def test_login_returns_a_token_the_order_service_can_verify(
    cluster: Settings, conn: Connection, user_service: UserService, unique: Callable[[str], str]
) -> None:
    email = f"{unique('login')}@example.com"
    user_id = register(user_service, email).json()["user_id"]
    response = localhttp.post(
        url(user_service, "/login"),
        json={"email": email.title(), "password": "correct-horse"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == user_id
    claims = TokenSigner(token_key(cluster)).verify(body["token"])
    assert claims.user_id == user_id and claims.expires_at == body["expires_at"]

    [logged_in] = read_events(
        conn, USER_EVENTS, 1, where=lambda e: e.key == user_id and e.type == "UserLoggedIn"
    )
    assert logged_in.value["user_id"] == user_id


def test_bad_credentials_get_401(user_service: UserService, unique: Callable[[str], str]) -> None:
    email = f"{unique('wrong')}@example.com"
    register(user_service, email)
    for credentials in (
        {"email": email, "password": "not-the-password"},
        {"email": f"{unique('nobody')}@example.com", "password": "correct-horse"},
    ):
        response = localhttp.post(url(user_service, "/login"), json=credentials, timeout=30)
        assert response.status_code == 401
        assert response.json() == {"error": "wrong email or password"}
    missing = localhttp.post(url(user_service, "/login"), json={"email": email}, timeout=30)
    assert missing.status_code == 422


def test_accounts_survive_a_restart(
    conn: Connection, cluster: Settings, user_service: UserService, unique: Callable[[str], str]
) -> None:
    email = f"{unique('restart')}@example.com"
    user_id = register(user_service, email).json()["user_id"]
    with running(UserService, cluster, conn) as restarted:
        response = localhttp.post(
            url(restarted, "/login"), json={"email": email, "password": "correct-horse"}, timeout=30
        )
        assert response.status_code == 200 and response.json()["user_id"] == user_id
        assert register(restarted, email).status_code == 409


def test_preferences_round_trip_through_kafka(
    conn: Connection, cluster: Settings, user_service: UserService, unique: Callable[[str], str]
) -> None:
    email = f"{unique('prefs')}@example.com"
    user_id = register(user_service, email, phone="+44 7700 900321").json()["user_id"]
    token, _ = TokenSigner(token_key(cluster)).issue(user_id)
    auth = {"Authorization": f"Bearer {token}"}
    path = url(user_service, f"/users/{user_id}/preferences")

    before = localhttp.get(path, headers=auth, timeout=30)
    assert before.status_code == 200, before.text
    assert before.json()["channels"] == {"email": True, "sms": True, "push": True}

    change = {"channels": {"sms": False}, "language": "fr"}
    put = httpx.put(path, json=change, headers=auth, timeout=30)
    assert put.status_code == 200, put.text
    wanted = {
        "channels": {"email": True, "sms": False, "push": True},
        "language": "fr",
        "marketing_consent": False,
    }
    assert put.json() == wanted

    # What Kafka holds: the event on user-events, and the table row with the preferences.
    [updated] = read_events(
        conn,
        USER_EVENTS,
        1,
        where=lambda e: e.key == user_id and e.type == "UserPreferencesUpdated",
    )
    assert updated.value["user_id"] == user_id and updated.value["preferences"] == wanted
    assert updated.service == "user"
    [profile] = read_events(
        conn, USERS, 1, where=lambda e: e.key == user_id and e.value.get("preferences")
    )
    assert profile.type == "UserProfile" and profile.value["preferences"] == wanted
    assert profile.value["email"] == email and profile.value["phone"] == "+44 7700 900321"
    assert profile.trace_id == updated.trace_id  # one user action, one trace

    # GET answers what was published, from this replica and from a restarted one.
    assert localhttp.get(path, headers=auth, timeout=30).json() == wanted
    with running(UserService, cluster, conn) as restarted:
        again = url(restarted, f"/users/{user_id}/preferences")
        assert localhttp.get(again, headers=auth, timeout=30).json() == wanted


def test_preferences_are_the_logged_in_user_s_own(
    cluster: Settings, user_service: UserService, unique: Callable[[str], str]
) -> None:
    user_id = register(user_service, f"{unique('own')}@example.com").json()["user_id"]
    path = url(user_service, f"/users/{user_id}/preferences")
    signer = TokenSigner(token_key(cluster))
    mine = {"Authorization": f"Bearer {signer.issue(user_id)[0]}"}
    theirs = {"Authorization": f"Bearer {signer.issue('someone-else')[0]}"}

    anonymous = localhttp.get(path, timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"].startswith("log in first (POST /login)")
    forged = localhttp.get(path, headers={"Authorization": "Bearer x.y"}, timeout=30)
    assert forged.status_code == 401 and "log in again" in forged.json()["error"]
    other = httpx.put(path, json={"channels": {"sms": False}}, headers=theirs, timeout=30)
    assert other.status_code == 403
    assert other.json() == {"error": "a user may read and change only their own preferences"}
    bad = httpx.put(path, json={"channels": {"fax": False}}, headers=mine, timeout=30)
    assert bad.status_code == 422
    assert bad.json() == {"error": "unknown channel 'fax' (channels are email, sms, push)"}
    # Nothing above changed anything.
    assert localhttp.get(path, headers=mine, timeout=30).json()["channels"]["sms"] is True


def test_docs_list_the_learner_routes_offline(user_service: UserService) -> None:
    assert_documented(
        user_service.port,
        [("POST", "/users"), ("POST", "/login"), ("GET", "/health"), ("GET", "/metrics")],
    )
