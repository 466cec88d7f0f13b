"""Lesson 12's grader: seeds notification requests naming their channels, then reads the four
channel topics and the router group's committed offsets back from the broker, each against the
channels every request asked for."""

from __future__ import annotations

import json
import random
import secrets
from collections import Counter, defaultdict
from typing import Any

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, committed, read_all
from kafkalab.verdict import Check

PARTITIONS = 3
CHANNELS = ("email", "sms", "push", "webhook")
USERS = 4
# What the 12 requests ask for (lessons.toml's question says so too): 24 channel records.
ASKS = [["email"]] * 4 + [["email", "push"]] * 3 + [["sms", "webhook"]] * 3 + [list(CHANNELS)] * 2

ONE = "one: the key hashes to one partition"
SPREAD = "several: the copies are spread over the partitions"


def prepare(lab: Lab) -> Task:
    source = lab.topic("requests", partitions=PARTITIONS)
    topics = {"requests": source}
    topics.update({c: lab.topic(c, partitions=PARTITIONS) for c in CHANNELS})
    users = [f"user-{secrets.token_hex(3)}" for _ in range(USERS)]  # new each run
    asks = ASKS[:]
    random.shuffle(asks)
    requests = [
        {
            "request_id": f"req-{secrets.token_hex(4)}",
            "user_id": users[n % USERS],
            "channels": channels,
            "text": f"order {secrets.token_hex(2)} confirmed",
        }
        for n, channels in enumerate(asks)
    ]
    producer = lab.producer()
    for request in requests:  # keyed by user: a user's requests are in order on one partition
        producer.produce(
            source, key=request["user_id"].encode(), value=json.dumps(request).encode()
        )
    producer.flush(30)
    return Task(
        topics=topics,
        groups={"router": lab.group("router")},
        private={"requests": requests},
    )


def _request_id(record: Record) -> str | None:
    try:
        value = json.loads(record.value or b"")
    except ValueError:
        return None
    found = value.get("request_id") if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def _asked(requests: list[dict[str, Any]], channel: str) -> list[dict[str, Any]]:
    return [r for r in requests if channel in r["channels"]]


def _delivered(got: dict[str, list[Record]], requests: list[dict[str, Any]]) -> Check:
    name = "every request reached each channel it asked for"
    for channel in CHANNELS:
        there = {_request_id(r) for r in got[channel]}
        missing = [r for r in _asked(requests, channel) if r["request_id"] not in there]
        if not missing:
            continue
        wanted = len(_asked(requests, channel))
        if channel == "webhook" and not got[channel]:
            return Check(
                name,
                False,
                f"the webhook topic is empty, but {wanted} requests asked for webhook: the new "
                "channel is never routed",
                fix='add "webhook": lab.topic("webhook") to CHANNEL_TOPICS, and route every '
                "channel a request names, not a fixed list",
            )
        return Check(
            name,
            False,
            f"{len(missing)} of the {wanted} requests for {channel} never reached its topic "
            f"(e.g. {missing[0]['request_id']} of {missing[0]['user_id']})",
            fix="in route(), produce the request to CHANNEL_TOPICS[channel] for each channel "
            'in request["channels"]',
        )
    return Check(name, True, f"all {len(requests)} requests, on each of their channels")


def _only_asked(got: dict[str, list[Record]], requests: list[dict[str, Any]]) -> Check:
    name = "no request reached a channel it did not ask for"
    for channel in CHANNELS:
        wanted = {r["request_id"] for r in _asked(requests, channel)}
        extra = [r for r in got[channel] if _request_id(r) not in wanted]
        if extra:
            return Check(
                name,
                False,
                f"{len(extra)} record(s) on the {channel} topic are requests that did not ask "
                f"for {channel} (e.g. {_request_id(extra[0]) or extra[0].text[:40]!r}): that "
                "user gets a notification they turned off",
                fix='route to the channels the request names (request["channels"]), not to '
                "every channel",
            )
    return Check(name, True, "each channel topic holds only its own requests")


def _once_keyed(got: dict[str, list[Record]], requests: list[dict[str, Any]]) -> Check:
    name = "each copy once, keyed by its user id, in the user's order"
    user_of = {r["request_id"]: r["user_id"] for r in requests}
    order = {r["request_id"]: n for n, r in enumerate(requests)}
    for channel in CHANNELS:
        counts = Counter(_request_id(r) for r in got[channel])
        twice = [k for k, n in counts.items() if n > 1]
        if twice:
            return Check(
                name,
                False,
                f"{twice[0]} is on the {channel} topic {counts[twice[0]]} times: the user is "
                "notified twice",
                fix="produce one copy per channel per request; commit after the flush so a "
                "restart does not fan the whole topic out again",
            )
        for record in got[channel]:
            want = user_of[_request_id(record) or ""]
            if record.key != want.encode():
                return Check(
                    name,
                    False,
                    f"{_request_id(record)} on the {channel} topic has key {record.key!r}, not "
                    f"its user id {want!r}: that user's notifications are spread over "
                    "partitions and may arrive out of order",
                    fix="produce each copy with key=msg.key(), the request's own key",
                )
        per_user: dict[str, list[int]] = defaultdict(list)
        for record in got[channel]:  # read in partition/offset order: one partition per user
            per_user[record.text_key].append(order[_request_id(record) or ""])
        shuffled = [u for u, seen in per_user.items() if seen != sorted(seen)]
        if shuffled:
            return Check(
                name,
                False,
                f"{shuffled[0]}'s requests are out of order on the {channel} topic",
                fix="route each request as it is read, in the order the consumer hands them out",
            )
    return Check(name, True, "every copy once, keyed by its user id, each user in order")


def _commits(done: dict[int, int], ends: dict[int, int]) -> Check:
    name = "your group committed past every request"
    behind = [p for p in sorted(ends) if done.get(p) != ends[p]]
    if behind:
        p = behind[0]
        return Check(
            name,
            False,
            f"partition {p} of requests: committed {done.get(p, 'nothing')}, its end is "
            f"{ends[p]} — a restart would fan those requests out again",
            fix="once a request is routed: producer.flush(), then "
            "consumer.commit(message=msg, asynchronous=False)",
        )
    return Check(name, True, f"committed offsets {dict(sorted(done.items()))} = the ends")


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    requests = task.private["requests"]
    got = {c: read_all(lab.conn, task.topics[c]) for c in CHANNELS}
    source = read_all(lab.conn, task.topics["requests"])
    ends: dict[int, int] = {}
    for record in source:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    done = committed(lab.conn, task.groups["router"], task.topics["requests"])
    checks = [
        _delivered(got, requests),
        _only_asked(got, requests),
        _once_keyed(got, requests),
        _commits(done, ends),
    ]
    truths: dict[str, Any] = {"total": sum(len(records) for records in got.values())}
    # How many partitions of one channel topic a user's copies landed on, at most.
    spread = Counter((c, r.text_key, r.partition) for c in CHANNELS for r in got[c])
    per_user = Counter((c, user) for c, user, _ in spread)
    if per_user:
        truths["partitions"] = ONE if max(per_user.values()) == 1 else SPREAD
    return Graded(checks, truths)
