"""Lesson 21 exercise — a job queue worked by two share consumers (reference solution).

Goal: `jobs` is ONE partition holding a backlog of jobs (each a job id, a UUID) and one poison
job that crashes any worker that reads it. Set up the share group and its workers, Kafka's own
console share consumers, so that both workers take jobs from that one partition, each job is
done once, and the broker gives the poison up after its second delivery, instead of letting it
crash workers for ever.

`kafkalab lesson 21` runs this file, then reads back what the broker's share coordinator wrote
for every job (acknowledged or archived, after how many deliveries) and the `done` topic your
workers' output is copied to.
"""

import shlex
import subprocess
import sys
import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from kafkalab.exercise import setup

lab = setup()
JOBS, DONE = lab.topic("jobs"), lab.topic("done")
GROUP = lab.group("workers")
MAX_RESTARTS = 4  # a worker that keeps crashing is given up on, as an orchestrator backs off


def command(line: str) -> list[str]:
    """A command line as you would type it; `kafkalab` is this Python's kafkalab, run with the
    lesson's settings, so it reaches the prepared cluster."""
    args = shlex.split(line)
    return [sys.executable, "-m", "kafkalab", *args[1:]] if args[0] == "kafkalab" else args


# (1) A share group's settings live on the group, in the broker, not in its consumers: set
#     them before the first worker starts (`kafka-configs --alter --entity-type groups` does
#     the same from a terminal).
GROUP_CONFIG = {"share.auto.offset.reset": "earliest", "share.delivery.count.limit": "2"}

# (2) A worker is Kafka's console share consumer. It prints each job it is handed, then
#     acknowledges it (ACCEPT). Its UUIDDeserializer is the worker's "processing": a job that is
#     not a job id throws, and the worker crashes (exit status 1) without acknowledging it; its
#     close() releases the job, so the broker can deliver it again. It stops by itself once no
#     job came for 6 s (its first poll also waits for the group to hand it jobs).
WORKER = (
    f"kafkalab kafka console-share-consumer --topic {JOBS} --group {GROUP} --timeout-ms 6000"
    " --formatter-property print.delivery=true --formatter-property"
    " value.deserializer=org.apache.kafka.common.serialization.UUIDDeserializer"
    " --command-property share.acquire.mode=record_limit --command-property max.poll.records=1"
)


def start(name: str) -> subprocess.Popen[str]:
    print(f"{name}: $ {WORKER}")
    pipe = subprocess.PIPE
    return subprocess.Popen(command(WORKER), stdout=pipe, stderr=pipe, text=True)


def is_job(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


producer = Producer(lab.config)
if GROUP_CONFIG:
    admin = AdminClient(lab.config)
    group = ConfigResource(
        ResourceType.GROUP,
        GROUP,
        incremental_configs=[
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
            for key, value in GROUP_CONFIG.items()
        ],
    )
    admin.incremental_alter_configs([group])[group].result(timeout=30)
    print(f"group {GROUP}: {GROUP_CONFIG}")

workers = {name: start(name) for name in ("worker-1", "worker-2")}
restarts = 0
while workers:
    for name, worker in list(workers.items()):
        try:
            out, err = worker.communicate(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue  # still working
        del workers[name]
        for line in out.splitlines():  # "Delivery:1<TAB>job id" per job it was handed
            delivery, _, job = line.rpartition("\t")
            if is_job(job):
                print(f"{name} did {job} ({delivery})")
                # The job's result: who did it. The worker acknowledged it already.
                producer.produce(DONE, key=job.encode(), value=name.encode())
        if worker.returncode == 0:
            print(f"{name}: no job for 6 s, stopped")
        elif restarts < MAX_RESTARTS:
            why = [line for line in err.splitlines() if "Exception:" in line][-1:]
            print(f"{name} crashed ({''.join(why).strip()}): restarting it")
            restarts += 1
            workers[name] = start(name)
        else:
            print(f"{name} crashed again: {MAX_RESTARTS} restarts used, giving up on it")
producer.flush(30)
