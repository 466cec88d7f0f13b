"""The few HTML pieces every page is made of: the layout with its navigation, tables, figures.

Strings built with `html.escape` at every value: pages show what Kafka holds (keys, headers,
payloads), which is text a producer chose, so nothing reaches the page unescaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime

PAGES: tuple[tuple[str, str], ...] = (
    ("/", "Shop"),
    ("/topics", "Topics"),
    ("/groups", "Groups"),
    ("/orders", "Orders"),
    ("/schemas", "Schemas"),
    ("/platform", "Platform"),
)


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page(
    title: str,
    body: str,
    active: str = "",
    live: str | None = None,
    prometheus: str | None = None,
) -> str:
    """A whole page: head (our own CSS and JS only), the navigation, `body`.

    `live`: the URL of a server-sent event stream whose messages replace the element with
    the id named in each message (console.js). `prometheus`: kafkalab's Prometheus, linked
    from the navigation while it runs (`kafkalab monitoring up`)."""
    nav = "".join(
        f'<a href="{href}"{" class=active" if href == active else ""}>{esc(name)}</a>'
        for href, name in PAGES
    )
    if prometheus:
        nav += f'<a href="{esc(prometheus)}" rel=external>Prometheus ↗</a>'
    else:
        nav += '<span class=muted title="start it with `kafkalab monitoring up`">Prometheus: off</span>'

    stream = f' data-live="{esc(live)}"' if live else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{esc(title)} · kafkalab</title>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        '<link rel=icon href="data:,">'
        '<link rel=stylesheet href="/static/console.css">'
        '<script defer src="/static/console.js"></script></head>'
        f"<body{stream}><header><b>kafkalab</b><nav>{nav}</nav>"
        "<span id=live-state class=muted></span></header>"
        f"<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )


def table(headings: Sequence[str], rows: Iterable[Sequence[object]], raw: bool = False) -> str:
    """A table; cells are escaped unless `raw` (the caller built them from escaped parts)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw else esc(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    if not body:
        body = f"<tr><td colspan={len(headings)} class=muted>none</td></tr>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure(label: str, value: str, ident: str = "", note: str = "") -> str:
    """One big number with its label (a KPI tile)."""
    attr = f" id={esc(ident)}" if ident else ""
    small = f"<small>{esc(note)}</small>" if note else ""
    return f"<div class=kpi><span>{esc(label)}</span><b{attr}>{esc(value)}</b>{small}</div>"


def error_box(message: str, hint: str = "") -> str:
    """What went wrong, in the CLI's words (a KafkalabError's message and hint)."""
    more = f" — {esc(hint)}" if hint else ""
    return f"<p class=error>✘ {esc(message)}{more}</p>"


def clock(ms: int, date: bool = False) -> str:
    moment = datetime.fromtimestamp(ms / 1000)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if date else moment.strftime("%H:%M:%S.%f")[:-3]


def num(value: float | None, fmt: str = ",.0f", suffix: str = "") -> str:
    return "—" if value is None else format(value, fmt) + suffix
