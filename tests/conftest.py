"""The order and the split the whole suite runs in.

In one process: unit tests first (fast feedback), then the integration tests that need only
the session cluster, then those of each shared platform variant together, in `pool.VARIANTS`
order, so each variant is started once. Under xdist: the longest groups first
(`LONGEST_FIRST`), so that the suite ends with short groups on every worker.

Under pytest-xdist (`-n 5`, as scripts/test runs it), each test also gets an `xdist_group`:
its variant's name, or its module's for the session-cluster tests (its module's and lesson's for
a test parametrized by lesson), and `--dist loadgroup`
sends a whole group to one worker. A variant then still starts once, on one worker.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest

from tests.integration.pool import POOLS, STARTS, VARIANTS, Started


def _variant(item: pytest.Item) -> str | None:
    names = getattr(item, "fixturenames", ())
    found = [name for name in VARIANTS if name in names]
    return found[0] if found else None


# Under xdist the groups are handed out in collection order, each to the next free worker: the
# longest go first, so no worker starts a 400-s platform group while the others are finishing
# (run last, as in a one-process run, they left one worker 70-80 s behind the rest). Figures
# from a clean-clone run: platform 415 s, secure_platform 402, three_brokers 223,
# short_ttl_platform 222, unit 126, high_load_platform 83, every other group under 140.
LONGEST_FIRST = (
    "platform",
    "secure_platform",
    "three_brokers",
    "short_ttl_platform",
    "unit",
    "high_load_platform",
)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    order = list(VARIANTS)
    under_xdist = hasattr(config, "workerinput")

    def rank(item: pytest.Item) -> int:
        unit = "tests/unit/" in item.nodeid
        variant = _variant(item)
        if under_xdist:
            name = "unit" if unit else variant
            return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
        if unit:
            return -1
        return 0 if variant is None else 1 + order.index(variant)

    items.sort(key=rank)  # stable: the order within a rank is pytest's own
    for item in items:
        if "tests/unit/" in item.nodeid:
            group = "unit"
        elif _variant(item) is not None:
            group = str(_variant(item))
        else:
            group = item.nodeid.split("::")[0] + _lesson(item)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After a variant's last test on this worker (its module fixtures torn down), stop it.

    `nextitem` is exact here: pytest-xdist runs a test only once the one after it is known
    (or the worker is told to shut down), and a group's tests reach a worker together.
    """
    yield
    variant = _variant(item)
    if variant is not None and (nextitem is None or _variant(nextitem) != variant):
        for pool in POOLS:
            pool.release(variant)


def _lesson(item: pytest.Item) -> str:
    """Lesson runs are many and independent: one group per lesson lets every worker take some."""
    lesson = getattr(getattr(item, "callspec", None), "params", {}).get("lesson")
    number = getattr(lesson, "number", None)
    return f"::lesson{number}" if number is not None else ""


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)
    if output is not None:  # an xdist worker: hand the starts to the controller
        output["cluster_starts"] = [(s.name, s.seconds) for s in STARTS]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    worker = getattr(node, "gateway", None)
    prefix = f"{worker.id}:" if worker is not None else ""
    for name, seconds in getattr(node, "workeroutput", {}).get("cluster_starts", []):
        STARTS.append(Started(prefix + name, seconds))


GROUP_SECONDS: dict[str, float] = defaultdict(float)
WORKER_SECONDS: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Sum each xdist group's and worker's test time: the suite's wall time is its busiest
    worker's, so this is where to look when CI nears its ten minutes."""
    _, at, group = report.nodeid.rpartition("@")  # loadgroup appends "@group" to the id
    known = at and not group.endswith("]")  # not an "@" inside a parameter's id
    GROUP_SECONDS[group if known else "-"] += report.duration
    WORKER_SECONDS[str(getattr(report, "node", None) and report.node.gateway.id)] += report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if len(WORKER_SECONDS) > 1:
        workers = ", ".join(f"{w} {s:.0f} s" for w, s in sorted(WORKER_SECONDS.items()))
        terminalreporter.write_line(f"kafkalab: test time per worker: {workers}")
        top = sorted(GROUP_SECONDS.items(), key=lambda kv: -kv[1])[:12]
        terminalreporter.write_line(
            "kafkalab: slowest groups: " + ", ".join(f"{g} {s:.0f} s" for g, s in top)
        )
    if not STARTS:
        return
    total = sum(s.seconds for s in STARTS)
    parts = ", ".join(f"{s.name} {s.seconds:.0f} s" for s in STARTS)
    terminalreporter.write_line(f"kafkalab: {len(STARTS)} cluster starts ({total:.0f} s): {parts}")
