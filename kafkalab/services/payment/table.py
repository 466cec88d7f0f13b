"""The users' balances payment charges against: the compacted `users` topic as a table.

Reading the topic (every partition, outside any group, read_committed, tombstones) is
`kafkalab.services.tables.TopicTable`'s job; this module only keeps what payment needs of each
UserProfile: its balance.
"""

from __future__ import annotations

from kafkalab.connection import Connection
from kafkalab.events.serde import Event
from kafkalab.services.tables import TopicTable


class UsersTable:
    """Balances by user id, tailed from the first offset of every partition of `topic`.

    `table.sync(ends, timeout)` is the read-your-writes barrier: after it, a user still missing
    here had no profile on the topic when `ends` were looked up (not merely "not read yet").
    """

    def __init__(self, conn: Connection, topic: str, group: str) -> None:
        self._balances: dict[str, int] = {}
        self.table = TopicTable(
            conn,
            topic,
            self._on_event,
            self._on_tombstone,
            name=f"{topic}-table",
            group_id=f"{group}-{topic}-table",
        )

    def balance(self, user_id: str) -> int | None:
        """The user's balance in cents, or None if no profile was read (yet)."""
        return self._balances.get(user_id)

    def __len__(self) -> int:
        return len(self._balances)

    def _on_event(self, event: Event) -> None:
        if "balance_cents" in event.value:
            user_id = str(event.value.get("user_id") or event.key)
            self._balances[user_id] = int(event.value["balance_cents"])

    def _on_tombstone(self, user_id: str) -> None:  # the user is gone
        self._balances.pop(user_id, None)
