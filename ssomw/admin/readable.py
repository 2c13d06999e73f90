"""Configurations and their impact as lines people read: the CLI prints them, the console
shows them.

``diff_lines`` turns a version diff into one line per changed leaf (``~ apps[0].sso: true ->
false``; list items of objects paired by ``id``/``name``/``username``), secrets as ``***``;
``impact_lines`` words an impact preview (:mod:`.preview`).
"""

from __future__ import annotations

import re
from typing import Any

from ssomw.config.phrasing import literal
from ssomw.config.schema import SECRET_KEYS


def diff_lines(changes: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for change in changes:
        path = change["path"]
        if change["op"] == "add":
            lines += [f"+ {where}: {show(where, value)}" for where, value
                      in leaves(change["value"], path)]
        elif change["op"] == "remove":
            lines.append(f"- {path}")
        else:
            lines += compare(change["from"], change["to"], path)
    return lines


def compare(old: Any, new: Any, path: str) -> list[str]:
    """Leaf-level differences; entries of lists of objects are paired by their ``id``
    (``name``, ``username``) when they all have one, so inserting an app is one addition."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}"
            if key not in old:
                lines += [f"+ {w}: {show(w, v)}" for w, v in leaves(new[key], where)]
            elif key not in new:
                lines.append(f"- {where}")
            else:
                lines += compare(old[key], new[key], where)
        return lines
    if isinstance(old, list) and isinstance(new, list) and nested(old + new):
        return compare_items(old, new, path)
    if old == new:
        return []
    return [f"~ {path}: {show(path, old)} -> {show(path, new)}"]


def compare_items(old: list[Any], new: list[Any], path: str) -> list[str]:
    ident = identity_key(old + new)
    if ident is None:
        pairs = [(i, old[i] if i < len(old) else MISSING, new[i] if i < len(new) else MISSING)
                 for i in range(max(len(old), len(new)))]
    else:
        before = {item[ident]: (i, item) for i, item in enumerate(old)}
        pairs = [(i, before.pop(item[ident], (None, MISSING))[1], item)
                 for i, item in enumerate(new)]
        pairs += [(i, item, MISSING) for i, item in before.values()]
    lines = []
    for i, was, now in pairs:
        where = f"{path}[{i}]"
        if was is MISSING:
            lines += [f"+ {w}: {show(w, v)}" for w, v in leaves(now, where)]
        elif now is MISSING:
            named = f" ({ident} {was[ident]!r})" if ident else ""
            lines.append(f"- {where}{named}")
        else:
            lines += compare(was, now, where)
    return lines


MISSING: Any = object()


def identity_key(items: list[Any]) -> str | None:
    for key in ("id", "name", "username"):
        values = [item.get(key) for item in items if isinstance(item, dict)]
        if len(values) == len(items) and all(isinstance(v, str) for v in values):
            return key
    return None


def nested(items: list[Any]) -> bool:
    return any(isinstance(item, (dict, list)) for item in items)


def leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    """(path, value) for every leaf; a list of plain values is one leaf (``hosts: [...]``)."""
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in leaves(item, f"{path}.{key}")]
    if isinstance(value, list) and nested(value):
        return [leaf for i, item in enumerate(value) for leaf in leaves(item, f"{path}[{i}]")]
    return [(path, value)]


def show(path: str, value: Any) -> str:
    """A value as YAML spells it; under a secret key (or a credential in a URL) ``***``."""
    parts = [part for part in re.split(r"[.\[\]]", path) if part]
    if any(part in SECRET_KEYS for part in parts):
        return "***" if not isinstance(value, list) else "[" + ", ".join(
            "***" for _ in value) + "]"
    return literal(value)


def impact_lines(body: dict[str, Any]) -> list[str]:
    """An impact preview (``Preview.body()``) as lines: one per user and session affected."""
    lines = [f"impact: {body['known_users']} known user(s), {body['live_sessions']} live "
             f"session(s) looked at"]
    for user in body["users"]:
        parts = []
        if user["gains"]:
            parts.append("gains " + ", ".join(user["gains"]))
        if user["loses"]:
            parts.append("loses " + ", ".join(user["loses"]))
        others = [a for a in user["apps"] if a["app"] not in user["gains"] + user["loses"]]
        parts += [f"{a['app']}: {a['before']} -> {a['after']}" for a in others]
        groups = user["groups"]
        if groups["added"]:
            parts.append("groups +" + ", +".join(groups["added"]))
        if groups["removed"]:
            parts.append("groups -" + ", -".join(groups["removed"]))
        lines.append(f"  user {user['user']}: " + "; ".join(parts))
    for session in body["sessions"]:
        head = f"  session {session['id'][:8]}… of {session['user']} ({session['provider']})"
        if session["ends"]:
            lines.append(f"{head}: ends ({session['ends']})")
            continue
        parts = []
        if session["gains"]:
            parts.append("gains " + ", ".join(session["gains"]))
        if session["loses"]:
            parts.append("loses " + ", ".join(session["loses"]))
        for headers in session["headers"]:
            changed = [f"+{n}" for n in headers["added"]] + [f"-{n}" for n in headers[
                "removed"]] + [f"~{n}" for n in headers["changed"]]
            parts.append(f"headers at {headers['app']}: {' '.join(changed)}")
        if session.get("note"):
            parts.append(session["note"])
        lines.append(f"{head}: " + "; ".join(parts))
    if not body["users"] and not body["sessions"]:
        lines.append("  nobody gains or loses access; no live session ends or changes")
    return lines
