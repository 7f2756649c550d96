"""The benchmark's peak memory is the child's own (VmHWM), not os.wait4's ru_maxrss,
which for a child that Popen starts by vfork is the peak of the parent whose memory
it borrowed: after `make bench` generated 10 M dossiers in-process, its first case
reported the generator's 6.3 GB."""

from __future__ import annotations

import json
import subprocess
import sys

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PARENT = r"""
import json, os, resource, subprocess, sys
block = bytearray(512 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1
del block  # the parent's peak stays 512 MB; its memory now is small
child = subprocess.Popen([sys.executable, "-c",
    "import json; from bench.run import _vm_hwm_kb; print(json.dumps(_vm_hwm_kb()))"],
    stdout=subprocess.PIPE)
out = child.stdout.read()
_, _, usage = os.wait4(child.pid, 0)
print(json.dumps({"vm_hwm_kb": json.loads(out), "ru_maxrss_kb": usage.ru_maxrss}))
"""


def test_a_child_peak_is_its_own_not_its_parents():
    done = subprocess.run([sys.executable, "-c", PARENT], cwd=ROOT, capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.splitlines()[-1])
    # a Python that imported the bench module, whatever its parent once held (wait4
    # says of the same child: its parent's 512 MB, where Popen used vfork)
    assert 10 * 1024 < found["vm_hwm_kb"] < 200 * 1024, found
