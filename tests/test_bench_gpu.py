"""bench/bench_gpu.py on the CPU with tiny shapes: the script that measures the real model on a GPU must run."""

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_bench_smoke(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "bench" / "bench_gpu.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench                     # its dataclasses look their module up
    spec.loader.exec_module(bench)
    assert bench.main(["--smoke", "--json", str(tmp_path / "out.json"), "--work", str(tmp_path / "work")]) == 0
    result = json.loads((tmp_path / "out.json").read_text())
    (row,) = result["rows"]
    assert row["profile"] == "cpu" and not row["llm_4bit"]
    assert row["new_tokens"] == 8                        # min_new_tokens: the caption is never cut short
    assert row["adapter_max_temporal"] > 0 and row["adapter_max_spatial"] > 0
    assert row["hidden_change_without_adapters"] > 1e-4  # zeroing the experts changes the T-token states
    for stage in ("decode_s", "clip_s", "compress_s", "prefill_s", "generate_s"):
        assert row[stage] > 0, stage
    assert result["agreement"]["queries"] >= 4 and result["agreement"]["max_endpoint_diff_share"] == 0.0
    assert "| cpu | no |" in capsys.readouterr().out
