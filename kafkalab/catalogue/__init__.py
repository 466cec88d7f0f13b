"""What the platform is made of, as data every layer may read: the six services (names, ports,
groups, notification channels) and the metrics they export. The topics are in `events.topics`.

It sits at the bottom so that security, observe, monitoring and platform code can name the
services without importing the services themselves.
"""
