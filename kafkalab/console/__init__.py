"""The web console (`kafkalab console`, :3000): the shop live, topics and messages, consumer
groups, order traces, schemas and the platform, as pages served by kafkalab itself.

It derives nothing of its own: every figure comes from the observers the CLI uses
(monitoring.dashboard, observe.trace/tail/lag/groups, platform.control), and every page is
HTML rendered on the server, charts included (SVG) — no CDN, no chart library, a few lines of
JavaScript for the live updates (server-sent events).
"""
