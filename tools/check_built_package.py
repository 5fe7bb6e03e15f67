"""Proves the deploy package works: builds it with `sam build` and imports every built handler.

The build is the production template with one change: the functions and the layer target this
machine's architecture instead of arm64, so that their compiled wheels (pydantic-core, wrapt) load
here. Each handler is then imported from its built folder, with only the built layer on the path,
by the runtime's Python in an isolated interpreter (`-I -S -B`: no PYTHONPATH, no site-packages, no
working directory, nothing written), as Lambda does. A dependency missing from the layer's requirements.txt, or a
module that lives outside a CodeUri/ContentUri folder, fails here instead of in production.

Usage: python -m tools.check_built_package --python PYTHON3.12 --sam SAM [--work-dir build/build-check]
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sandbox.template import CloudFormationLoader, resources_of_type

ROOT = Path(__file__).resolve().parent.parent
FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"
HASH_FILE = "inputs.sha256"
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}

# Runs inside the isolated runtime interpreter: sys.argv = [-c, handler, allowed roots..., then the path].
IMPORT_PROBE = """
import importlib, json, os, sys, sysconfig
handler, roots, path = sys.argv[1], sys.argv[2].split(os.pathsep), sys.argv[3].split(os.pathsep)
sys.path[:0] = path
module_name, _, attribute = handler.rpartition(".")
module = importlib.import_module(module_name)
target = getattr(module, attribute, None)
stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
allowed = [os.path.realpath(root) for root in roots] + [stdlib]
strays = sorted(
    name for name, mod in list(sys.modules.items())
    if getattr(mod, "__file__", None)
    and not any(os.path.realpath(mod.__file__).startswith(root + os.sep) for root in allowed)
)
print(json.dumps({"callable": callable(target), "strays": strays, "version": list(sys.version_info[:2])}))
"""


def host_architecture() -> str:
    """This machine's architecture in Lambda's spelling."""
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[machine]


def load(path: Path) -> dict[str, Any]:
    try:
        return yaml.load(path.read_text(), Loader=CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as error:
        raise SystemExit(f"{path} is not valid YAML: {error}") from None


def derive_template(source: Path, out_dir: Path, architecture: str) -> Path:
    """Writes a copy of `source` whose functions and layers target `architecture` and whose code
    paths point back at the real folders, and returns its path. Nothing else changes."""
    template = load(source)
    globals_function = template.get("Globals", {}).get("Function", {})
    if "Architectures" in globals_function:
        globals_function["Architectures"] = [architecture]
    for function in resources_of_type(template, FUNCTION).values():
        properties = function["Properties"]
        if "Architectures" in properties:
            properties["Architectures"] = [architecture]
        properties["CodeUri"] = _relocated(properties.get("CodeUri"), source.parent, out_dir)
    for layer in resources_of_type(template, LAYER).values():
        properties = layer["Properties"]
        if "CompatibleArchitectures" in properties:
            properties["CompatibleArchitectures"] = [architecture]
        if "BuildArchitecture" in layer.get("Metadata", {}):
            layer["Metadata"]["BuildArchitecture"] = architecture
        properties["ContentUri"] = _relocated(properties.get("ContentUri"), source.parent, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    derived = out_dir / "template.yaml"
    derived.write_text(yaml.safe_dump(template, sort_keys=False))
    return derived


def _relocated(uri: Any, source_dir: Path, out_dir: Path) -> str:
    if not isinstance(uri, str) or uri.startswith("s3://"):
        raise ValueError(f"only local code folders can be built and checked, got CodeUri/ContentUri {uri!r}")
    return os.path.relpath((source_dir / uri).resolve(), out_dir.resolve()) + "/"


def code_folders(template_path: Path) -> list[Path]:
    """Every CodeUri/ContentUri folder of a template, resolved against the template's folder."""
    template = load(template_path)
    uris = [res["Properties"]["CodeUri"] for res in resources_of_type(template, FUNCTION).values()]
    uris += [res["Properties"]["ContentUri"] for res in resources_of_type(template, LAYER).values()]
    return sorted({(template_path.parent / uri).resolve() for uri in uris})


def inputs_digest(template_path: Path, extra: Iterable[str]) -> str:
    """A hash of everything `sam build` reads: the template, every file of the code folders, the tools."""
    digest = hashlib.sha256(template_path.read_bytes())
    for item in extra:
        digest.update(item.encode())
    for folder in code_folders(template_path):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not IGNORED_PARTS.intersection(path.parts) and path.suffix != ".pyc":
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def sam_build(template_path: Path, out_dir: Path, sam: Path, python: Path) -> None:
    """`sam build` without Docker; the runtime's interpreter goes first on PATH, as SAM requires."""
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "eu-west-3"))
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    command = [str(sam), "build", "--template", str(template_path), "--build-dir", str(out_dir)]
    # cwd: SAM keeps its scratch (.aws-sam/) beside the derived template, not in the repository.
    result = subprocess.run(command, cwd=template_path.parent, env=env, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"sam build failed (exit {result.returncode}) for {template_path}")


def compile_bytecode(out_dir: Path, python: Path) -> None:
    """Ships .pyc files, as `make build` does: Lambda's code folders are read-only, so without them
    every cold start compiles the whole layer again. `unchecked-hash` because the deploy zip resets
    every file's mtime, which would invalidate timestamp-checked .pyc files."""
    command = [str(python), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(out_dir)]
    result = subprocess.run(command, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"compileall failed (exit {result.returncode}) in {out_dir}")


@dataclass(frozen=True)
class HandlerCheck:
    function_id: str
    handler: str
    ok: bool
    detail: str


def check_handlers(built_template: Path, python: Path) -> list[HandlerCheck]:
    """Imports every function's handler from `sam build`'s output under `python`, each in a fresh
    isolated interpreter with the function folder and its built layers as the only code on the path."""
    template = load(built_template)
    defaults = template.get("Globals", {}).get("Function", {})
    layers = resources_of_type(template, LAYER)
    jobs = []
    for function_id, function in sorted(resources_of_type(template, FUNCTION).items()):
        properties = {**defaults, **function["Properties"]}
        # SAM merges Globals' environment variables with the function's own.
        properties["Environment"] = {
            "Variables": {
                **defaults.get("Environment", {}).get("Variables", {}),
                **function["Properties"].get("Environment", {}).get("Variables", {}),
            }
        }
        task_root = (built_template.parent / properties["CodeUri"]).resolve()
        layer_roots = [_layer_root(ref, layers, built_template.parent) for ref in properties.get("Layers", [])]
        jobs.append((function_id, properties, task_root, layer_roots))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(lambda job: _probe(python, *job), jobs))


def _layer_root(ref: Any, layers: Mapping[str, Any], base: Path) -> Path:
    if not (isinstance(ref, dict) and ref.get("Ref") in layers):
        raise ValueError(f"layer {ref!r} is not built from this template, so its contents cannot be checked")
    return (base / layers[ref["Ref"]]["Properties"]["ContentUri"]).resolve()


def _probe(
    python: Path, function_id: str, properties: Mapping[str, Any], task_root: Path, layer_roots: list[Path]
) -> HandlerCheck:
    handler = properties["Handler"]
    version = properties["Runtime"].removeprefix("python")
    # Lambda's order: the function's folder, then each layer's python/lib/.../site-packages and python/.
    path = [task_root]
    for layer in layer_roots:
        path += [layer / "python" / "lib" / f"python{version}" / "site-packages", layer / "python"]
    variables = properties.get("Environment", {}).get("Variables", {})
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "eu-west-3",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{properties['Runtime']}",
        "AWS_LAMBDA_FUNCTION_NAME": function_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(properties.get("MemorySize", 128)),
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": handler,
        # Literal template values only (service name, namespace...); resource names resolve at deploy.
        **{name: str(value) for name, value in variables.items() if isinstance(value, str | int | float)},
    }
    roots = os.pathsep.join(str(root) for root in [task_root, *layer_roots])
    # -B: Lambda's code folders are read-only, so nothing may be written next to the built code.
    command = [str(python), "-I", "-S", "-B", "-c", IMPORT_PROBE, handler, roots, os.pathsep.join(map(str, path))]
    result = subprocess.run(command, cwd=task_root, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return HandlerCheck(function_id, handler, False, f"import failed: {last_line}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["version"] != [int(part) for part in version.split(".")]:
        return HandlerCheck(function_id, handler, False, f"ran under Python {report['version']}, not {version}")
    if report["strays"]:
        return HandlerCheck(function_id, handler, False, f"loaded modules from outside the package: {report['strays']}")
    if not report["callable"]:
        return HandlerCheck(function_id, handler, False, f"{handler} is missing or not callable")
    return HandlerCheck(function_id, handler, True, "imported, handler callable")


def run(source: Path, work_dir: Path, sam: Path, python: Path, architecture: str) -> list[HandlerCheck]:
    """Derives the template, rebuilds only when an input changed, then checks every handler."""
    derived = derive_template(source, work_dir, architecture)
    out_dir = work_dir / "out"
    # The recipe is an input too: a change to this file (or the interpreters) rebuilds.
    versions = [str(python.resolve()), str(sam.resolve()), architecture, Path(__file__).read_text()]
    digest = inputs_digest(derived, versions)
    stamp = work_dir / HASH_FILE
    started = time.perf_counter()
    if stamp.exists() and stamp.read_text() == digest and (out_dir / "template.yaml").exists():
        print(f"build-check: inputs unchanged, reusing {out_dir}")
    else:
        stamp.unlink(missing_ok=True)
        sam_build(derived, out_dir, sam, python)
        built = time.perf_counter()
        compile_bytecode(out_dir, python)
        stamp.write_text(digest)
        print(
            f"build-check: sam build ({architecture}) took {built - started:.1f} s,"
            f" compileall {time.perf_counter() - built:.1f} s"
        )
    started = time.perf_counter()
    checks = check_handlers(out_dir / "template.yaml", python)
    for check in checks:
        print(f"  {'OK  ' if check.ok else 'FAIL'} {check.function_id:<22} {check.handler}: {check.detail}")
    print(f"build-check: {len(checks)} handlers checked in {time.perf_counter() - started:.1f} s")
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, required=True, help="the Lambda runtime's interpreter (python3.12)")
    parser.add_argument("--sam", type=Path, required=True, help="the SAM CLI executable")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "build" / "build-check")
    parser.add_argument("--architecture", default=host_architecture(), choices=["x86_64", "arm64"])
    args = parser.parse_args(argv)
    checks = run(args.template.resolve(), args.work_dir.resolve(), args.sam.resolve(), args.python, args.architecture)
    if not checks:
        print("build-check: the template has no functions to check", file=sys.stderr)
        return 1
    failed = [check for check in checks if not check.ok]
    if failed:
        print(f"build-check: {len(failed)} of {len(checks)} built handlers do not import", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
