"""The Groups page: every consumer group's state, members (static ones marked), assignment
and lag per partition — observe.groups for who is in a group, observe.lag for how far behind,
the same readers as `kafkalab lag`."""

from __future__ import annotations

from dataclasses import dataclass

from kafkalab.connection import Connection
from kafkalab.console.html import esc, table
from kafkalab.observe import groups as g
from kafkalab.observe.lag import GroupLag, group_lag


@dataclass
class GroupView:
    description: g.GroupDescription
    lag: GroupLag

    @property
    def name(self) -> str:
        return self.description.group


def read_groups(conn: Connection, only: str | None = None) -> list[GroupView]:
    """The cluster's groups (the platform's first), or just `only`, described, with lag."""
    if only is not None:
        g.check_group(conn, only)
        names = [only]
    else:
        known = g.existing_groups(conn)
        ours = [n for n in g.platform_groups() if n in known]
        names = ours + [n for n in known if n not in ours]
    descriptions = g.describe_groups(conn, names)
    lags = {x.group: x for x in group_lag(conn, names)}
    return [GroupView(d, lags.get(d.group, GroupLag(d.group))) for d in descriptions]


def render_list(views: list[GroupView]) -> str:
    return table(
        ("group", "state", "protocol", "members", "static", "partitions", "lag"),
        [
            (
                f'<a href="/groups/{esc(v.name)}">{esc(v.name)}</a>',
                esc(v.description.state),
                esc(v.description.kind or "—"),
                len(v.description.members),
                sum(m.static for m in v.description.members),
                len(v.lag.partitions),
                f"<b{' class=bad' if v.lag.total else ''}>{v.lag.total:,}</b>",
            )
            for v in views
        ],
        raw=True,
    )


def render_group(view: GroupView) -> str:
    d = view.description
    owner = {a: m for m in d.members for a in m.assignment}
    members = table(
        ("member", "static (group.instance.id)", "client", "host", "partitions"),
        [
            (
                m.member_id[-12:],
                m.instance_id or "— dynamic",
                m.client_id,
                m.host,
                ", ".join(m.assignment) or "none",
            )
            for m in d.members
        ],
    )
    lag = table(
        ("partition", "committed", "end", "lag", "owner"),
        [
            (
                f"{p.topic}[{p.partition}]",
                f"{p.committed:,}" if p.committed >= 0 else "—",
                f"{p.end:,}",
                p.lag,
                (lambda m: m.instance_id or m.client_id)(owner[f"{p.topic}[{p.partition}]"])
                if f"{p.topic}[{p.partition}]" in owner
                else "—",
            )
            for p in view.lag.partitions
        ],
    )
    return (
        f"<p>state <b id=group-state>{esc(d.state)}</b> · protocol {esc(d.kind or '—')} · "
        f"assignor {esc(d.assignor or '—')} · coordinator broker {esc(d.coordinator)} · "
        f"total lag <b id=group-lag>{view.lag.total}</b></p>"
        f"<h2>members ({len(d.members)})</h2>{members}<h2>lag per partition</h2>{lag}"
    )
