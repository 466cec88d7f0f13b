"""quixstreams' topic admin, without its one-second wait per topic it creates.

quixstreams creates each internal topic (one per re-keying, one changelog per state store or
window) on its own while the pipeline is built, and confirms each one by sleeping a whole
second before looking at the broker's answer (`TopicAdmin._finalize_create`). On a first start
the analytics app creates eleven, and `kafkalab up` waits for it to report healthy: eleven
seconds of sleep. `PromptTopicAdmin` waits on the CreateTopics answer itself, then until the
broker's metadata lists the topics (quixstreams reads their configs back at once), polling
every 50 ms.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from quixstreams.models.topics.admin import TopicAdmin
from quixstreams.models.topics.exceptions import CreateTopicFailure, CreateTopicTimeout

log = logging.getLogger("kafkalab.service.analytics")

POLL_SECONDS = 0.05


class PromptTopicAdmin(TopicAdmin):
    """A TopicAdmin that confirms created topics as soon as the broker has them."""

    def _finalize_create(self, futures: dict[str, Any], finalize_timeout: float = 60) -> None:
        """Confirm `futures` (AdminClient.create_topics' concurrent futures, by topic name)."""
        deadline = time.monotonic() + finalize_timeout
        failures: dict[str, str] = {}
        for name, future in futures.items():
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                raise CreateTopicTimeout(
                    f"topic {name} was not confirmed within {finalize_timeout:g} s"
                ) from None
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    continue  # another replica made it first
                failures[name] = error.str()
            else:
                log.info("topic created", extra={"fields": {"topic": name}})
        if failures:
            raise CreateTopicFailure(f"Failed to create topics: {failures}")
        wanted = set(futures)
        while not wanted <= set(self.list_topics(timeout=max(0.1, deadline - time.monotonic()))):
            if time.monotonic() > deadline:
                raise CreateTopicTimeout(f"topics {sorted(wanted)} never showed in the metadata")
            time.sleep(POLL_SECONDS)
