"""``python -m seqae``: the ``seqae`` command (what ``seqae fit --distributed`` starts under torchrun)."""
import sys

from seqae.cli import main

sys.exit(main())
