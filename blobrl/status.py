"""``python -m blobrl.status RUN_DIR [--json]``: what a run has saved, without starting anything.

Exit codes: 0 shown; 2 missing or invalid run directory, damaged log or checkpoint.
"""

from __future__ import annotations

import sys

from blobrl.checkpoint.status import main

if __name__ == "__main__":
    sys.exit(main())
