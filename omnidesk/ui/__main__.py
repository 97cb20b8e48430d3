"""`python -m omnidesk.ui`: start the GUI with the workstation's settings (what `omnidesk gui` does)."""

import sys

from omnidesk.config import load_settings
from omnidesk.ui.app import run_gui

raise SystemExit(run_gui(sys.argv, load_settings()))
