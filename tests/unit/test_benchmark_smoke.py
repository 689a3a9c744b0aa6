"""The policy benchmark runs and ends with its JSON figures (no timing is asserted here)."""

import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "policy.py"


def test_the_policy_benchmark_ends_with_one_json_line_of_figures():
    done = subprocess.run([sys.executable, str(BENCHMARK), "--quick"], capture_output=True, text=True, timeout=120, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures) == {"us_per_decision_40", "us_per_decision_400"}
    assert all(isinstance(v, (int, float)) and v > 0 for v in figures.values())
