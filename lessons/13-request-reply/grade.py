"""Lesson 13's grader: its own responder answers each request the moment it arrives, with a
decoy — another requester's reply — just before it on the same partition; then it reads
`results` back from the broker and compares each record with the replies it wrote itself.

The responder runs in a thread of the grader (assigned to the request topic, no group), so
its replies land within milliseconds: a requester that starts reading after sending has missed
them, every run, and one that takes the first reply it sees takes a decoy.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from typing import Any

from confluent_kafka import TopicPartition

from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, read_all
from kafkalab.verdict import Check

REPLY_PARTITIONS = 3
ASKS = 5  # stock checks the requester sends (lessons.toml's questions say so too)
SKUS = ("SKU-BOOK", "SKU-MUG", "SKU-HOODIE", "SKU-KEYBOARD", "SKU-LAPTOP", "SKU-LAMP")


class Responder:
    """The stock service, small: each request is answered on its reply_to topic, tagged with
    its correlation_id — a decoy reply for some other requester first, on the same partition."""

    def __init__(self, lab: Lab, requests: str, replies: str) -> None:
        self.lab, self.requests, self.replies = lab, requests, replies
        self.real: dict[str, bytes] = {}  # request's correlation id → the reply written for it
        self.decoys: dict[bytes, str] = {}  # decoy reply value → its (foreign) correlation id
        self.ready, self.stop = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Responder:
        self.thread.start()
        self.ready.wait(15)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(15)

    def _run(self) -> None:
        producer = self.lab.producer(**{"linger.ms": 0})
        consumer = self.lab.consumer(
            self.lab.group("responder"), **{"fetch.wait.max.ms": 10, "enable.auto.commit": False}
        )
        try:
            consumer.list_topics(self.requests, timeout=10)  # connected before the program runs
            consumer.assign([TopicPartition(self.requests, 0, 0)])
            self.ready.set()
            n = 0
            while not self.stop.is_set():
                message = consumer.poll(0.01)
                if message is None or message.error():
                    continue
                self._answer(producer, message.headers() or [], message.value(), n)
                n += 1
        finally:
            consumer.close()
            producer.flush(10)

    def _answer(self, producer: Any, headers: list, value: bytes | None, n: int) -> None:
        cid = next((v for k, v in headers if k == "correlation_id" and v), None)
        reply_to = next((v.decode() for k, v in headers if k == "reply_to" and v), self.replies)
        try:
            asked = json.loads(value or b"{}")
        except ValueError:
            asked = {}
        partition = n % REPLY_PARTITIONS  # a decoy and the real reply share a partition
        other = str(uuid.uuid4()).encode()
        decoy = self._reply(asked)
        self.decoys[decoy] = other.decode()
        producer.produce(
            reply_to,
            key=other,
            value=decoy,
            headers=[("correlation_id", other)],
            partition=partition,
        )
        reply = self._reply(asked)
        if cid is not None:
            self.real[cid.decode()] = reply
        producer.produce(
            reply_to,
            key=cid,
            value=reply,
            headers=[("correlation_id", cid or b"")],
            partition=partition,
        )
        producer.flush(10)

    @staticmethod
    def _reply(asked: dict) -> bytes:
        stock = secrets.randbelow(50)  # new answers every run: a hard-coded one cannot pass
        value = {
            "sku": asked.get("sku"),
            "in_stock": stock,
            "available": stock >= int(asked.get("quantity") or 1),
            "reply_id": secrets.token_hex(4),
        }
        return json.dumps(value).encode()


def prepare(lab: Lab) -> Task:
    asks = [[SKUS[secrets.randbelow(len(SKUS))], secrets.randbelow(5) + 1] for _ in range(ASKS)]
    return Task(
        topics={
            "requests": lab.topic("requests"),
            "replies": lab.topic("replies", partitions=REPLY_PARTITIONS),
            "results": lab.topic("results"),
        },
        groups={"requester": lab.group("requester")},
        params={"asks": asks},
    )


def _requests(sent: list[Record], topic: str) -> Check:
    name = "your requests reached the request topic"
    tagged = [r for r in sent if r.headers.get("correlation_id")]
    if len(tagged) < ASKS:
        return Check(
            name,
            False,
            f"{topic} holds {len(tagged)} request(s) with a correlation_id header, "
            f"{ASKS} were to be sent",
            fix="produce() one request per ASKS entry, its correlation_id in a header, then "
            "flush()",
        )
    return Check(name, True, f"{len(tagged)} requests, each with its own correlation_id")


def _missed(cids: list[str], results: dict[str, Record], topic: str) -> Check:
    name = "every request got a result"
    missed = [c for c in cids if c not in results]
    if missed:
        return Check(
            name,
            False,
            f"{len(missed)} of {len(cids)} requests have no result on {topic} (e.g. {missed[0]}):"
            " their replies were on the reply topic before your consumer began to read it",
            fix="call listen() before the first produce(), and in it assign() every partition of "
            "the reply topic at the end offset get_watermark_offsets() gives now — a "
            "subscription starts only once its join is over, from the end the topic has then",
        )
    return Check(name, True, f"all {len(cids)} requests answered")


def _own(cids: list[str], results: dict[str, Record], responder: Responder) -> Check:
    name = "each result is its request's own reply"
    mine = {v: c for c, v in responder.real.items()}
    for cid in cids:
        got = results[cid].value or b""
        if got == responder.real.get(cid):
            continue
        if got in responder.decoys:
            said = f"a reply meant for another requester (correlation_id {responder.decoys[got]})"
        elif got in mine:
            said = f"the reply to your request {mine[got]}"
        else:
            said = f"{got[:60]!r}, not a reply the responder wrote"
        return Check(
            name,
            False,
            f"the result for request {cid} holds {said}",
            fix="read the reply's correlation_id header and take the reply only when that id is "
            "one you are waiting for; skip every other reply",
        )
    return Check(name, True, f"all {len(cids)} results carry their own reply, no decoy taken")


def _extra(cids: list[str], results: list[Record], topic: str) -> Check:
    name = "no result for a request you did not send"
    keys = [r.text_key for r in results]
    foreign = [k for k in keys if k not in cids]
    twice = [k for k in set(keys) if keys.count(k) > 1]
    if foreign or twice:
        what = f"{foreign[0]}, not one of your requests" if foreign else f"{twice[0]} twice"
        return Check(
            name,
            False,
            f"{topic} holds a result keyed {what}",
            fix="write one result per request you sent, keyed by its correlation id, and stop "
            "waiting for an id once it is answered",
        )
    return Check(name, True, f"{len(results)} results, one per request")


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    with Responder(lab, task.topics["requests"], task.topics["replies"]) as responder:
        program.run()
    sent = read_all(lab.conn, task.topics["requests"])
    out = read_all(lab.conn, task.topics["results"])
    on_topic = read_all(lab.conn, task.topics["replies"])
    cids = [r.headers["correlation_id"].decode() for r in sent if r.headers.get("correlation_id")]
    results = {r.text_key: r for r in out}
    checks = [_requests(sent, task.topics["requests"])]
    if checks[0].ok:
        checks.append(_missed(cids, results, task.topics["results"]))
        answered = [c for c in cids if c in results]
        if answered:
            checks.append(_own(answered, results, responder))
        if out:
            checks.append(_extra(cids, out, task.topics["results"]))
    right = {c for c in cids if c in results and results[c].value == responder.real.get(c)}
    truths: dict[str, Any] = {
        "on_topic": len(on_topic),
        "partitions": len({r.partition for r in on_topic if r.text_key in right}),
    }
    return Graded(checks, truths)
