"""`python -m sandbox` (what `make dev` runs) serves its pages quickly and stops cleanly on Ctrl-C or SIGTERM."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sandbox.template import ROOT

pytestmark = pytest.mark.e2e

READY_BUDGET_SECONDS = 20


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


class Output:
    """Collects a process's output on a thread, so reading it never blocks the test."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def find(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not printed within {timeout} s; output:\n{''.join(self.lines)}")

    @property
    def text(self) -> str:
        return "".join(self.lines)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_dev_serves_its_pages_within_20_seconds_and_stops_cleanly(stop_signal):
    # Given the command `make dev` runs, on free ports
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--aws-port", "0", "--tiktok-port", "0", "--idp-port", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process.stdout)
    try:
        # When it has printed its banner
        gateway = int(output.find(r"Web console \+ API\s+http://localhost:(\d+)", READY_BUDGET_SECONDS).group(1))
        aws = int(output.find(r"AWS endpoint \(moto\)\s+http://127\.0\.0\.1:(\d+)", 1).group(1))

        # Then /health, /docs, /openapi.json and /_sandbox/info answer within the budget
        with httpx.Client(base_url=f"http://127.0.0.1:{gateway}", timeout=10) as client:
            for path in ("/health", "/docs", "/openapi.json", "/_sandbox/info"):
                assert client.get(path).status_code == 200, path
        ready = time.monotonic() - started
        print(f"\n`python -m sandbox` served its four pages {ready:.1f} s after starting")
        assert ready < READY_BUDGET_SECONDS
        assert children_of(process.pid) == []

        # When it is sent Ctrl-C (SIGINT) or SIGTERM
        process.send_signal(stop_signal)
        code = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # Then it exits cleanly and leaves no port open behind it
    assert code == 0, output.text
    assert "Sandbox stopped." in output.text
    assert "Traceback" not in output.text
    assert port_is_closed(gateway) and port_is_closed(aws)


def test_a_taken_port_is_reported_plainly():
    # Given a port that something else listens on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # When the sandbox is asked to use it
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "sandbox",
                "--port",
                str(port),
                "--aws-port",
                "0",
                "--tiktok-port",
                "0",
                "--idp-port",
                "0",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    # Then it says so and exits with an error, without a stack trace
    assert result.returncode == 2
    assert "port" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr
