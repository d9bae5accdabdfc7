"""``python -m blobrl.status RUN_DIR [--json]``: what a run has saved, without starting anything.
``python -m blobrl.status RUN_DIR --repair [--yes]``: cut a game log damaged before its end back
to its last good record, after saying what that drops (asks first, or needs ``--yes``).

Exit codes: 0 shown (or repaired, or nothing to repair); 2 missing or invalid run directory,
damaged log or checkpoint, or a repair not confirmed.
"""

from __future__ import annotations

import sys

from blobrl.checkpoint.status import main

if __name__ == "__main__":
    sys.exit(main())
