"""What kafkalab remembers about the local cluster, kept in `<data dir>/cluster.json`.

The file is written when a cluster is formatted and read where a connection is resolved (how
many brokers, secure or not) and by `cluster up` (a data dir keeps its size and mode).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kafkalab.settings import Settings

STATE_FILE = "cluster.json"


@dataclass(frozen=True)
class ClusterState:
    cluster_id: str
    brokers: int
    kafka_version: str
    secure: bool = False
    """Formatted for secure mode (SASL_SSL only, ACLs): every later command connects that way."""

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.data_dir / STATE_FILE

    @classmethod
    def load(cls, settings: Settings) -> ClusterState | None:
        """The formatted cluster under the data dir, or None when there is none yet."""
        try:
            raw = json.loads(cls.path(settings).read_text())
            return cls(**raw)
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def save(self, settings: Settings) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.path(settings).write_text(json.dumps(asdict(self), indent=2) + "\n")
