"""Tests of the Python package: values against the command line's bytes, against independent
closed forms and a NumPy backend, bound kinds, zero-copy, errors, GIL release, golden checks."""

import decimal
import importlib.util
import json
import math
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import mforacle

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "release" / "mforacle"
U = 2.0**-53


def binary(*argv):
    """The real binary's (exit code, stdout, stderr); CI builds it with `cargo test --release`."""
    if not BINARY.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{BINARY} is missing: run `cargo build --release` first")
        pytest.skip("the mforacle binary is not built (cargo build --release)")
    r = subprocess.run([str(BINARY), *map(str, argv)], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def unit_rows(n, d, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, d))
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def example():
    spec = importlib.util.spec_from_file_location("backend_check", ROOT / "examples" / "python_backend_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def weights_file(tmp_path, W, theta, a=None):
    doc = {"theta": theta.tolist(), "w": W.tolist()}
    if a is not None:
        doc["a"] = a.tolist()
    p = tmp_path / "w.json"
    p.write_text(json.dumps(doc))
    return p


# -- values equal the CLI's bytes -------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["coeffs", "tanh", "--degree", "8", "--digits", "25"],
    ["coeffs", "relu(z-0.25)", "--degree", "5", "--digits", "20", "--format", "json", "--exact"],
    ["kernel", "relu", "--s=0.5,-1", "--digits", "20"],
    ["meanfield", "--student", "he4", "--d", "16", "--t-end", "0.5", "--format", "json"],
])
def test_cli_in_process_equals_binary(argv):
    assert tuple(mforacle.cli(*argv)) == binary(*argv)


def test_cli_errors_equal_binary():
    for argv in (["coeffs", "bogus("], ["kernel", "relu", "--s", "2"], ["population", "--student", "he4"]):
        code, out, err = binary(*argv)
        assert code == 2 and out == ""
        assert tuple(mforacle.cli(*argv)) == (code, out, err)
        with pytest.raises(ValueError) as e:
            mforacle._run(argv)
        assert str(e.value) == err.strip()


def test_coeffs_strings_are_the_cli_json():
    c = mforacle.coeffs("tanh", degree=7, digits=30, number="str")
    doc = json.loads(binary("coeffs", "tanh", "--degree", "7", "--digits", "30", "--format", "json")[1])
    assert c.values == [r["value"] for r in doc["coefficients"]]
    assert c.bounds == [r["abs_error_bound"] for r in doc["coefficients"]]


def test_population_oracle_equals_binary(tmp_path):
    W, theta = unit_rows(6, 5, 1), np.eye(5)[0]
    a = np.linspace(0.1, 0.3, 6)
    p = mforacle.population("tanh", "he4", W, theta, a, digits=25, degree=80)
    code, out, _ = binary("population", "--student", "tanh", "--teacher", "he4", "--weights",
                          weights_file(tmp_path, W, theta, a), "--digits", "25", "--degree", "80")
    assert code == 0 and p.strings == json.loads(out)
    assert p.velocity[2, 3] == float(json.loads(out)["velocity"][2][3])


def test_population_fast_bits_equal_binary(tmp_path):
    W, theta = unit_rows(40, 12, 2), np.eye(12)[0]
    p = mforacle.population("relu", "0.5*he4+he2", W, theta, fast=True, degree=30)
    code, out, _ = binary("population", "--student", "relu", "--teacher", "0.5*he4+he2", "--weights",
                          weights_file(tmp_path, W, theta), "--fast", "--degree", "30")
    doc = json.loads(out)
    assert code == 0 and p.route == doc["route"] and p.loss == doc["loss"]
    assert (p.loss_bound_kind, p.velocity_bound_kind) == (doc["loss_bound_kind"], doc["gradient_bound_kind"])
    for key in ("tangent_gradient", "radial_gradient", "velocity", "velocity_error_bound"):
        got = getattr(p, key.replace("_error_bound", "_bound"))
        assert np.array_equal(got, np.array(doc[key])), key  # bit for bit (JSON floats round-trip)


# -- values against independent methods -------------------------------------------------------


def test_relu_kernel_against_mpmath_closed_form():
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(40):
        s = mpmath.mpf("0.3")
        truth = (mpmath.sqrt(1 - s * s) + (mpmath.pi - mpmath.acos(s)) * s) / (2 * mpmath.pi)
        (p, *_) = mforacle.kernel("relu", "0.3", digits=30, number="mpmath")
        assert p.derivative == 0 and abs(p.value - truth) <= p.bound


def test_coeffs_bessel_and_mpmath_values():
    mpmath = pytest.importorskip("mpmath")
    c = mforacle.coeffs("sin", degree=15, digits=30, number="mpmath")
    # sin: c_k = e^{-1/2} (-1)^((k-1)/2) / sqrt(k!) for odd k, 0 for even k (E[sin(Z) He_k(Z)]).
    with mpmath.workdps(40):
        for k, (v, b) in enumerate(zip(c.values, c.bounds)):
            t = 0 if k % 2 == 0 else mpmath.exp(-0.5) * (-1) ** ((k - 1) // 2) / mpmath.sqrt(mpmath.factorial(k))
            assert abs(v - t) <= b, k
        assert sum(v * v for v in c.values) <= c.norm_squared + c.norm_squared_bound  # Bessel


def test_meanfield_initial_loss_closed_form():
    # Uniform start: E[s^4] = 3/(d(d+2)) for s = <w, w'> or <w, theta>, so L(0) = 1 - 3/(d(d+2)).
    m = mforacle.meanfield("he4", 32, 1.0, dt_out=0.5)
    assert list(m["t"]) == [0.0, 0.5, 1.0] and m["quantiles"].shape == (3, 5)
    assert abs(m["loss"][0] - (1 - 3 / (32 * 34))) <= 1e-12
    assert np.all(np.diff(m["loss"]) < 0)  # gradient flow decreases the loss
    # he4 is even: the reduced flow is odd in alpha (a flag value starting with '-' passes).
    neg, pos = mforacle.meanfield("he4", 32, 1.0, track=[-0.3, 0.3])["tracked"]
    assert neg["alpha0"] == -0.3 and len(pos["alpha"]) == 3
    assert np.max(np.abs(np.array(neg["alpha"]) + np.array(pos["alpha"]))) <= 1e-9  # rtol 1e-10 per step


def test_fast_against_oracle_within_bounds():
    W, theta = unit_rows(10, 7, 3), np.eye(7)[0]
    o = mforacle.population("tanh", "tanh", W, theta, digits=20, degree=100)
    f = mforacle.population("tanh", "tanh", W, theta, fast=True, degree=64)
    for x in ("velocity", "tangent_gradient", "radial_gradient"):
        bound = getattr(o, x + "_bound") + getattr(f, x + "_bound") + U * np.abs(getattr(o, x))
        assert np.all(np.abs(getattr(o, x) - getattr(f, x)) <= bound), x
    assert abs(o.loss - f.loss) <= o.loss_bound + f.loss_bound + U * abs(o.loss)


# -- a NumPy backend checked as a user would check theirs ------------------------------------


@pytest.mark.parametrize("student,teacher", [("he4", "0.6*he4+0.3*he6"), ("he2+0.5*he3", "he3")])
def test_numpy_velocity_and_step_against_oracle(student, teacher):
    assert example().check_step(student, teacher, N=9, d=8) <= 1.0


def test_backend_check_catches_a_wrong_velocity():
    ex = example()
    W, theta, a = unit_rows(6, 5, 4), np.eye(5)[0], np.full(6, 1 / 6)
    cs = np.array([float(x) for x in mforacle.coeffs("he4", 6, 20).values])
    oracle = mforacle.population("he4", "he4", W, theta, a)
    v = ex.backend_velocity(W, a, theta, cs, cs)
    tol = ex.tolerance(cs, cs, a, 5, oracle)
    assert np.all(np.abs(v - oracle.velocity) <= tol)
    v[1, 2] += 1e-9  # a bug of one part in 1e9 is caught
    assert not np.all(np.abs(v - oracle.velocity) <= tol)


def test_numpy_velocity_against_fast_path_at_scale():
    ex = example()
    N, d = 512, 64
    W, theta, a = unit_rows(N, d, 5), np.eye(d)[0], np.full(N, 1 / N)
    cs = np.array([float(x) for x in mforacle.coeffs("he2+he4", 6, 20).values])
    f = mforacle.population("he2+he4", "he2+he4", W, theta, a, fast=True)
    v = ex.backend_velocity(W, a, theta, cs, cs)
    k = np.arange(7)
    M = 4 * (np.sum((k + k * (k - 1)) * cs * cs) * 2)  # sum|a| = 1: kappa and psi terms
    n = N + 7 + 2 * d + 8
    assert np.all(np.abs(v - f.velocity) <= n * U / (1 - n * U) * M + f.velocity_bound)


# -- kinds, layout, errors, GIL ---------------------------------------------------------------


def test_bound_kinds():
    assert mforacle.coeffs("he4", 6, 20).kinds == ["exact"] * 7
    t = mforacle.coeffs("tanh", 4, 20)
    assert t.kinds == ["exact", "estimate", "exact", "estimate", "exact"] and t.norm_squared_kind == "estimate"
    # coeffs() passes the CLI's kinds through: with --enclose tanh's odd coefficients are enclosed
    e = mforacle.coeffs("tanh", 4, 20, enclose=True)
    doc = json.loads(binary("coeffs", "tanh", "--degree", "4", "--digits", "20", "--enclose", "--format", "json")[1])
    assert e.kinds == [r["bound_kind"] for r in doc["coefficients"]] == ["exact", "enclosure", "exact", "enclosure", "exact"]
    assert e.norm_squared_kind == doc["norm_squared"]["bound_kind"]
    assert {p.kind for p in mforacle.kernel("relu", [0.5])} == {"enclosure"}  # the closed form
    # kernel() passes the CLI's kinds through: tanh's tables and norms are enclosed; log1p lies
    # outside the enclosure theorem, so its series stays an estimate
    assert {p.kind for p in mforacle.kernel("tanh", [0.5], degree=60)} == {"enclosure"}
    assert {p.kind for p in mforacle.kernel("log1p(z^2)+z", [0.5], degree=30)} == {"estimate"}
    g = mforacle.langevin_gibbs("he4", 8, 2.0)
    assert g["free_energy"]["bound_kind"] == "estimate"
    kinds = {v["bound_kind"] for v in g.values() if isinstance(v, dict) and "bound_kind" in v}
    assert kinds and kinds <= {"exact", "estimate"}  # passed through as the crate labels them
    assert isinstance(decimal.Decimal(g["loss"]["value"]), decimal.Decimal)


# One case per kind the population command prints (no population bound is "exact": every value
# is rounded, so at best an enclosure): the kinds of mforacle.population are the CLI's fields.
@pytest.mark.parametrize("student,teacher,fast,kind", [
    ("he4", "he4", False, "enclosure"),  # exact tables, ball arithmetic rounded outward
    ("tanh", "he4", False, "enclosure"),  # tanh's table and norms by the enclosure route
    ("relu", "relu", False, "enclosure"),  # closed forms
    ("log1p(z^2)+z", "he4", False, "estimate"),  # outside the enclosure theorem: quadrature
    ("he4", "he4", True, "estimate"),  # the fast path's bounds are estimates
])
def test_population_kinds_are_the_cli_kinds(tmp_path, student, teacher, fast, kind):
    W, theta = unit_rows(3, 4, 6), np.eye(4)[0]
    p = mforacle.population(student, teacher, W, theta, fast=fast, digits=20, degree=40)
    code, out, _ = binary("population", "--student", student, "--teacher", teacher, "--weights",
                          weights_file(tmp_path, W, theta), "--digits", "20", "--degree", "40",
                          *(["--fast"] if fast else []))
    doc = json.loads(out)
    fields = ["loss", "tangent_gradient", "radial_gradient", "velocity"]
    if fast:  # one kind for the loss, one for the three gradient quantities
        want = [doc["loss_bound_kind"]] + [doc["gradient_bound_kind"]] * 3
    else:
        want = [doc[f + "_bound_kind"] for f in fields]
    assert code == 0 and [getattr(p, f + "_bound_kind") for f in fields] == want == [kind] * 4
    assert p.kind == kind


def test_population_kind_is_the_weakest():
    k = mforacle._kinds("enclosure", "estimate", "exact", "enclosure")
    assert k["kind"] == "estimate" and k["radial_gradient_bound_kind"] == "exact"
    assert mforacle._kinds("exact", "exact", "enclosure", "exact")["kind"] == "enclosure"
    with pytest.raises(RuntimeError, match="unknown bound kind"):
        mforacle._kinds("rigorous", "exact", "exact", "exact")


def test_kernel_radii_against_the_erf_closed_form():
    # E erf(<v,x>) erf(<v',x>) = (2/pi) asin(2 r r' s / sqrt((1 + 2r^2)(1 + 2r'^2))), written here.
    r, r2, s = 0.5, 2.0, 0.3
    want = 2 / math.pi * math.asin(2 * r * r2 * s / math.sqrt((1 + 2 * r * r) * (1 + 2 * r2 * r2)))
    (p, *_) = mforacle.kernel("erf", [s], radii=[r, r2], digits=20)
    assert p.kind == "enclosure" and abs(float(p.value) - want) <= 8 * 2.0**-52 * abs(want)


def test_zero_copy_and_layouts_agree():
    W, theta = unit_rows(64, 16, 7), np.eye(16)[0]
    c = mforacle.population("he4", "he4", W, theta, fast=True)
    f = mforacle.population("he4", "he4", np.asfortranarray(W), theta, fast=True)
    assert not c.input_copied and f.input_copied
    assert np.array_equal(c.velocity, f.velocity) and c.velocity.flags.c_contiguous


def test_bad_input_raises_the_cli_message(tmp_path):
    W, theta = unit_rows(4, 5, 8), np.eye(5)[0]
    W[2] *= 1.001
    _, _, err = binary("population", "--student", "he4", "--teacher", "he4", "--weights",
                       weights_file(tmp_path, W, theta))
    for fast in (False, True):
        with pytest.raises(ValueError) as e:
            mforacle.population("he4", "he4", W, theta, fast=fast)
        assert str(e.value) == err.strip() == "mforacle: field `w` row 2: not a unit vector (| ||w_i|| - 1 | > 1e-12)"
    with pytest.raises(ValueError, match="invalid activation spec"):
        mforacle.population("he4(", "he4", unit_rows(2, 3, 0), np.eye(3)[0], fast=True)
    with pytest.raises(ValueError, match="above the oracle's command-line limit"):
        mforacle.population("he4", "he4", unit_rows(65, 3, 0), np.eye(3)[0])
    with pytest.raises(ValueError, match="loss_scale"):
        mforacle.population("he4", "he4", unit_rows(2, 3, 0), np.eye(3)[0], fast=True, loss_scale="quarter")
    with pytest.raises(ValueError):
        mforacle.population("he4", "he4", unit_rows(2, 3, 0), np.array([1.0, 0.0]), fast=True)


def test_gil_released_during_fast_path():
    W, theta = unit_rows(3000, 128, 9), np.eye(128)[0]
    ticks, done = [0], threading.Event()

    def work():
        mforacle.population("tanh", "tanh", W, theta, fast=True)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks[0] += 1
        time.sleep(0.001)
    t.join()
    assert ticks[0] >= 20  # the main thread ran while Rust computed


def test_golden_check_pass_fail_and_malformed():
    cases = mforacle.golden.cases("hermite")
    good = {name: {q: np.array([float(x) for x in e["values"]]).reshape(e["shape"]) for q, e in c["expected"].items()}
            for name, c in cases.items()}
    r = mforacle.golden.check("hermite", good)
    assert r.passed and r.failures() == [] and len(r.rows) == len(cases)
    name = next(iter(good))
    good[name]["c"] = good[name]["c"] + 1e-6
    r = mforacle.golden.check("hermite", good)
    assert not r.passed and [x["case"] for x in r.failures()] == [name] and "check failed" in r.message
    del good[name]["c"]
    with pytest.raises(ValueError, match="missing quantity"):
        mforacle.golden.check("hermite", good)


def test_deep_eval_rows():
    doc = mforacle.deep_eval(4, 8)
    assert doc["n"] == 8 and len(doc["vel1"]) > 0
    assert "bound_kind" not in doc  # the f64 route prints no bound, hence no kind
    o = mforacle.deep_eval(2, 3, oracle=True, digits=20)
    assert o["bound_kind"] == "estimate" and len(o["vel1_err"]) == 9
    with pytest.raises(ValueError):
        mforacle.deep_eval(4, 0)


def test_readme_shows_the_tested_example():
    readme = (ROOT / "README.md").read_text()
    code = (ROOT / "examples" / "python_backend_check.py").read_text()
    code = code[code.index("import numpy as np"):].rstrip("\n")
    assert "```python\n" + code + "\n```" in readme
    assert "pip install ./python" in readme


def test_two_timescale_eval_f64_against_oracle():
    rng = np.random.default_rng(10)
    x, w = rng.standard_normal((12, 3)), 0.5 * rng.standard_normal((7, 4))
    y = x[:, 0] * x[:, 1]
    f = mforacle.two_timescale_eval(x, y, w)
    o = mforacle.two_timescale_eval(x, y, w, oracle=True, digits=25)
    assert 0 < f["degrees_of_freedom"] < 12 and len(f["predictions"]) == 12
    # Two implementations (f64 loops, MPFR m x m route): the f64 value within the oracle's
    # estimate plus a generous f64 rounding allowance of 1e-12 relative.
    ov = float(o["objective"])
    assert abs(f["objective"] - ov) <= float(o["objective_error_bound"]) + 1e-12 * abs(ov)
    with pytest.raises(ValueError, match="field"):
        mforacle.two_timescale_eval(x, y[:5], w)


def test_deep_limit_document_and_bad_input():
    doc = mforacle.deep_limit(0.1, dt_out=0.1, track=[0.5, -1.0])
    assert doc["times"] == [0.0, 0.1] and doc["track_a"] == [0.5, -1.0]
    assert doc["bound_kind"] == "estimate"
    # Two independent methods of the limit (A: a-nodes, B: s rule) at t = 0 and t = 0.1.
    assert abs(doc["risk"][1] - doc["risk_b"][1]) == abs(doc["diff_ab"][1])
    with pytest.raises(ValueError, match="t-end"):
        mforacle.deep_limit(-1.0)
