"""The gateway's own pages: sandboxed templates, message catalogs, the stylesheet.

Rendering only: no request handling (views/) and no decisions (core/)."""
