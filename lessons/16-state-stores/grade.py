"""Lesson 16's grader: runs the learner's app on the first half of the sales, deletes its state
dir, runs it again on the second half, then reads `totals` and the store's changelog topic back
from the broker: every total must carry on across the restart, which only a store rebuilt from
its changelog can do."""

from __future__ import annotations

import json
import random
import secrets
import shutil
from pathlib import Path
from typing import Any

from kafkalab.curriculum import quix
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import Record, partition_count, read_all
from kafkalab.verdict import Check

PARTITIONS = 2
STORES = 3
HALF = 9  # sales per run (lessons.toml's questions say so too)

CARRIED = "where it stood before: the store is rebuilt from the changelog"
ZERO = "at 0: the state went with the deleted folder"
TWICE = "at the total of every sale read again from the start"


def _sale(stores: list[str], seq: int) -> dict[str, Any]:
    return {"store": random.choice(stores), "seq": seq, "amount": random.randint(1, 99)}


def prepare(lab: Lab) -> Task:
    source = lab.topic("sales", partitions=PARTITIONS)
    output = lab.topic("totals", partitions=PARTITIONS)
    stores = [f"shop-{secrets.token_hex(3)}" for _ in range(STORES)]  # new each run
    sales = [_sale(stores, n) for n in range(2 * HALF)]
    for n, store in enumerate(stores):  # every store sells on both sides of the restart
        sales[n]["store"] = store
        sales[HALF + n]["store"] = store
    state_dir = quix.state_dir(lab)
    shutil.rmtree(state_dir, ignore_errors=True)
    _produce(lab, source, sales[:HALF])
    group = lab.group("totals")
    return Task(
        topics={"sales": source, "totals": output},
        groups={"totals": group},
        params={"state_dir": str(state_dir), "sales": HALF},
        private={"sales": sales, "stores": stores},
    )


def _produce(lab: Lab, topic: str, sales: list[dict[str, Any]]) -> None:
    producer = lab.producer()
    for sale in sales:  # keyed by store: a store's sales, and so its state, on one partition
        producer.produce(topic, key=sale["store"].encode(), value=json.dumps(sale).encode())
    producer.flush(30)


def _expected(sales: list[dict[str, Any]]) -> dict[int, int]:
    """Each sale's running total of its store (by seq)."""
    totals: dict[str, int] = {}
    out = {}
    for sale in sales:
        totals[sale["store"]] = totals.get(sale["store"], 0) + sale["amount"]
        out[sale["seq"]] = totals[sale["store"]]
    return out


def _outputs(records: list[Record]) -> dict[int, list[int]]:
    """Per sale (seq), the totals written for it."""
    out: dict[int, list[int]] = {}
    for record in records:
        try:
            value = json.loads(record.value or b"")
            out.setdefault(int(value["seq"]), []).append(int(value["total"]))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def _first_run(got: dict[int, list[int]], sales: list[dict[str, Any]], topic: str) -> Check:
    name = "the first run wrote each sale's running total, once"
    want = _expected(sales)
    for sale in sales[:HALF]:
        seen = got.get(sale["seq"], [])
        if not seen:
            return Check(
                name,
                False,
                f"sale {sale['seq']} of {sale['store']} has no total on {topic}",
                fix="keep sdf.to_topic(...) and let app.run() read every sale",
            )
        if len(seen) > 1:
            return Check(name, False, f"sale {sale['seq']} has {len(seen)} totals on {topic}")
        if seen[0] != want[sale["seq"]]:
            return Check(
                name,
                False,
                f"sale {sale['seq']} of {sale['store']}: total {seen[0]}, but its store's sales "
                f"so far add up to {want[sale['seq']]}",
                fix="add the sale's amount to the store's total so far, and save the new total",
            )
    return Check(name, True, f"all {HALF} sales of the first run, each with its store's total")


def _carried(got: dict[int, list[int]], task: Task, had_store: bool, changelog: bool) -> Check:
    name = "the totals carry on after the state dir was deleted"
    sales = task.private["sales"]
    want = _expected(sales)
    for sale in sales[HALF:]:
        seen = got.get(sale["seq"], [])
        if len(seen) == 1 and seen[0] == want[sale["seq"]]:
            continue
        store = sale["store"]
        before = sum(s["amount"] for s in sales[:HALF] if s["store"] == store)
        if not seen:
            return Check(
                name,
                False,
                f"sale {sale['seq']} of {store}, sent for the second run, has no total",
                fix="let app.run() read every sale: it stops after lab.params['sales'] outputs",
            )
        said = f"sale {sale['seq']} of {store}: total {seen[-1]}, but {store} stood at {before} "
        said += f"before the restart and its sales since add up to {want[sale['seq']] - before}"
        if not had_store:
            return Check(
                name,
                False,
                said + ": your app kept no state store (no RocksDB files in its state dir), so "
                "the totals lived in the process's memory and died with it",
                fix="keep the total in quixstreams' State: running_total(sale, state) with "
                "state.get()/state.set(), applied with sdf.apply(running_total, stateful=True)",
            )
        if not changelog:
            return Check(
                name,
                False,
                said + ": the store was local only — no changelog topic on the broker to "
                "rebuild it from once its folder was gone",
                fix="leave the Application's use_changelog_topics at its default, True",
            )
        return Check(
            name,
            False,
            said,
            fix="keep the whole total in State (state.get() then state.set()), nothing in "
            "module variables",
        )
    return Check(name, True, f"all {HALF} sales after the restart continue their store's total")


def _changelog_holds(records: list[Record], task: Task, name_: str) -> Check:
    name = "the changelog topic holds every store's total"
    want = _expected(task.private["sales"])
    finals = {s["store"]: want[s["seq"]] for s in task.private["sales"]}
    latest: dict[tuple[str, bytes], bytes | None] = {}
    for record in records:  # a later record of a key replaces an earlier one: a restore's rule
        prefix, _, field = (record.key or b"").rpartition(b"|")
        latest[(prefix.decode(errors="replace"), field)] = record.value
    values: dict[str, list[Any]] = {}
    for (prefix, _), value in latest.items():
        try:
            values.setdefault(prefix, []).append(json.loads(value or b"null"))
        except ValueError:
            continue
    for store, total in finals.items():
        if not any(store in prefix and total in v for prefix, v in values.items()):
            return Check(
                name,
                False,
                f"no entry of {store} on {name_} holds its total {total}",
                fix="save the new total with state.set() each time",
            )
    return Check(name, True, f"{len(records)} change(s) on {name_}, every store's total among them")


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    source, group = task.topics["sales"], task.groups["totals"]
    state_dir = Path(task.params["state_dir"])
    program.run()
    # RocksDB keeps a CURRENT file in every store it opens: the app had a state store.
    had_store = any(state_dir.rglob("CURRENT"))
    shutil.rmtree(state_dir, ignore_errors=True)  # as a lost disk would
    _produce(lab, source, task.private["sales"][HALF:])
    program.run()
    changelog = f"changelog__{group}--{source}--default"
    topics = lab.admin().list_topics(timeout=10).topics
    exists = changelog in topics
    got = _outputs(read_all(lab.conn, task.topics["totals"]))
    sales = task.private["sales"]
    checks = [_first_run(got, sales, task.topics["totals"]), _carried(got, task, had_store, exists)]
    # the break's question (`kafkalab lesson 16 --break`: use_changelog_topics=False)
    truths: dict[str, Any] = {
        "changelogs": sum(1 for t in topics if t.startswith(f"changelog__{group}"))
    }
    if exists:
        checks.append(_changelog_holds(read_all(lab.conn, changelog), task, changelog))
        truths["partitions"] = partition_count(lab.conn, changelog)
    # Where the first store's total stood at its first sale after the restart.
    first = sales[HALF]
    seen = got.get(first["seq"])
    if seen:
        before = sum(s["amount"] for s in sales[:HALF] if s["store"] == first["store"])
        after = seen[-1] - first["amount"]
        truths["restart"] = CARRIED if after == before else ZERO if after == 0 else TWICE
    shutil.rmtree(state_dir, ignore_errors=True)  # the stores of a graded run are not needed
    return Graded(checks, truths)
