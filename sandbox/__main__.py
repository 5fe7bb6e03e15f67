"""`python -m sandbox` (what `make dev` runs): the whole product on localhost until Ctrl-C or SIGTERM."""

import time

STARTED = time.monotonic()  # before the heavy imports, so the banner's time is the real wait

import argparse  # noqa: E402
import errno  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from types import FrameType  # noqa: E402
from typing import Any  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="gateway and web console port (0: any free port)")
    parser.add_argument("--aws-port", type=int, default=4566, help="moto (AWS endpoint) port (0: any free port)")
    parser.add_argument("--tiktok-port", type=int, default=3100, help="TikTok simulator port (0: any free port)")
    parser.add_argument("--idp-port", type=int, default=3200, help="Google/Facebook simulator port (0: any free port)")
    parser.add_argument("--scheduler-interval", type=float, default=1.0, help="seconds between schedule polls")
    parser.add_argument("--ttl-sweep-interval", type=float, default=60.0, help="seconds between DynamoDB TTL sweeps")
    parser.add_argument(
        "--lifecycle-sweep-interval", type=float, default=300.0, help="seconds between S3 lifecycle sweeps"
    )
    parser.add_argument(
        "--retry-delays",
        default="60,120",
        help="seconds before each retry of a failed scheduled invocation (Lambda: 60,120)",
    )
    parser.add_argument("--web-dir", type=Path, default=None, help="static files served at / (default: web/)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


def banner(info: dict[str, Any], seconds: float) -> str:
    services: dict[str, str] = info["services"]
    tiktok_note = "" if "tiktok" in services else "  (simulator not installed)"
    lines = [
        "",
        f"Flowctory sandbox ready in {seconds:.1f} s",
        f"  Web console + API       {info['gateway']}   console: {info['console'] or '(no web/ folder yet)'}",
        f"  API docs (Swagger UI)   {info['docs']}",
        f"  OpenAPI document        {info['openapi']}",
        f"  Sandbox info            {info['gateway']}/_sandbox/info",
        f"  Mail outbox             {info['outbox']}",
        f"  TikTok simulator        {info['tiktok_simulator']}{tiktok_note}",
        *(f"  {name + ' simulator':<24}{url}" for name, url in services.items() if name != "tiktok"),
        f"  AWS endpoint (moto)     {info['aws_endpoint']}   region {info['region']}, any credentials",
        f"  Table / bucket          {info['table']} / {info['bucket']}",
        *(f"  ! {function_id} failed to load: {error}" for function_id, error in info["handler_load_errors"].items()),
        "Data lives in memory only: it is gone when the sandbox stops. Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Powertools warns after every request that adds no metric; in a terminal that drowns the logs.
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    from sandbox.runtime import add_layers_to_path
    from sandbox.template import ROOT, load_template

    add_layers_to_path(load_template())  # the layer's package, as Lambda puts it on the path
    from sandbox.server import Sandbox, SandboxConfig

    stop = threading.Event()

    def request_stop(signum: int, _: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_DFL)  # a second Ctrl-C ends the process at once
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    config = SandboxConfig(
        port=args.port,
        aws_port=args.aws_port,
        tiktok_port=args.tiktok_port,
        idp_port=args.idp_port,
        scheduler_interval=args.scheduler_interval,
        ttl_sweep_interval=args.ttl_sweep_interval,
        lifecycle_sweep_interval=args.lifecycle_sweep_interval,
        retry_delays=tuple(float(delay) for delay in args.retry_delays.split(",") if delay.strip()),
        static_dir=args.web_dir or ROOT / "web",
    )
    sandbox = Sandbox(config)
    try:
        sandbox.start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(
                f"A port the sandbox needs is taken ({error}). Free it, or choose others with --port and --aws-port.",
                file=sys.stderr,
            )
            return 2
        raise
    print(banner(sandbox.info(), time.monotonic() - STARTED), flush=True)
    while not stop.wait(0.5):
        pass
    print("Stopping the sandbox...", flush=True)
    sandbox.stop()
    print("Sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
