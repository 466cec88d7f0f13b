"""kafkalab's own schema registry: Confluent's REST API, with its state kept in Kafka.

Run it with `python -m kafkalab.cluster.registry --bootstrap HOST:PORT --port 8081`.
`canonical` rebuilds Java Avro's schema strings, `compatibility` holds the Avro rules,
`records`, `state` and `store` the `_schemas` log that every
registry process replays, `server` the HTTP API that confluent-kafka's `SchemaRegistryClient`,
`AvroSerializer` and `AvroDeserializer` talk to unchanged.
"""
