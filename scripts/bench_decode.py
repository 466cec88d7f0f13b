"""Benchmark (not a test): events decoded per second per core, the checker's decoder
(`kafkalab/events/fastdecode.py`, fastavro schemaless + the writer's schema) against the one
the services used before (confluent's AvroDeserializer; `EventSerde.decode` now uses the
former).

No broker needed: records are encoded here with the real schemas (`kafkalab/events/schemas`)
in the mix one order writes (5 order-events, 5 inventory, 1 payment, 9 notification, and
analytics results), framed as the registry serializer frames them, and decoded in one
process on one core. The registry is an in-memory stand-in that answers schema ids (the
decoders ask it once per id). Prints figures only; nothing here asserts on time.

    .venv/bin/python scripts/bench_decode.py [--events 100000]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import Schema
from fastavro import parse_schema, schemaless_writer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kafkalab.events.fastdecode import FastDecoder  # noqa: E402
from kafkalab.events.schemas import schema_text  # noqa: E402

# (record type, topic, records per order): the mix one order writes.
MIX = [
    ("OrderCreated", "order-events", 1),
    ("OrderStatusChanged", "order-events", 4),
    ("InventoryReserved", "inventory-events", 1),
    ("StockCommitted", "inventory-events", 1),
    ("StockLevel", "stock", 2),
    ("StockCheckRequested", "inventory-requests", 1),
    ("PaymentCompleted", "payments", 1),
    ("NotificationRequested", "notifications", 6),
    ("NotificationSent", "notifications", 3),
    ("AnalyticsWindow", "analytics", 6),
]


class Registry:
    """Schema id → schema, as SchemaRegistryClient.get_schema and SchemaClient.schema_text
    answer it."""

    def __init__(self) -> None:
        self.by_id: dict[int, Schema] = {}

    def register(self, text: str) -> int:
        schema_id = len(self.by_id) + 1
        self.by_id[schema_id] = Schema(text, "AVRO")
        return schema_id

    def get_schema(self, schema_id: int, *args: Any, **kwargs: Any) -> Schema:
        return self.by_id[schema_id]

    def schema_text(self, schema_id: int) -> str:  # as events.schema_client answers it
        return str(self.by_id[schema_id].schema_str)


class Record:
    """The confluent_kafka.Message methods the decoders call."""

    def __init__(self, topic: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self._topic, self._value, self._headers = topic, value, headers

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 0

    def key(self) -> bytes:
        return b"key"

    def value(self) -> bytes:
        return self._value

    def headers(self) -> list[tuple[str, bytes]]:
        return self._headers

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_765_000_000_000)


def sample(schema: Any) -> Any:
    """A valid value for `schema`: uuids, epoch-ms timestamps, two items per array."""
    if isinstance(schema, list):
        branch = next((s for s in schema if s != "null"), "null")
        return sample(branch)
    if isinstance(schema, str):
        return {
            "string": "text-value",
            "long": 1_765_000_000_000,
            "int": 2,
            "double": 12.5,
            "float": 1.5,
            "boolean": True,
            "null": None,
            "bytes": b"bytes",
        }[schema]
    kind = schema["type"]
    if schema.get("logicalType") == "uuid":
        return str(uuid.uuid4())
    if schema.get("logicalType") == "timestamp-millis":
        return 1_765_000_000_000
    if kind == "record":
        return {f["name"]: sample(f["type"]) for f in schema["fields"]}
    if kind == "array":
        return [sample(schema["items"]) for _ in range(2)]
    if kind == "map":
        return {"a": sample(schema["values"]), "b": sample(schema["values"])}
    if kind == "enum":
        return schema["symbols"][0]
    return sample(kind)


def records(registry: Registry, count: int) -> list[Record]:
    per_order = sum(n for _, _, n in MIX)
    out: list[Record] = []
    for record_type, topic, per in MIX:
        raw = json.loads(schema_text(record_type))
        schema_id = registry.register(json.dumps(raw))
        parsed = parse_schema(raw)
        for _ in range(count * per // per_order):
            buffer = io.BytesIO()
            buffer.write(b"\0" + schema_id.to_bytes(4, "big"))
            schemaless_writer(buffer, parsed, sample(raw))
            headers = [
                ("event_type", record_type.encode()),
                ("trace_id", str(uuid.uuid4()).encode()),
                ("causation_id", str(uuid.uuid4()).encode()),
                ("service", b"bench"),
            ]
            out.append(Record(topic, buffer.getvalue(), headers))
    return out


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, decode: Any, batch: list[Record]) -> None:
    decode(batch[0])  # fetch the schemas first, as a long read does
    wall, used = time.perf_counter(), cpu()
    for record in batch:
        decode(record)
    wall, used = time.perf_counter() - wall, cpu() - used
    print(
        f"{name:<34} {len(batch) / used:>10,.0f} events/CPU-s  "
        f"({len(batch):,} in {used:.2f} CPU-s, {wall:.2f} s wall)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    registry = Registry()
    batch = records(registry, args.events)
    print(f"{len(batch):,} records in the mix of one order, one process, one core")
    fast = FastDecoder(registry)  # type: ignore[arg-type]
    measure("fastdecode (fastavro schemaless)", fast.decode, batch)
    try:
        from confluent_kafka.schema_registry.avro import AvroDeserializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        confluent = AvroDeserializer(registry)  # type: ignore[arg-type]

        def slow(msg: Any) -> Any:
            return confluent(msg.value(), SerializationContext(msg.topic(), MessageField.VALUE))

        measure("confluent AvroDeserializer (before)", slow, batch[: len(batch) // 4])
    except Exception as exc:  # noqa: BLE001 - the comparison is optional
        print(f"AvroDeserializer not measured: {exc}")


if __name__ == "__main__":
    main()
