"""Lesson 16's check: the per-user state survived a SIGKILL and the loss of its local files.

The expected sessions are computed here from the clicks the demo sent; the app's outputs say
what its state store held after each record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkalab.verdict import Check, equal, expect


@dataclass(frozen=True)
class Click:
    user: str
    seq: int
    add_cents: int


@dataclass(frozen=True)
class Session:
    views: int
    cart_cents: int


@dataclass
class Seen:
    before: list[Click]  # processed by the first app, which was then killed
    after: list[Click]  # produced while it was dead, processed by the restarted app
    outputs: dict[int, tuple[str, Session]]  # seq → (user, session the app emitted for it)
    output_count: int  # records on the output topic (duplicates would show here)
    exit_code: int | None  # the first app's: -9 when SIGKILL ended it
    files_at_restart: int | None  # files the restarted app found in its state dir (None: no word)
    changelog_policy: str
    changelog_records: int
    recovered: list[str]  # "Recovery successful for …" lines of the restarted app's log
    on_changelog: dict[str, Session] = field(default_factory=dict)  # read back from the broker


def sessions(clicks: list[Click]) -> dict[str, Session]:
    """Each user's session after `clicks`, in order."""
    found: dict[str, Session] = {}
    for click in clicks:
        old = found.get(click.user, Session(0, 0))
        found[click.user] = Session(old.views + 1, old.cart_cents + click.add_cents)
    return found


def check(seen: Seen) -> list[Check]:
    want_before = sessions(seen.before)
    emitted_before = _last(seen, seen.before)
    # The restarted app's first record per user = state before the kill + that one click.
    first_after: dict[str, Click] = {}
    for click in seen.after:
        first_after.setdefault(click.user, click)
    resumed = {
        user: Session(want_before[user].views + 1, want_before[user].cart_cents + c.add_cents)
        for user, c in first_after.items()
        if user in want_before
    }
    # A user first seen after the kill had no state to restore: judged by "final state" only.
    emitted_resumed = {
        u: seen.outputs[c.seq][1]
        for u, c in first_after.items()
        if u in want_before and c.seq in seen.outputs
    }
    return [
        equal("the first app was killed (SIGKILL)", -9, seen.exit_code),
        expect(
            "no local state when the app restarted",
            seen.files_at_restart == 0,
            "the restarted app found no file in its state dir: every store had to come back "
            "from the changelog"
            if seen.files_at_restart == 0
            else "the restarted app did not say what it found in its state dir"
            if seen.files_at_restart is None
            else f"the restarted app found {seen.files_at_restart} file(s) in its state dir: "
            "its stores could have come from the disk, not the changelog",
        ),
        expect(
            "changelog topic is compacted",
            "compact" in seen.changelog_policy and seen.changelog_records > 0,
            f"cleanup.policy={seen.changelog_policy}, {seen.changelog_records} record(s)",
        ),
        _sessions("state before the kill = computed", want_before, emitted_before),
        _sessions("the changelog on the broker holds that state", want_before, seen.on_changelog),
        expect(
            "the restarted app recovered its store from the changelog",
            bool(seen.recovered),
            f"{len(seen.recovered)} store partition(s) restored"
            if seen.recovered
            else "no recovery in the restarted app's log",
        ),
        expect(
            "restored state = state before the kill",
            bool(resumed) and emitted_resumed == resumed,
            f"{len(resumed)} users carried on from their counts"
            if bool(resumed) and emitted_resumed == resumed
            else f"expected {resumed}, saw {emitted_resumed}",
        ),
        _sessions(
            "final state = computed",
            sessions(seen.before + seen.after),
            _last(seen, seen.before + seen.after),
        ),
        equal("each click processed once", len(seen.before) + len(seen.after), seen.output_count),
    ]


def _last(seen: Seen, clicks: list[Click]) -> dict[str, Session]:
    """Per user, the session the app emitted for its last click among `clicks`."""
    found: dict[str, Session] = {}
    for click in clicks:
        if click.seq in seen.outputs:
            found[click.user] = seen.outputs[click.seq][1]
    return found


def _sessions(name: str, expected: dict[str, Session], seen: dict[str, Session]) -> Check:
    if expected == seen:
        views = sum(x.views for x in seen.values())
        return expect(name, bool(seen), f"{len(seen)} users, {views} views in all")
    wrong = sorted(u for u in set(expected) | set(seen) if expected.get(u) != seen.get(u))
    return expect(
        name,
        False,
        f"differs for {wrong[0]}: expected {expected.get(wrong[0])}, saw {seen.get(wrong[0])}",
    )
