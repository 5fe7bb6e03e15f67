"""AWS calls per published post: every API call the upload function makes, counted by botocore's event hooks.

One due post (a 12 MB and a 100 MiB video) is published end to end by the real upload function, in
process, against moto built from template.yaml and the TikTok simulator over HTTP. Chunk reads
(S3 GetObject, one per TikTok chunk) are reported apart; the goal is at most 10 other calls per post
and exactly one KMS Decrypt. The first post of a container also pays for reading the TikTok client
secret (Secrets Manager), once; the second post shows the warm figure.

Usage: python -m bench.publish_cost
"""

import bench.in_process  # noqa: F401 (first: the layer on the path, the environment set)

# isort: split

import os
import sys
import tempfile
from pathlib import Path

import boto3
from moto import mock_aws

from bench import publishing_setup as setup
from bench.in_process import AwsCalls, LambdaContext
from flowctory import publishing_wiring, wiring
from flowctory.adapters import aws
from flowctory.settings import load_settings
from sandbox.stack import bootstrap
from sandbox.tiktok_sim import SimulatorServer, TikTokSimulator

CONTEXT = LambdaContext("upload", memory_mb=1024, timeout_seconds=900)
SIZES = {"12 MB": 12_000_000, "100 MiB": 100 * 1024 * 1024}
GOAL_CALLS = 10


def main() -> int:
    calls = AwsCalls()
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
        calls.listen()

        from functions.upload import app

        print(f"{'post':<10} {'outcome':<10} {'chunk reads':>11} {'other calls':>11} {'KMS decrypt':>11}  calls")
        ok = True
        for label, post in posts.items():
            calls.clear()
            result = app.lambda_handler(
                {"user_id": setup.USER, "post_id": post.post_id},
                CONTEXT,
            )
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
