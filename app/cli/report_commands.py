"""CLI commands: reports (registered by app.cli.commands)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add this module's commands to the top-level subparsers."""
