"""Entry point for ``python -m netterms_daemon``."""

from __future__ import annotations

from netterms_daemon.cli import main

raise SystemExit(main())
