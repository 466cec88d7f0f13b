"""The Platform page: each service replica (pid, port, health, restarts, partitions, lag, the
payment circuit) as `kafkalab ps` sees it, and buttons that run a scenario or a chaos fault."""

from __future__ import annotations

from kafkalab.console.html import clock, esc, table
from kafkalab.console.jobs import Job
from kafkalab.platform.control import ServiceRow
from kafkalab.platform.files import ReplicaStatus


def render_services(rows: list[ServiceRow], console: ReplicaStatus | None) -> str:
    if not rows:
        return "<p class=error>no services running — start them with <code>kafkalab up</code></p>"
    body = table(
        (
            "service",
            "replica",
            "pid",
            "port",
            "health",
            "restarts",
            "partitions",
            "group lag",
            "circuit",
        ),
        [
            (
                r.service,
                r.replica,
                r.pid or "—",
                r.port,
                ("✔ " if r.health == "ok" else "✘ ") + r.health,
                r.restarts,
                r.assigned,
                "—" if r.lag is None else r.lag,
                r.circuit or "",
            )
            for r in rows
        ],
    )
    extra = ""
    if console is not None:
        extra = (
            f"<p class=muted>console: pid {console.pid}, {esc(console.state)}, "
            f"{console.restarts} restart(s), supervised with the services</p>"
        )
    return body + extra


def render_actions(labels: list[str]) -> str:
    """A button per scenario, and a grid of fault × service buttons; each asks first."""

    def button(label: str, text: str) -> str:
        return (
            f'<form method=post action="/platform/run" data-confirm="Run `kafkalab {esc(label)}` now?">'
            f'<input type=hidden name=label value="{esc(label)}"><button>{esc(text)}</button></form>'
        )

    scenarios = [label for label in labels if label.startswith("scenario ")]
    faults: dict[str, list[str]] = {}
    for label in labels:
        if label.startswith("chaos "):
            _, action, service = label.split(" ", 2)
            faults.setdefault(action, []).append(button(label, service))
    grid = "".join(
        f"<tr><th>{esc(action)}</th><td><div class=buttons>{''.join(cells)}</div></td></tr>"
        for action, cells in faults.items()
    )
    return (
        "<h2>run a scenario</h2><div class=buttons>"
        + "".join(button(label, label) for label in scenarios)
        + "</div><h2>inject a fault</h2><p class=muted>kill = SIGKILL (the supervisor restarts it), "
        "pause/resume = SIGSTOP/SIGCONT, restart = SIGTERM — then watch Shop and Groups</p>"
        f"<table class=faults>{grid}</table>"
    )


def render_jobs(jobs: list[Job]) -> str:
    if not jobs:
        return "<p class=muted>nothing run from here yet</p>"
    return table(
        ("#", "started", "command", "state"),
        [
            (
                j.id,
                clock(int(j.started * 1000)),
                f'<a href="/platform/jobs/{j.id}">kafkalab {esc(" ".join(j.argv))}</a>',
                "running…"
                if j.running
                else ("✔ exit 0" if j.exit_code == 0 else f"✘ exit {j.exit_code}"),
            )
            for j in sorted(jobs, key=lambda j: -j.id)
        ],
        raw=True,
    )


def render_job(job: Job) -> str:
    state = "running…" if job.running else f"finished, exit {job.exit_code}"
    return (
        f"<p>kafkalab {esc(' '.join(job.argv))} — <b id=job-state>{esc(state)}</b></p>"
        f"<pre class=output>{esc(chr(10).join(job.output[-400:]))}</pre>"
    )
