"""Chaos: break the running platform on purpose and watch Kafka recover.

faults.py picks the victim and injects the fault; watch.py observes what Kafka does about it
(group rebalances, leader elections) on a timeline; runner.py puts them together, optionally
under load, and ends with the invariant checker.
"""
