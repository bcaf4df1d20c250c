//! `mforacle._core`: the Python extension module of the `mforacle` package.
//!
//! Thin bindings, no numerics of their own: [`run`] runs the command line in-process
//! ([`mforacle::cli::run_captured`]), so every decimal string, error message and exit code is
//! the binary's; the fast path ([`population_fast`]) borrows NumPy arrays and calls the crate's
//! fast-path set-up and evaluator. The GIL is released around every computation, and every call
//! is wrapped in `catch_unwind`: a panic becomes a `RuntimeError`, never an abort of the
//! interpreter. Conventions and accuracy contracts are the crate's (docs/conventions.md).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

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

/// The version of the Rust crate the extension was built from.
#[pyfunction]
fn crate_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(crate_version, m)?)?;
    Ok(())
}
