"""`python -m kafkalab.platform.create_topics --brokers N`: apply the topic catalogue and exit.

The one-shot `topics` container of docker/compose.yaml runs this before the services start,
so the topics get the catalogue's partitions, retention and compaction (and replication
factor 3 on three nodes) instead of whatever a broker's auto-creation would pick. Locally,
`kafkalab up` does the same in-process.
"""

from __future__ import annotations

import argparse
import logging
import sys

from kafkalab import clients
from kafkalab.cluster import connect
from kafkalab.errors import KafkalabError
from kafkalab.events.topics import apply_catalogue
from kafkalab.settings import load_settings

log = logging.getLogger("kafkalab.topics")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--brokers", type=int, choices=(1, 3), default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    conn = connect.resolve(load_settings())
    try:
        created = apply_catalogue(clients.admin(conn), args.brokers, timeout=60.0)
    except KafkalabError as exc:
        log.error("%s — %s", exc.message, exc.hint)
        return 1
    log.info("topic catalogue applied on %s: %d created", conn.bootstrap_servers, len(created))
    return 0


if __name__ == "__main__":
    sys.exit(main())
