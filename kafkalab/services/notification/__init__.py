"""Notification service: order status changes → per-channel messages, delivered by workers.

`service` holds the Service (enrich + fan-out), `workers` the channel consumer loops, `table`
the in-memory topic tables, `messages` the pure rules (templates, ids, masking).
"""
