# Small, total filters for the Pressluft playbooks: they never raise, so a rescue block that
# turns a tool's output into a result JSON cannot itself fail on unexpected output.
from __future__ import annotations

import json


def pl_json(value):
    """Parse a JSON object from a tool's stdout; {} when it is not one (never raises)."""
    try:
        if isinstance(value, dict):
            return value
        text = (value or "").strip()
        # The artifact tool prints exactly one object; tolerate noise before it.
        start = text.find("{")
        parsed = json.loads(text[start:]) if start >= 0 else None
        return parsed if isinstance(parsed, dict) else {}
    except Exception:
        return {}


def pl_tail(value, chars=400):
    """Last `chars` characters of a (stderr) text on one line; '' for nothing."""
    try:
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            value = "\n".join(str(v) for v in value)
        text = " ".join(str(value).split())
        return text[-int(chars):]
    except Exception:
        return ""


class FilterModule(object):
    def filters(self):
        return {"pl_json": pl_json, "pl_tail": pl_tail}
