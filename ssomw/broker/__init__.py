"""The broker: ssomw as the OpenID provider of apps that speak OpenID Connect themselves
(contract §12).

Rule: the broker adds no second notion of a user or of access. Its users are ssomw's sessions,
its access decision is the client's ``app`` policy (``core/policy.py``), its keys are the
gateway's key ring (``identity/keys.py``); the OAuth and OIDC protocol work is Authlib's
authorization-server components, never hand-written. State (codes, tokens, which client holds
a session) lives in the store, so every instance is the same provider.
"""
