"""Lesson 21: a share group (KIP-932) — two consumers take records from ONE partition, each
record once; a released record comes back with its delivery count raised, and is rejected.

No Python client we pin speaks the share-group protocol (confluent-kafka < 2.13, kafka-python
3.0), so the consumers are Kafka's own `kafka-console-share-consumer`, run from the cached jars
as `kafkalab kafka console-share-consumer`; the group is read back with `kafka-share-groups` and
from the share coordinator's own log.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time

from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from kafkalab.cluster import tools
from kafkalab.curriculum import readback
from kafkalab.curriculum.lab import Lab

from .check import Got, Seen

SENT = 8
PRINTED = re.compile(r"^Offset:(\d+)\s+Delivery:(\d+)\s+(.*)$")
# Each consumer holds one record at a time, so two of them really share the partition: by
# default a share consumer acquires whole batches, and one of them could take all eight.
ONE_AT_A_TIME = [
    *("--command-property", "share.acquire.mode=record_limit"),
    *("--command-property", "max.poll.records=1"),
]
SHOW = [
    *("--formatter-property", "print.offset=true"),
    *("--formatter-property", "print.delivery=true"),
]


def configure_group(lab: Lab, group: str, settings: dict[str, str]) -> None:
    """A share group's settings live on the group, in the broker (kafka-configs
    --entity-type groups does the same): here, where a new group starts reading."""
    resource = ConfigResource(
        ResourceType.GROUP,
        group,
        incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in settings.items()
        ],
    )
    admin = lab.admin()  # kept in a variable: its futures die with it
    admin.incremental_alter_configs([resource])[resource].result(timeout=30)


def kafka(lab: Lab, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`kafkalab kafka TOOL ARGS`: Kafka's own tool from the cached jars, its output captured."""
    return tools.run_tool(lab.settings, lab.conn, tool, list(args), capture=True)


def printed(stdout: str) -> list[Got]:
    """The records a console share consumer printed with print.offset and print.delivery on."""
    found = (PRINTED.match(line) for line in stdout.splitlines())
    return [Got(int(m[1]), int(m[2]), m[3]) for m in found if m]


def describe(lab: Lab, group: str, *extra: str) -> list[list[str]]:
    """The rows of `kafka-share-groups --describe --group G [extra]` that name the group."""
    done = kafka(lab, "share-groups", "--describe", "--group", group, *extra)
    return [line.split() for line in done.stdout.splitlines() if line.split()[:1] == [group]]


def offsets(lab: Lab, group: str, partition: int = 0) -> tuple[str, str]:
    """(START-OFFSET, LAG) of the group's partition in `kafka-share-groups --describe`
    (GROUP TOPIC PARTITION START-OFFSET LAG); ("", "") when it is not listed."""
    rows = [r for r in describe(lab, group) if len(r) >= 5 and r[2] == str(partition)]
    return (rows[0][3], rows[0][4]) if rows else ("", "")


def _collect(process: subprocess.Popen[str], into: list[str]) -> None:
    """Every line a running tool prints, as it prints it."""
    assert process.stdout is not None
    for line in process.stdout:
        into.append(line.rstrip("\n"))


def demo(lab: Lab) -> Seen:
    topic = lab.topic("orders")  # ONE partition
    group = lab.group("pickers")
    # A new share group starts at the partition's end (share.auto.offset.reset=latest): a
    # record written before its first fetch would never be delivered. Start at the earliest.
    configure_group(lab, group, {"share.auto.offset.reset": "earliest"})
    lab.say(
        f"Two console share consumers join share group {group} on {topic}, a topic of ONE "
        "partition; each holds one record at a time."
    )
    base = ["--topic", topic, "--group", group, *SHOW]
    names = ("consumer A", "consumer B")
    lines: dict[str, list[str]] = {name: [] for name in names}
    members: dict[str, list[str]] = {}
    with contextlib.ExitStack() as running:
        for name in names:
            process = running.enter_context(
                tools.open_tool(
                    lab.settings, lab.conn, "console-share-consumer", [*base, *ONE_AT_A_TIME]
                )
            )
            threading.Thread(target=_collect, args=(process, lines[name]), daemon=True).start()
        # Each console is a JVM: on a busy machine joining takes a while (the loop ends as
        # soon as both are members).
        deadline = time.monotonic() + 90
        while len(members) < 2 and time.monotonic() < deadline:
            # GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS ASSIGNMENT
            rows = describe(lab, group, "--members")
            members = {r[1]: r[5].split(",") for r in rows if len(r) >= 6 and r[4] != "0"}
        # Written once both are members and fetching: the broker hands them out one by one.
        producer = lab.producer(**{"linger.ms": 50})
        for n in range(1, SENT + 1):
            producer.produce(topic, value=f"order-{n}".encode())
        producer.flush(30)
        deadline = time.monotonic() + 60
        while sum(len(printed("\n".join(x))) for x in lines.values()) < SENT:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    # leaving the block stopped both as Ctrl-C would: each closed, committing its acknowledgements
    consumers = {name: printed("\n".join(lines[name])) for name in names}
    lab.table(
        f"who got what of the {SENT} orders (one partition)",
        ["consumer", "offsets", "values"],
        [
            [name, ", ".join(str(g.offset) for g in got), ", ".join(g.value for g in got)]
            for name, got in consumers.items()
        ],
    )
    lab.table(
        "kafka-share-groups --describe --members (while both ran)",
        ["member", "assigned"],
        [[m, ", ".join(a)] for m, a in members.items()],
    )

    # Redelivery: one more record. A consumer that --release's it gives it back at once (a
    # RELEASE acknowledgement); the next consumer gets it again with its delivery count at 2,
    # and --reject's it (REJECT: archived, never delivered again).
    lab.say(
        "One more record: a consumer run with --release hands it back, the next one (--reject) "
        "gets it again."
    )
    producer.produce(topic, value=b"order-retry")
    producer.flush(30)
    one = ["--max-messages", "1", "--timeout-ms", "15000"]
    released = printed(kafka(lab, "console-share-consumer", *base, *one, "--release").stdout)
    rejected = printed(kafka(lab, "console-share-consumer", *base, *one, "--reject").stdout)
    lab.table(
        "the same record, twice",
        ["consumer", "offset", "delivery count", "acknowledged as"],
        [
            [f"--{how}", g.offset, g.delivery, how.upper()]
            for how, got in (("release", released), ("reject", rejected))
            for g in got
        ],
    )

    state = readback.share_state(lab.conn, group, topic)
    start, lagging = offsets(lab, group)
    lab.table(
        "what the share coordinator wrote (__share_group_state)",
        ["offset", "states, oldest first"],
        [
            [o, " → ".join(f"{d.state} (delivery {d.deliveries})" for d in h)]
            for o, h in sorted(state.records.items())
        ],
    )
    lab.table(
        "kafka-share-groups --describe",
        ["START-OFFSET (SPSO)", "LAG (not yet done)"],
        [[start or "-", lagging or "-"]],
    )
    return Seen(
        partitions=readback.partition_count(lab.conn, topic),
        sent=SENT,
        consumers=consumers,
        members=members,
        retry_offset=SENT,
        released=released,
        rejected=rejected,
        history={o: [(d.state, d.deliveries) for d in h] for o, h in state.records.items()},
        lag=lagging,
    )
