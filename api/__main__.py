import api.quiet  # noqa: F401  (first: silences known library warnings printed at import time)

# isort: split
from api.cli import main

main()
