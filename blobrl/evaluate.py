"""``python -m blobrl.evaluate --agent SPEC --opponents SPEC``: see blobrl.evaluation.cli."""

import sys

from blobrl.evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main())
