import sys

from blobrl.launch.runner import main

sys.exit(main())
