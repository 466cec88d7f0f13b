"""The inventory service: stock checks, reservations, sales and expiries (see service.py)."""
