"""The order service: authenticated orders, the stock check (its own stock table, or
request-reply with inventory), and the order state machine driven by inventory and payment
events (see service.py and state.py)."""
