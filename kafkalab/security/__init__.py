"""Secure mode: TLS material, SCRAM users, ACLs, field encryption and the audit trail.

Everything secret lives under `<data dir>/security/` (0700, files 0600) and is generated on the
first `kafkalab cluster up --secure`; nothing secret is ever written to the repo or to a log.
"""
