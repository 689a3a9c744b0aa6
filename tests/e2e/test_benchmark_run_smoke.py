"""The benchmark suite runs end to end on a tiny clinic and ends with its JSON figures (nothing timed is asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"
HEADLINE = {"hello_rps", "check_rps", "check_ratio", "check_p50_ms_c1", "check_p99_ms_c1", "book_wps", "us_per_decision_40"}


def test_the_benchmark_suite_ends_with_one_json_line_of_its_headline_figures(tmp_path: Path):
    # Only the virtualenv on PATH: no wrk, so the asyncio load generator (the fallback) is the one exercised.
    env = {k: v for k, v in os.environ.items() if k != "COVERAGE_TRACKER_DATABASE_URL"}
    env["PATH"] = str(Path(sys.executable).parent)
    done = subprocess.run(
        [sys.executable, str(RUN), "--scale", "tiny", "--seconds", "1", "--sqlite-only", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert HEADLINE <= set(figures)
    assert figures["check_errors"] == 0 and figures["book_errors"] == 0 and figures["book_lost"] == 0
