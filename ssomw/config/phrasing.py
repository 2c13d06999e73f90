"""Schema problems in an operator's words: YAML spelling, a suggestion, and no secret values.

JSON Schema's own messages quote the offending value in Python's spelling (``True is not one
of [...]``, ``'MyRealSecret…' is too short``). Messages here reach ``ssomw check``, the logs
and the admin API, so they spell values as the YAML file does (``true``, ``null``), suggest
the nearest allowed key or value for a typo, and never quote a value under a secret key
(:data:`~ssomw.config.schema.SECRET_KEYS`): they give its length instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from jsonschema import ValidationError
from jsonschema.exceptions import best_match

from ssomw.config.schema import DURATION, SECRET_KEYS
from ssomw.core.url_secrets import redact_url

KINDS = {"string": "a string", "boolean": "true or false", "integer": "a whole number",
         "number": "a number", "array": "a list", "object": "a mapping", "null": "null"}


def format_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def literal(value: Any) -> str:
    """``value`` as YAML spells it (``true``, ``null``, ``'text'``, ``[1, 'a']``); a URL
    without its credentials."""
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(redact_url(value))
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def kind_of(value: Any, secret: bool) -> str:
    """What was given, for "must be X, not Y": a scalar quoted, a container by its kind;
    a secret never quoted, only its length."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if secret and isinstance(value, str):
        return f"a string of {len(value)} characters"
    if secret:
        return "a " + type(value).__name__
    return literal(value)


def suggestion(given: Any, choices: Iterable[Any]) -> str:
    """``; did you mean 'idle_timeout'?`` for the nearest choice, or nothing."""
    if not isinstance(given, str):
        return ""
    names = [c for c in choices if isinstance(c, str)]
    by_case = {c.lower(): c for c in names}
    near = ([by_case[given.lower()]] if given.lower() in by_case else
            difflib.get_close_matches(given, names, n=1, cutoff=0.6))
    return f"; did you mean {near[0]!r}?" if near else ""


def is_secret(path: Sequence[Any]) -> bool:
    """Under a secret key, or the admin token list itself (a token pasted there)."""
    return any(isinstance(part, str) and part in SECRET_KEYS for part in path) or \
        list(path)[-1:] == ["tokens"]


def phrase(err: ValidationError) -> list[tuple[str, str]]:
    """(path, message) for one schema error; an unknown-keys error gives one per key."""
    parts = list(err.absolute_path)
    path = format_path(parts)
    secret = is_secret(parts)
    value, rule, limit = err.instance, err.validator, err.validator_value
    if "propertyNames" in err.relative_schema_path:
        return [(path, f"key {literal(value)} is not allowed here (it has an invalid format)")]
    if rule == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        known = ", ".join(allowed) or "none in this version"
        return [(f"{path}.{key}" if parts else str(key),
                 f"unknown key{suggestion(key, allowed)} (known keys: {known})")
                for key in value if key not in allowed]
    if rule == "required":
        missing = err.message.split("'")[1]
        return [(f"{path}.{missing}" if parts else missing, "is required")]
    if rule == "oneOf":
        if err.schema.get("description") == DURATION["description"]:
            return [(path, "must be a duration: seconds, or 90s, 30m, 12h, 7d")]
        specific = [e for e in err.context if e.validator != "type"]
        if specific:  # the value had a right type but broke that form's rule: say which
            return phrase(best_match(specific))
        forms = " or ".join(KINDS.get(str(s.get("type")), "another form")
                            for s in err.schema.get("oneOf", []))
        return [(path, f"must be {forms}, not {kind_of(value, secret)}")]
    return [(path, message(rule, limit, value, secret))]


def message(rule: str, limit: Any, value: Any, secret: bool) -> str:
    shown = f"a value of {len(value)} characters" if secret and isinstance(value, str) \
        else ("the value" if secret else literal(value))
    if rule == "type":
        wanted = limit if isinstance(limit, list) else [limit]
        return f"must be {' or '.join(KINDS.get(t, t) for t in wanted)}, " \
               f"not {kind_of(value, secret)}"
    if rule in ("enum", "const"):
        options = limit if rule == "enum" else [limit]
        hint = "" if secret else suggestion(value, options)
        return f"{shown} is not one of {', '.join(literal(o) for o in options)}{hint}"
    if rule == "pattern":
        return f"{shown} has an invalid format" + (" (the value is not shown)" if secret else "")
    if rule in ("minLength", "maxLength"):
        size = len(value) if isinstance(value, str) else 0
        bound = "at least" if rule == "minLength" else "at most"
        return f"is too {'short' if rule == 'minLength' else 'long'}: {size} characters, " \
               f"{bound} {limit} needed"
    if rule == "minItems":
        return "should be non-empty" if limit == 1 else f"needs at least {limit} items"
    if rule == "maxItems":
        return f"may have at most {limit} items"
    if rule == "uniqueItems":
        return "has duplicate items"
    if rule == "minProperties":
        return "must not be empty" if limit == 1 else f"needs at least {limit} keys"
    if rule == "maxProperties":
        return "may have only one key" if limit == 1 else f"may have at most {limit} keys"
    if rule in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        relation = {"minimum": "at least", "exclusiveMinimum": "more than",
                    "maximum": "at most", "exclusiveMaximum": "less than"}[rule]
        return f"must be {relation} {literal(limit)}, not {shown}"
    return f"{shown} is invalid ({rule})"
