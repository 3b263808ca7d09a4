"""Regenerates docs/api-reference.md from the API types (tests/unit/api/test_api_docs.py
fails when the committed file is stale).

    .venv/bin/python hack/gen-docs.py          # write it
    .venv/bin/python hack/gen-docs.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from locust_operator.api.docs import DOC_FILE, render_api_reference

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    target = REPO_ROOT / DOC_FILE
    text = render_api_reference()
    if "--check" in argv:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            print(f"{DOC_FILE} is stale; run: python hack/gen-docs.py", file=sys.stderr)
            return 1
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
