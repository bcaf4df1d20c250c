"""Golden suites from Python: the cases a backend must reproduce, and the check of its results.

``cases(suite)`` gives each case's parameters, input arrays and expected values (the oracle's
decimal strings with their bounds, and the tolerance rule), as ``mforacle golden`` writes them;
``check(suite, results)`` compares a backend's results with the suite exactly as ``mforacle
check`` does and returns its report. Tolerances are the crate's (an f64 rounding model times the
magnitude of the summed terms; see each quantity's ``rule``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

__all__ = ["Report", "cases", "check"]


@dataclasses.dataclass
class Report:
    """The report of ``mforacle check --format json``: ``passed`` iff every quantity is within
    tolerance; ``rows`` one dict per (case, quantity) with ``max_abs_error``,
    ``max_rel_error``, ``max_error_over_tolerance``, ``worst_index``, ``error_at_worst``,
    ``tolerance_at_worst``, ``bound_kind`` (the kind of the reference values' bounds) and
    ``pass``; ``message`` the CLI's failure line ("" on a pass)."""

    suite: str
    passed: bool
    rows: List[Dict[str, Any]]
    message: str

    def failures(self) -> List[Dict[str, Any]]:
        return [r for r in self.rows if not r["pass"]]


def _run(argv):
    from . import _run as run

    return run(argv)


def cases(suite: str) -> Dict[str, Dict[str, Any]]:
    """The cases of a suite: ``{case: {"description", "parameters", "inputs": {name: array},
    "expected": {quantity: {"values": [str], "abs_error_bound": [str], "bound_kind", "shape",
    "tolerance"}}}}``.
    Input arrays are float64 with their shapes; expected values stay the oracle's strings."""
    with tempfile.TemporaryDirectory(prefix="mforacle-golden-") as tmp:
        out = os.path.join(tmp, "suite")
        _run(["golden", "--suite", suite, "--out", out])
        with open(os.path.join(out, "manifest.json")) as f:
            manifest = json.load(f)
        result: Dict[str, Dict[str, Any]] = {}
        for case in manifest["cases"]:
            name = case["name"]
            with open(os.path.join(out, name, "inputs.json")) as f:
                inputs = json.load(f)
            with open(os.path.join(out, name, "expected.json")) as f:
                expected = json.load(f)
            result[name] = {
                "description": inputs.get("description", ""),
                "parameters": inputs.get("parameters", {}),
                "inputs": {
                    a["name"]: np.array(a["values"], dtype=np.float64).reshape(a["shape"])
                    for a in inputs.get("arrays", [])
                },
                "expected": {q["name"]: q for q in expected["quantities"]},
            }
        return result


def _write_results(results: Mapping[str, Mapping[str, Any]], root: str) -> None:
    for case, quantities in results.items():
        os.makedirs(os.path.join(root, case), exist_ok=True)
        doc = {q: np.asarray(v, dtype=np.float64).tolist() for q, v in quantities.items()}
        with open(os.path.join(root, case, "results.json"), "w") as f:
            json.dump(doc, f)


def check(
    suite: str,
    results: Union[str, os.PathLike, Mapping[str, Mapping[str, Any]]],
    golden: Optional[Union[str, os.PathLike]] = None,
) -> Report:
    """Checks a backend's results against a suite (``mforacle check``).

    ``results`` is a RESULTS_DIR laid out like a golden directory, or a mapping
    ``{case: {quantity: array}}`` (written as each case's results.json; floats are written
    with ``repr``, which round-trips). A failed check is a report with ``passed == False``;
    malformed results (missing or extra case or quantity, wrong shape, NaN) raise ValueError
    with the CLI's message."""
    from . import cli

    with tempfile.TemporaryDirectory(prefix="mforacle-results-") as tmp:
        if isinstance(results, Mapping):
            _write_results(results, tmp)
            path = tmp
        else:
            path = os.fspath(results)
        argv = ["check", "--suite", suite, path, "--format", "json"]
        if golden is not None:
            argv += ["--golden", os.fspath(golden)]
        r = cli(*argv)
    if r.exit_code == 2 or (r.exit_code != 0 and not r.stdout):
        message = r.stderr.strip()
        if r.exit_code == 2:
            raise ValueError(message)
        raise RuntimeError(message)
    doc = json.loads(r.stdout)
    return Report(suite=doc["suite"], passed=bool(doc["pass"]), rows=doc["rows"], message=r.stderr.strip())
