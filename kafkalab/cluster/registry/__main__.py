"""`python -m kafkalab.cluster.registry`: run one registry process until SIGTERM or Ctrl-C.

Exit status 0 on a signal, 1 when the port is taken or Kafka cannot be reached in time.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from kafkalab.cluster import connect
from kafkalab.cluster.registry.errors import StoreError
from kafkalab.cluster.registry.server import RegistryServer
from kafkalab.cluster.registry.store import SchemaStore
from kafkalab.settings import load_settings

log = logging.getLogger("kafkalab.cluster.registry")


class _Stopped(Exception):
    """A signal arrived while still starting."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kafkalab.cluster.registry",
        description="A Confluent-compatible schema registry that keeps its schemas in Kafka.",
    )
    parser.add_argument(
        "--bootstrap",
        help="a PLAINTEXT Kafka address (default: the cluster kafkalab settings name)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8081, help="HTTP port")
    parser.add_argument(
        "--replication-factor", type=int, default=1, help="replication factor of _schemas"
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG also logs every request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until a signal; the exit status is the process's (see the module docstring)."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()
    starting = True

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if starting:  # break out of a start-up that may be waiting for Kafka
            raise _Stopped

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    settings = load_settings(bootstrap=args.bootstrap)
    conn = connect.resolve(settings)  # as admin on a secure cluster (lifecycle sets principal)
    store: SchemaStore | None = None
    server: RegistryServer | None = None
    try:
        store = SchemaStore(conn, replication_factor=args.replication_factor)
        server = RegistryServer(args.host, args.port, store, settings.registry_login())
        store.start(timeout=settings.start_timeout)
        starting = False
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        log.info("schema registry listening on http://%s:%d", args.host, args.port)
        stop.wait()
        log.info("stopping")
        server.shutdown()
        return 0
    except _Stopped:
        return 0
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, exc.strerror)
        return 1
    except StoreError as exc:
        log.error("cannot use _schemas on %s: %s", conn.describe(), exc.message)
        return 1
    finally:
        if server is not None:
            server.server_close()
        if store is not None:
            store.close()


if __name__ == "__main__":
    sys.exit(main())
