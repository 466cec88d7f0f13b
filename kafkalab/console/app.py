"""The console's FastAPI app: one route per page, one stream per live view.

Handlers are plain functions (FastAPI runs them on its thread pool): each calls the observer
the CLI uses and renders the page model. A KafkalabError becomes the page's one-line error,
as it becomes one line in the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.console import groups, jobs, orders, platform, schemas, shop, topics
from kafkalab.console.feed import Feed, message
from kafkalab.console.html import error_box, esc, page
from kafkalab.console.latency import FlowReader
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.events import topics as t
from kafkalab.monitoring.dashboard import Dashboard
from kafkalab.observe import reach
from kafkalab.observe.tail import browse, tail
from kafkalab.observe.trace import trace_order
from kafkalab.platform import control, files, monitoring
from kafkalab.services.http import mount_offline_docs
from kafkalab.settings import Settings

log = logging.getLogger("kafkalab.console")
STATIC = Path(__file__).parent / "static"
MAX_GROUP_FEEDS = 32
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ShopFeed:
    """The Shop page's sampler: the dashboard's snapshot and the order flow every 2 s."""

    def __init__(self, settings: Settings, conn: Connection) -> None:
        self.settings, self.conn = settings, conn
        self.history = shop.ShopHistory()
        self._board: Dashboard | None = None
        self._flow: FlowReader | None = None
        self.feed = Feed("shop-live", self.produce, interval=2.0, on_stop=self.close)

    def produce(self) -> str:
        if self._board is None:
            reach.topic_names(self.conn)
            self._board = Dashboard(self.settings, self.conn, control.scrape_targets(self.settings))
            self._flow = FlowReader(self.conn)
        assert self._flow is not None
        self.history.add(self._board.snapshot(), self._flow.sample())
        return shop.render(self.history)

    def close(self) -> None:
        if self._board is not None:
            self._board.close()
        if self._flow is not None:
            self._flow.close()
        self._board = self._flow = None


def create_app(settings: Settings, conn: Connection) -> FastAPI:
    app = FastAPI(
        title="kafkalab console",
        docs_url=None,  # /api/docs below, on local assets: the console works offline
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    mount_offline_docs(app, "kafkalab console", "/api/docs")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    shop_feed = ShopFeed(settings, conn)
    group_feeds: dict[str, Feed] = {}
    runner = jobs.Jobs(settings)

    def html(
        title: str,
        active: str,
        build: Callable[[], str] | str,
        live: str | None = None,
        needs: tuple[str, ...] = (),
    ) -> HTMLResponse:
        """The page, or its one-line error: what it needs ("kafka", "registry") is checked
        first, so a stopped cluster is one sentence at once, not a stack of timeouts."""
        try:
            if "kafka" in needs:
                reach.topic_names(conn)
            if "registry" in needs:
                reach.require_registry(conn)
            body = build() if callable(build) else build
            status = 200
        except KafkalabError as exc:
            body, status = error_box(exc.message, exc.hint or ""), 400
        except Exception as exc:  # noqa: BLE001 - the page edge: a sentence, never a traceback
            log.warning("%s: %s: %s", title, type(exc).__name__, exc)
            body = error_box(f"{type(exc).__name__}: {exc}", "`kafkalab logs console` has more")
            status = 500
        prometheus = monitoring.running_url(settings)
        return HTMLResponse(page(title, body, active, live, prometheus), status_code=status)

    @app.get("/health")
    def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "service": "console"})

    # --- Shop -----------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def shop_page() -> HTMLResponse:
        shop_feed.feed.touch()
        live = shop_feed.feed.latest or shop.render(shop_feed.history)
        intro = (
            "<p class=muted>analytics windows, every service's /metrics and the alert rules "
            "of <code>kafkalab dashboard</code> and <code>kafkalab alerts</code>, "
            "pushed every 2 s</p>"
        )
        return html("Shop, live", "/", f"{intro}<div id=shop-live>{live}</div>", "/shop/stream")

    @app.get("/shop/stream")
    async def shop_stream(request: Request) -> StreamingResponse:
        return _sse(shop_feed.feed.events(request.is_disconnected))

    # --- Topics ---------------------------------------------------------------------------
    @app.get("/topics", response_class=HTMLResponse)
    def topics_page() -> HTMLResponse:
        return html(
            "Topics",
            "/topics",
            lambda: topics.render_list(topics.read_topics(settings, conn)),
            needs=("kafka",),
        )

    @app.get("/topics/{name}", response_class=HTMLResponse)
    def topic_page(
        name: str,
        partition: str = "",
        offset: str = "",
        since: str = "",
        key: str = "",
        limit: int = 20,
    ) -> HTMLResponse:
        def build() -> str:
            query = topics.BrowseQuery(
                _int(partition, "partition"),
                _int(offset, "offset"),
                since or None,
                key or None,
                max(1, min(limit, 500)),
            )
            [row] = topics.read_topics(settings, conn, name)
            records = browse(
                conn, name, query.partition, query.offset, query.since_ms(), query.key, query.limit
            )
            return topics.render_topic(row, query, records)

        return html(f"Topic {name}", "/topics", build, needs=("kafka", "registry"))

    @app.get("/topics/{name}/tail")
    async def topic_tail(name: str, request: Request) -> StreamingResponse:
        return _sse(_tail_events(conn, name, request))

    # --- Groups ---------------------------------------------------------------------------
    def group_feed(name: str | None) -> Feed:
        key = name or ""
        if key not in group_feeds and len(group_feeds) >= MAX_GROUP_FEEDS:
            idle = [k for k, f in group_feeds.items() if not f.running]
            for k in idle:  # a feed per group page ever opened: forget the ones nobody watches
                del group_feeds[k]
        if key not in group_feeds:
            if name is None:
                group_feeds[key] = Feed(
                    "groups-live", lambda: groups.render_list(groups.read_groups(conn))
                )
            else:
                group_feeds[key] = Feed(
                    "groups-live",
                    lambda: groups.render_group(groups.read_groups(conn, name)[0]),
                )
        return group_feeds[key]

    @app.get("/groups", response_class=HTMLResponse)
    def groups_page() -> HTMLResponse:
        def build() -> str:
            return f"<div id=groups-live>{groups.render_list(groups.read_groups(conn))}</div>"

        return html("Consumer groups", "/groups", build, "/groups/stream", ("kafka",))

    @app.get("/groups/stream")
    async def groups_stream(request: Request) -> StreamingResponse:
        return _sse(group_feed(None).events(request.is_disconnected))

    @app.get("/groups/{name}", response_class=HTMLResponse)
    def group_page(name: str) -> HTMLResponse:
        def build() -> str:
            view = groups.read_groups(conn, name)[0]
            return f"<div id=groups-live>{groups.render_group(view)}</div>"

        return html(f"Group {name}", "/groups", build, f"/groups/{name}/stream", ("kafka",))

    @app.get("/groups/{name}/stream")
    async def group_stream(name: str, request: Request) -> StreamingResponse:
        return _sse(group_feed(name).events(request.is_disconnected))

    # --- Orders ---------------------------------------------------------------------------
    @app.get("/orders", response_class=HTMLResponse)
    def orders_page(id: str = "") -> HTMLResponse:
        def build() -> str:
            form = (
                "<form method=get class=browse><label>order id or prefix "
                f'<input name=id value="{esc(id)}" autofocus></label><button>trace</button></form>'
            )
            if id.strip():
                return form + orders.render_trace(trace_order(conn, id.strip()))
            recent = browse(conn, t.ORDER_EVENTS, limit=60)
            return form + orders.render_recent(recent)

        return html("Orders", "/orders", build, needs=("kafka", "registry"))

    # --- Schemas --------------------------------------------------------------------------
    @app.get("/schemas", response_class=HTMLResponse)
    def schemas_page() -> HTMLResponse:
        return html(
            "Schemas",
            "/schemas",
            lambda: schemas.render_list(schemas.read_subjects(clients.schema_registry(conn))),
            needs=("registry",),
        )

    @app.get("/schemas/{subject}", response_class=HTMLResponse)
    def subject_page(subject: str, a: str = "", b: str = "") -> HTMLResponse:
        def build() -> str:
            detail = schemas.read_subject(clients.schema_registry(conn), subject)
            return schemas.render_subject(detail, _int(a, "a"), _int(b, "b"))

        return html(f"Subject {subject}", "/schemas", build, needs=("registry",))

    # --- Platform -------------------------------------------------------------------------
    @app.get("/platform", response_class=HTMLResponse)
    def platform_page() -> HTMLResponse:
        def build() -> str:
            rows = control.ps(settings, conn)
            labels = list(jobs.commands(settings))
            return (
                "<h2>services</h2>"
                + platform.render_services(rows, files.read_console_status(settings))
                + "<h2>runs from this page</h2>"
                + platform.render_jobs(list(runner.jobs.values()))
                + platform.render_actions(labels)
            )

        return html("Platform", "/platform", build)

    @app.post("/platform/run", response_model=None)
    async def platform_run(request: Request) -> RedirectResponse | HTMLResponse:
        # The form is one urlencoded field: parsed here rather than with python-multipart.
        label = parse_qs((await request.body()).decode(errors="replace")).get("label", [""])[0]
        try:
            job = runner.start(label)
        except KafkalabError as exc:
            return html("Run", "/platform", error_box(exc.message, exc.hint or ""))
        return RedirectResponse(f"/platform/jobs/{job.id}", status_code=303)

    @app.get("/platform/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(job_id: int) -> HTMLResponse:
        job = runner.jobs.get(job_id)
        if job is None:
            return html("Run", "/platform", error_box(f"no run #{job_id}", "see the Platform page"))
        response = html(f"Run #{job.id}", "/platform", platform.render_job(job))
        if job.running:
            response.headers["Refresh"] = "2"
        return response

    return app


def _sse(frames: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


async def _tail_events(conn: Connection, topic: str, request: Request) -> AsyncIterator[str]:
    """New records of `topic` as they arrive (observe.tail, follow mode), newest on top."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()
    stop = threading.Event()
    started_ms = int(time.time() * 1000)

    class Stopped(Exception):
        pass

    def idle() -> None:
        if stop.is_set():
            raise Stopped

    def follow() -> None:
        try:
            for record in tail(conn, topic, limit=1, follow=True, idle=idle):
                if stop.is_set():
                    return
                if record.timestamp_ms < started_ms:
                    continue  # the backlog tail() begins with: the page shows it already
                frame = message("tail-rows", topics.record_html(record), "prepend")
                loop.call_soon_threadsafe(queue.put_nowait, frame)
        except Stopped:
            return
        except KafkalabError as exc:
            frame = message("tail-rows", error_box(exc.message, exc.hint or ""), "prepend")
            loop.call_soon_threadsafe(queue.put_nowait, frame)

    threading.Thread(target=follow, daemon=True, name=f"tail-{topic}").start()
    try:
        yield message("live-state", "tailing…")
        while not await request.is_disconnected():
            with contextlib.suppress(TimeoutError):
                yield await asyncio.wait_for(queue.get(), timeout=1.0)
    finally:
        stop.set()


def _int(text: str, name: str) -> int | None:
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidChoice(f"{name} must be a whole number, not {text!r}") from None
