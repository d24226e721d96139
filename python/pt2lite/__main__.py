"""`python -m pt2lite ...`: the same commands as the `pt2lite` console script."""
from ._cli import main

main()
