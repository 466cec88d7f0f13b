"""The web console in a real browser: headless Chromium (Debian's `chromium`, driven by
Playwright — no browser download) against the shared platform, whose supervisor runs the
console as `kafkalab up` does.

One load of a few orders, placed while the Shop page and the notification group's page are
open and notification is paused, feeds every check: the live order count rises by exactly
the orders accepted, without a reload, the paused group's lag climbs on its page, the message browser
shows one of those OrderCreated records decoded with its headers, and the Orders page shows
that order's causal trace. Screenshots of every page are kept under the test's tmp dir.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kafkalab.chaos import faults
from kafkalab.load.driver import run_load
from kafkalab.observe.lag import group_lag
from kafkalab.platform import control
from tests.integration.pool import Running

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ORDERS = 12
PAUSED_ORDERS = 6
PAGES = {
    "shop": "/",
    "topics": "/topics",
    "topic": "/topics/order-events",
    "groups": "/groups",
    "group": "/groups/kafkalab-order",
    "orders": "/orders",
    "schemas": "/schemas",
    "subject": "/schemas/order-events-dev.kafkalab.events.OrderCreated",
    "platform": "/platform",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if shutil.which("apt-get"):
            pytest.fail(f"{CHROMIUM} is missing: `scripts/bootstrap --dev` installs it with apt")
        pytest.skip(f"{CHROMIUM} is missing and apt-get is not here to install it")
    from playwright.sync_api import sync_playwright

    began = time.monotonic()
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        print(f"chromium up in {time.monotonic() - began:.1f} s")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def console(platform: Running) -> str:
    began = time.monotonic()
    url = control.wait_console(platform.settings, timeout=60.0)
    print(f"console answered in {time.monotonic() - began:.1f} s")
    assert url, (
        f"the supervised console never answered: {platform.settings.data_dir}/logs/console-0.log"
    )
    return url


@dataclass
class Tab:
    """A page with every console error and uncaught exception it reports."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def text(self, selector: str) -> str:
        return str(self.page.inner_text(selector))


def open_tab(browser: Any, url: str) -> Tab:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    tab = Tab(page)
    page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: tab.errors.append(str(e)))
    page.goto(url)
    return tab


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60.0) -> float:
    """Seconds until `check()` held; fails naming `what` after `timeout` (a generous bound)."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, f"{what}: not within {timeout:g} s"
        time.sleep(0.25)
    return time.monotonic() - began


def number(text: str) -> int:
    """A figure as the page shows it: "1,234", or "—" (nothing counted yet: analytics has not
    published a window on a fresh platform) as 0."""
    return 0 if text.strip() == "—" else int(text.replace(",", ""))


@dataclass
class LiveRun:
    before: int
    after: int
    accepted: int
    order_id: str  # one order of the first load: confirmed, every notification sent
    lag_before: int
    lag_seen: list[int]
    shots: Path


@pytest.fixture(scope="module")
def live_run(
    platform: Running, console: str, browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveRun]:
    """Two small loads with the Shop page and kafkalab-notification's page open, read without
    a reload: the first with everything running (the order count must rise by exactly the
    orders accepted), the second with notification paused (its lag must climb). The first
    also makes notification commit offsets — a group's lag is counted on the partitions it
    has committed on, as Kafka's own tools count it. Notification is resumed and has caught
    up before the tests go on."""
    shots = tmp_path_factory.mktemp("console-screens")
    t0 = time.monotonic()

    def phase(name: str) -> None:
        print(f"[{time.monotonic() - t0:5.1f} s] {name}")

    shop = open_tab(browser, console + "/")
    group = open_tab(browser, console + "/groups/kafkalab-notification")
    phase("pages open")
    shop.page.wait_for_selector("#orders-total", timeout=60_000)
    settled: list[int] = []

    def steady() -> bool:  # the count has not moved for 3 s: earlier orders are all counted
        settled.append(number(shop.text("#orders-total")))
        return len(settled) > 12 and len(set(settled[-12:])) == 1

    phase("shop page shows a count")
    wait_for("the live order count settles", steady)
    phase("count steady")
    before = settled[-1]
    began = time.monotonic()
    report = run_load(platform.settings, platform.conn, orders=ORDERS, users=5)
    accepted = report.orders.accepted  # 201 answers: each is one OrderCreated to count
    print(f"load of {ORDERS}: {time.monotonic() - began:.1f} s, {report.orders}")
    assert accepted > 0, report.orders
    counts: list[int] = []
    try:
        shown = wait_for(
            "the Shop page counts the new orders",
            lambda: (
                counts.append(number(shop.text("#orders-total"))) or counts[-1] >= before + accepted
            ),
            timeout=90.0,
        )
    except AssertionError:  # say what the page showed and how far behind analytics was
        lags = {g.group: g.total for g in group_lag(platform.conn, ["kafkalab-analytics"])}
        print(f"before={before} accepted={accepted} seen={sorted(set(counts))} lag={lags}")
        print(shop.text("#shop-live")[:1500])
        raise
    print(f"Shop page showed +{accepted} orders {shown:.1f} s after the load returned")
    phase("shop counted the load")
    time.sleep(2.5)  # one more push: the count must not run past the orders placed
    after = number(shop.text("#orders-total"))
    shop.page.screenshot(path=str(shots / "shop-after-load.png"), full_page=True)

    def caught_up() -> bool:
        [lag] = group_lag(platform.conn, ["kafkalab-notification"])
        return bool(lag.partitions) and lag.total == 0

    wait_for("notification commits the first load", caught_up, timeout=90.0)
    print(f"first load's notifications committed {time.monotonic() - began:.1f} s after it began")
    phase("notification committed")
    lag_before = number(group.text("#group-lag"))
    target = faults.resolve(platform.settings, "notification")
    faults.inject(platform.settings, "pause", target)
    lag_seen: list[int] = []
    try:
        run_load(platform.settings, platform.conn, orders=PAUSED_ORDERS, users=2)
        phase("second load done")
        wait_for(
            "the paused group's lag climbs on its page",
            lambda: lag_seen.append(number(group.text("#group-lag"))) or lag_seen[-1] > lag_before,
        )
        phase("lag climbed")
        group.page.screenshot(path=str(shots / "group-paused.png"), full_page=True)
        assert shop.errors == [] and group.errors == [], shop.errors + group.errors
    finally:
        faults.inject(platform.settings, "resume", target)
        shop.page.close()
        group.page.close()
    yield LiveRun(before, after, accepted, report.order_ids[0], lag_before, lag_seen, shots)
    # The page tests ran meanwhile; the next module gets a platform with nothing pending.
    t0 = time.monotonic()
    wait_for("notification catches up after resume", caught_up, timeout=90.0)
    phase("notification caught up after resume")


def test_the_shop_page_counts_a_load_live(live_run: LiveRun) -> None:
    assert live_run.after - live_run.before == live_run.accepted, live_run


def test_a_paused_consumers_lag_climbs_on_the_groups_page(live_run: LiveRun) -> None:
    assert max(live_run.lag_seen) > live_run.lag_before, live_run.lag_seen


def test_the_message_browser_shows_a_decoded_order_created_with_headers(
    live_run: LiveRun, console: str, browser: Any
) -> None:
    tab = open_tab(browser, f"{console}/topics/order-events?key={live_run.order_id}")
    card = tab.page.locator("article.record[data-type=OrderCreated]").first
    text = card.inner_text()
    tab.page.screenshot(path=str(live_run.shots / "messages.png"), full_page=True)
    for expected in ('"total_cents"', '"user_id"', "event_type", "trace_id", "service", "order"):
        assert expected in text, text
    assert card.locator("header code").inner_text() == live_run.order_id
    keys = tab.page.locator("article.record header code").all_inner_texts()
    assert keys and all(live_run.order_id in k for k in keys), keys
    assert tab.errors == []


def test_the_orders_page_shows_the_happy_paths_causal_trace(
    live_run: LiveRun, console: str, browser: Any
) -> None:
    tab = open_tab(browser, f"{console}/orders?id={live_run.order_id[:8]}")
    status = tab.text("#order-status")
    events = tab.page.locator("table td:nth-child(4)").all_inner_texts()
    tab.page.screenshot(path=str(live_run.shots / "order-trace.png"), full_page=True)
    assert "CONFIRMED" in status, status
    happy = ["UserRegistered", "UserLoggedIn", "OrderCreated", "InventoryReserved",
             "PaymentCompleted", "StockCommitted", "NotificationRequested",
             "NotificationSent"]  # fmt: skip
    assert [e for e in happy if e in events] == happy, events
    assert "StockCheckRequested" not in events  # the default stock check asks nobody
    assert (
        events.index("OrderCreated")
        < events.index("PaymentCompleted")
        < events.index("NotificationSent")
    )
    assert tab.errors == []


def test_every_page_loads_without_a_console_error(
    live_run: LiveRun, console: str, browser: Any
) -> None:
    tab = open_tab(browser, console + "/platform")
    seconds = {}
    for name, path in PAGES.items():
        began = time.monotonic()
        tab.page.goto(console + path)
        if name == "shop":
            tab.page.wait_for_selector("#orders-total", timeout=60_000)
        seconds[name] = round(time.monotonic() - began, 1)
        assert tab.page.locator("main h1").count() == 1
        assert tab.page.locator("p.error").count() == 0, tab.text("main")
        tab.page.screenshot(path=str(live_run.shots / f"{name}.png"), full_page=True)
    print(f"page loads (s): {seconds}; screenshots: {live_run.shots}")
    assert tab.errors == [], tab.errors
