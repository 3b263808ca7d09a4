"""python -m localcluster.images [--operator]: build what is missing, print the tarballs."""

from __future__ import annotations

import argparse
import sys
import time

from . import ensure_images, ensure_operator_image


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m localcluster.images", description=__doc__)
    parser.add_argument("--operator", action="store_true", help="also the operator image")
    args = parser.parse_args()
    started = time.monotonic()
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731 - tarballs alone on stdout
    tarballs = ensure_images(log)
    if args.operator:
        tarballs.append(ensure_operator_image(log))
    for tarball in tarballs:
        print(tarball)
    log(f"[images] {len(tarballs)} images ready in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
