"""`kafkalab load`: drive many orders through the real pipeline and measure it honestly.

plan.py says what to send; shop.py speaks the services' HTTP APIs (accounts, stock, orders);
pacing.py schedules the orders; driver.py runs the workers while watch.py follows order-events
and sample.py samples lag and CPU; outcome.py turns what the topics said into latencies and
counts (an order with no terminal state by the drain deadline is LOST, never "slow");
volume.py counts what the pipeline wrote; baseline.py measures raw Kafka on the same broker;
report.py holds the result dataclasses; run.py strings them together and ends with the
invariant checker.
"""
