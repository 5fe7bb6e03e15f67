"""AWS calls per published post: every API call the upload function makes, counted by botocore's event hooks.

One due post (a 12 MB and a 100 MiB video) is published end to end by the real upload function, in
process, against moto built from template.yaml and the TikTok simulator over HTTP. Chunk reads
(S3 GetObject, one per TikTok chunk) are reported apart; the goal is at most 10 other calls per post
and exactly one KMS Decrypt. The first post of a container also pays for reading the TikTok client
secret (Secrets Manager), once; the second post shows the warm figure.

Usage: python -m bench.publish_cost
"""

import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "layers" / "flowctory")]
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 (moto's fake credentials)
    AWS_DEFAULT_REGION="eu-west-3",
    POWERTOOLS_TRACE_DISABLED="1",
    POWERTOOLS_METRICS_NAMESPACE="bench",
    POWERTOOLS_LOG_LEVEL="WARNING",
    POWERTOOLS_METRICS_DISABLED="true",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from bench import publishing_setup as setup  # noqa: E402
from flowctory import publishing_wiring, wiring  # noqa: E402
from flowctory.adapters import aws  # noqa: E402
from flowctory.settings import load_settings  # noqa: E402
from sandbox.stack import bootstrap  # noqa: E402
from sandbox.tiktok_sim import SimulatorServer, TikTokSimulator  # noqa: E402

SIZES = {"12 MB": 12_000_000, "100 MiB": 100 * 1024 * 1024}
GOAL_CALLS = 10


class LambdaContext:
    function_name = "bench-upload"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:bench-upload"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def main() -> int:
    calls: Counter[tuple[str, str]] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[(model.service_model.service_name, model.name)] += 1

    with mock_aws(), SimulatorServer(TikTokSimulator(setup.SIM_CONFIG)) as sim, tempfile.TemporaryDirectory() as tmp:
        aws.reset()
        stack = bootstrap(boto3.session.Session())
        os.environ.update(stack.function_environment("UploadFunction"))
        load_settings.cache_clear()
        wiring.reset()
        publishing_wiring.reset()
        setup.point_at_simulator(sim.url)
        open_id = setup.connect_creator(sim.url)
        seed = setup.small_mp4(Path(tmp))
        posts = {
            label: setup.due_post(
                f"cost-{index}", open_id, setup.stage_video(f"videos/{setup.USER}/cost-{index}", size, seed)
            )
            for index, (label, size) in enumerate(SIZES.items())
        }
        # Count from here: a fresh container (clients and the secret not yet fetched).
        aws.reset()
        publishing_wiring.reset()
        aws.session().events.register("before-call.*.*", count)

        from functions.upload import app

        print(f"{'post':<10} {'outcome':<10} {'chunk reads':>11} {'other calls':>11} {'KMS decrypt':>11}  calls")
        ok = True
        for label, post in posts.items():
            calls.clear()
            result = app.lambda_handler({"user_id": setup.USER, "post_id": post.post_id}, LambdaContext())
            reads = calls.pop(("s3", "GetObject"), 0)
            others = sum(calls.values())
            decrypts = calls[("kms", "Decrypt")]
            detail = ", ".join(f"{service}.{name} x{n}" for (service, name), n in sorted(calls.items()))
            print(f"{label:<10} {result['outcome']:<10} {reads:>11} {others:>11} {decrypts:>11}  {detail}")
            ok = ok and result["outcome"] == "published" and others <= GOAL_CALLS and decrypts == 1
        print(
            f"goal: published, at most {GOAL_CALLS} calls besides chunk reads, exactly one KMS decrypt: "
            f"{'met' if ok else 'NOT met'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
