"""``python -m faconv COMMAND ...``: the command line (also ``torchrun -m faconv ...``)."""

import sys

from faconv.pipeline.cli import main

sys.exit(main())
