"""How long the harness waits for what is not a product bound: a component to serve after its
launch, a helper process or thread to finish.

These waits only cost time when something is already broken (a process that dies still fails
at once, with its log), so they are set for the slowest machine we run on, not the usual one.
A CI run on a contended 2-core host (load average in the hundreds) saw the Node provider, a
gunicorn and a forked child each need more than the 10-20 s they had then. Product bounds
("logout refused within 1 s") stay in the tests that assert them and never come from here.
"""

STARTUP = 90.0
"""Seconds for a started component (nginx, gunicorn, Node, slapd, Redis) to answer."""

CHILD = 60.0
"""Seconds for a helper process or thread a test started to report back and exit."""

PORT_RELEASE = 30.0
"""Seconds for a stopped server's port to stop accepting connections."""
