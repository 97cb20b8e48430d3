"""One playbook run with ansible-runner: live task events, cancel, timeout, and no orphans.

`run_playbook` is called on a worker thread (never the GUI thread). Each task's start and end is
handed to `on_task` as it happens. Three ansible-runner traps are handled here (shared/spec/deps.md §5):

- ansible-runner looks for `ansible-playbook` on PATH; it is started by its full path in this
  Python's environment instead, so a caller without the virtualenv on PATH works.
- ansible-runner's cancel kills only the ansible-playbook process group, but ansible's task workers
  call setsid() and would live on (with a `sleep` they run) as orphans. On cancel or timeout every
  descendant is collected first and then killed, and the kill is checked.
- an exception raised by a callback (`on_task`, `should_cancel`, `on_started`: a database write that
  failed) goes up through ansible-runner's loop and leaves ansible-playbook running unwatched. The
  callbacks here never raise: the first error is kept, the run is killed like a cancel, and the
  result says so (status "error", `callback_error`).
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from omnidesk.provisioning.models import EVENT_FAILED, EVENT_IGNORED, EVENT_OK, EVENT_RUNNING


def ansible_playbook_path() -> str:
    """ansible-playbook of this Python's environment (the venv), else the one on PATH."""
    here = Path(sys.executable).parent / "ansible-playbook"
    if here.exists():
        return str(here)
    found = shutil.which("ansible-playbook")
    if not found:
        raise FileNotFoundError("ansible-playbook is not installed: install ansible-core into OmniDesk's environment.")
    return found


@dataclass
class TaskEvent:
    """A task starting (status 1) or ending (0 ok, 2 failed, 3 failed but ignored)."""

    key: str  # the task's uuid in this run
    name: str
    status: int
    output: dict[str, Any] = field(default_factory=dict)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    skipped: bool = False
    action: str = ""  # the task's module ("ansible.builtin.fail"), to tell a deliberate fail from a broken step


@dataclass
class RunResult:
    status: str  # successful | failed | canceled | timeout | error (a callback raised; the run was killed)
    rc: int | None
    stats: dict[str, Any]  # what the playbook reported with set_stats
    stdout: str
    error: str = ""
    seconds: float = 0.0
    callback_error: BaseException | None = None


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_tree(processes: list[psutil.Process], wait: float = 5.0) -> list[int]:
    """SIGKILL every process given; returns the pids still alive after `wait` (should be none)."""
    for p in processes:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    # Our own child (ansible-playbook) is reaped by pexpect: waiting on it here would steal its status.
    me = os.getpid()
    others = []
    for p in processes:
        try:
            if p.ppid() != me:
                others.append(p)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(others, timeout=wait)
    return [p.pid for p in alive]


def _task_output(data: dict[str, Any]) -> dict[str, Any]:
    res = data.get("res") or {}
    out: dict[str, Any] = {}
    for key in ("msg", "status", "json", "rc", "stdout", "stderr", "changed", "failed_when_result", "assertion",
                "url", "skip_reason", "ansible_stats"):
        if key in res:
            out[key] = res[key]
    if "results" in res and isinstance(res["results"], list):
        out["results"] = [{k: r.get(k) for k in ("msg", "status", "json", "item", "failed") if k in r}
                          for r in res["results"][:20]]
    if data.get("duration") is not None:
        out["duration"] = data["duration"]
    return out


def run_playbook(
    playbook: Path, variables: dict[str, Any], *, on_task: Callable[[TaskEvent], None] | None = None,
    should_cancel: Callable[[], bool] | None = None, timeout: float = 300.0,
    on_started: Callable[[int], None] | None = None, niceness: int = 19,
) -> RunResult:
    """Run `playbook` against localhost with `variables` as extra vars; blocks until it ends."""
    import ansible_runner

    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="omnidesk-run-"))
    state: dict[str, Any] = {"stats": {}, "stdout": [], "pid": None, "killed": None, "tasks": {}, "error": None}
    lock = threading.Lock()

    def failed(exc: BaseException) -> None:
        """A callback raised: keep the first error; the next cancel check kills the run."""
        if state["error"] is None:
            state["error"] = exc

    def handle(ev: dict[str, Any]) -> bool:
        with lock:
            if ev.get("pid") and state["pid"] is None:
                state["pid"] = ev["pid"]
                if on_started:
                    try:
                        on_started(ev["pid"])
                    except Exception as exc:  # noqa: BLE001 — never into ansible-runner (see the module doc)
                        failed(exc)
            if ev.get("stdout"):
                state["stdout"].append(ev["stdout"])
        kind = ev.get("event", "")
        data = ev.get("event_data") or {}
        if kind == "playbook_on_stats":
            state["stats"] = data.get("artifact_data") or {}
            return True
        task_key = data.get("task_uuid") or data.get("uuid") or ""
        name = data.get("task") or data.get("task_action") or "task"
        event = None
        action = str(data.get("task_action") or "")
        if kind == "runner_on_start":
            event = TaskEvent(task_key, name, EVENT_RUNNING, action=action)
        elif kind == "runner_on_ok":
            event = TaskEvent(task_key, name, EVENT_OK, _task_output(data), action=action)
        elif kind == "runner_on_skipped":
            event = TaskEvent(task_key, name, EVENT_OK, _task_output(data), skipped=True, action=action)
        elif kind in ("runner_on_failed", "runner_on_unreachable"):
            ignored = bool(data.get("ignore_errors"))
            event = TaskEvent(task_key, name, EVENT_IGNORED if ignored else EVENT_FAILED, _task_output(data),
                              action=action)
        if event is not None and on_task is not None:
            try:
                on_task(event)
            except Exception as exc:  # noqa: BLE001 — never into ansible-runner (see the module doc)
                failed(exc)
        return True

    deadline = started + timeout

    def cancel() -> bool:
        reason = None
        if state["error"] is not None:
            reason = "error"
        elif time.monotonic() > deadline:
            reason = "timeout"
        elif should_cancel is not None:
            try:
                if should_cancel():
                    reason = "canceled"
            except Exception as exc:  # noqa: BLE001 — never into ansible-runner (see the module doc)
                failed(exc)
                reason = "error"
        if reason is None:
            return False
        if state["killed"] is None:
            state["killed"] = reason
            tree = []
            for p in psutil.Process().children(recursive=True):
                try:
                    if str(workdir) in " ".join(p.cmdline()):
                        tree.extend(_descendants(p.pid))
                except psutil.Error:
                    continue
            unique = {p.pid: p for p in tree}
            kill_tree(list(unique.values()))
        return True

    try:
        project = workdir / "project"
        project.mkdir()
        # ansible-playbook and its task workers run at the lowest CPU priority: twenty of them on
        # two cores must not starve the desktop's event loop (nor PostgreSQL on a shared machine).
        binary, args = ansible_playbook_path(), []
        if niceness:
            binary, args = sys.executable, [str(Path(__file__).with_name("low_priority_playbook.py")), str(niceness),
                                            ansible_playbook_path()]
        r = ansible_runner.run(
            private_data_dir=str(workdir), binary=binary,
            cmdline=shlex.join([*args, str(Path(playbook).resolve())]), inventory="localhost,", extravars=variables,
            envvars={"ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
                     "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1",
                     "ANSIBLE_DEPRECATION_WARNINGS": "False", "PATH": os.path.dirname(sys.executable) + os.pathsep
                     + os.environ.get("PATH", "/usr/bin:/bin")},
            event_handler=handle, cancel_callback=cancel, quiet=True, rotate_artifacts=1,
            settings={"suppress_ansible_output": True, "pexpect_timeout": 0.2},
        )
        stdout = "".join(state["stdout"])
        # A callback that raised after the last cancel check still makes the run's record incomplete.
        status = state["killed"] or ("error" if state["error"] is not None else r.status)
        error = ""
        if status == "failed":
            error = _failure_text(stdout, r.rc)
        elif status == "error":
            error = f"The run was stopped: {state['error'].__class__.__name__}: {state['error']}"
        return RunResult(status=status, rc=r.rc, stats=state["stats"], stdout=stdout, error=error,
                         seconds=time.monotonic() - started, callback_error=state["error"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _failure_text(stdout: str, rc: int | None) -> str:
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    for marker in ("ERROR!", "[ERROR]", "fatal:", "FAILED!"):
        hits = [ln for ln in lines if marker in ln]
        if hits:
            return hits[-1][:2000]
    return f"ansible-playbook ended with exit code {rc}."
