"""Lesson 22's check says ✘ when a grader check failed or a refund is missing or doubled."""

from __future__ import annotations

from pathlib import Path

from kafkalab.curriculum.manifest import find
from kafkalab.curriculum.runner import load_module
from kafkalab.verdict import Check, passed

check_module = load_module(find(22), "check")
Seen, check = check_module.Seen, check_module.check


def good() -> object:
    graded = [Check("every refund once, none for an unpaid order", True, "10 orders")]
    return Seen(graded=graded, owed=10, committed=10, uncommitted=12)


def test_the_right_outcome_passes() -> None:
    assert passed(check(good()))


def test_a_failed_grader_check_fails_the_demo() -> None:
    seen = good()
    seen.graded = [Check("the poison record was dead-lettered once, with its reason", False, "")]
    assert not passed(check(seen))


def test_a_doubled_refund_fails() -> None:
    seen = good()
    seen.committed = 11
    assert not passed(check(seen))


# -- the alert rule: judged with kafkalab's own evaluator over planted scrapes ------------------

alerting = load_module(find(22), "alerting")
grade = load_module(find(22), "grade")
SOLVED = "increase(refunds_dead_letters_total[5m]) > 0"


def rule_file(tmp_path: Path, expr: str, extra: str = "") -> Path:
    path = tmp_path / "exercise.py"
    path.write_text(
        'ALERT_RULE = """\n'
        "groups:\n"
        "  - name: refunds\n"
        "    rules:\n"
        "      - alert: RefundPoisonRecord\n"
        f"        expr: {expr}\n"
        f"{extra}"
        '"""\n'
    )
    return path


def tried(rules: object, poison: bool = True) -> Check:
    """The grader's phases on planted /metrics: idle, after the second wave's refunds, then
    after a poison record (when `poison`)."""
    target = alerting.Target("refund", "127.0.0.1", 1)
    watch = alerting.Watch(target, alerting.AlertEngine(rules if isinstance(rules, list) else []))
    clock = [1000.0]

    def scrape(issued: float, dead: float) -> None:
        sample = alerting.Scrape(clock[0])
        alerting.parse_into(
            sample,
            target,
            "# TYPE refunds_issued counter\n"
            f"refunds_issued_total {issued}\n"
            "# TYPE refunds_dead_letters counter\n"
            f"refunds_dead_letters_total {dead}\n",
        )
        watch.history.add(sample)
        watch.answered = True
        watch.exposed |= set(sample.series) - {"up"}
        clock[0] += 0.4

    for issued in (10, 10, 13, 13):  # idle, then the second wave's refunds
        scrape(issued, 0)
        watch.quiet()
    if poison:
        for _ in range(3):
            scrape(13, 1)
            if watch.poisoned():
                break
    return alerting.judge(rules, watch, poison, True)


def rules_of(tmp_path: Path, expr: str, extra: str = "") -> object:
    return alerting.load(rule_file(tmp_path, expr, extra))


def test_a_rule_on_the_dead_letter_counter_fires_after_the_poison(tmp_path: Path) -> None:
    check = tried(rules_of(tmp_path, SOLVED))
    assert check.ok, check
    assert tried(rules_of(tmp_path, "refunds_dead_letters_total > 0")).ok


def test_the_reference_solution_holds_a_rule_that_fires(tmp_path: Path) -> None:
    solution = Path(find(22).directory) / "solution.py"
    assert tried(alerting.load(solution)).ok


def test_the_untouched_rule_never_fires(tmp_path: Path) -> None:
    exercise = Path(find(22).directory) / "exercise.py"
    check = tried(alerting.load(exercise))
    assert check.ok is False
    assert "inactive after the poison" in check.detail


def test_a_rule_on_the_refunds_fires_before_any_poison(tmp_path: Path) -> None:
    for expr in ("refunds_issued_total > 0", "increase(refunds_issued_total[5m]) > 0"):
        check = tried(rules_of(tmp_path, expr))
        assert check.ok is False, expr
        assert "before any poison record" in check.detail


def test_a_metric_the_service_does_not_expose_is_named(tmp_path: Path) -> None:
    check = tried(rules_of(tmp_path, "kafkalab_dead_letters_total > 0"))
    assert check.ok is False
    assert "/metrics has no kafkalab_dead_letters_total" in check.detail


def test_a_label_the_scrape_does_not_carry_is_named(tmp_path: Path) -> None:
    check = tried(rules_of(tmp_path, 'refunds_dead_letters_total{job="refund"} > 0'))
    assert check.ok is False
    assert 'endpoint="refund"' in check.detail


def test_a_threshold_one_poison_never_trips_fails(tmp_path: Path) -> None:
    check = tried(rules_of(tmp_path, "refunds_dead_letters_total > 1"))
    assert check.ok is False
    assert "refunds_dead_letters_total = 1" in check.detail


def test_a_long_for_stays_pending(tmp_path: Path) -> None:
    check = tried(rules_of(tmp_path, SOLVED, "        for: 5m\n"))
    assert check.ok is False
    assert "stayed pending" in check.detail


def test_an_unreadable_rule_says_why(tmp_path: Path) -> None:
    check = tried(rules_of(tmp_path, "[oops"))
    assert check.ok is False
    assert "ALERT_RULE" in check.detail
    path = tmp_path / "other.py"
    path.write_text('ALERT_RULE = f"{1}"\n')
    assert "not a plain string" in alerting.load(path)


def test_no_poison_on_the_dlt_cannot_be_judged(tmp_path: Path) -> None:
    assert tried(rules_of(tmp_path, SOLVED), poison=False).ok is None


# -- who wrote: the broker's authorizer log -----------------------------------------------------


def test_writers_come_from_the_authorizer_log(tmp_path: Path) -> None:
    logs = tmp_path / "broker-1" / "logs"
    logs.mkdir(parents=True)
    line = (
        "[2026-12-07 04:51:46,563] DEBUG Principal = User:{who} is Allowed operation = WRITE "
        "from host = 127.0.0.1 on resource = Topic:LITERAL:{topic} for request = Produce with "
        "resourceRefCount = 1 based on rule SuperUser (kafka.authorizer.logger)\n"
    )
    (logs / "server.log").write_text(
        line.format(who="refund-ab12", topic="lesson22.refunds.ab12")
        + line.format(who="admin", topic="lesson22.refunds.DLT.ab12")
        + line.format(who="admin", topic="lesson22.order-events.ab12")
        + line.replace("Allowed", "Denied").format(who="x", topic="lesson22.refunds.ab12")
    )
    found = grade.log_writers(tmp_path, {"lesson22.refunds.ab12", "lesson22.refunds.DLT.ab12"})
    assert found == {"User:refund-ab12": 1, "User:admin": 1}
