"""Lesson 16's stream app, run as a process of its own so the demo can kill it (SIGKILL).

Per user it keeps a session in a state store: page views so far and the cart's value. Every
`state.set()` lands in the local RocksDB store under --state-dir and, at each commit, in the
store's changelog topic — which is how a restarted app with no local files gets it back.

    python app.py --bootstrap HOST:PORT --group G --input T --output T --state-dir DIR
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from quixstreams import Application, State

STATE_AT_START = "state dir at start:"


def session(event: dict[str, Any], state: State) -> dict[str, Any]:
    # `state` is scoped to the record's key: here, this user's entries only.
    views = int(state.get("views", 0)) + 1
    cart = int(state.get("cart_cents", 0)) + int(event["add_cents"])
    state.set("views", views)
    state.set("cart_cents", cart)
    return {"user": event["user"], "seq": event["seq"], "views": views, "cart_cents": cart}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--bootstrap", "--group", "--input", "--output", "--state-dir"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--idle", type=float, default=10.0, help="stop after this long idle")
    parser.add_argument("--deadline", type=float, default=120.0, help="stop after this long")
    args = parser.parse_args()
    # What this process finds on disk before any store is opened: its own word on whether it
    # starts with local state (RocksDB files) or must rebuild every store from the changelog.
    found = [p for p in Path(args.state_dir).rglob("*") if p.is_file()]
    print(f"{STATE_AT_START} {len(found)} file(s) under {args.state_dir}", file=sys.stderr)
    sys.stderr.flush()
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        commit_interval=0.5,  # commit (offsets + changelog) often: the demo waits for it
        consumer_extra_config={
            # A killed member stays in the group until its session times out; 6 s (the
            # broker's minimum) instead of 45 s lets the restarted app take over sooner.
            "session.timeout.ms": 6000,
            "fetch.wait.max.ms": 100,
        },
        loglevel="INFO",
    )
    sdf = app.dataframe(app.topic(args.input, key_deserializer="str", value_deserializer="json"))
    sdf = sdf.apply(session, stateful=True)
    sdf.to_topic(app.topic(args.output, key_serializer="str", value_serializer="json"))
    timer = threading.Timer(args.deadline, app.stop)  # never run for ever, whatever happens
    timer.daemon = True
    timer.start()
    app.run(timeout=args.idle)


if __name__ == "__main__":
    main()
