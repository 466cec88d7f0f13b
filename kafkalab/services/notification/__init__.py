"""Notification service: order status changes → per-channel messages, delivered by workers.

`service` holds the Service (enrich + fan-out), `workers` the channel consumer loops,
`messages` the pure rules (templates, ids, masking); the topic tables come from
`kafkalab.services.tables`.
"""
