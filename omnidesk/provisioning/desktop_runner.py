"""A desktop's own provisioning runner: a child process beside the GUI, not threads inside it.

Twenty playbook runs in the GUI's process held its interpreter lock and garbage collector often
enough to stall the event loop by over 100 ms (benchmarks/provisioning.py); in a process of its
own, at a lower priority, the same runs leave the GUI's worst gap under 50 ms. The GUI follows the
jobs through NOTIFY (`service.JobWatcher`), as it follows jobs run by servers' `omnidesk worker`.

The child signs in as nobody: it is handed the desktop's own database URL and staff session on
its standard input (never on the command line or in the environment, which other local users can
read), so jobs run with the rights of the person who ordered them, and it claims only that
person's jobs. Its standard input is also its lifeline:

- a line `end-session` asks it to end the staff session once its last job is done (the desktop
  is signing out or closing; ending the session first would fail the running jobs);
- end of input (the desktop closed it, or the desktop died) means claim nothing more, finish the
  jobs already running (a run cut off half-way would leave outside systems half-made), and exit.

    python -m omnidesk.provisioning.desktop_runner     (started by DesktopRunner, not by hand)
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

END_SESSION = "end-session"


@dataclass(frozen=True)
class RunnerSettings:
    concurrency: int = 4
    niceness: int = 5  # below the desktop; its playbooks go lower still (runner.run_playbook)


class DesktopRunner:
    """Starts, feeds and stops the child process; all of it is cheap and safe on the GUI thread."""

    def __init__(self, db, username: str, *, settings: RunnerSettings = RunnerSettings(),
                 playbooks_dir: Path | None = None):
        self.db, self.username, self.settings, self.playbooks_dir = db, username, settings, playbooks_dir
        self.process: subprocess.Popen | None = None
        self.stopped: subprocess.Popen | None = None  # the child of the last stop, finishing its jobs
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def runner_name(self) -> str | None:
        """What the child's threads write in a job's claimed_by, before the thread number."""
        import socket

        process = self.process or self.stopped
        return f"{socket.gethostname()}:{process.pid}" if process is not None else None

    def ensure_running(self) -> None:
        """Start the child if it is not running (at the first job of this desktop, or after it ended);
        not at all when this desktop runs no jobs (concurrency 0: servers' workers take them)."""
        with self._lock:
            if self.running or self.settings.concurrency < 1:
                return
            package_root = str(Path(__file__).resolve().parents[2])
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
            self.process = subprocess.Popen(
                [sys.executable, "-m", "omnidesk.provisioning.desktop_runner"], stdin=subprocess.PIPE, env=env,
                text=True, close_fds=True,
            )
            config = {
                "url": self.db.url, "session_token": getattr(self.db, "session_token", None),
                "username": self.username, "concurrency": self.settings.concurrency,
                "niceness": self.settings.niceness,
                "playbooks_dir": str(self.playbooks_dir) if self.playbooks_dir else None,
            }
            self.process.stdin.write(json.dumps(config) + "\n")
            self.process.stdin.flush()

    def stop(self, *, end_session: bool = False) -> bool:
        """No more claims; running jobs finish in the child, which then exits. With `end_session`
        the child ends the staff session after its last job; returns True when it took that over
        (False: no child, the caller ends the session itself)."""
        with self._lock:
            process, self.process = self.process, None
            self.stopped = process or self.stopped
        if process is None or process.poll() is not None:
            return False
        try:
            if end_session:
                process.stdin.write(END_SESSION + "\n")
            process.stdin.close()
        except (BrokenPipeError, OSError):
            return False
        return end_session

    def wait(self, timeout: float | None = None) -> int | None:
        """For tests and the benchmark: wait for the child of the last stop to exit; its exit code."""
        if self.stopped is None:
            return None
        try:
            return self.stopped.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def _read_config() -> dict:
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("desktop_runner: no settings on standard input (it is started by the desktop, not by hand)")
    return json.loads(line)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="omnidesk desktop runner: %(message)s")
    # Ctrl-C in the desktop's terminal reaches the whole process group: the desktop decides when
    # this process stops (by closing its input), so a run is never cut off half-way by it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = _read_config()
    try:
        os.nice(int(config.get("niceness") or 0))
    except OSError:
        pass
    from omnidesk.db.engine import Database
    from omnidesk.provisioning import service as prov

    concurrency = max(1, int(config.get("concurrency") or 1))
    db = Database(config["url"], application_name="omnidesk-desktop-runner", pool_size=concurrency + 2)
    db.session_token = config.get("session_token")
    playbooks = Path(config["playbooks_dir"]) if config.get("playbooks_dir") else None
    worker = prov.Worker(db, concurrency=concurrency, playbooks_dir=playbooks, initiated_by=config["username"],
                         idle_wait=10.0, wake_on_notify=True).start()
    end_session = False
    for line in sys.stdin:  # until the desktop closes it, or dies
        if line.strip() == END_SESSION:
            end_session = True
    worker.stop()  # waits for the jobs already running
    if end_session and db.session_token:
        from omnidesk.auth.session import call

        try:
            call(db, "SELECT omnidesk_end_session()")
        except Exception as exc:  # noqa: BLE001 — it ends by itself after its idle timeout
            log.warning("could not end the staff session: %s", exc)
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
