"""`python -m spot_cli`: the `spot` command, for processes started without the installed script."""

import sys

from spot_cli.main import main

sys.exit(main())
