"""What a lesson demo gets to work with: narration, fresh topics and groups, clients, and a way
to start the cluster or the platform it needs.

Every topic and group a lesson creates is named `lessonNN.…` / `lessonNN-…`, so `--reset`
(and the start of each run) can remove exactly the lesson's own leftovers and nothing else.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kafkalab import clients, ui
from kafkalab.cluster import connect, lifecycle, side
from kafkalab.connection import Connection
from kafkalab.curriculum.manifest import BreakInfo, Lesson
from kafkalab.errors import KafkalabError
from kafkalab.settings import Settings


class LessonSetupFailed(KafkalabError):
    hint = "check `kafkalab cluster status`, then run the lesson again (or `--reset` it first)"


def topic_prefix(lesson: Lesson) -> str:
    return f"lesson{lesson.number:02d}."


def group_prefix(lesson: Lesson) -> str:
    return f"lesson{lesson.number:02d}-"


SideCluster = side.Side
"""A cluster of another shape than the learner's (three brokers, or secure); its conn is
admin's on a secure one."""


@dataclass(frozen=True)
class Armed:
    """The break a `kafkalab lesson N --break` run grades: its stanza, the learner's own
    settings (where `kafkalab chaos` notes the commands they type, even when the lab runs on a
    side cluster) and when the run began (epoch seconds)."""

    info: BreakInfo
    home: Settings
    since: float


@dataclass
class Lab:
    settings: Settings
    lesson: Lesson
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    quiet: bool = False
    shared: dict[tuple[int, bool], SideCluster] = field(default_factory=dict)
    """Side clusters that already run, by (brokers, secure): `side_cluster` lends one of these
    instead of starting its own (the test suite shares one per shape)."""
    breaking: Armed | None = None
    """Set on a `--break` run: the grader's `grade_break` (or `grade`) runs a file the learner
    broke on purpose."""
    _conn: Connection | None = field(default=None, repr=False)

    @property
    def conn(self) -> Connection:
        """The learner's cluster as the demo connects to it (resolved once it runs)."""
        if self._conn is None:
            self._conn = connect.resolve(self.settings)
        return self._conn

    # --- narration -------------------------------------------------------------------------
    def say(self, text: str) -> None:
        """One narrated step: what the demo is about to do and why."""
        if not self.quiet:
            ui.narrate(text)

    def show(self, title: str, pairs: Sequence[tuple[str, Any]]) -> None:
        if not self.quiet:
            ui.kv(title, pairs)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not self.quiet:
            ui.table(title, columns, rows)

    # --- what the lesson needs running -----------------------------------------------------
    def start_cluster(self) -> None:
        """The broker and schema registry (no-op when already up, or when kafkalab is pointed
        at a cluster it did not start)."""
        if not self.settings.external:
            lifecycle.up(self.settings, notify=ui.step)
        self._conn = connect.resolve(self.settings)

    def start_platform(self) -> None:
        """The cluster plus the six services, each healthy."""
        from kafkalab.platform import control

        self._conn = control.up(self.settings, notify=ui.step).conn

    @contextmanager
    def side_cluster(self, brokers: int = 1, secure: bool = False) -> Iterator[SideCluster]:
        """A cluster of another shape for this lesson alone (more brokers, or `secure`: SASL_SSL,
        SCRAM users and ACLs): its own data dir and free ports, so the learner's cluster is
        untouched; stopped and deleted (keys and all) when the block ends. One of that shape
        in `shared` is lent instead, and left running."""
        lent = self.shared.get((brokers, secure))
        if lent is not None:
            yield lent
            return
        folder = f"lesson{self.lesson.number:02d}-cluster"
        with side.side_cluster(
            self.settings, folder, brokers=brokers, secure=secure, notify=ui.step
        ) as made:
            yield made

    def on(self, side: SideCluster) -> Lab:
        """This lab on `side`: same run id and lesson, the side cluster's settings, topics and
        clients (an exercise graded on a secure or three-broker cluster)."""
        return replace(self, settings=side.settings, _conn=side.conn)

    # --- names and clients -----------------------------------------------------------------
    def topic_name(self, name: str) -> str:
        return f"{topic_prefix(self.lesson)}{name}.{self.run_id}"

    def group(self, name: str) -> str:
        return f"{group_prefix(self.lesson)}{name}-{self.run_id}"

    def topic(
        self,
        name: str,
        partitions: int = 1,
        config: dict[str, str] | None = None,
        replication: int = -1,
        on: SideCluster | None = None,
    ) -> str:
        """Create a fresh topic for this run and return its full name (`on` another cluster,
        e.g. a side_cluster; replication -1 = the broker's default.replication.factor)."""
        full = self.topic_name(name)
        admin = clients.admin(
            on.conn if on else self.conn
        )  # kept: a collected client cancels its futures
        new_topic = NewTopic(
            full, num_partitions=partitions, replication_factor=replication, config=config or {}
        )
        futures = admin.create_topics(
            [new_topic],
            operation_timeout=30,
        )
        try:
            futures[full].result(timeout=30)
        except Exception as exc:  # confluent_kafka.KafkaException; the message says why
            raise LessonSetupFailed(f"could not create topic {full}: {exc}") from exc
        _wait_for_metadata(admin, full)
        return full

    def admin(self, **overrides: Any) -> AdminClient:
        return clients.admin(self.conn, **overrides)

    def producer(self, **overrides: Any) -> Producer:
        return clients.producer(self.conn, **overrides)

    def consumer(self, group: str, **overrides: Any) -> Consumer:
        return clients.consumer(self.conn, group, **overrides)


def _wait_for_metadata(admin: AdminClient, topic: str, timeout: float = 15.0) -> None:
    """A new topic's leaders take a moment; producing before they exist would just retry."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meta = admin.list_topics(topic, timeout=5).topics.get(topic)
        ready = meta is not None and meta.error is None and bool(meta.partitions)
        if ready and all(p.leader >= 0 for p in meta.partitions.values()):
            return
        time.sleep(0.1)
    raise LessonSetupFailed(f"topic {topic} has no leader after {timeout:.0f} s")


def remove_leftovers(conn: Connection, lesson: Lesson, timeout: float = 30.0) -> list[str]:
    """Delete the lesson's topics and consumer groups; returns what was removed."""
    admin = clients.admin(conn)
    # quixstreams names its internal topics after the consumer group: changelog__<group>--…
    internal = tuple(f"{kind}__{group_prefix(lesson)}" for kind in ("changelog", "repartition"))
    topics = [
        name
        for name in admin.list_topics(timeout=10).topics
        if name.startswith(topic_prefix(lesson)) or name.startswith(internal)
    ]
    removed: list[str] = []
    if topics:
        for name, future in admin.delete_topics(topics, operation_timeout=timeout).items():
            future.result(timeout=timeout)
            removed.append(name)
    removed += _remove_subjects(conn, topic_prefix(lesson))
    groups = [
        g.group_id
        for g in admin.list_consumer_groups(request_timeout=10).result(timeout=15).valid
        if g.group_id.startswith(group_prefix(lesson))
    ]
    if groups:
        for name, future in admin.delete_consumer_groups(groups, request_timeout=timeout).items():
            try:
                future.result(timeout=timeout)
                removed.append(name)
            except Exception:  # a group still in use (a crashed demo's member) stays
                continue
    return removed


def _remove_subjects(conn: Connection, prefix: str) -> list[str]:
    """Schema subjects of the lesson's topics (topic-record naming puts the topic first)."""
    registry = clients.schema_registry(conn)
    removed = []
    for subject in registry.get_subjects():
        if subject.startswith(prefix):
            registry.delete_subject(subject)
            registry.delete_subject(subject, permanent=True)
            removed.append(subject)
    return removed
