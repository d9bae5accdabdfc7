"""The launcher's exit codes (docs/design.md) and the error that means bad input."""

from __future__ import annotations

EXIT_OK = 0  # finished, or stopped cleanly with a checkpoint
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2  # config, flags, run directory or checkpoint


class BadInput(Exception):
    """Bad input from the user: printed as it is, exit 2, nothing touched."""
