"""Fail when any measured module is below the coverage threshold."""

import json
from pathlib import Path
import sys


def main() -> int:
    """Read a coverage JSON report and check every file against the threshold."""
    report = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    threshold = float(sys.argv[2])
    below = {
        name: data["summary"]["percent_covered"]
        for name, data in report["files"].items()
        if data["summary"]["percent_covered"] < threshold
    }
    for name, percent in sorted(below.items()):
        print(f"{name}: {percent:.1f} % < {threshold:.0f} %")
    total = report["totals"]["percent_covered"]
    print(f"coverage: {total:.1f} % in all, every module >= {threshold:.0f} %: {not below}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
