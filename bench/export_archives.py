"""Exports zoo models (bench/zoo_models.py) to .pt2 archives once, for checks that compare two builds
of pt2lite on the same archives (bench/compare_builds.sh, conversion byte-identity).

    python bench/export_archives.py [DIR] [--models a,b]   # default DIR ~/.cache/pt2lite/zoo-pt2

Archives are named after the model with '/' as '__' (hf/bert -> hf__bert.pt2); existing ones are kept.
torchaudio models need their own environment (see bench/zoo.py) and are left out."""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import zoo  # noqa: E402
from zoo_models import MODELS  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", nargs="?", default=os.path.expanduser("~/.cache/pt2lite/zoo-pt2"))
    parser.add_argument("--models", help="comma-separated model names (default: all but torchaudio)")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    names = args.models.split(",") if args.models else [m.name for m in MODELS if m.family != "torchaudio"]
    for name in names:
        path = os.path.join(args.dir, name.replace("/", "__") + ".pt2")
        if os.path.exists(path):
            continue
        try:
            exported = zoo.export_model(name)
        except Exception as e:  # one model's failure is its line, not the script's
            print(f"{name}: export failed: {zoo.first_line(e)}", flush=True)
            continue
        with open(path, "wb") as f:
            f.write(exported["archive"])
        print(f"{name}: {path}", flush=True)


if __name__ == "__main__":
    main()
