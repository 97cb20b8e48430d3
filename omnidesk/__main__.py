"""Allow `python -m omnidesk`."""

from omnidesk.cli import main

raise SystemExit(main())
