"""``python -m omnicord`` is the ``omnicord`` command."""

import sys

from omnicord.cli import main

sys.exit(main())
