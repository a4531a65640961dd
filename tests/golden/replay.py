"""Train one golden case, single-threaded, and return what must not change."""

import json
import platform
from pathlib import Path

import torch

import trainlab

from cases import SUMMARY_KEYS, overrides


def cpu_model() -> str:
    """The CPU's model name (Linux): two CPUs with the same instruction set can still round
    differently (seen: the same AVX512 capability, other numbers)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor()


def fingerprint() -> dict:
    """What the numbers depend on besides the code: exact equality is expected only when these
    match."""
    return {
        "torch": torch.__version__,
        "cpu": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_model": cpu_model(),
    }


def replay(name: str, out: Path) -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        summary = trainlab.train(None, overrides(name), out=out, progress="quiet")
    finally:
        torch.set_num_threads(threads)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        del r["time_s"]
    return {"metrics": rows, "summary": {k: summary.get(k) for k in SUMMARY_KEYS}}
