"""The cold-start benchmark: its verdicts, and that it measures real imports in fresh interpreters."""

import pytest

from bench import cold_start


def test_a_function_over_the_budget_ratio_is_reported_over() -> None:
    # Given a floor of 100 ms, one function at 1.3x and one at 1.31x
    samples = {cold_start.FLOOR: [90.0, 100.0, 500.0], "fast": [130.0] * 3, "slow": [120.0, 131.0, 140.0]}

    # When the table is made with the 1.3 budget
    report, within = cold_start.table(samples, budget=1.3)

    # Then the medians decide: fast is OK, slow is OVER, and the run as a whole is not within budget
    rows = {line.split()[0]: line.split() for line in report.splitlines()[1:]}
    assert rows["fast"][1:] == ["130.0", "100.0", "1.30", "1.3", "OK"]
    assert rows["slow"][1:] == ["131.0", "100.0", "1.31", "1.3", "OVER"]
    assert within is False


def test_the_benchmark_imports_each_function_in_a_fresh_interpreter(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the purge function's module, which this test process has not imported through the benchmark

    # When the benchmark runs once on it
    cold_start.main(["--runs", "1", "purge"])

    # Then it prints a row for purge with positive timings for the function and the floor
    lines = capsys.readouterr().out.splitlines()
    row = next(line.split() for line in lines if line.startswith("purge "))
    function_ms, floor_ms, ratio = float(row[1]), float(row[2]), float(row[3])
    assert function_ms > 0 and floor_ms > 0
    assert ratio == pytest.approx(function_ms / floor_ms, abs=0.01)
    assert row[5] in {"OK", "OVER"}


def test_the_floor_really_loads_pydantic_models() -> None:
    # Given the floor's imports: `import pydantic` alone is lazy and would leave BaseModel unloaded
    floor = cold_start.source_targets([])[0]

    # When they run under -X importtime
    profile = cold_start.import_profile(floor)

    # Then pydantic's model machinery, the HTTP resolver and boto3 are all part of the floor
    assert {
        "boto3",
        "pydantic._internal._model_construction",
        "aws_lambda_powertools.event_handler.api_gateway",
    } <= set(profile)
