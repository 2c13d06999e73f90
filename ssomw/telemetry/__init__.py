"""What the gateway tells operators: metrics, logs, the audit trail, request ids.

Leaf modules: they import only the store interface, never views or services."""
