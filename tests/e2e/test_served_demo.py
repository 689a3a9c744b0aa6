"""`coverage-tracker demo serve` (what `make run` runs) as a new user meets it: on the default SQLite file, from an empty folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from coverage_tracker.services.context import local_today
from tests.e2e.test_served_race import free_port, wait_until_ready

CLI = str(Path(sys.executable).with_name("coverage-tracker"))
KEY_LINE = re.compile(r"^\s+(front_desk|admin)\s+(ct_\S+)$", re.MULTILINE)
PATIENT_LINE = re.compile(r"^(\w+ \w+)\s+.*\s([0-9a-f-]{36})$", re.MULTILINE)


@dataclass
class Demo:
    """What `demo serve` printed, and where it serves."""

    url: str
    output: str
    keys: dict[str, str]
    patients: dict[str, str]


def parse(output: str) -> tuple[dict[str, str], dict[str, str]]:
    return dict(KEY_LINE.findall(output)), dict(PATIENT_LINE.findall(output))


def environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "COVERAGE_TRACKER_DATABASE_URL"}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port = free_port()
    command = [CLI, "demo", "serve", "--port", str(port), "--no-scheduler"]
    process = subprocess.Popen(command, cwd=tmp_path, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Serving on"):
                break
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, process)
        output = "".join(lines)
        keys, patients = parse(output)
        yield Demo(url, output, keys, patients)
    finally:
        process.terminate()
        process.wait(timeout=30)


def status_today(demo: Demo, name: str) -> str:
    response = httpx.post(
        f"{demo.url}/v1/beneficiaries/{demo.patients[name]}/booking-checks",
        json={"dates": [local_today("America/New_York").isoformat()]},
        headers={"Authorization": f"Bearer {demo.keys['front_desk']}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["results"][0]["status"]


def test_the_demo_seeds_a_dozen_patients_prints_keys_and_answers_each_kind_of_decision(demo: Demo, tmp_path: Path):
    assert (tmp_path / "coverage_tracker.db").exists()
    assert len(demo.patients) == 12 and set(demo.keys) == {"front_desk", "admin"}
    assert f"Serving on {demo.url}" in demo.output
    assert status_today(demo, "Ben Brooks") == "covered"
    assert status_today(demo, "Carla Chen") == "needs_improvement_assessment"
    assert status_today(demo, "Eve Evans") == "not_covered"


def test_a_second_start_keeps_the_patients_and_replaces_the_demo_keys(tmp_path: Path):
    first = subprocess.run([CLI, "demo", "seed"], cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=120)
    second = subprocess.run([CLI, "demo", "seed"], cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=120)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "Seeded" in first.stdout and "Seeded" not in second.stdout
    first_keys, first_patients = parse(first.stdout)
    second_keys, second_patients = parse(second.stdout)
    assert first_patients == second_patients and len(second_patients) == 12
    assert set(first_keys.values()).isdisjoint(second_keys.values())
    listed = subprocess.run([CLI, "api-key", "list"], cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=120).stdout
    assert listed.count("demo") == 4 and len([line for line in listed.splitlines() if line.endswith("-")]) == 2
