"""HTTP load: wrk (Debian's package) when installed, else a small asyncio keep-alive load generator."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Load:
    """One load run: throughput and latency percentiles (milliseconds), and the non-2xx count."""

    tool: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


@dataclass
class Target:
    """What to send: a GET path, or POSTs of `body` to one of `paths` chosen at random, with headers.

    With `slots`, each request takes the next unused (path, body) instead (writes that must not repeat).
    """

    base_url: str
    paths: list[str]
    method: str = "GET"
    body: str | None = None
    headers: dict[str, str] | None = None
    slots: list[tuple[str, str]] | None = None


def run_load(target: Target, connections: int, seconds: float, threads: int = 2) -> Load:
    """Load `target` with wrk when present, else with the asyncio generator."""
    if shutil.which("wrk"):
        return _wrk(target, connections, seconds, threads)
    return asyncio.run(_asyncio_load(target, connections, seconds))


def _lua(target: Target, threads: int = 1) -> str:
    headers = "\n".join(f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in (target.headers or {}).items())
    if target.slots is not None:
        slots = ",\n".join(f"{{{json.dumps(p)}, {json.dumps(b)}}}" for p, b in target.slots)
        return f"""
wrk.method = "{target.method}"
{headers}
local slots = {{
{slots}
}}
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local k = 0
request = function()
  local slot = slots[tid + k * {threads} + 1]
  k = k + 1
  if slot == nil then slot = slots[#slots] end
  return wrk.format(nil, slot[1], nil, slot[2])
end
"""
    paths = ",\n".join(json.dumps(p) for p in target.paths)
    body = json.dumps(target.body) if target.body is not None else "nil"
    return f"""
wrk.method = "{target.method}"
{headers}
local paths = {{
{paths}
}}
local body = {body}
request = function()
  return wrk.format(nil, paths[math.random(#paths)], nil, body)
end
"""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def _wrk(target: Target, connections: int, seconds: float, threads: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(target, min(threads, connections)))
    try:
        out = subprocess.run(
            ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{max(1, int(seconds))}s", "--latency",
             "-s", script.name, target.base_url],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    if os.environ.get("WRK_DEBUG"):
        print(out)
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)$", out, re.M))
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    # wrk prints no percentiles when no request completed (every one timed out): report NaN, not a crash
    return Load(
        tool="wrk",
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(percentiles["50"]) if "50" in percentiles else float("nan"),
        p99_ms=_ms(percentiles["99"]) if "99" in percentiles else float("nan"),
        requests=requests,
        errors=non2xx + socket_errors,
    )


async def _asyncio_load(target: Target, connections: int, seconds: float) -> Load:
    parts = urlsplit(target.base_url)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    slots = iter(target.slots or ())

    def request_bytes() -> bytes:
        path, body_text = next(slots, None) or (random.choice(target.paths), target.body or "")
        body = body_text.encode()
        head = [f"{target.method} {path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (target.headers or {}).items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request_bytes())
                await writer.drain()
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - started) * 1000)
                if not status_line.split(b" ")[1].startswith(b"2"):
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return Load(
        tool="asyncio",
        rps=n / elapsed,
        p50_ms=latencies[n // 2] if n else 0.0,
        p99_ms=latencies[min(n - 1, int(n * 0.99))] if n else 0.0,
        requests=n,
        errors=errors,
    )
