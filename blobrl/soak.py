"""``python -m blobrl.soak [--config C] [--minutes M] [--kill-every S] [--run-dir DIR]
[--json OUT] [--sample-every S] [--warmup S] [--seed N]``: a long real run on a local Ray head
with a random self-play actor killed every ``--kill-every`` seconds, then checks of the exit
code, the game log, resume consistency and memory (``make soak``; docs/cluster.md). The tool is
:mod:`blobrl.tools.soak`.

Exit codes: 0 every check passed; 1 a check failed; 2 bad arguments.
"""

from __future__ import annotations

import sys

from blobrl.tools.soak import main

if __name__ == "__main__":
    sys.exit(main())
