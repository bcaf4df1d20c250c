//! `mforacle._core`: the Python extension module of the `mforacle` package.
//!
//! Thin bindings, no numerics of their own: [`run`] runs the command line in-process
//! ([`mforacle::cli::run_captured`]), so every decimal string, error message and exit code is
//! the binary's; the fast path ([`population_fast`]) borrows NumPy arrays and calls the crate's
//! fast-path set-up and evaluator. The GIL is released around every computation, and every call
//! is wrapped in `catch_unwind`: a panic becomes a `RuntimeError`, never an abort of the
//! interpreter. Conventions and accuracy contracts are the crate's (docs/conventions.md).

use mforacle::activation::Spec;
use mforacle::conventions::{Error, LossScale};
use mforacle::fast;
use numpy::{
    IntoPyArray, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// Runs `f` with the panic turned into a `RuntimeError` naming it.
fn guarded<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        PyRuntimeError::new_err(format!("mforacle: internal error (panic): {what}"))
    })
}

/// run(argv) -> (exit_code, stdout, stderr)
///
/// Runs `mforacle ARGV...` in this process with standard output captured: the same bytes and
/// exit code as the binary (0 success, 1 failure, 2 usage error); `stderr` is the binary's
/// one-line error message ("" on success). The GIL is released while it runs.
#[pyfunction]
fn run(py: Python<'_>, argv: Vec<String>) -> PyResult<(i32, String, String)> {
    py.detach(|| guarded(|| mforacle::cli::run_captured(argv)))
}

/// The crate's error as the Python exception the package promises: usage errors are
/// `ValueError`, failures `RuntimeError`, each with the command line's one-line message.
fn to_py(e: Error) -> PyErr {
    let line = format!("mforacle: {}", e.message());
    match e {
        Error::Usage(_) => PyValueError::new_err(line),
        Error::Failure(_) => PyRuntimeError::new_err(line),
    }
}

fn usage(text: String) -> Error {
    Error::Usage(text)
}

/// The command line's checks of a network ([`mforacle::fast::check_network`]): the same order
/// and messages as `mforacle population`; a defaults to 1/N.
fn check_network(x: &FastInput) -> Result<Vec<f64>, Error> {
    let rows: Vec<&[f64]> = if x.d == 0 {
        vec![&[][..]; x.n]
    } else {
        x.w.chunks(x.d).collect()
    };
    mforacle::fast::check_network(&rows, x.theta, x.a)
}

/// Checked inputs of the fast path, borrowed from the NumPy arrays.
struct FastInput<'a> {
    student: Spec,
    teacher: Spec,
    w: &'a [f64],
    n: usize,
    d: usize,
    theta: &'a [f64],
    a: Option<&'a [f64]>,
    loss_scale: LossScale,
}

fn fast_input<'a>(
    student: &str,
    teacher: &str,
    w: &'a PyReadonlyArray2<'_, f64>,
    theta: &'a PyReadonlyArray1<'_, f64>,
    a: Option<&'a PyReadonlyArray1<'_, f64>>,
    loss_scale: &str,
) -> PyResult<FastInput<'a>> {
    let [n, d] = [w.shape()[0], w.shape()[1]];
    // Borrowed, not copied: the caller passes C-contiguous float64 arrays.
    let ws = w
        .as_slice()
        .map_err(|_| PyValueError::new_err("mforacle: W must be C-contiguous float64"))?;
    let th = theta
        .as_slice()
        .map_err(|_| PyValueError::new_err("mforacle: theta must be contiguous float64"))?;
    let parse = |s: &str| Spec::parse(s).map_err(|e| to_py(usage(e.to_string())));
    let (student, teacher) = (parse(student)?, parse(teacher)?);
    let loss_scale = match loss_scale {
        "full" => LossScale::Full,
        "half" => LossScale::Half,
        other => {
            return Err(PyValueError::new_err(format!(
                "mforacle: loss_scale {other:?}: expected \"full\" or \"half\""
            )))
        }
    };
    let a = match a {
        Some(a) => Some(
            a.as_slice()
                .map_err(|_| PyValueError::new_err("mforacle: a must be contiguous float64"))?,
        ),
        None => None,
    };
    Ok(FastInput {
        student,
        teacher,
        w: ws,
        n,
        d,
        theta: th,
        a,
        loss_scale,
    })
}

/// The whole fast-path computation of `mforacle population --fast` after parsing: unit-norm
/// check, kernels from the specs, evaluation with its error bound.
fn fast_compute(
    x: &FastInput,
    degree: usize,
    noise_variance: f64,
) -> Result<(fast::PopulationKernels, fast::PopulationEvaluation), Error> {
    if !(noise_variance.is_finite() && noise_variance >= 0.0) {
        return Err(usage(
            "--noise-variance must be a finite number >= 0".into(),
        ));
    }
    let a = check_network(x)?;
    let kernels = fast::population_kernels(&x.student, &x.teacher, degree, noise_variance)?;
    let net = fast::Network {
        w: x.w,
        n: x.n,
        d: x.d,
        a: &a,
        theta: x.theta,
    };
    let ev = fast::evaluate_population(&kernels, &net, x.loss_scale, fast::Route::Auto)?;
    Ok((kernels, ev))
}

/// population_fast(student, teacher, W, theta, a, degree, loss_scale, noise_variance) -> dict
///
/// The fast f64 path of `mforacle population --fast` on NumPy arrays: W (N×d, C-contiguous
/// float64, borrowed without a copy), theta (d), a (N or None: 1/N). Returns loss,
/// tangent_gradient (N×d), radial_gradient (N), velocity (N×d) and their *_error_bound (f64
/// rounding plus series truncation, conditional on the coefficient tables' bounds), their kinds
/// loss_bound_kind and gradient_bound_kind (those of `mforacle population --fast`:
/// [`fast::POPULATION_BOUND_KIND`]), route and series_degree. The GIL is released during the
/// computation.
#[pyfunction]
#[pyo3(signature = (student, teacher, w, theta, a, degree, loss_scale, noise_variance))]
#[allow(clippy::too_many_arguments)]
fn population_fast<'py>(
    py: Python<'py>,
    student: &str,
    teacher: &str,
    w: PyReadonlyArray2<'py, f64>,
    theta: PyReadonlyArray1<'py, f64>,
    a: Option<PyReadonlyArray1<'py, f64>>,
    degree: usize,
    loss_scale: &str,
    noise_variance: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let x = fast_input(student, teacher, &w, &theta, a.as_ref(), loss_scale)?;
    let (n, d) = (x.n, x.d);
    let (kernels, ev) = py
        .detach(|| guarded(|| fast_compute(&x, degree, noise_variance)))?
        .map_err(to_py)?;
    let out = PyDict::new(py);
    let mat = |v: Vec<f64>| v.into_pyarray(py).reshape([n, d]);
    out.set_item("route", format!("{:?}", ev.route))?;
    out.set_item("series_degree", kernels.series_degree)?;
    out.set_item("loss", ev.loss)?;
    out.set_item("loss_error_bound", ev.loss_error_bound)?;
    out.set_item("tangent_gradient", mat(ev.tangent_gradient)?)?;
    out.set_item(
        "tangent_gradient_error_bound",
        mat(ev.tangent_gradient_error_bound)?,
    )?;
    out.set_item("radial_gradient", ev.radial_gradient.into_pyarray(py))?;
    out.set_item(
        "radial_gradient_error_bound",
        ev.radial_gradient_error_bound.into_pyarray(py),
    )?;
    out.set_item("velocity", mat(ev.velocity)?)?;
    out.set_item("velocity_error_bound", mat(ev.velocity_error_bound)?)?;
    let kind = fast::POPULATION_BOUND_KIND.as_str();
    out.set_item("loss_bound_kind", kind)?;
    out.set_item("gradient_bound_kind", kind)?;
    Ok(out)
}

/// rust_fast_seconds(student, teacher, W, theta, a, degree, loss_scale, noise_variance,
/// repeats) -> list[float]
///
/// For the overhead benchmark: wall-clock seconds of `repeats` runs of the same computation as
/// [`population_fast`], timed inside Rust (no Python objects made).
#[pyfunction]
#[pyo3(signature = (student, teacher, w, theta, a, degree, loss_scale, noise_variance, repeats))]
#[allow(clippy::too_many_arguments)]
fn rust_fast_seconds<'py>(
    py: Python<'py>,
    student: &str,
    teacher: &str,
    w: PyReadonlyArray2<'py, f64>,
    theta: PyReadonlyArray1<'py, f64>,
    a: Option<PyReadonlyArray1<'py, f64>>,
    degree: usize,
    loss_scale: &str,
    noise_variance: f64,
    repeats: usize,
) -> PyResult<Vec<f64>> {
    let x = fast_input(student, teacher, &w, &theta, a.as_ref(), loss_scale)?;
    py.detach(|| {
        guarded(|| {
            (0..repeats)
                .map(|_| {
                    let t = Instant::now();
                    let r = fast_compute(&x, degree, noise_variance);
                    let s = t.elapsed().as_secs_f64();
                    r.map(|r| {
                        std::hint::black_box(r);
                        s
                    })
                })
                .collect::<Result<Vec<f64>, Error>>()
        })
    })?
    .map_err(to_py)
}

/// The version of the Rust crate the extension was built from.
#[pyfunction]
fn crate_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(crate_version, m)?)?;
    m.add_function(wrap_pyfunction!(population_fast, m)?)?;
    m.add_function(wrap_pyfunction!(rust_fast_seconds, m)?)?;
    Ok(())
}
