"""``python -m bot`` is the ``omnicord`` command."""

import sys

from bot.cli import main

sys.exit(main())
