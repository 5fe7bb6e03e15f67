"""Which privacy promises (P01-P34) the tests prove: `make policy`.

Lists every promise of docs/privacy-promises.md with the tests named after it (`test_p07_...`,
`test_p08_p11_...`) and their outcome in one pytest run. A promise without a passing test is
reported as unproved, and the command exits non-zero if a promise test fails.
"""

import argparse
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMISES = ROOT / "docs" / "privacy-promises.md"
PROMISE_ROW = re.compile(r"^\| (P\d{2}) \| (.+?) \|")
PROMISE_IDS_IN_TEST = re.compile(r"(?<=[_])p(\d{2})(?=_)")


def promises() -> dict[str, str]:
    rows = (PROMISE_ROW.match(line) for line in PROMISES.read_text().splitlines())
    return {row.group(1): row.group(2) for row in rows if row}


def promise_ids(test_name: str) -> set[str]:
    """P-ids a test names: `test_p08_p11_history` proves P08 and P11."""
    prefix = re.match(r"test_((?:p\d{2}_)+)", test_name)
    return {f"P{number}" for number in PROMISE_IDS_IN_TEST.findall("_" + prefix.group(1))} if prefix else set()


def run_promise_tests(report: Path) -> dict[str, list[tuple[str, str]]]:
    """Run every promise test once; map each promise to (test id, outcome)."""
    subprocess.run(  # noqa: S603 - our own pytest, fixed arguments
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "test_p", f"--junitxml={report}"],
        cwd=ROOT,
        check=False,
    )
    results: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for case in ElementTree.parse(report).getroot().iter("testcase"):  # noqa: S314 - pytest's own report
        name = case.get("name", "")
        outcome = "failed" if case.find("failure") is not None or case.find("error") is not None else "passed"
        if case.find("skipped") is not None:
            outcome = "skipped"
        for promise in promise_ids(name.split("[")[0]):
            results[promise].append((f"{case.get('classname')}::{name}", outcome))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report", type=Path, default=ROOT / "build" / "policy-tests.xml")
    args = parser.parse_args()
    args.report.parent.mkdir(parents=True, exist_ok=True)
    results = run_promise_tests(args.report)
    failed = False
    proved = 0
    print("\nPrivacy promises and the tests that prove them")
    for promise, text in promises().items():
        tests = results.get(promise, [])
        passed = sum(outcome == "passed" for _, outcome in tests)
        failures = [test for test, outcome in tests if outcome == "failed"]
        failed = failed or bool(failures)
        verdict = "FAILING" if failures else ("proved" if passed else "unproved")
        proved += verdict == "proved"
        print(f"{promise}  {verdict:<8}  {passed:>3} passing test(s)  {text}")
        for test in failures:
            print(f"      failing: {test}")
    print(f"\n{proved} of {len(promises())} promises proved by passing tests.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
