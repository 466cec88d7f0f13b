"""Lesson 15's grader: seeds clicks with chosen event times (record timestamps) — in order, then
one a few seconds after its window's end, one more than 20 s after, and a last one far ahead
that closes every window — runs the learner's quixstreams app, then reads `clicks-per-10s` back
from the broker and compares every window with the counts it computed itself."""

from __future__ import annotations

import json
import random
import secrets
import time
from typing import Any

from kafkalab.curriculum import quix
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab
from kafkalab.curriculum.readback import read_all
from kafkalab.verdict import Check

WINDOW_MS = 10_000
IN_ORDER = (3, 4, 2, 3, 2)  # clicks in order in the windows [0, 10), [10, 20), … [40, 50) s
LATE_WINDOW = 3  # [30, 40) s: one more click, arriving 1–4 s after its end (stream time)
STALE_WINDOW = 1  # [10, 20) s: one more click, arriving 21–24 s after its end
CLOSING_S = 150  # the last click: stream time passes every earlier window's end + grace
NO = "no: no later click closes it"


def _label(start: int, base: int) -> str:
    return f"[{(start - base) // 1000} s, {(start - base + WINDOW_MS) // 1000} s)"


def prepare(lab: Lab) -> Task:
    clicks = lab.topic("clicks")  # one partition: the app reads the clicks in the order sent
    # Event times start on a minute boundary half an hour ago: a 10 s window starts every 10 s
    # since the epoch, so window n is [base + 10 n s, base + 10 (n + 1) s).
    base = (int(time.time() * 1000) - 30 * 60_000) // 60_000 * 60_000
    late_by = random.randrange(1_000, 4_001)  # how far stream time is past the late window's end
    stream_time = base + (LATE_WINDOW + 1) * WINDOW_MS + late_by
    times: list[int] = []
    for window, count in enumerate(IN_ORDER):
        start = base + window * WINDOW_MS
        end = min(start + WINDOW_MS, stream_time)
        times += sorted(random.sample(range(start, end), count - 1)) + [end - 1]
    times[-1] = stream_time  # the highest timestamp before the late click arrives
    late = base + LATE_WINDOW * WINDOW_MS + random.randrange(WINDOW_MS)
    stale = base + STALE_WINDOW * WINDOW_MS + random.randrange(WINDOW_MS)
    closing = base + CLOSING_S * 1000
    shop = f"shop-{secrets.token_hex(3)}"  # a new key every run
    producer = lab.producer()
    for ts in [*times, late, stale, closing]:  # the record timestamp IS the event time
        value = json.dumps({"page": f"/p/{secrets.token_hex(2)}"}).encode()
        producer.produce(clicks, key=shop, value=value, timestamp=ts)
    producer.flush(30)
    expected: dict[int, int] = {}
    for ts in [*times, late]:
        start = ts // WINDOW_MS * WINDOW_MS
        expected[start] = expected.get(start, 0) + 1
    return Task(
        topics={"clicks": clicks, "clicks-per-10s": lab.topic("clicks-per-10s")},
        groups={"clicks": lab.group("clicks")},
        params={"state_dir": str(quix.state_dir(lab))},
        private={
            "base": base,
            "shop": shop,
            "expected": {str(k): v for k, v in expected.items()},
            "late": late,
            "late_by": late_by,
            "stale": stale,
            "stale_by": stream_time - (stale // WINDOW_MS + 1) * WINDOW_MS,
            "closing": closing,
        },
    )


def _windows(values: list[Any]) -> list[tuple[int, int, Any]]:
    """(start, end, count) of each window result; the count is the one field beside start/end."""
    found = []
    for value in values:
        if not isinstance(value, dict) or not {"start", "end"} <= set(value):
            continue
        rest = [v for k, v in value.items() if k not in ("start", "end")]
        found.append((value["start"], value["end"], rest[0] if len(rest) == 1 else rest))
    return found


def _size(found: list[tuple[int, int, Any]], base: int) -> Check:
    name = "the windows are 10 s tumbling windows"
    if not found:
        return Check(
            name,
            False,
            "clicks-per-10s holds no window result: no window closed while your app ran",
            fix=".final() emits a window once stream time passes its end + GRACE_MS; the last "
            "click is 100 s after the others, so a grace of 20 s at most closes them all",
        )
    for start, end, _ in found:
        if end - start != WINDOW_MS or start % WINDOW_MS:
            return Check(
                name,
                False,
                f"a window result on clicks-per-10s runs from {(start - base) / 1000:g} s to "
                f"{(end - base) / 1000:g} s ({end - start} ms wide)",
                fix="durations are in milliseconds: tumbling_window(duration_ms=10_000) for 10 s",
            )
    return Check(name, True, f"{len(found)} results, each [n × 10 s, (n + 1) × 10 s)")


def _late(found: list[tuple[int, int, Any]], task: Task) -> Check:
    private = task.private
    base, late = private["base"], private["late"]
    start = late // WINDOW_MS * WINDOW_MS
    name = "the late click counts in its window"
    want = private["expected"][str(start)]
    got = [c for s, _, c in found if s == start]
    late_s = f"{private['late_by'] / 1000:g} s"
    if not got:
        return Check(
            name, False, f"clicks-per-10s holds no result for window {_label(start, base)}"
        )
    if got[-1] == want - 1:
        return Check(
            name,
            False,
            f"window {_label(start, base)} counts {got[-1]} clicks, but {want} belong to it: "
            f"the one that came in {late_s} after the window's end (in stream time) was dropped as late",
            fix="raise GRACE_MS: the window must still be open 5 s after its end, so a grace "
            "above 5_000 ms",
        )
    if got[-1] != want:
        return Check(
            name, False, f"window {_label(start, base)} counts {got[-1]} clicks, expected {want}"
        )
    return Check(name, True, f"window {_label(start, base)}: {want}, the late click included")


def _stale(found: list[tuple[int, int, Any]], task: Task) -> Check:
    private = task.private
    base, stale = private["base"], private["stale"]
    start = stale // WINDOW_MS * WINDOW_MS
    name = "the stale click counts nowhere"
    want = private["expected"][str(start)]
    got = [c for s, _, c in found if s == start]
    if got and got[-1] == want + 1:
        return Check(
            name,
            False,
            f"window {_label(start, base)} counts {got[-1]} clicks, but only {want} arrived in "
            f"time: the one {private['stale_by'] / 1000:g} s after the window's end counted too",
            fix="lower GRACE_MS: a click more than 20 s after its window's end must be "
            "dropped, so a grace of 20_000 ms at most",
        )
    return Check(name, True, f"window {_label(start, base)}: {want}, the stale click dropped")


def _all(found: list[tuple[int, int, Any]], task: Task) -> Check:
    name = "every window is counted right, once"
    base = task.private["base"]
    expected = {int(k): v for k, v in task.private["expected"].items()}
    judged = {task.private[k] // WINDOW_MS * WINDOW_MS for k in ("late", "stale")}
    starts = [s for s, _, _ in found]
    for start, want in sorted(expected.items()):
        if starts.count(start) != 1:
            return Check(
                name,
                False,
                f"window {_label(start, base)} has {starts.count(start)} results on clicks-per-10s",
                fix="one result per window: .final() after the aggregation",
            )
        got = next(c for s, _, c in found if s == start)
        if got != want and start not in judged:  # those two have checks of their own
            return Check(
                name, False, f"window {_label(start, base)} counts {got!r} clicks, expected {want}"
            )
    extra = sorted(set(starts) - set(expected))
    if extra:
        return Check(
            name,
            False,
            f"window {_label(extra[0], base)} is on clicks-per-10s, but no click of it was "
            "sent in time",
        )
    return Check(
        name, True, f"{len(expected)} windows, counts {[v for _, v in sorted(expected.items())]}"
    )


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    program.run()
    values: list[Any] = []
    for record in read_all(lab.conn, task.topics["clicks-per-10s"]):
        try:
            values.append(json.loads(record.value or b""))
        except ValueError:
            values.append(None)
    found = _windows(values)
    checks = [_size(found, task.private["base"])]
    if checks[0].ok:
        checks += [_late(found, task), _stale(found, task), _all(found, task)]

    truths: dict[str, Any] = {}
    late_start = task.private["late"] // WINDOW_MS * WINDOW_MS
    late_counts = [c for s, _, c in found if s == late_start]
    if late_counts:
        truths["late_window"] = late_counts[-1]
    closing = task.private["closing"]
    truths["last_window"] = "yes" if any(s <= closing < e for s, e, _ in found) else NO
    return Graded(checks, truths)
