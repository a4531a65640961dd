"""Record the golden runs (``python tests/golden/record.py``) into ``tests/golden/runs.json``.

Run it on the commit whose numbers are the reference; the test compares later commits with it.
"""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cases import CASES  # noqa: E402
from replay import fingerprint, replay  # noqa: E402

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        runs = {name: replay(name, Path(tmp) / f"run{i}") for i, name in enumerate(CASES)}
    out = Path(__file__).with_name("runs.json")
    out.write_text(json.dumps({"machine": fingerprint(), "runs": runs}, indent=1) + "\n")
    print(f"wrote {len(runs)} golden runs to {out}")
