# Pressluft job-runner events: JSON lines appended to $PRESSLUFT_EVENTS_FILE.
#
# Contract (docs/design-notes.md, "Ansible runner contract"):
#   {"event":"playbook_start","playbook":NAME}
#   {"event":"task_start","task":NAME}
#   {"event":"task_ok"|"task_failed"|"task_unreachable"|"task_skipped","task":NAME,"host":H,"msg":M}
#   {"event":"stats","stats":{HOST:{"ok":n,"failures":n,"unreachable":n,"changed":n,
#                                   "skipped":n,"rescued":n,"ignored":n}}}
# "msg" is omitted when the task or its result is no_log. A failure that the task ignores
# (ignore_errors) carries "ignored": true. Each line is flushed as written so the runner can
# tail the file while the play runs. This plugin must never break a run: every hook swallows
# its own errors.
from __future__ import annotations

DOCUMENTATION = r"""
name: pressluft_events
type: notification
short_description: append Pressluft job events as JSON lines to $PRESSLUFT_EVENTS_FILE
description:
  - Writes one JSON object per line for playbook start, task start, per-host task outcome and
    the final per-host stats. Does nothing when PRESSLUFT_EVENTS_FILE is unset.
requirements:
  - enable in callbacks_enabled
"""

import json
import os

from ansible.plugins.callback import CallbackBase

# Bounds what one event can carry; the runner keeps messages, not logs.
MAX_MSG_CHARS = 2000
STATS_KEYS = ("ok", "failures", "unreachable", "changed", "skipped", "rescued", "ignored")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "pressluft_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("PRESSLUFT_EVENTS_FILE") or None

    # -- output -------------------------------------------------------------------------------

    def _emit(self, event):
        if not self._path:
            return
        try:
            line = json.dumps(event, default=str, ensure_ascii=False)
            with open(self._path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
        except Exception:  # never let event reporting fail a job
            pass

    @staticmethod
    def _task_name(task):
        try:
            return (task.get_name() or "").strip()
        except Exception:
            return ""

    @staticmethod
    def _msg(res, failed):
        msg = res.get("msg")
        if failed:
            # A bare "non-zero return code" says nothing; the tail of stderr usually does.
            stderr = res.get("stderr")
            if isinstance(stderr, str) and stderr.strip():
                tail = stderr.strip()[-MAX_MSG_CHARS // 2:]
                msg = "%s: %s" % (msg, tail) if msg else tail
        if msg is None:
            return None
        if not isinstance(msg, str):
            msg = json.dumps(msg, default=str, ensure_ascii=False)
        return msg[:MAX_MSG_CHARS]

    def _result_event(self, kind, result, failed=False, extra=None):
        try:
            task = result._task
            res = result._result if isinstance(result._result, dict) else {}
            event = {"event": kind, "task": self._task_name(task), "host": result._host.get_name()}
            no_log = bool(res.get("_ansible_no_log")) or bool(getattr(task, "no_log", False))
            if not no_log:
                msg = self._msg(res, failed)
                if msg is not None:
                    event["msg"] = msg
            if extra:
                event.update(extra)
            self._emit(event)
        except Exception:
            pass

    # -- hooks --------------------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        try:
            name = os.path.basename(getattr(playbook, "_file_name", "") or "")
        except Exception:
            name = ""
        self._emit({"event": "playbook_start", "playbook": name})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit({"event": "task_start", "task": self._task_name(task)})

    def v2_playbook_on_handler_task_start(self, task):
        self._emit({"event": "task_start", "task": self._task_name(task)})

    def v2_runner_on_ok(self, result):
        self._result_event("task_ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result_event("task_failed", result, failed=True,
                           extra={"ignored": True} if ignore_errors else None)

    def v2_runner_on_unreachable(self, result):
        self._result_event("task_unreachable", result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._result_event("task_skipped", result)

    def v2_playbook_on_stats(self, stats):
        try:
            out = {}
            for host in sorted(stats.processed.keys()):
                summary = stats.summarize(host)
                out[host] = {k: int(summary.get(k, 0) or 0) for k in STATS_KEYS}
            self._emit({"event": "stats", "stats": out})
        except Exception:
            pass
