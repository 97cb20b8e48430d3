"""Keep PySide6 6.12 from freeing None, True and False on Python 3.11 (it drops a reference per call).

PySide6 6.12's stable-ABI wheels return None/True/False from void methods, `Signal.emit()` and
`property()` without taking a reference, which is harmless only where those objects are immortal
(Python 3.12+, PEP 683). On Python 3.11 every such call lowers their reference count by one, and a
session of a few thousand calls ends in "Fatal Python error: none_dealloc / bool_dealloc". Until
the interpreter is 3.12+ (or PySide6 is fixed), give the three objects a reference count no GUI
session can exhaust; it is only ever applied after measuring that the bug is present.
"""

from __future__ import annotations

import ctypes
import sys

HEADROOM = 1 << 30  # a billion leaked references; stays below 2**31 so 3.12-style immortality checks see a normal object

_applied = False


def _leaks_references() -> bool:
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(8):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before


def apply() -> bool:
    """Pin the singletons if this PySide6 leaks their references; True when it did."""
    global _applied
    if _applied or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _applied
    if not _leaks_references():
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += HEADROOM  # ob_refcnt is a PyObject's first field
    _applied = True
    return True
