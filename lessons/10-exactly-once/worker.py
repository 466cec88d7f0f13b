"""Lesson 10's payment processor: consume-process-produce in Kafka transactions.

Run as its own process by the demo (`python worker.py IN OUT GROUP TXN_ID RECORDS [--die]`), so
it can really be killed: with `--die` it SIGKILLs itself in the middle of its second
transaction, after the transaction's output was written to the log but before it committed.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from kafkalab import clients
from kafkalab.cluster import connect
from kafkalab.settings import load_settings

BATCH = 4


def main(
    source: str, target: str, group: str, transactional_id: str, records: int, die: bool
) -> int:
    conn = connect.resolve(load_settings())  # this process's edge: the same cluster as the demo
    # A SIGKILLed member never says goodbye: the group waits session.timeout.ms before giving
    # its partition to the restarted instance. 6 s is the broker's minimum (45 s by default).
    consumer = clients.consumer(
        conn, group, **{"enable.auto.commit": False, "session.timeout.ms": 6000}
    )
    # transactional.id names this processor across restarts: a new instance with the same id
    # fences the old one and aborts whatever transaction it left open.
    producer = clients.producer(conn, **{"transactional.id": transactional_id})
    producer.init_transactions(30)
    consumer.subscribe([source])
    transactions = 0
    try:
        while True:
            batch = [m for m in consumer.consume(BATCH, timeout=30) if not m.error()]
            if not batch:
                return 1  # the input ran dry before the last record: the demo reports it
            producer.begin_transaction()
            for message in batch:
                order = json.loads(message.value() or b"{}")
                payment = {"order_id": order["order_id"], "charged_cents": order["amount_cents"]}
                producer.produce(target, key=message.key(), value=json.dumps(payment).encode())
            transactions += 1
            if die and transactions == 2:
                producer.flush(30)  # the payments are in the log now, inside the open transaction
                os.kill(os.getpid(), signal.SIGKILL)  # … and the process dies before committing
            # The input offsets join the transaction: outputs and "consumed up to here" commit
            # together, or neither does.
            producer.send_offsets_to_transaction(
                consumer.position(consumer.assignment()), consumer.consumer_group_metadata()
            )
            producer.commit_transaction(30)
            if batch[-1].offset() == records - 1:
                return 0
    finally:
        consumer.close()


if __name__ == "__main__":
    source, target, group, txn, records = sys.argv[1:6]
    sys.exit(main(source, target, group, txn, int(records), die="--die" in sys.argv[6:]))
