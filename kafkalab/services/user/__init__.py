"""The user service: registration, login, signed tokens (see service.py)."""
