"""Publishing throughput and memory: a 100 MiB and a 1 GiB video from the sandbox's S3 to the TikTok simulator.

The sandbox's S3 (moto behind sandbox/moto_app.py) and the simulator run as their own processes on
free loopback ports, so each measured process holds only the publisher. For each size, a fresh
process first reads the object from S3 as plainly as boto3 can (one streaming GET, the baseline),
and another publishes a due post of it with the real upload function (claim, tokens, creator_info,
init, ranged GETs streamed into the chunk PUTs, status, published, video deleted). Printed per size:

- throughput of the publish ÷ throughput of the plain read (goal >= 0.8);
- peak memory of the publish above the process's memory before it started (peak RSS minus the RSS
  at the start; goal: flat, at most 2 chunks + 40 MiB, and the two sizes within 10% of each other).

Ratios, measured in one run, so the machine's speed cancels out. Not a timed test.

Usage: python -m bench.publish [--sizes-mib 100,1024]
"""

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
CHUNK = 10_000_000  # the chunk plan's size for videos over 64 MB (flowctory.domain.chunks)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def base_environment() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "flowctory")]),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


@contextmanager
def process(args: list[str], env: dict[str, str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    import httpx

    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(ready_url, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or child.poll() is not None:
                raise RuntimeError(f"{args[2]} did not start")
            time.sleep(0.1)
        yield child
    finally:
        child.terminate()
        child.wait(timeout=10)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def child(mode: str, key: str, post_id: str) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    from flowctory import publishing_wiring
    from flowctory.adapters import aws
    from flowctory.domain import publishing
    from flowctory.domain.publishing import PublishPolicy

    # Warm up what every run pays once (clients, the secret), so the memory measured is the work's.
    aws.s3().head_object(Bucket=os.environ["MEDIA_BUCKET"], Key=key)
    deps = publishing_wiring.publisher()
    deps.policy = PublishPolicy(poll_delays=(0.1, 0.2, 0.4, 0.8, 1.6, 3.2))
    publishing_wiring.tiktok_client()
    phases: dict[str, float] = {}
    client = publishing_wiring.tiktok_client()
    for name in ("creator_info", "init_direct_post", "upload", "fetch_status"):
        original = getattr(client, name)

        def timed(*a: Any, _original: Any = original, _name: str = name, **k: Any) -> Any:
            began = time.perf_counter()
            try:
                return _original(*a, **k)
            finally:
                phases[_name] = phases.get(_name, 0.0) + time.perf_counter() - began

        setattr(client, name, timed)
    before = rss_bytes()
    started = time.perf_counter()
    if mode == "read":
        from bench.publishing_setup import read_whole

        size = sum(read_whole(key))
        outcome = "read"
    elif mode == "ranged":
        from flowctory.domain.chunks import plan_chunks

        plan = plan_chunks(deps.media.size_of(key) or 0)
        ranges = [(chunk.first_byte, chunk.last_byte) for chunk in plan.ranges]
        size = sum(len(data) for data in deps.media.read_ranges(key, ranges))
        outcome = "read"
    else:
        result = publishing.publish_post(deps, user_id="bench-user", post_id=post_id)
        outcome, size = result.outcome.value, 0
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_above_start": max(0, peak - before),
                "outcome": outcome,
                "size": size,
                "phases": {name: round(value, 3) for name, value in phases.items()},
            }
        )
    )


def measure(mode: str, key: str, post_id: str, env: dict[str, str]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.publish", "--child", mode, "--key", key, "--post-id", post_id],
        env=env,
        capture_output=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return dict(json.loads(output.decode().strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-mib", default="100,1024")
    parser.add_argument("--child", choices=["read", "ranged", "publish"], help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--post-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.key, args.post_id)
        return 0

    env = base_environment()
    moto_port, sim_port = free_port(), free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    moto_args = [sys.executable, "-m", "sandbox.moto_app", "--port", str(moto_port)]
    sim_args = [sys.executable, "-m", "sandbox.tiktok_sim", "--port", str(sim_port)]
    with (
        process(moto_args, env, moto_url + "/moto-api/"),
        process(sim_args, env, f"http://127.0.0.1:{sim_port}/_sim/health"),
    ):
        sim_url = f"http://127.0.0.1:{sim_port}"
        os.environ.update(env, AWS_ENDPOINT_URL=moto_url)
        for path in (str(ROOT), str(ROOT / "layers" / "flowctory")):
            sys.path.insert(0, path)
        import boto3
        import httpx

        from bench import publishing_setup as setup
        from sandbox.stack import bootstrap

        stack = bootstrap(boto3.session.Session())
        os.environ.update(stack.function_environment("UploadFunction"))
        changes = {
            "processing_delay_seconds": 0.0,
            "moderation_delay_seconds": 0.0,
            "redirect_uris": setup.SIM_CONFIG.redirect_uris,
            "daily_post_cap": setup.SIM_CONFIG.daily_post_cap,
        }
        assert httpx.patch(sim_url + "/_sim/config", json=changes).status_code == 200
        setup.point_at_simulator(sim_url)
        open_id = setup.connect_creator(sim_url)
        child_env = {**env, **{k: v for k, v in os.environ.items() if k.isupper()}}

        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            seed = setup.small_mp4(Path(tmp))
            for index, mib in enumerate(int(part) for part in args.sizes_mib.split(",")):
                key = f"videos/{setup.USER}/bench-{index}"
                size = mib * MIB
                setup.due_post(f"bench-{index}", open_id, setup.stage_video(key, size, seed))
                read = measure("read", key, f"bench-{index}", child_env)
                ranged = measure("ranged", key, f"bench-{index}", child_env)
                publish = measure("publish", key, f"bench-{index}", child_env)
                rows.append((mib, size, read, ranged, publish))
                print(f"{mib} MiB publish, seconds per TikTok call: {publish['phases']}", flush=True)

    limit = 2 * CHUNK + 40 * MIB
    print(
        f"{'size':>9} {'S3 GET MB/s':>12} {'ranged MB/s':>12} {'publish MB/s':>13} {'/GET':>6} {'/ranged':>8} "
        f"{'publish peak MiB':>17} {'outcome':>10}"
    )
    peaks = []
    ok = True
    for mib, size, read, ranged, publish in rows:
        read_rate = size / read["seconds"] / 1e6
        ranged_rate = size / ranged["seconds"] / 1e6
        publish_rate = size / publish["seconds"] / 1e6
        peak = publish["peak_above_start"]
        peaks.append(peak)
        ok = ok and publish_rate / ranged_rate >= 0.8 and peak <= limit and publish["outcome"] == "published"
        print(
            f"{mib:>5} MiB {read_rate:>12.1f} {ranged_rate:>12.1f} {publish_rate:>13.1f} "
            f"{publish_rate / read_rate:>6.2f} {publish_rate / ranged_rate:>8.2f} {peak / MIB:>17.1f} "
            f"{publish['outcome']:>10}"
        )
    flat = bool(peaks) and min(peaks) > 0 and max(peaks) <= 1.1 * min(peaks)
    print(
        "S3 GET: one streaming GET of the object; ranged: the same ranged GETs as the publish, bytes dropped "
        "(the sandbox's S3 serves a range at the cost of the range, as S3 does: sandbox/moto_app.py)."
    )
    for mib, size, _read, _ranged, publish in rows:
        sending = publish["phases"].get("upload", 0.0)
        print(
            f"{mib} MiB: {sending / publish['seconds']:.0%} of the publish is the chunk upload to the simulator "
            f"({size / max(sending, 1e-9) / 1e6:.1f} MB/s with the S3 reads overlapped): the sink sets the pace."
        )
    print(
        f"goals: publish/ranged >= 0.8, peak <= {limit / MIB:.0f} MiB (2 chunks + 40 MiB), peaks within 10%: "
        f"{'met' if ok and flat else 'NOT met'} (peaks within 10%: {flat})"
    )
    return 0 if ok and flat else 1


if __name__ == "__main__":
    sys.exit(main())
