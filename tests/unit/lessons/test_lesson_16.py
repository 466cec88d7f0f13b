"""Lesson 16's check says ✘ for each way the state can fail to survive."""

from __future__ import annotations

from typing import Any

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import passed
from tests.unit.lessons.helpers import failing

m = load_module(find(16), "check")
Click, Session, Seen, check = m.Click, m.Session, m.Seen, m.check


def emitted(clicks: list[Any], start: dict[str, Any] | None = None) -> dict[int, tuple[str, Any]]:
    """What a correct app emits for `clicks`, carrying on from `start`."""
    state = dict(start or {})
    out = {}
    for c in clicks:
        old = state.get(c.user, Session(0, 0))
        state[c.user] = Session(old.views + 1, old.cart_cents + c.add_cents)
        out[c.seq] = (c.user, state[c.user])
    return out


BEFORE = [Click("a", 0, 100), Click("b", 1, 0), Click("a", 2, 50)]
AFTER = [Click("a", 3, 10), Click("b", 4, 5)]


def good() -> Any:
    outputs = emitted(BEFORE) | emitted(AFTER, m.sessions(BEFORE))
    on_changelog = m.sessions(BEFORE)  # what the broker's changelog held after the kill
    return Seen(BEFORE, AFTER, outputs, 5, -9, 0, "compact", 4, ["changelog[0]"], on_changelog)


def detail(seen: Any, name: str) -> str:
    return next(c.detail for c in check(seen) if c.name == name)


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_state_lost_on_restart_fails() -> None:
    seen = good()
    seen.outputs.update(emitted(AFTER))  # the restarted app started from zero
    assert failing(check(seen)) == {
        "restored state = state before the kill",
        "final state = computed",
    }


def test_a_wrong_state_before_the_kill_fails() -> None:
    seen = good()
    seen.outputs[2] = ("a", Session(2, 100))
    assert "state before the kill = computed" in failing(check(seen))


def test_a_clean_stop_instead_of_a_kill_fails() -> None:
    seen = good()
    seen.exit_code = 0
    assert failing(check(seen)) == {"the first app was killed (SIGKILL)"}


def test_local_state_still_there_fails() -> None:
    """The restarted app found RocksDB files: its store may have come from the disk."""
    seen = good()
    seen.files_at_restart = 14
    assert failing(check(seen)) == {"no local state when the app restarted"}
    assert detail(seen, "no local state when the app restarted") == (
        "the restarted app found 14 file(s) in its state dir: its stores could have come from "
        "the disk, not the changelog"
    )


def test_no_word_from_the_restarted_app_fails() -> None:
    seen = good()
    seen.files_at_restart = None
    assert failing(check(seen)) == {"no local state when the app restarted"}


def test_a_changelog_behind_the_state_fails() -> None:
    """The app killed before its last commit reached the changelog: the broker holds less."""
    seen = good()
    seen.on_changelog = {**seen.on_changelog, "a": Session(1, 100)}
    assert failing(check(seen)) == {"the changelog on the broker holds that state"}
    assert detail(seen, "the changelog on the broker holds that state") == (
        "differs for a: expected Session(views=2, cart_cents=150), saw Session(views=1, cart_cents=100)"
    )


def test_an_empty_changelog_fails() -> None:
    seen = good()
    seen.on_changelog = {}
    assert "the changelog on the broker holds that state" in failing(check(seen))


def test_a_changelog_that_is_not_compacted_fails() -> None:
    seen = good()
    seen.changelog_policy = "delete"
    assert failing(check(seen)) == {"changelog topic is compacted"}


def test_no_recovery_logged_fails() -> None:
    seen = good()
    seen.recovered = []
    assert failing(check(seen)) == {"the restarted app recovered its store from the changelog"}


def test_duplicated_processing_fails() -> None:
    seen = good()
    seen.output_count = 7
    assert failing(check(seen)) == {"each click processed once"}


def test_a_user_first_seen_after_the_kill_is_not_a_restore() -> None:
    """30 random clicks can miss a user before the kill: its first session after the restart
    starts from zero, which is right, and only the users that had state are judged restored."""
    after = [*AFTER, Click("c", 5, 499)]
    outputs = emitted(BEFORE) | emitted(after, m.sessions(BEFORE))
    seen = Seen(
        BEFORE, after, outputs, 6, -9, 0, "compact", 4, ["changelog[0]"], m.sessions(BEFORE)
    )
    assert passed(check(seen))
    seen.outputs.update(emitted(AFTER))  # but a known user starting from zero still fails
    assert "restored state = state before the kill" in failing(check(seen))
