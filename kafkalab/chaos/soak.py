"""`kafkalab soak`: a steady load on the shop while broker faults come round, for minutes.

One load (`load.driver.run_load`, paced at `rate` orders/s for the whole run) runs in a child
process (`chaos/soak_load.py`);
every `fault_every` seconds the next fault of `broker_ops.KINDS` hits the next broker, each a
full round trip (the broker is back and every ISR full before the next one). At the end the
invariant checker judges every order the load placed. Ctrl-C (`stop`) ends the faults and the
sending early: the brokers are restored, the accepted orders drained and judged all the same.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kafkalab import verdict
from kafkalab.chaos import broker_ops, collect, faults
from kafkalab.chaos.runner import LoadTally
from kafkalab.connection import Connection
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.events.serde import now_ms
from kafkalab.platform import files
from kafkalab.settings import Settings, settings_env

if TYPE_CHECKING:
    from kafkalab.observe.verify import VerifyReport

DEFAULT_RATE = 5.0
"""Orders per second: steady, and light enough for a shared 2-core machine to keep up."""
START_WAIT = 120.0
"""How long the first fault waits for the load's first accepted order (set-up comes first)."""

Notify = Callable[[str], None]


@dataclass
class SoakReport:
    minutes: float
    fault_every: float
    rate: float
    started: float = 0.0
    """Wall clock (epoch seconds) when the load began."""
    faults: list[broker_ops.FaultRecord] = field(default_factory=list)
    tally: LoadTally | None = None
    lost: int = 0
    """Accepted orders that never reached an end (the load's count, from order-events)."""
    doubled: int = 0
    """Orders the checker found charged more than once (its "at most one payment" rule)."""
    verify: Any = None
    """The invariant checker's VerifyReport over every order the load placed."""
    interrupted: bool = False
    load_crashes: list[str] = field(default_factory=list)
    """Each time the load's process died early, why (it was started again for the rest)."""
    problem: str | None = None
    """Why the load or a fault stopped short, in one sentence (None: it did not)."""

    @property
    def checks(self) -> list[verdict.Check]:
        return judge(self)

    @property
    def passed(self) -> bool:
        return verdict.passed(self.checks)


def judge(report: SoakReport) -> list[verdict.Check]:
    """Every fault recovered, the load ran, nothing lost or doubled, every invariant held."""
    unrecovered = [f"{f.kind} broker-{f.broker}" for f in report.faults if not f.recovered]
    checks = [
        verdict.expect(
            "every fault recovered",
            not unrecovered and bool(report.faults),
            f"{len(report.faults)} fault(s)"
            + (f"; not recovered: {', '.join(unrecovered)}" if unrecovered else "")
            if report.faults
            else "no fault ran",
        ),
        verdict.expect(
            "the load ran to its end",
            report.problem is None and report.tally is not None and not report.load_crashes,
            report.problem
            or str(report.tally)
            + "".join(f"; its process died: {crash}" for crash in report.load_crashes),
        ),
        verdict.equal("accepted orders lost", 0, report.lost),
        verdict.equal("orders charged twice", 0, report.doubled),
    ]
    if report.verify is not None:
        from kafkalab.observe.verify import ANALYTICS_TOTALS

        twice = counted_twice(report.verify)
        failing = [
            i.name
            for i in report.verify.invariants
            if i.ok is False and not (twice and i.name == ANALYTICS_TOTALS)
        ]
        checks.append(
            verdict.expect(
                "the invariant checker",
                not failing,
                f"{report.verify.orders} orders judged"
                + (f"; broken: {', '.join(failing)}" if failing else "; every invariant holds")
                + (f" but {ANALYTICS_TOTALS} (below)" if twice else ""),
            )
        )
        if twice:
            checks.append(
                verdict.Check(
                    f"{ANALYTICS_TOTALS}, at-least-once",
                    None,
                    f"analytics counted {twice} order(s) twice: after a fault it read input "
                    "again whose counts it had already kept (at-least-once, lesson 16). No "
                    "order, payment or stock count is wrong; a total short of the orders fails.",
                )
            )
    return checks


def counted_twice(checked: VerifyReport) -> int:
    """Orders analytics' running total counted twice, when that is all that is wrong with the
    totals: at-least-once allows it after a fault, so the soak shows it (`!`) rather than
    failing on it. A total short of the orders is no replay: it fails, as does any other rule."""
    from kafkalab.observe.verify import ANALYTICS_TOTALS

    totals = next((i for i in checked.invariants if i.name == ANALYTICS_TOTALS), None)
    if totals is None or totals.ok is not False:
        return 0
    return totals.surplus


def fault_rows(report: SoakReport) -> list[list[str]]:
    """The soak table's rows: when (+seconds since the load began), what, whom, recovery."""
    return [
        [
            f"+{record.at - report.started:.0f} s",
            record.kind,
            f"broker-{record.broker}",
            _s(record.leaders_moved_s),
            _s(record.in_sync_s),
        ]
        for record in report.faults
    ]


def plan_faults(count: int) -> list[tuple[str, int]]:
    """The first `count` faults: the kinds in turn, each on the next broker."""
    return [(broker_ops.KINDS[i % len(broker_ops.KINDS)], i % 3 + 1) for i in range(count)]


def run_soak(
    settings: Settings,
    conn: Connection,
    minutes: float,
    fault_every: float,
    rate: float = DEFAULT_RATE,
    notify: Notify | None = None,
    stop: threading.Event | None = None,
) -> SoakReport:
    """Soak the shop (module docstring). A KeyboardInterrupt is caught: it ends the run early
    and the report says so."""
    say = notify or (lambda _m: None)
    if minutes <= 0 or fault_every <= 0 or rate <= 0:
        raise InvalidChoice(
            "--minutes, --fault-every and --rate must be positive",
            hint="`kafkalab soak --minutes 10 --fault-every 60`",
        )
    if not files.read_status(settings).supervisor_pid:
        raise faults.NothingRunning("the services are not running: a soak loads the shop")
    broker_ops.require_three(settings)
    report = SoakReport(minutes, fault_every, rate, started=time.time())
    halt = stop or threading.Event()
    since = now_ms()
    load = _Loads(settings, rate, report.started + minutes * 60, report, say)
    try:
        with collect.in_main_thread():
            _await_orders(load.current)
            _cycle(settings, conn, report, load, halt, say)
            if halt.is_set():
                load.stop()
            while load.current.alive():  # the load's last orders, drain and settle
                collect.now()
                time.sleep(1.0)
    except KeyboardInterrupt:
        report.interrupted = True
        load.stop()  # the load sends no more orders; those accepted are drained and judged
        say("interrupted: restoring the brokers, then draining and judging the orders so far")
    except KafkalabError as exc:
        load.stop()
        report.problem = f"a fault could not run: {exc.message}"
    finally:
        broker_ops.restore(settings)
    _finish(conn, report, load.results(), since, say)
    return report


class _Loads:
    """The soak's load, started again (for the orders still due) when its process dies: a
    soak that stopped loading would judge nothing. Each death is reported, and fails the soak.
    (The load's librdkafka clients did die under broker faults, SIGSEGV, until lag reading
    stopped using the admin client: `observe/committed.py`.)"""

    def __init__(
        self, settings: Settings, rate: float, end: float, report: SoakReport, say: Notify
    ) -> None:
        self.settings, self.rate, self.end, self.report, self.say = settings, rate, end, report, say
        self.done: list[dict[str, Any]] = []
        self.current = self._start()

    def _start(self) -> _LoadProcess:
        orders = max(int((self.end - time.time()) * self.rate), 1)
        self.say(f"load of {orders} orders at {self.rate:g}/s started (users, stock first)")
        return _LoadProcess(self.settings, orders, self.rate, len(self.done))

    def alive(self) -> bool:
        """Alive, or started again if it died while orders were still due."""
        if self.current.alive():
            return True
        if time.time() < self.end - 5:
            result = self.current.result()
            self.done.append(result)
            self.report.load_crashes.append(str(result.get("error", "it ended early")))
            self.say(f"! the load died ({self.report.load_crashes[-1]}); starting it again")
            self.current = self._start()
            return True
        return False

    def stop(self) -> None:
        self.current.stop()

    def results(self) -> list[dict[str, Any]]:
        last = self.current.result()
        if "tally" not in last:
            self.report.load_crashes.append(str(last.get("error", "no report")))
        return [*self.done, last]


class _LoadProcess:
    """The load as a child process (`chaos/soak_load.py` says why), in a session of its own so
    that a Ctrl-C meant for the soak does not reach it: the soak stops it with SIGTERM."""

    def __init__(self, settings: Settings, orders: int, rate: float, index: int = 0) -> None:
        self.folder = settings.data_dir / "soak" / f"load-{index}"
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in ("progress.json", "load.json"):
            (self.folder / name).unlink(missing_ok=True)
        with (self.folder / "load.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-X",
                    "faulthandler",  # a crash in librdkafka leaves the threads' stacks in load.log
                    "-m",
                    "kafkalab.chaos.soak_load",
                    str(orders),
                    str(rate),
                    str(self.folder),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **settings_env(settings)},
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def progress(self) -> dict[str, Any]:
        return _read(self.folder / "progress.json")

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def result(self) -> dict[str, Any]:
        """The load's figures once it has drained (it waits for the orders it accepted)."""
        self.proc.wait()
        return _read(self.folder / "load.json") or {
            "error": f"it exited with status {self.proc.returncode} (see {self.folder}/load.log)"
        }


def _read(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def _await_orders(load: _LoadProcess) -> None:
    """Faults start once orders flow: the load registers its users and stock first."""
    deadline = time.monotonic() + START_WAIT
    while load.alive() and time.monotonic() < deadline:
        progress = load.progress()
        if progress.get("phase") == "sending" and progress.get("accepted"):
            return
        collect.now()
        time.sleep(0.5)


def _cycle(
    settings: Settings,
    conn: Connection,
    report: SoakReport,
    load: _Loads,
    halt: threading.Event,
    say: Notify,
) -> None:
    """A fault every `fault_every` seconds (at once when the last one ran longer) until the
    minutes are up, the load ends, or `halt` is set."""
    end = report.started + report.minutes * 60
    next_at = time.time() + report.fault_every
    count = 0
    while not halt.is_set() and load.alive():
        if time.time() >= end:
            return
        if time.time() < next_at:
            collect.now()
            halt.wait(min(next_at, end, time.time() + 1.0) - time.time())
            continue
        kind, victim = plan_faults(count + 1)[count]
        say(f"fault {count + 1}: {kind} broker-{victim}")
        report.faults += broker_ops.inject(settings, conn, kind, victim, notify=say)
        count += 1
        next_at = max(next_at + report.fault_every, time.time())


def _finish(
    conn: Connection, report: SoakReport, loads: list[dict[str, Any]], since: int, say: Notify
) -> None:
    """Sum the load's figures (over every process it took) and run the invariant checker over
    every order created since the soak began: a crashed load's orders are judged too."""
    finished = [load for load in loads if "tally" in load]
    if finished:
        report.tally = LoadTally.total(LoadTally(**load["tally"]) for load in finished)
        report.lost = sum(int(load["lost"]) for load in finished)
    else:  # no figures from the load, but its orders are on the topics: judge them all the same
        errors = "; ".join(str(load.get("error", "no report")) for load in loads)
        report.problem = report.problem or f"the load stopped: {errors}"
    from kafkalab.observe.verify import ONE_PAYMENT, verify_orders  # reads every topic

    say("running the invariant checker over every order since the soak began")
    checked: VerifyReport = verify_orders(conn, None, since_ms=since, settle_seconds=30)
    report.verify = checked
    report.doubled = checked.invariant(ONE_PAYMENT).violations


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f} s"
