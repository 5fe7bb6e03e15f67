"""Cold-start import budget: each function's module import time against the floor every function pays.

Source mode (the default): for every functions/<name>/app.py, a fresh interpreter (this one's
Python, the dev virtualenv's packages) imports `functions.<name>.app` with layers/flowctory on
sys.path. The floor is a fresh interpreter importing boto3, Powertools' event handler (its HTTP
resolver) and pydantic's BaseModel: `import pydantic` alone is lazy and loads almost nothing, so it
would hide the model machinery that every function pays for.

Package mode (`--package build/build-check/out --python python3.12`): the same measurement on the
output of `sam build` (see tools/check_built_package.py): the runtime's Python, isolated (-I -S -B),
with only the function folder and the built layer on sys.path, as Lambda imports it.

Runs are interleaved (floor, then each function, repeated) so that machine noise hits all alike;
the median of each is compared: ratio = function / floor, within budget when ratio <= 1.3. Children
get a Lambda-like environment (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME...), so Powertools behaves
as in production (the tracer is on). `--explain` lists, for each function over budget, the packages
it imports beyond the floor with their own import time (`-X importtime`), and the full garbage
collections its imports trigger (a step cost: see docs/build-and-bench.md).

Usage: python -m bench.cold_start [--runs 7] [--budget 1.3] [--clock wall|cpu] [--explain] [--package DIR --python PY]
"""

import argparse
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from sandbox.template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parent.parent
FLOOR = "floor"
FLOOR_IMPORTS = (
    "import boto3",
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver",
    "from pydantic import BaseModel",
)
# Grouping for --explain: these packages are reported one level deeper (flowctory.http, ...).
DEEP_PACKAGES = ("flowctory", "aws_lambda_powertools")

# The child: prepend its code folders to sys.path, run the imports, print the elapsed milliseconds
# (wall clock, or the process's CPU time, which other load on the machine disturbs much less).
CHILD = """
import os, sys, time
clock = time.process_time if sys.argv[3] == "cpu" else time.perf_counter
sys.path[:0] = sys.argv[2].split(os.pathsep)
started = clock()
exec(sys.argv[1])
print((clock() - started) * 1000)
"""


@dataclass(frozen=True)
class Target:
    """One thing to import in a fresh interpreter."""

    label: str
    code: str
    path: tuple[str, ...]
    python: str
    flags: tuple[str, ...]
    env: dict[str, str] = field(hash=False)

    def argv(self, *extra_flags: str, clock: str = "wall") -> list[str]:
        return [self.python, *self.flags, *extra_flags, "-c", CHILD, self.code, os.pathsep.join(self.path), clock]


def lambda_env(name: str, task_root: Path, base: dict[str, str]) -> dict[str, str]:
    """What Lambda sets at init (the parts Powertools reads), on top of `base`."""
    return {
        **base,
        "AWS_REGION": "eu-west-3",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_LAMBDA_FUNCTION_NAME": f"flowctory-{name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(task_root),
        "POWERTOOLS_SERVICE_NAME": name,
        "POWERTOOLS_METRICS_NAMESPACE": "Flowctory",
    }


def function_folders() -> dict[str, str]:
    """Function folder name -> logical id, from template.yaml's CodeUri values."""
    functions = resources_of_type(load_template(), "AWS::Serverless::Function")
    return {Path(res["Properties"]["CodeUri"]).name: function_id for function_id, res in functions.items()}


def source_targets(names: list[str]) -> list[Target]:
    """Import the repository's modules with the dev virtualenv's interpreter and packages."""
    # The parent's environment, minus variables that would change what or how the child imports.
    base = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "POWERTOOLS_"))}
    path = (str(ROOT), str(ROOT / "layers" / "flowctory"))
    python, flags = sys.executable, ("-I",)
    floor = Target(FLOOR, "\n".join(FLOOR_IMPORTS), path, python, flags, lambda_env(FLOOR, ROOT, base))
    return [floor] + [
        Target(
            name, f"import functions.{name}.app", path, python, flags, lambda_env(name, ROOT / "functions" / name, base)
        )
        for name in names
    ]


def package_targets(names: list[str], package: Path, python: str) -> list[Target]:
    """Import `sam build`'s output as Lambda does: function folder + layer, runtime Python, no site."""
    folders = function_folders()
    layers = [str(folder / "python") for folder in sorted(package.iterdir()) if (folder / "python").is_dir()]
    base = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": ":UTC"}
    flags = ("-I", "-S", "-B")
    floor = Target(FLOOR, "\n".join(FLOOR_IMPORTS), tuple(layers), python, flags, lambda_env(FLOOR, package, base))
    targets = [floor]
    for name in names:
        task_root = package / folders[name]
        targets.append(
            Target(name, "import app", (str(task_root), *layers), python, flags, lambda_env(name, task_root, base))
        )
    return targets


def time_import(target: Target, clock: str = "wall") -> float:
    """Milliseconds that a fresh interpreter spends on `target`'s imports."""
    result = subprocess.run(
        target.argv(clock=clock), cwd=ROOT, env=target.env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"importing {target.label} failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def measure(targets: list[Target], runs: int, clock: str = "wall") -> dict[str, list[float]]:
    """Interleaved runs of every target, after one discarded warm-up each (disk cache, .pyc files)."""
    for target in targets:
        time_import(target, clock)
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        for target in targets:
            samples[target.label].append(time_import(target, clock))
    return samples


def loaded_modules(target: Target) -> set[str]:
    """Every module a fresh interpreter holds once `target`'s imports are done."""
    code = target.code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        replace(target, code=code).argv(), cwd=ROOT, env=target.env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"importing {target.label} failed:\n{result.stderr}")
    return set(result.stdout.splitlines()[0].split())


# Counts the collections of the oldest generation (full passes over every tracked object) during the imports.
GC_PROBE = """
import gc, time
_full = []
def _on_gc(phase, info, _started=[0.0]):
    if info["generation"] == 2:
        if phase == "start":
            _started[0] = time.process_time()
        else:
            _full.append((time.process_time() - _started[0]) * 1000)
gc.callbacks.append(_on_gc)
"""


def full_collections(target: Target) -> list[float]:
    """CPU milliseconds of each full garbage collection that `target`'s imports trigger.

    CPython runs one when enough new objects have survived: a step of 15-25 ms here, paid by
    whichever import crosses the threshold (docs/build-and-bench.md).
    """
    code = GC_PROBE + target.code + "\nprint(' '.join(str(ms) for ms in _full))"
    result = subprocess.run(
        replace(target, code=code).argv(clock="cpu"), cwd=ROOT, env=target.env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"importing {target.label} failed:\n{result.stderr}")
    return [float(ms) for ms in result.stdout.splitlines()[0].split()]


def import_profile(target: Target) -> dict[str, int]:
    """Own import time (microseconds) of every module `target` loads, from `-X importtime`."""
    result = subprocess.run(
        target.argv("-X", "importtime"), cwd=ROOT, env=target.env, capture_output=True, text=True, check=False
    )
    profile: dict[str, int] = {}
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, _cumulative, name = line.removeprefix("import time:").split("|")
            profile[name.strip()] = int(self_us)
    return profile


def beyond_floor(target: Target, floor: Target) -> list[tuple[str, float, int]]:
    """Packages that `target` loads and the floor does not: (package, own ms, modules), largest first."""
    floor_modules = import_profile(floor)
    own_ms: dict[str, float] = defaultdict(float)
    modules: dict[str, int] = defaultdict(int)
    for name, self_us in import_profile(target).items():
        if name in floor_modules:
            continue
        parts = name.split(".")
        package = ".".join(parts[:2]) if parts[0] in DEEP_PACKAGES else parts[0]
        own_ms[package] += self_us / 1000
        modules[package] += 1
    return sorted(((package, ms, modules[package]) for package, ms in own_ms.items()), key=lambda row: -row[1])


def table(samples: dict[str, list[float]], budget: float) -> tuple[str, bool]:
    """The report table and whether every function is within budget."""
    floor = statistics.median(samples[FLOOR])
    lines = [f"{'function':<14} {'median ms':>10} {'floor ms':>9} {'ratio':>6} {'budget':>7}  verdict"]
    within = True
    for name in sorted(label for label in samples if label != FLOOR):
        median = statistics.median(samples[name])
        ok = median / floor <= budget
        within &= ok
        verdict = "OK" if ok else "OVER"
        lines.append(f"{name:<14} {median:>10.1f} {floor:>9.1f} {median / floor:>6.2f} {budget:>7.1f}  {verdict}")
    return "\n".join(lines), within


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="measured runs per target; the median is reported")
    parser.add_argument("--budget", type=float, default=1.3, help="highest allowed function/floor ratio")
    parser.add_argument("--explain", action="store_true", help="show what each function over budget imports")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall clock or the child's CPU time")
    parser.add_argument("--check", action="store_true", help="exit 1 when a function is over budget")
    parser.add_argument("--package", type=Path, help="a `sam build` output folder to measure instead of the source")
    parser.add_argument("--python", help="the runtime's interpreter for --package (python3.12)")
    parser.add_argument("functions", nargs="*", help="only these function folders (default: all)")
    args = parser.parse_args(argv)
    names = args.functions or sorted(function_folders())
    if args.package:
        if not args.python:
            parser.error("--package needs --python (the Lambda runtime's interpreter)")
        targets = package_targets(names, args.package.resolve(), args.python)
        where = f"built package {args.package}"
    else:
        targets = source_targets(names)
        where = "source, dev virtualenv"
    samples = measure(targets, args.runs, args.clock)
    report, within = table(samples, args.budget)
    version = subprocess.run(
        [targets[0].python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"cold-start import time ({args.clock} clock): {where}, Python {version}, median of {args.runs} runs")
    print(report)
    if args.explain:
        floor_ms = statistics.median(samples[FLOOR])
        for target in targets[1:]:
            if statistics.median(samples[target.label]) / floor_ms > args.budget:
                print(f"\n{target.label}: imports beyond the floor (own time, -X importtime, one run)")
                for package, ms, count in beyond_floor(target, targets[0])[:12]:
                    print(f"  {package:<45} {ms:>7.1f} ms  {count:>4} modules")
                passes = full_collections(target)
                floor_passes = len(full_collections(targets[0]))
                print(f"  full garbage collections: {len(passes)} (floor: {floor_passes}), {sum(passes):.1f} ms")
    return 1 if args.check and not within else 0


if __name__ == "__main__":
    sys.exit(main())
