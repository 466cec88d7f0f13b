"""The Topics page: every topic with its partitions, leaders and ISR, offsets, size and the
config a learner asks about (cleanup.policy, retention); one topic's message browser.

Read with the AdminClient (metadata, configs, earliest/latest offsets in one request each);
messages through observe.tail — the reader `kafkalab tail` uses, decoding through the registry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from confluent_kafka import TopicPartition
from confluent_kafka.admin import ConfigResource, OffsetSpec

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.console.html import clock, esc, table
from kafkalab.errors import InvalidChoice
from kafkalab.observe.tail import TailRecord, UnknownTopic
from kafkalab.settings import Settings

SHOWN_CONFIG = ("cleanup.policy", "retention.ms", "retention.bytes", "min.insync.replicas")


@dataclass
class PartitionRow:
    partition: int
    leader: int
    replicas: list[int]
    isr: list[int]
    low: int
    high: int

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)


@dataclass
class TopicRow:
    name: str
    partitions: list[PartitionRow]
    config: dict[str, str] = field(default_factory=dict)  # non-default entries + SHOWN_CONFIG
    size_bytes: int | None = None  # on the local brokers' disks, all replicas; None: unknown

    @property
    def messages(self) -> int:
        """Records held now (end − start offset, summed; transaction markers count too)."""
        return sum(p.high - p.low for p in self.partitions)

    @property
    def replication(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)


def read_topics(settings: Settings, conn: Connection, only: str | None = None) -> list[TopicRow]:
    """Every topic (internal `__` ones left out), or just `only`, with offsets and config."""
    admin = clients.admin(conn)
    metadata = admin.list_topics(timeout=10)
    names = sorted(n for n in metadata.topics if not n.startswith("__"))
    if only is not None:
        if only not in metadata.topics:
            raise UnknownTopic(f"unknown topic {only!r}", "the Topics page lists them all")
        names = [only]
    if not names:
        return []
    requests = {
        TopicPartition(n, p): spec
        for n in names
        for p in metadata.topics[n].partitions
        for spec in [OffsetSpec.latest()]
    }
    high = _offsets(admin, requests)
    low = _offsets(admin, {tp: OffsetSpec.earliest() for tp in requests})
    configs = _configs(admin, names)
    rows = []
    for n in names:
        parts = [
            PartitionRow(
                p.id,
                p.leader,
                list(p.replicas),
                list(p.isrs),
                low.get((n, p.id), 0),
                high.get((n, p.id), 0),
            )
            for p in sorted(metadata.topics[n].partitions.values(), key=lambda p: p.id)
        ]
        rows.append(TopicRow(n, parts, configs.get(n, {}), _disk_size(settings, n)))
    return rows


def _offsets(
    admin: object, request: dict[TopicPartition, OffsetSpec]
) -> dict[tuple[str, int], int]:
    found: dict[tuple[str, int], int] = {}
    if not request:
        return found
    for tp, future in admin.list_offsets(request, request_timeout=10).items():  # type: ignore[attr-defined]
        try:
            found[(tp.topic, tp.partition)] = future.result(timeout=10).offset
        except Exception:  # noqa: BLE001 - a partition without a leader right now: no offset
            continue
    return found


def _configs(admin: object, names: list[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
    found: dict[str, dict[str, str]] = {}
    for resource, future in admin.describe_configs(resources, request_timeout=10).items():  # type: ignore[attr-defined]
        try:
            entries = future.result(timeout=10)
        except Exception:  # noqa: BLE001
            continue
        found[resource.name] = {
            name: str(e.value)
            for name, e in sorted(entries.items())
            if name in SHOWN_CONFIG or not e.is_default
        }
    return found


def _disk_size(settings: Settings, topic: str) -> int | None:
    """Bytes of the topic's log segments (.log files) under the local brokers' log dirs, every
    replica counted (None when the cluster is not ours to look into). The index files are
    left out: Kafka preallocates them (10 MiB each), which says nothing about the data."""
    if settings.external:
        return None
    total, seen = 0, False
    for folder in settings.data_dir.glob(f"broker-*/data/{topic}-*"):
        if folder.name.rsplit("-", 1)[0] != topic:
            continue
        seen = True
        total += sum(f.stat().st_size for f in folder.glob("*.log"))
    return total if seen else None


def size_text(size: int | None) -> str:
    if size is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size = size / 1024  # type: ignore[assignment]
    return str(size)


def retention_text(config: dict[str, str]) -> str:
    ms = int(config.get("retention.ms", "0") or 0)
    if ms < 0:
        return "forever"
    if ms % 86_400_000 == 0 and ms:
        return f"{ms // 86_400_000} d"
    if ms % 3_600_000 == 0 and ms:
        return f"{ms // 3_600_000} h"
    return f"{ms / 1000:g} s"


def render_list(rows: list[TopicRow]) -> str:
    body = table(
        (
            "topic",
            "partitions",
            "replication",
            "messages",
            "log size",
            "cleanup",
            "retention",
            "all in sync",
        ),
        [
            (
                f'<a href="/topics/{esc(r.name)}">{esc(r.name)}</a>',
                len(r.partitions),
                r.replication,
                f"{r.messages:,}",
                size_text(r.size_bytes),
                esc(r.config.get("cleanup.policy", "")),
                retention_text(r.config),
                "✔"
                if not any(p.under_replicated for p in r.partitions)
                else "<b class=bad>under-replicated</b>",
            )
            for r in rows
        ],
        raw=True,
    )
    return f"<p class=muted>{len(rows)} topics (internal __ topics hidden)</p>{body}"


@dataclass(frozen=True)
class BrowseQuery:
    """What the message browser was asked: which partition, from where, which key, how many."""

    partition: int | None = None
    offset: int | None = None
    since: str | None = None  # an ISO time, e.g. 2026-12-07T05:10 (the page's datetime field)
    key: str | None = None
    limit: int = 20

    def since_ms(self) -> int | None:
        if not self.since:
            return None
        try:
            return int(datetime.fromisoformat(self.since).timestamp() * 1000)
        except ValueError:
            raise InvalidChoice(
                f"cannot read {self.since!r} as a time", "use the form 2026-12-07T05:10:00"
            ) from None

    def query_string(self) -> str:
        return urlencode({k: v for k, v in vars(self).items() if v not in (None, "")})


def render_topic(row: TopicRow, query: BrowseQuery, records: list[TailRecord]) -> str:
    parts = table(
        ("partition", "leader", "replicas", "ISR", "start offset", "end offset", "messages"),
        [
            (
                p.partition,
                p.leader,
                ", ".join(map(str, p.replicas)),
                ", ".join(map(str, p.isr)) + (" (under-replicated)" if p.under_replicated else ""),
                f"{p.low:,}",
                f"{p.high:,}",
                f"{p.high - p.low:,}",
            )
            for p in row.partitions
        ],
    )
    config = table(("config", "value"), sorted(row.config.items()))
    options = "".join(
        f"<option value={p.partition}{' selected' if query.partition == p.partition else ''}>"
        f"{p.partition}</option>"
        for p in row.partitions
    )
    form = (
        f'<form class=browse method=get action="/topics/{esc(row.name)}">'
        f'<label>partition <select name=partition><option value="">all</option>{options}</select></label>'
        f'<label>from offset <input name=offset type=number min=0 value="{esc(query.offset if query.offset is not None else "")}"></label>'
        f'<label>or from time <input name=since type=datetime-local step=1 value="{esc(query.since or "")}"></label>'
        f'<label>key contains <input name=key value="{esc(query.key or "")}"></label>'
        f"<label>how many <input name=limit type=number min=1 max=500 value={query.limit}></label>"
        "<button>browse</button>"
        f'<button type=button id=tail-button data-tail="/topics/{esc(row.name)}/tail">live tail</button>'
        "</form>"
    )
    where = (
        f"from offset {query.offset}"
        if query.offset is not None
        else f"from {query.since}"
        if query.since
        else "the latest"
    )
    return (
        f"<section class=cols><div><h2>partitions</h2>{parts}</div>"
        f"<div><h2>config</h2>{config}<p class=muted>log segments on the brokers' disks: "
        f"{size_text(row.size_bytes)} (all replicas)</p></div></section>"
        f"<h2>messages</h2>{form}"
        f"<p class=muted>{len(records)} record(s), {esc(where)}"
        f"{', key contains ' + esc(query.key) if query.key else ''} — decoded through the schema registry</p>"
        f"<div id=tail-rows class=records>{''.join(record_html(r) for r in reversed(records))}</div>"
    )


def record_html(r: TailRecord) -> str:
    """One record as a card: where it is, when, its key, type, headers and decoded value."""
    headers = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in sorted(r.headers.items())
    )
    value = json.dumps(r.value, indent=2, default=str) if r.value is not None else r.summary
    return (
        f'<article class=record data-type="{esc(r.type)}">'
        f"<header><b class=type>{esc(r.type)}</b> <span>{esc(r.topic)}[{r.partition}]@{r.offset}</span> "
        f"<span class=muted>{clock(r.timestamp_ms, date=True)}</span> key <code>{esc(r.key)}</code></header>"
        f'<div class=cols><table class="headers"><caption>headers</caption>{headers or "<tr><td class=muted>none</td></tr>"}</table>'
        f"<pre>{esc(value)}</pre></div></article>"
    )
