"""The deploy-package check: what it builds, and that it catches what a real deploy would hit."""

import ast
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.template import load_template, resources_of_type
from tools import check_built_package as check

ROOT = Path(__file__).resolve().parents[2]
FINDER = ROOT / "tools" / "runtime-python-dir"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
ARCH_FIELDS = ("Architectures", "CompatibleArchitectures", "BuildArchitecture")


def runtime_version() -> str:
    return str(load_template()["Globals"]["Function"]["Runtime"]).removeprefix("python")


def find_runtime_python(version: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs the Makefile's interpreter finder."""
    return subprocess.run(["/bin/sh", str(FINDER), version], env=env, capture_output=True, text=True, check=False)  # noqa: S603


@pytest.fixture(scope="module")
def runtime_python() -> Path:
    result = find_runtime_python(runtime_version())
    if result.returncode != 0:
        pytest.fail(f"the Lambda runtime's Python is needed here: {result.stderr.strip()}")
    return Path(result.stdout.strip()) / f"python{runtime_version()}"


@pytest.fixture(scope="module")
def sam() -> Path:
    if not SAM.exists():
        pytest.fail("SAM CLI missing: `make test` creates .venv-sam from requirements-sam.txt")
    return SAM


def without_build_fields(template: dict) -> dict:
    """The template minus what the derived copy may change (architectures, code paths)."""
    template["Globals"]["Function"].pop("Architectures", None)
    for kind in (check.FUNCTION, check.LAYER):
        for resource in resources_of_type(template, kind).values():
            for name in (*ARCH_FIELDS, "CodeUri", "ContentUri"):
                resource["Properties"].pop(name, None)
                resource.get("Metadata", {}).pop(name, None)
    return template


def test_derived_template_changes_only_the_architecture_and_the_code_paths(tmp_path: Path) -> None:
    # Given the production template (arm64)
    source = check.ROOT / "template.yaml"
    original = check.load(source)

    # When the build check derives its copy for x86_64 in another folder
    derived_path = check.derive_template(source, tmp_path / "work", "x86_64")
    derived = check.load(derived_path)

    # Then every function and layer targets x86_64 ...
    assert derived["Globals"]["Function"]["Architectures"] == ["x86_64"]
    for layer in resources_of_type(derived, check.LAYER).values():
        assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]
        assert layer["Metadata"]["BuildArchitecture"] == "x86_64"
    # ... every code path still names the same real folder ...
    assert check.code_folders(derived_path) == check.code_folders(source)
    assert all(folder.is_dir() for folder in check.code_folders(derived_path))
    # ... and nothing else differs
    assert without_build_fields(derived) == without_build_fields(original)


def fake_pyenv(tmp_path: Path, versions: list[str]) -> dict[str, str]:
    """A PATH with no pythonX.Y on it and a pyenv that knows `versions`, each with a working interpreter."""
    root, bin_dir = tmp_path / "pyenv", tmp_path / "bin"
    bin_dir.mkdir()
    for version in versions:
        interpreter = root / "versions" / version / "bin" / f"python{version.rsplit('.', 1)[0]}"
        interpreter.parent.mkdir(parents=True)
        interpreter.write_text("#!/bin/sh\nexit 0\n")
        interpreter.chmod(0o755)
    listing = "\\n".join(versions)
    (bin_dir / "pyenv").write_text(
        f'#!/bin/sh\ncase "$1" in root) echo "{root}";; versions) printf "{listing}\\n";; esac\n'
    )
    (bin_dir / "pyenv").chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}


def test_runtime_python_is_the_newest_pyenv_release_of_the_runtime_version(tmp_path: Path) -> None:
    # Given pyenv with several 3.12 releases (3.12.10 sorts before 3.12.9 as text), a 3.13 and a virtualenv
    env = fake_pyenv(tmp_path, ["3.11.7", "3.12.9", "3.12.10", "3.12.10/envs/tools", "3.13.0"])

    # When the Makefile's finder looks for 3.12
    result = find_runtime_python("3.12", env)

    # Then it names the folder of 3.12.10
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "pyenv" / "versions" / "3.12.10" / "bin")


def test_no_runtime_python_fails_with_a_message_that_says_what_to_install(tmp_path: Path) -> None:
    # Given pyenv without any 3.12
    env = fake_pyenv(tmp_path, ["3.11.7", "3.13.0"])

    # When the finder looks for 3.12
    result = find_runtime_python("3.12", env)

    # Then it fails and tells how to get one
    assert result.returncode == 1
    assert result.stdout == ""
    assert "pyenv install 3.12" in result.stderr


def scratch_copy(destination: Path) -> Path:
    """template.yaml and every code folder it names, copied with their relative layout."""
    destination.mkdir()
    shutil.copy(ROOT / "template.yaml", destination / "template.yaml")
    for folder in check.code_folders(ROOT / "template.yaml"):
        shutil.copytree(
            folder, destination / folder.relative_to(ROOT), ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    return destination / "template.yaml"


def add_import(app: Path, statement: str) -> None:
    """Adds `statement` after the module docstring, as a developer adding an import would."""
    lines = app.read_text().splitlines(keepends=True)
    after_docstring = ast.parse("".join(lines)).body[0].end_lineno or 0
    app.write_text("".join([*lines[:after_docstring], f"{statement}\n", *lines[after_docstring:]]))


def test_missing_dependency_and_module_outside_the_package_fail_the_check(
    tmp_path: Path, runtime_python: Path, sam: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a scratch copy of the deployable sources in which
    template = scratch_copy(tmp_path / "src")
    functions = {
        Path(res["Properties"]["CodeUri"]).name: fid
        for fid, res in resources_of_type(load_template(), check.FUNCTION).items()
    }
    # - auth imports PyYAML, installed in the dev virtualenv but not in the layer's requirements.txt
    add_import(template.parent / "functions" / "auth" / "app.py", "import yaml")
    # - purge imports a repository module that no CodeUri/ContentUri folder contains
    add_import(template.parent / "functions" / "purge" / "app.py", "from sandbox import template")
    # - and the checking process itself can see the repository and the layer sources
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(ROOT / "layers" / "flowctory")]))

    # When the package is built and its handlers imported
    checks = {
        c.function_id: c for c in check.run(template, tmp_path / "work", sam, runtime_python, check.host_architecture())
    }

    # Then exactly the two broken functions fail, each naming the missing module
    assert checks[functions["auth"]].ok is False
    assert "No module named 'yaml'" in checks[functions["auth"]].detail
    assert checks[functions["purge"]].ok is False
    assert "No module named 'sandbox'" in checks[functions["purge"]].detail
    untouched = set(checks) - {functions["auth"], functions["purge"]}
    assert untouched and all(checks[fid].ok for fid in untouched), [checks[fid] for fid in untouched]
