"""Publishing throughput and memory: a 100 MiB and a 1 GiB video from the sandbox's S3 to the TikTok simulator.

The sandbox's S3 (moto behind sandbox/moto_app.py) and the simulator run as their own processes on
free loopback ports, so each measured process holds only the publisher. For each size, a fresh
process first reads the object from S3 as plainly as boto3 can (one streaming GET, the baseline),
and another publishes a due post of it with the real upload function (claim, tokens, creator_info,
init, ranged GETs streamed into the chunk PUTs, status, published, video deleted). Printed per size:

- throughput of the publish ÷ throughput of the plain read, and ÷ the slower of its two ends: the
  plain read and the simulator's intake (the same chunk PUTs sent from memory), since a publish
  cannot outrun either (goal >= 0.8);
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


def peak_rss_bytes() -> int:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: subprocess starts children with vfork, and
    Linux then counts the parent's peak as the child's, so ru_maxrss reported the bench's own size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


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
    elif mode == "sink":
        size = upload_from_memory(deps, key, post_id)
        outcome = "sent"
    else:
        result = publishing.publish_post(deps, user_id="bench-user", post_id=post_id)
        outcome, size = result.outcome.value, 0
    seconds = time.perf_counter() - started
    peak = peak_rss_bytes()
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


def upload_from_memory(deps: Any, key: str, post_id: str) -> int:
    """The simulator's intake alone: the same chunk PUTs, from one buffer in memory, to an inbox upload."""
    from flowctory.domain.chunks import plan_chunks
    from flowctory.domain.tiktok_tokens import usable_tokens

    post = deps.posts.get("bench-user", post_id)
    tokens = usable_tokens(deps.tokens, user_id="bench-user", open_id=post.account_open_id)
    plan = plan_chunks(deps.media.size_of(key) or 0)
    init = deps.tiktok.init_inbox_upload(tokens.access_token, plan)
    buffer = bytes(max(chunk.last_byte - chunk.first_byte + 1 for chunk in plan.ranges))

    def chunks() -> Iterator[bytes]:
        for chunk in plan.ranges:
            length = chunk.last_byte - chunk.first_byte + 1
            yield buffer if length == len(buffer) else buffer[:length]

    deps.tiktok.upload(init.upload_url, plan, chunks(), content_type="video/mp4")
    return int(plan.ranges[-1].last_byte + 1)


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
    parser.add_argument("--child", choices=["read", "ranged", "sink", "publish"], help=argparse.SUPPRESS)
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
                sink = measure("sink", key, f"bench-{index}", child_env)
                publish = measure("publish", key, f"bench-{index}", child_env)
                rows.append((mib, size, read, ranged, sink, publish))
                print(f"{mib} MiB publish, seconds per TikTok call: {publish['phases']}", flush=True)

    limit = 2 * CHUNK + 40 * MIB
    print(
        f"{'size':>9} {'S3 GET':>8} {'ranged':>8} {'intake':>8} {'publish':>8} {'/GET':>6} {'/slower end':>12} "
        f"{'peak MiB':>9} {'outcome':>10}   (MB/s)"
    )
    peaks = []
    ok = True
    for mib, size, read, ranged, sink, publish in rows:
        read_rate, ranged_rate, sink_rate, publish_rate = (
            size / run["seconds"] / 1e6 for run in (read, ranged, sink, publish)
        )
        slower_end = min(read_rate, sink_rate)
        peak = publish["peak_above_start"]
        peaks.append(peak)
        ok = ok and publish_rate / slower_end >= 0.8 and peak <= limit and publish["outcome"] == "published"
        print(
            f"{mib:>5} MiB {read_rate:>8.1f} {ranged_rate:>8.1f} {sink_rate:>8.1f} {publish_rate:>8.1f} "
            f"{publish_rate / read_rate:>6.2f} {publish_rate / slower_end:>12.2f} {peak / MIB:>9.1f} "
            f"{publish['outcome']:>10}"
        )
    flat = bool(peaks) and min(peaks) > 0 and max(peaks) <= 1.1 * min(peaks)
    print(
        "S3 GET: one streaming GET of the object; ranged: the publish's ranged GETs, bytes dropped (the sandbox's "
        "S3 serves a range at the cost of the range, as S3 does: sandbox/moto_app.py); intake: the publish's "
        "chunk PUTs to the simulator from memory. A publish cannot beat the slower of S3 and the intake."
    )
    print(
        f"goals: publish / slower end >= 0.8, peak <= {limit / MIB:.0f} MiB (2 chunks + 40 MiB), peaks within "
        f"10%: {'met' if ok and flat else 'NOT met'} (peaks within 10%: {flat})"
    )
    return 0 if ok and flat else 1


if __name__ == "__main__":
    sys.exit(main())
