"""benchmarks/gpu.py --dry-run: every code path of the GPU benchmark, on the CPU with tiny sizes
(the train.compile cases left out: each compiles for seconds). The figures themselves need a GPU
(BENCHMARKS.md, "GPU (issue 13)")."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch


@pytest.mark.slow
def test_the_gpu_benchmark_runs_dry(tmp_path, capsys):
    path = Path(__file__).parent.parent / "benchmarks" / "gpu.py"
    spec = importlib.util.spec_from_file_location("gpu_benchmark", path)
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    threads = torch.get_num_threads()
    try:
        result = gpu.main(["--dry-run", "--no-compile", "--out", str(tmp_path / "gpu.json")])
    finally:
        torch.set_num_threads(threads)
    assert json.loads((tmp_path / "gpu.json").read_text()) == json.loads(json.dumps(result))
    assert result["dry_run"] and len(result["default_recipe"]) == 1
    assert {(r["precision"], r["compile"]) for r in result["precision_compile"]} == {
        ("fp32", False),
        ("bf16", False),
    }
    assert all(r["samples_per_s"] > 0 for r in result["precision_compile"])
    assert "| default CNN, batch 64 | bf16 | false |" in capsys.readouterr().out
