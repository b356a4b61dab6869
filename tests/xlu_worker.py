"""Child process that keeps the real libxlutil loaded: one JSON request per
line on stdin (config bytes, base64), one JSON answer per line on stdout.

Started by tests/xlu_oracle.py. It loads ../shared's ctypes oracle once and
calls its `cfg` command in-process, so thousands of texts cost no fork each;
if libxlutil aborts (it does on a NUL byte inside a quoted string) only this
process dies, and the parent reports a crash and starts a new one.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import tempfile


def main(oracle_path: str) -> None:
    # The answers go to the original stdout; anything the C side writes to
    # fd 1 must not corrupt them.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.setrecursionlimit(50_000)  # the oracle walks nested lists recursively
    spec = importlib.util.spec_from_file_location("xlu_oracle", oracle_path)
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)
    for line in sys.stdin:
        request = json.loads(line)
        oracle._REPORT_FILE = tempfile.TemporaryFile()
        try:
            if request.get("cmd") == "disk":
                answer = oracle.cmd_disk(request["specs"])
            elif request.get("cmd") == "pcispec":
                answer = oracle.cmd_pcispec(request["spec"])
            elif request.get("cmd") == "rdm":
                answer = oracle.cmd_rdm(request["spec"])
            else:
                answer = oracle.cmd_cfg(base64.b64decode(request["data"]), request["source"])
        except Exception as e:  # a fault of the oracle, not an answer of libxlutil
            answer = {"ok": False, "oracle_exception": repr(e)}
        finally:
            oracle._REPORT_FILE.close()
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main(sys.argv[1])
