"""The payment service: exactly-once charges, retries, circuit breaker (see service.py)."""
