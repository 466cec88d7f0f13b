"""The order service: authenticated orders, the stock check by request-reply, and the order
state machine driven by inventory and payment events (see service.py and state.py)."""
