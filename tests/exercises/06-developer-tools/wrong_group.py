# expect: the reset went to group billing, not to billing
"""Lesson 6 exercise — move consumer groups with Kafka's own tools.

Goal: two consumer groups must read records again, and you move them as an operator does, with
command lines you could type in a terminal. (1) `billing` stopped with a bug that went live at
SINCE: reset it to read `payments` again from that moment. (2) `shipping` lost order LOST: find
that order's record on `orders` (its partition and offset), then put `shipping` back on that
record, on that partition only.

`kafkalab lesson 6` runs this file, then reads both groups' committed offsets back from the
broker with the AdminClient.
"""

import re
import shlex
import subprocess
import sys

from kafkalab.exercise import setup

lab = setup()
PAYMENTS, ORDERS = lab.topic("payments"), lab.topic("orders")
BILLING, SHIPPING = lab.group("billing"), lab.group("shipping")
SINCE: str = lab.params["since"]  # when the bug went live, in UTC: 2026-01-31T09:15:00.000Z
LOST: str = lab.params["lost_order"]  # the order id (the record's key) shipping must see again


def sh(command: str) -> str:
    """Run a command line as you would type it in a terminal; what it printed. `kafkalab` is
    this Python's kafkalab, run with the lesson's settings: it reaches the prepared cluster."""
    if not command:
        return ""
    print(f"$ {command}")
    args = shlex.split(command)
    if args[0] == "kafkalab":
        args = [sys.executable, "-m", "kafkalab", *args[1:]]
    done = subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=60)
    print(done.stdout + done.stderr)
    return done.stdout


# (1) `kafka-consumer-groups.sh` is `kafkalab kafka consumer-groups` here: the same tool, and
#     kafkalab adds --bootstrap-server. A group can only be reset while it has no members.
RESET_BILLING = (
    f"kafkalab kafka consumer-groups --group billing --topic {PAYMENTS} --reset-offsets "
    f"--to-datetime {SINCE} --execute"
)

# (2) `kafkalab tail` prints a record as `time partition@offset type key=… …`.
FIND = f"kafkalab tail {ORDERS}"  # TODO: this prints only the last 20 records; LOST is older.


def where(output: str, key: str) -> tuple[int, int] | None:
    """The partition and offset on the first line that names `key`: from `kafkalab tail`
    (`… 2@17 OrderCreated key=…`) or from the console consumer with print.partition,
    print.offset and print.key on (`Partition:2  Offset:17  …`)."""
    for line in output.splitlines():
        if key in line:
            tailed = re.search(r" (\d+)@(\d+) ", line)
            found = tailed or re.search(r"Partition:(\d+)\s+Offset:(\d+)", line)
            if found:
                return int(found[1]), int(found[2])
    return None


def replay(partition: int, offset: int) -> str:
    """The command that puts SHIPPING back on `offset` of ORDERS' `partition`, and leaves its
    other partitions where they are."""
    return ""  # TODO: --topic accepts TOPIC:PARTITION; which reset specification takes an offset?


sh(RESET_BILLING)
found = where(sh(FIND), LOST)
if found is None:
    print(f"{LOST} is not in what `{FIND}` printed")
else:
    print(f"{LOST} is at partition {found[0]}, offset {found[1]}")
    sh(replay(*found))
