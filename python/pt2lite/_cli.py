"""`pt2lite` on PATH after pip install: runs the C command-line tool shipped in the package."""

import os
import sys


def main():
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pt2lite")
    os.execv(tool, [tool] + sys.argv[1:])


if __name__ == "__main__":
    main()
