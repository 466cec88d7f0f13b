"""The PromQL subset against planted samples: selectors, rate, aggregation, arithmetic, filters."""

from __future__ import annotations

import math

import pytest

from kafkalab.monitoring import promql
from kafkalab.monitoring.promql import PromQLError
from kafkalab.monitoring.scrape import History, Scrape


def history(*scrapes: tuple[float, dict[str, list[tuple[dict[str, str], float]]]]) -> History:
    store = History(keep=600)
    for at, series in scrapes:
        scrape = Scrape(at)
        for name, samples in series.items():
            for labels, value in samples:
                scrape.add(name, labels, value)
        store.add(scrape)
    return store


def ev(text: str, store: History) -> promql.Value:
    return promql.evaluate(promql.parse(text), store)


def flat(value: promql.Value) -> dict[tuple[tuple[str, str], ...], float]:
    assert isinstance(value, dict)
    return {tuple(sorted(k)): v for k, v in value.items()}


LAG = {
    "lag": [
        ({"group": "a", "partition": "0"}, 5.0),
        ({"group": "a", "partition": "1"}, 7.0),
        ({"group": "b", "partition": "0"}, 1.0),
    ]
}


def test_selectors_filter_by_label_matchers() -> None:
    store = history((0, LAG))
    assert len(flat(ev("lag", store))) == 3
    assert flat(ev('lag{group="a", partition!="0"}', store)) == {
        (("group", "a"), ("partition", "1")): 7.0
    }
    assert len(flat(ev('lag{group=~"a|b", partition!~"1"}', store))) == 2
    assert flat(ev('lag{group="nope"}', store)) == {}


def test_aggregations_group_by_the_named_labels_only() -> None:
    store = history((0, LAG))
    assert flat(ev("sum by (group) (lag)", store)) == {
        (("group", "a"),): 12.0,
        (("group", "b"),): 1.0,
    }
    assert flat(ev("max(lag) by (group)", store))[(("group", "a"),)] == 7.0
    assert flat(ev("min(lag)", store)) == {(): 1.0}
    assert flat(ev("avg(lag)", store)) == {(): pytest.approx(13 / 3)}
    assert flat(ev("count(lag)", store)) == {(): 3.0}


def test_comparisons_filter_and_keep_the_left_value() -> None:
    store = history((0, LAG))
    assert flat(ev("sum by (group) (lag) > 10", store)) == {(("group", "a"),): 12.0}
    assert flat(ev("sum by (group) (lag) > 100", store)) == {}
    assert flat(ev("3 < sum by (group) (lag)", store)) == {(("group", "a"),): 12.0}


def test_rate_uses_the_samples_in_its_window_and_survives_a_counter_reset() -> None:
    c = "events_total"
    store = history(
        (0, {c: [({"s": "x"}, 100.0)]}),
        (10, {c: [({"s": "x"}, 110.0)]}),
        (20, {c: [({"s": "x"}, 4.0)]}),  # restarted: counts from 0 again
        (30, {c: [({"s": "x"}, 14.0)]}),
    )
    assert flat(ev(f"rate({c}[1m])", store)) == {(("s", "x"),): pytest.approx(24 / 30)}
    assert flat(ev(f"increase({c}[15s])", store)) == {(("s", "x"),): pytest.approx(10.0)}


def test_rate_needs_two_samples() -> None:
    store = history((0, {"c_total": [({}, 1.0)]}))
    assert flat(ev("rate(c_total[1m])", store)) == {}


def test_vector_arithmetic_matches_identical_label_sets() -> None:
    store = history(
        (0, {"bad": [({"s": "a"}, 1.0), ({"s": "b"}, 0.0)], "all": [({"s": "a"}, 4.0)]})
    )
    assert flat(ev("bad / all", store)) == {(("s", "a"),): 0.25}
    assert flat(ev("bad + all * 2", store)) == {(("s", "a"),): 9.0}


def test_division_by_zero_gives_nan_or_inf_and_nan_never_compares_true() -> None:
    store = history((0, {"x": [({}, 0.0)], "y": [({}, 0.0)], "z": [({}, 3.0)]}))
    assert math.isnan(flat(ev("x / y", store))[()])
    assert flat(ev("z / y", store))[()] == math.inf
    assert flat(ev("x / y > 0.5", store)) == {}
    assert flat(ev("x / y < 0.5", store)) == {}


def test_scalars_and_precedence() -> None:
    store = history((0, {}))
    assert ev("1 + 2 * 3", store) == 7.0
    assert ev("(1 + 2) * 3", store) == 9.0
    assert ev("-2 + 5", store) == 3.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("histogram_quantile(0.9, x)", "not supported"),
        ("sum without (a) (x)", "without"),
        ("rate(x)", "needs a range"),
        ("x{a=b}", "quoted strings"),
        ("x >", "ends too early"),
        ("x ^ 2", "cannot read"),
        ("rate(x[often])", "not a duration"),
    ],
)
def test_anything_outside_the_subset_is_refused_with_a_sentence(text: str, message: str) -> None:
    with pytest.raises(PromQLError, match=message):
        promql.parse(text)


def test_a_bare_range_selector_cannot_be_evaluated() -> None:
    with pytest.raises(PromQLError, match="needs rate"):
        ev("x[1m]", history((0, {})))


def test_metric_names_and_longest_range() -> None:
    expr = promql.parse("sum(rate(a_total[1m])) < 0.5 * sum(rate(a_total[5m])) + b")
    assert promql.metric_names(expr) == {"a_total", "b"}
    assert promql.longest_range(expr) == 300.0
