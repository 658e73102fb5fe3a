"""Copy the front-end files the pages use from node_modules into jkfp/web/static/ (package.json "jkfpStatic").

Only the files named there are copied — not the 46 MB of ECharts' dist folder — so collectstatic, the
wheel and the release bundle hold just what a browser loads. Their source-map comments are removed:
the maps are not shipped (a browser would ask for them in vain, and Django's manifest storage refuses
references to missing files). A file is rewritten only when its content changed. Run by `make install`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "jkfp" / "web" / "static"
SOURCE_MAP = re.compile(rb"\n?(/\*# sourceMappingURL=[^*]*\*/|//# sourceMappingURL=\S*)\s*$")


def main() -> int:
    mapping: dict[str, str] = json.loads((ROOT / "package.json").read_text())["jkfpStatic"]
    missing = []
    for dest, source in mapping.items():
        if dest.startswith("//"):
            continue
        path = ROOT / "node_modules" / source
        if not path.is_file():
            missing.append(source)
            continue
        content = SOURCE_MAP.sub(b"\n", path.read_bytes())
        target = TARGET / dest
        if not target.is_file() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    if missing:
        print(f"node_modules lacks {', '.join(missing)}: run `npm ci`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
