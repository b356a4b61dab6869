"""One parser serves every thread of a process: parses running at the same
time must not see each other's settings or errors."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from xlpy.config import ConfigSyntaxError, parse

TEXTS = [
    'name = "a"\nmemory = 512\ndisk = ["x,,xvda"]\n',
    'name = "b"\nvcpus = 4\nvif = ["bridge=xenbr0", "bridge=xenbr1"]\nkernel = "/boot/A\\101B"\n',
    "name = 1 b = 2\n",
    'name = "c"\nextra = "x"\nextra += " y"\n',
    "a = [1,\n\r\n",
]


def outcome(text: str):
    try:
        cfg = parse(text, "g.cfg")
    except ConfigSyntaxError as e:
        return ("error", str(e), e.xl_report)
    return ("ok", [(s.name, s.op, s.value, s.line) for s in cfg.settings], [str(n) for n in cfg.notes])


def test_parses_in_parallel_threads_match_parses_one_at_a_time():
    expected = [outcome(t) for t in TEXTS]
    work = TEXTS * 40
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, mid-parse
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(outcome, work))
    finally:
        sys.setswitchinterval(interval)
    assert results == expected * 40
