"""ansible-playbook at the lowest CPU priority, including the task workers it starts.

    python low_priority_playbook.py NICENESS /path/to/ansible-playbook [its arguments...]

Run by path (not as part of the omnidesk package, so it imports nothing of ours) by
`runner.run_playbook`. Why `nice` alone is not enough: Linux's scheduler groups processes by
session ("autogroups", on by default on desktops and servers) and shares the CPU fairly between
*groups*; a process's nice value only counts inside its own group. ansible-runner starts
ansible-playbook in a new session (pexpect's pty), and every ansible task worker calls setsid()
again, so twenty runs were twenty-odd groups each weighing as much as the whole desktop, and the
GUI's event loop waited up to a second for a core. Each new session here is given the autogroup
nice value too (/proc/self/autogroup; making oneself nicer needs no privilege). Where autogroups
are off or /proc is absent, only the plain nice value applies.
"""

import os
import runpy
import sys


def _nice_autogroup(niceness: int) -> None:
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(niceness))
    except OSError:
        pass


def main() -> None:
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)  # this folder's modules (runner, service, ...) must not shadow ansible's imports
    niceness, script = int(sys.argv[1]), sys.argv[2]
    sys.argv[:] = sys.argv[2:]  # what ansible-playbook itself would see
    try:
        os.nice(max(0, niceness - os.nice(0)))
    except OSError:
        pass
    _nice_autogroup(niceness)
    real_setsid = os.setsid

    def setsid() -> None:
        real_setsid()
        _nice_autogroup(niceness)

    os.setsid = setsid  # ansible's WorkerProcess._detach looks it up at call time
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
