"""`pt2lite` on PATH after pip install: runs the C command-line tool shipped in the package, except
`view`, which needs Model Explorer (a Python program) and is handled here."""

import argparse
import os
import sys


def view(argv):
    """pt2lite view MODEL.tflite [--node-data DATA.json ...]: Model Explorer on the model."""
    from . import explorer

    parser = argparse.ArgumentParser(prog="pt2lite view",
                                     description="Open a .tflite model in Model Explorer (modules as nested groups), "
                                                 "optionally with node data (per-node values as colours).")
    parser.add_argument("model", help="the .tflite file")
    parser.add_argument("--node-data", action="append", default=[], metavar="DATA.json",
                        help="node data in Model Explorer's format (pt2lite.debug's report.to_model_explorer); repeatable")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=8080, help="8080 picks a free port from 8080 up")
    parser.add_argument("--no-browser", action="store_true", help="serve only; print the URL")
    args = parser.parse_args(argv)
    try:
        explorer.open_in_model_explorer(args.model, args.node_data, host=args.host, port=args.port,
                                        open_browser=not args.no_browser)
    except (ImportError, FileNotFoundError) as error:
        print(f"pt2lite view: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "view":
        sys.exit(view(argv[1:]))
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pt2lite")
    os.execv(tool, [tool] + argv)


if __name__ == "__main__":
    main()
