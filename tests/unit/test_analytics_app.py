"""The analytics service's lifecycle rules that need no broker."""

from __future__ import annotations

import threading

from kafkalab.services.analytics.app import AnalyticsService
from kafkalab.settings import load_settings
from tests.helpers import NOWHERE, free_port


def test_run_off_the_main_thread_is_refused_with_the_reason(tmp_path) -> None:
    """quixstreams installs signal handlers, which Python allows on the main thread only:
    the service says so instead of failing inside quixstreams."""
    service = AnalyticsService(load_settings(data_dir=tmp_path), NOWHERE, port=free_port())
    errors: list[BaseException] = []

    def run() -> None:
        try:
            service.run()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    service.http.server_close()
    assert len(errors) == 1 and "main thread" in str(errors[0])


def test_state_dir_is_per_replica_under_the_data_dir(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path)
    first = AnalyticsService(settings, NOWHERE, replica=0, port=free_port())
    second = AnalyticsService(settings, NOWHERE, replica=1, port=free_port())
    try:
        assert first.state_dir == tmp_path / "analytics-state" / "replica-0"
        assert second.state_dir == tmp_path / "analytics-state" / "replica-1"
        assert first.group_id == second.group_id == "kafkalab-analytics"
    finally:
        first.http.server_close()
        second.http.server_close()
