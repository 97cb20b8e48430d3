"""The Qt desktop shell: widgets, table models and dialogs over the service functions."""

from omnidesk.ui import refcount_guard

refcount_guard.apply()
