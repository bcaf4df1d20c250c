"""mforacle from Python: the arbitrary-precision oracle and the fast f64 path on NumPy arrays.

The Rust crate ``mforacle`` is the only engine: every function here runs the crate (the
command line in-process, or the fast path on borrowed NumPy arrays) and only converts its
output. No number is computed again in Python.

Conventions (the crate's ``docs/conventions.md``): normalised probabilists' Hermite basis
h_k = He_k/sqrt(k!), c_k(f) = E[f(Z) h_k(Z)]; student f(x) = sum_i a_i sigma(<w_i, x>) with unit
rows w_i, teacher y = sigma*(<theta, x>) (+ noise of variance nu^2); loss E[(f - y)^2] without
1/2 (``loss_scale="half"`` gives the 1/2 convention and halves gradients and velocity);
learning rate eta*N, mean-field time = steps * eta; velocity v_i = -g_i / a_i.

Accuracy contracts and bound kinds. Every value comes with an error bound and the bound's
kind, the command line's own ``bound_kind`` field passed through unchanged (never derived or
promoted here), one of

- ``"exact"``: the value is exact (the bound is only the decimal rounding of the printed value);
- ``"enclosure"``: proven, with outward rounding (closed-form kernels; series, population
  values and gradients whose coefficient tables and norms are exact or enclosed: polynomials,
  and relu, erf, tanh, gelu, silu, ... by the crate's enclosure route);
- ``"estimate"``: not proven (a difference of two evaluations, a quadrature, or a bound
  resting on such coefficients or norms: specs outside the enclosure route such as log1p, and
  every bound of the fast path).

``None`` stands only where there is no value (a kernel derivative the crate cannot bound).

Errors: bad input raises ``ValueError`` with the command line's own one-line message (exit code
2); other failures raise ``RuntimeError`` (exit code 1); no Rust panic crosses into Python.
The GIL is released while the crate computes.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import os
import tempfile
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _core
from . import golden

__all__ = [
    "CliResult",
    "Coefficients",
    "KernelPoint",
    "Population",
    "cli",
    "coeffs",
    "kernel",
    "population",
    "meanfield",
    "golden",
    "langevin_gibbs",
    "two_timescale_eval",
    "deep_limit",
    "deep_eval",
    "crate_version",
]

Number = Union[decimal.Decimal, "mpmath.mpf", str]  # noqa: F821


def crate_version() -> str:
    """The version of the Rust crate the extension was built from."""
    return _core.crate_version()


class CliResult(NamedTuple):
    """What ``mforacle ARGV...`` gives: exit code, standard output, one-line error."""

    exit_code: int
    stdout: str
    stderr: str


def cli(*argv: Any) -> CliResult:
    """Runs the command line ``mforacle ARGV...`` in this process; never raises for a failing
    command. ``stdout`` holds the same bytes the binary prints (``--out`` still writes files),
    ``stderr`` its one-line error message ("" on success)."""
    code, out, err = _core.run([os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in argv])
    return CliResult(code, out, err)


def _run(argv: Sequence[Any]) -> str:
    """Runs the command line; raises ValueError (exit 2) or RuntimeError (exit 1)."""
    r = cli(*argv)
    if r.exit_code == 0:
        return r.stdout
    message = r.stderr.strip() or f"mforacle: exit code {r.exit_code}"
    if r.exit_code == 2:
        raise ValueError(message)
    raise RuntimeError(message)


def _json(argv: Sequence[Any]) -> Dict[str, Any]:
    return json.loads(_run(argv))


def _flags(options: Mapping[str, Any]) -> List[str]:
    """Keyword options as command-line flags: ``t_end=2`` -> ``--t-end=2``; True -> the bare
    flag, False/None -> omitted; sequences -> comma separated."""
    out: List[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple, np.ndarray)):
            # --flag=VALUE: a value starting with '-' is never read as a flag.
            out.append(flag + "=" + ",".join(repr(float(v)) if isinstance(v, float) else str(v) for v in value))
        else:
            out.append(flag + "=" + (repr(value) if isinstance(value, float) else str(value)))
    return out


def _number(text: str, number: str, digits: int) -> Any:
    """A decimal string as Decimal, mpmath.mpf (at enough precision to hold every digit) or
    the string itself."""
    if number == "decimal":
        return decimal.Decimal(text)
    if number == "mpmath":
        import mpmath

        with mpmath.workdps(max(digits, 15) + 10):
            return mpmath.mpf(text)
    if number == "str":
        return text
    raise ValueError(f"number={number!r}: expected 'decimal', 'mpmath' or 'str'")


# ----------------------------------------------------------------------------- coefficients


@dataclasses.dataclass
class Coefficients:
    """Hermite coefficients c_0..c_K of an activation (``mforacle coeffs``).

    ``values[k]`` has ``digits`` correct significant digits when ``status[k]`` is "ok" or
    "exact"; "unresolved" values carry only the digits their bound certifies.
    ``bounds[k] >= |values[k] - c_k|`` (decimal rounding included); ``kinds[k]`` and
    ``norm_squared_kind`` are the CLI's ``bound_kind`` fields: "exact" for exact coefficients
    and polynomial norms, "enclosure" with ``enclose=True`` where the enclosure theorem covers
    the spec, "estimate" otherwise (closed forms and quadrature are bounded by the difference of
    two evaluations at different precisions or levels)."""

    spec: str
    convention: str
    digits: int
    degree: int
    route: str
    values: List[Any]
    bounds: List[Any]
    kinds: List[str]
    status: List[str]
    exact_values: Optional[List[Optional[str]]]
    norm_squared: Any
    norm_squared_bound: Any
    norm_squared_kind: str
    information_exponent: Optional[int]
    information_exponent_note: Optional[str]
    json: Dict[str, Any]


def coeffs(
    spec: str,
    degree: int = 30,
    digits: int = 40,
    exact: bool = False,
    number: str = "decimal",
    enclose: bool = False,
) -> Coefficients:
    """Hermite coefficients c_k(spec), k = 0..degree, each with an error bound and its kind.

    ``enclose=True``: proven enclosures (``--enclose``) for the specs the enclosure theorem
    covers; the others keep their estimates. ``number`` chooses the type of values and bounds: "decimal" (``decimal.Decimal``),
    "mpmath" (``mpmath.mpf`` at ``digits + 10`` digits) or "str" (the CLI's decimal strings,
    byte for byte those of ``mforacle coeffs SPEC --format json``)."""
    argv = ["coeffs", spec, "--degree", str(degree), "--digits", str(digits), "--format", "json"]
    if exact:
        argv.append("--exact")
    if enclose:
        argv.append("--enclose")
    doc = _json(argv)
    rows = doc["coefficients"]
    conv = lambda s: _number(s, number, digits)  # noqa: E731
    return Coefficients(
        spec=doc["spec"],
        convention=doc["convention"],
        digits=doc["digits"],
        degree=doc["degree"],
        route=doc["route"],
        values=[conv(r["value"]) for r in rows],
        bounds=[conv(r["abs_error_bound"]) for r in rows],
        kinds=[r["bound_kind"] for r in rows],
        status=[r["status"] for r in rows],
        exact_values=[r.get("exact_value") for r in rows] if exact else None,
        norm_squared=conv(doc["norm_squared"]["value"]),
        norm_squared_bound=conv(doc["norm_squared"]["abs_error_bound"]),
        norm_squared_kind=doc["norm_squared"]["bound_kind"],
        information_exponent=doc["information_exponent"],
        information_exponent_note=doc.get("information_exponent_note"),
        json=doc,
    )


# ----------------------------------------------------------------------------- kernel


@dataclasses.dataclass
class KernelPoint:
    """kappa^(derivative)(s) with its bound: ``value`` is None where the kernel is undefined
    (``error`` says why). ``kind`` is the CLI's ``bound_kind`` (None without a value):
    "enclosure" for closed forms and for series on exact or enclosed tables and norms
    (polynomials, relu, erf, tanh, ...), "estimate" for specs outside the enclosure route."""

    s: str
    derivative: int
    method: str
    value: Any
    bound: Any
    kind: Optional[str]
    status: str
    error: Optional[str]


def kernel(
    spec: str,
    s: Union[float, str, Sequence[Union[float, str]]],
    spec2: Optional[str] = None,
    digits: int = 30,
    degree: int = 100,
    number: str = "decimal",
    radii: Optional[Sequence[Union[float, str]]] = None,
) -> List[KernelPoint]:
    """The dual kernel kappa(s) = sum_k c_k(sigma) c_k(tau) s^k and its first two derivatives
    at each overlap s in [-1, 1] (``mforacle kernel``): three points per s, derivative 0, 1, 2.
    Overlaps are passed as decimal strings; a float is passed as its shortest repr.
    ``radii=(r, r2)``: the norm-dependent kernel E sigma(<v,x>) tau(<v',x>) with |v| = r,
    |v'| = r2 and cos(v, v') = s (``--radii``). ``kind`` is the CLI's ``bound_kind``."""
    ss = [s] if isinstance(s, (str, float, int)) else list(s)
    texts = [x if isinstance(x, str) else repr(float(x)) for x in ss]
    argv = ["kernel", spec] + ([spec2] if spec2 is not None else [])
    argv += ["--s=" + ",".join(texts), "--digits", str(digits), "--degree", str(degree)]
    if radii is not None:
        argv += ["--radii=" + ",".join(x if isinstance(x, str) else repr(float(x)) for x in radii)]
    doc = _json(argv + ["--format", "json"])
    out = []
    for p in doc["points"]:
        kind = p.get("bound_kind")
        out.append(
            KernelPoint(
                s=p["s"],
                derivative=p["derivative"],
                method=p["method"],
                value=None if p["value"] is None else _number(p["value"], number, digits),
                bound=None if p["abs_error_bound"] is None else _number(p["abs_error_bound"], number, digits),
                kind=kind if p["value"] is not None else None,
                status=p["status"],
                error=p.get("error"),
            )
        )
    return out


# ----------------------------------------------------------------------------- population


@dataclasses.dataclass
class Population:
    """Population loss, tangent gradient (N x d), radial gradient (N), velocity (N x d) and
    their error bounds (``mforacle population``), as NumPy float64 arrays.

    The oracle (``mode == "oracle"``) also keeps its decimal strings (``strings``: the CLI's
    JSON document, byte for byte); its arrays are those strings rounded to float64. The fast
    path's arrays are the f64 results themselves.

    Bound kinds, the CLI's fields passed through: ``loss_bound_kind``,
    ``tangent_gradient_bound_kind``, ``radial_gradient_bound_kind`` and
    ``velocity_bound_kind``. The oracle's are "enclosure" when every kernel the quantity uses is
    a closed form or a series on exact or enclosed tables and norms (polynomials, relu, erf,
    tanh, gelu, ...) and "estimate" otherwise (e.g. log1p); the fast path's are always
    "estimate" (its ``loss_bound_kind`` and ``gradient_bound_kind``, the latter for the three
    gradient quantities). ``kind`` is the weakest of the four (exact < enclosure < estimate).
    ``input_copied`` (fast path) tells whether W had to be copied to C-contiguous float64."""

    mode: str
    loss: float
    loss_bound: float
    tangent_gradient: np.ndarray
    tangent_gradient_bound: np.ndarray
    radial_gradient: np.ndarray
    radial_gradient_bound: np.ndarray
    velocity: np.ndarray
    velocity_bound: np.ndarray
    loss_bound_kind: str
    tangent_gradient_bound_kind: str
    radial_gradient_bound_kind: str
    velocity_bound_kind: str
    kind: str
    route: Optional[str] = None
    strings: Optional[Dict[str, Any]] = None
    input_copied: bool = False


_KIND_ORDER = ("exact", "enclosure", "estimate")


def _kinds(loss: str, tangent: str, radial: str, velocity: str) -> Dict[str, str]:
    """The four kinds as Population's fields, and ``kind``, the weakest of them."""
    kinds = [loss, tangent, radial, velocity]
    for k in kinds:
        if k not in _KIND_ORDER:
            raise RuntimeError(f"mforacle: unknown bound kind {k!r} from the crate")
    return dict(
        loss_bound_kind=loss,
        tangent_gradient_bound_kind=tangent,
        radial_gradient_bound_kind=radial,
        velocity_bound_kind=velocity,
        kind=max(kinds, key=_KIND_ORDER.index),
    )


def _check_network(W: Any, theta: Any, a: Any):
    W = np.asarray(W)
    theta = np.asarray(theta)
    if W.ndim != 2:
        raise ValueError(f"mforacle: W must be a 2-d array (N x d), got {W.ndim} dimensions")
    if theta.ndim != 1:
        raise ValueError(f"mforacle: theta must be a 1-d array (d), got {theta.ndim} dimensions")
    if a is not None:
        a = np.asarray(a)
        if a.ndim != 1:
            raise ValueError(f"mforacle: a must be a 1-d array (N), got {a.ndim} dimensions")
    return W, theta, a


def population(
    student: str,
    teacher: str,
    W: Any,
    theta: Any,
    a: Any = None,
    fast: bool = False,
    digits: int = 30,
    degree: int = 60,
    loss_scale: str = "full",
    noise_variance: float = 0.0,
) -> Population:
    """Exact population loss, gradients and mean-field velocity of the network (W, a) against
    the teacher sigma*(<theta, x>).

    ``W`` (N x d) and ``theta`` (d) must have unit rows within 1e-12; ``a`` defaults to 1/N.
    ``fast=False``: the MPFR oracle (N <= 64), every value with a bound at ``digits``
    significant digits, byte for byte ``mforacle population --weights FILE``. ``fast=True``: the
    f64 path (series truncated at min(degree, 64), the truncation bounded); a C-contiguous
    float64 ``W`` is borrowed, not copied."""
    W, theta, a = _check_network(W, theta, a)
    if fast:
        return _population_fast(student, teacher, W, theta, a, degree, loss_scale, noise_variance)
    doc_in: Dict[str, Any] = {"theta": theta.astype(float).tolist(), "w": W.astype(float).tolist()}
    if a is not None:
        doc_in["a"] = a.astype(float).tolist()
    with tempfile.TemporaryDirectory(prefix="mforacle-") as tmp:
        path = os.path.join(tmp, "weights.json")
        with open(path, "w") as f:
            json.dump(doc_in, f)
        argv = ["population", "--student", student, "--teacher", teacher, "--weights", path,
                "--digits", str(digits), "--degree", str(degree), "--loss-scale", loss_scale,
                "--noise-variance", repr(float(noise_variance))]
        doc = _json(argv)
    f64 = lambda x: np.array(x, dtype=np.float64).astype(np.float64)  # noqa: E731
    return Population(
        mode="oracle",
        loss=float(doc["loss"]),
        loss_bound=float(doc["loss_error_bound"]),
        tangent_gradient=f64(doc["tangent_gradient"]),
        tangent_gradient_bound=f64(doc["tangent_gradient_error_bound"]),
        radial_gradient=f64(doc["radial_gradient"]),
        radial_gradient_bound=f64(doc["radial_gradient_error_bound"]),
        velocity=f64(doc["velocity"]),
        velocity_bound=f64(doc["velocity_error_bound"]),
        **_kinds(doc["loss_bound_kind"], doc["tangent_gradient_bound_kind"],
                 doc["radial_gradient_bound_kind"], doc["velocity_bound_kind"]),
        strings=doc,
    )


def _population_fast(student, teacher, W, theta, a, degree, loss_scale, noise_variance) -> Population:
    Wc = np.ascontiguousarray(W, dtype=np.float64)
    copied = Wc is not W
    th = np.ascontiguousarray(theta, dtype=np.float64)
    ac = None if a is None else np.ascontiguousarray(a, dtype=np.float64)
    r = _core.population_fast(student, teacher, Wc, th, ac, int(degree), loss_scale, float(noise_variance))
    return Population(
        mode="fast",
        loss=r["loss"],
        loss_bound=r["loss_error_bound"],
        tangent_gradient=r["tangent_gradient"],
        tangent_gradient_bound=r["tangent_gradient_error_bound"],
        radial_gradient=r["radial_gradient"],
        radial_gradient_bound=r["radial_gradient_error_bound"],
        velocity=r["velocity"],
        velocity_bound=r["velocity_error_bound"],
        **_kinds(r["loss_bound_kind"], *[r["gradient_bound_kind"]] * 3),
        route=r["route"],
        input_copied=copied,
    )


# ----------------------------------------------------------------------------- mean field


def meanfield(student: str, d: int, t_end: float, teacher: Optional[str] = None, **options: Any) -> Dict[str, Any]:
    """The exact reduced mean-field flow for a uniform start (``mforacle meanfield``, f64
    flow), as a dict: the run's parameters and diagnostics as in the CLI's JSON document, and
    per output time the arrays ``t``, ``loss``, ``risk``, ``alpha_mean_abs``,
    ``escaped_fraction``, ``quantiles`` (times x levels), ``histogram`` (times x bins) and, with
    ``check_nodes=True``, ``node_diff``. Other options are the CLI's flags (``dt_out=0.5``,
    ``panels=200``, ``track=[0.1, 0.2]``, ...). No bounds: the f64 flow's accuracy is measured
    by ``check_nodes`` (a node-convergence difference, an estimate)."""
    if options.get("oracle"):
        raise ValueError("mforacle: meanfield(oracle=True) is not offered from Python; use cli('meanfield', ..., '--oracle')")
    argv = ["meanfield", "--student", student, "--d", str(d), "--t-end", repr(float(t_end))]
    if teacher is not None:
        argv += ["--teacher", teacher]
    doc = _json(argv + _flags(options) + ["--format", "json"])
    rows = doc.pop("rows")
    for key in ("t", "loss", "risk", "alpha_mean_abs", "escaped_fraction"):
        doc[key] = np.array([r[key] for r in rows], dtype=np.float64)
    doc["quantiles"] = np.array([[q[1] for q in r["quantiles"]] for r in rows], dtype=np.float64)
    doc["histogram"] = np.array([r["histogram"] for r in rows], dtype=np.float64)
    if rows and rows[0].get("node_diff") is not None:
        doc["node_diff"] = np.array([r["node_diff"] for r in rows], dtype=np.float64)
    return doc


# ----------------------------------------------------------------------------- new rows


def langevin_gibbs(student: str, d: int, beta: float, teacher: Optional[str] = None, **options: Any) -> Dict[str, Any]:
    """The Gibbs fixed point of mean-field Langevin dynamics on the sphere (``mforacle
    langevin gibbs``): the CLI's JSON document, every number with its bound and the bound's
    kind (field ``bound_kind``) as the crate labels it (estimates, and "exact" for exact values)."""
    argv = ["langevin", "gibbs", "--student", student, "--d", str(d), "--beta", repr(float(beta))]
    if teacher is not None:
        argv += ["--teacher", teacher]
    return _json(argv + _flags(options) + ["--format", "json"])


def two_timescale_eval(x: Any, y: Any, w: Any, **options: Any) -> Dict[str, Any]:
    """Two-timescale mean-field Langevin with a kernel-ridge readout (``mforacle two-timescale
    eval``) on data x (n x d), y (n) and particles w (m x (d+1): u then b): the CLI's JSON
    document. Optional inputs ``x_test``, ``eps``, ``xi`` (arrays) and ``f_star`` (a dict, as
    in the input file) go into the input file; other options are
    the CLI's flags (``lam`` for ``--lambda``, ``lambda_a``, ``eta``, ``oracle=True``, ...)."""
    doc_in: Dict[str, Any] = {"x": np.asarray(x, dtype=float).tolist(),
                              "y": np.asarray(y, dtype=float).tolist(),
                              "w": np.asarray(w, dtype=float).tolist()}
    for key in ("x_test", "eps", "xi"):
        if key in options:
            doc_in[key] = np.asarray(options.pop(key), dtype=float).tolist()
    if "f_star" in options:  # {"kind": "product", "indices": [0, 1]} or {"kind": "y"}
        doc_in["f_star"] = options.pop("f_star")
    if "lam" in options:
        options["lambda"] = options.pop("lam")
    with tempfile.TemporaryDirectory(prefix="mforacle-") as tmp:
        path = os.path.join(tmp, "input.json")
        with open(path, "w") as f:
            json.dump(doc_in, f)
        return _json(["two-timescale", "eval", "--input", path] + _flags(options))


def deep_limit(t_end: float, **options: Any) -> Dict[str, Any]:
    """The deep mean-field model's infinite-width limit (``mforacle deep limit``, L = 2): the
    CLI's JSON document, with its bound kinds (``bound_kind``)."""
    return _json(["deep", "limit", "--t-end", repr(float(t_end))] + _flags(options) + ["--format", "json"])


def deep_eval(d: int, n: int, **options: Any) -> Dict[str, Any]:
    """Finite-N risk and N^2-scaled velocities of the seeded deep network at initialisation
    (``mforacle deep eval``, f64 or ``oracle=True``): the CLI's JSON document."""
    return _json(["deep", "eval", "--d", str(d), "--n", str(n)] + _flags(options) + ["--format", "json"])
