"""``python -m mattinglib.bench``: see :mod:`mattinglib.bench`."""
from . import main

main()
