"""`kafkalab scenario security` on the plain shared platform: no reset asked for — the broker's
claims are checked on a side secure cluster (one start, ~15 s), the user's cluster stays plain."""

from __future__ import annotations

import json

import pytest

from kafkalab.cluster.state import ClusterState
from kafkalab.scenarios.security import SIDE_FOLDER
from kafkalab.settings import settings_env
from tests.helpers import run_cli
from tests.integration.pool import Running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_security_on_a_plain_platform_runs_on_a_side_secure_cluster(platform: Running) -> None:
    settings = platform.settings
    run = run_cli("scenario", "security", "--json", env=settings_env(settings))
    assert run.code == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["passed"] is True, result["checks"]
    assert result["where"].startswith("a side secure cluster at 127.0.0.1:"), result["where"]
    assert "checked on a side secure cluster" in run.stderr
    names = [c["name"] for c in result["checks"]]
    assert any("denied reading payments by the broker" in n for n in names), names
    assert any("is ciphertext on payments" in n for n in names), names
    assert all(c["ok"] for c in result["checks"]), result["checks"]
    state = ClusterState.load(settings)
    assert state is not None and not state.secure  # the platform's own cluster is untouched
    assert not (settings.data_dir / SIDE_FOLDER).exists()
