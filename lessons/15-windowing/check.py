"""Lesson 15's check: the app's windows equal windows computed here, independently.

`expected_windows()` is a plain re-statement of event-time windowing with grace, applied to the
events in the order they were sent (one partition, so that is the order the app read them):
stream time is the highest timestamp seen so far; a record counts in a window only while the
window's end is later than stream time minus grace; a window is final once its end is at or
before the final stream time minus grace.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafkalab.verdict import Check, expect


@dataclass(frozen=True)
class Event:
    ts: int  # event time, ms (the Kafka record timestamp)
    cents: int


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    orders: int
    revenue_cents: int


@dataclass(frozen=True)
class Late:
    """A record the app refused for one window (quixstreams' on_late callback)."""

    ts: int
    start: int
    end: int


@dataclass
class Seen:
    size_ms: int
    step_ms: int
    grace_ms: int
    sent: list[Event]
    tumbling: list[Window]
    hopping: list[Window]
    late: list[Late]  # as reported by the app, for both window kinds


def ranges(ts: int, size: int, step: int) -> list[tuple[int, int]]:
    """Every window [start, end) of length `size`, starting on a multiple of `step`, holding ts."""
    first = ts - ts % step
    return [(s, s + size) for s in range(first, ts - size, -step) if s >= 0][::-1]


def expected_windows(
    sent: list[Event], size: int, step: int, grace: int
) -> tuple[list[Window], list[Late]]:
    """Final windows (sorted) and the (record, window) pairs dropped as too late."""
    stream_time = 0
    sums: dict[tuple[int, int], tuple[int, int]] = {}
    dropped: list[Late] = []
    for event in sent:
        stream_time = max(stream_time, event.ts)
        for start, end in ranges(event.ts, size, step):
            if end <= stream_time - grace:
                dropped.append(Late(event.ts, start, end))
                continue
            orders, cents = sums.get((start, end), (0, 0))
            sums[(start, end)] = (orders + 1, cents + event.cents)
    closed = [
        Window(start, end, orders, cents)
        for (start, end), (orders, cents) in sorted(sums.items())
        if end <= stream_time - grace
    ]
    return closed, dropped


def check(seen: Seen) -> list[Check]:
    tumbling, t_late = expected_windows(seen.sent, seen.size_ms, seen.size_ms, seen.grace_ms)
    hopping, h_late = expected_windows(seen.sent, seen.size_ms, seen.step_ms, seen.grace_ms)
    late_in_grace = [
        e
        for i, e in enumerate(seen.sent)
        if e.ts < max((x.ts for x in seen.sent[:i]), default=0)
        and not any(d.ts == e.ts for d in t_late)
    ]
    hop_by_range = {(w.start, w.end): w for w in seen.hopping}
    unmatched = [w for w in seen.tumbling if hop_by_range.get((w.start, w.end)) != w]
    return [
        _same("tumbling windows = independent count", tumbling, seen.tumbling),
        _same("hopping windows = independent count", hopping, seen.hopping),
        expect(
            "a late record within grace was counted",
            bool(late_in_grace) and bool(tumbling),
            f"{len(late_in_grace)} out-of-order record(s) still landed in an open window"
            if late_in_grace
            else "no record arrived out of order within the grace period",
        ),
        _same("too-late records dropped (and reported)", t_late + h_late, seen.late),
        expect(
            "some record was too late",
            bool(t_late),
            f"{len(t_late)} record(s) past end + grace" if t_late else "nothing was late enough",
        ),
        expect(
            "each tumbling window is also a hopping window",
            not unmatched and bool(seen.tumbling),
            "hopping windows that start on a tumbling boundary hold the same records"
            if not unmatched
            else f"no equal hopping window for {unmatched[:3]}",
        ),
    ]


def _at(item: Window | Late) -> tuple[int, int, int]:
    return (item.start, item.end, item.ts if isinstance(item, Late) else 0)


def _same(name: str, expected: list[Window] | list[Late], seen: list[Window] | list[Late]) -> Check:
    """✔ when both lists hold the same items; the detail names the first differences."""
    want, got = sorted(expected, key=_at), sorted(seen, key=_at)
    if want == got:
        return expect(name, True, f"{len(got)} equal, e.g. {_show(got[0])}" if got else "none")
    missing = [_show(x) for x in want if x not in got][:2]
    extra = [_show(x) for x in got if x not in want][:2]
    return expect(
        name, False, f"expected {len(want)}, saw {len(got)}; missing {missing}, unexpected {extra}"
    )


def _show(item: Window | Late) -> str:
    if isinstance(item, Late):
        return f"record at {item.ts} for [{item.start}, {item.end})"
    return f"[{item.start}, {item.end}): {item.orders} orders, {item.revenue_cents} cents"
