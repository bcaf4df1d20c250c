//! Golden files for other backends: oracle values, inputs and tolerances on disk, and the
//! checker of a backend's results against them.
//!
//! A *suite* is a list of [`Case`]s; a case has named input arrays and parameters, and a list
//! of [`Quantity`]s, each an array of oracle values (arbitrary precision, with the oracle's
//! error bound per entry) and a tolerance per entry that a correct f64 backend must meet.
//!
//! ## Layout (`mforacle golden --suite NAME --out DIR`)
//! - `DIR/manifest.json`: format tag, suite, crate version, conventions, the tolerance rule,
//!   and per case its input files and per quantity: result file name `<quantity>.npy`, the
//!   expected file, shape, tolerance kind (`abs` or `abs_entrywise`) and value (the largest
//!   entry for `abs_entrywise`), the number of ulps and the rule it was derived from.
//! - `DIR/<case>/inputs.json`: parameters (activation specs, conventions, …) and the input
//!   arrays (file, shape, values as f64 in C order).
//! - `DIR/<case>/<input>.npy`: the same arrays, `<f8`, C order.
//! - `DIR/<case>/expected.json`: per quantity the oracle values as decimal strings (as many
//!   significant digits as the oracle certifies, at most [`DIGITS`]), their error bounds with
//!   their kind (`bound_kind`: `exact`, `enclosure` or `estimate`, also in the manifest), and
//!   the tolerance (per entry).
//! - `DIR/<case>/expected/<quantity>.npy` (the values rounded to f64) and, for `abs_entrywise`,
//!   `DIR/<case>/expected/<quantity>.tol.npy`.
//!
//! A backend writes `RESULTS_DIR/<case>/<quantity>.npy` (float64, the shape of the manifest;
//! shape `()` for a scalar), or `RESULTS_DIR/<case>/results.json` mapping quantity names to a
//! number or (nested) lists, or a mix of both. `mforacle check --suite NAME RESULTS_DIR` then
//! compares every entry: it passes iff |result − expected| ≤ tolerance for every entry.
//!
//! ## Tolerances
//! Every tolerance is `ULPS · u · M` with u = 2^−53 and M a *magnitude* derived from the
//! conditioning of the quantity: the sum of the absolute values of the terms an f64
//! evaluation adds up, with each kernel argument s taken as uncertain by 2d·u (a dot product
//! of two unit vectors in f64). `ULPS` = 512 covers the a-priori growth factors γ_n of sums
//! and Horner evaluations of up to a few hundred terms; the suites stay below that. Each suite
//! module states its M. The oracle's own error must be below tolerance/100 (checked when a
//! suite is built), so the golden values are exact for the purpose of the check.
//! Derivation: `proofs-notes/golden-files.md`. Tests: `tests/golden.rs`.
//!
//! ## Adding a suite
//! Write a module with a `pub const SUITE: SuiteEntry` whose `build` returns the cases, declare
//! it below, and add one line to [`SUITES`].

pub mod npy;

mod check;
mod concordance;
pub mod deep;
mod hermite;
mod kernel;
mod langevin;
mod meanfield;
mod population;
pub mod two_timescale;
mod write;

pub use check::{
    check, expected_from_cases, expected_from_dir, CheckReport, CheckRow, ExpectedCase,
    ExpectedQuantity,
};
pub use write::{generate, render_files};

pub use npy::Array;

use rug::Float;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Format tag of the manifest.
pub const FORMAT: &str = "mforacle-golden/1";
/// Significant digits asked of the oracle.
pub const DIGITS: u32 = 40;
/// Ulps of the magnitude M granted to a correct f64 backend.
pub const ULPS: f64 = 512.0;
/// The unit roundoff u = 2^−53 of IEEE double.
pub const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;
/// The oracle's bound must be at most tolerance / this.
pub const ORACLE_MARGIN: f64 = 100.0;

/// One suite: a name, what it covers, and the builder of its cases.
pub struct SuiteEntry {
    pub name: &'static str,
    pub description: &'static str,
    pub build: fn() -> Result<Vec<Case>, String>,
}

/// The known suites, in the order they are listed.
pub const SUITES: &[SuiteEntry] = &[
    hermite::SUITE,
    kernel::SUITE,
    population::SUITE,
    population::STEP_SUITE,
    meanfield::SUITE,
    concordance::SUITE,
    langevin::SUITE,
    two_timescale::SUITE,
    deep::SUITE,
];

/// One case: inputs and oracle quantities.
#[derive(Clone, Debug)]
pub struct Case {
    /// Directory name (letters, digits, `-`, `_`, `.`).
    pub name: String,
    pub description: String,
    /// Free-form parameters (JSON object) written to inputs.json.
    pub parameters: serde_json::Value,
    /// Named input arrays (written as `<name>.npy` and in inputs.json).
    pub inputs: Vec<(String, Array)>,
    pub quantities: Vec<Quantity>,
}

/// One quantity of a case: oracle values with bounds, and the tolerance per entry.
#[derive(Clone, Debug)]
pub struct Quantity {
    pub name: String,
    pub description: String,
    pub shape: Vec<usize>,
    /// C order.
    pub values: Vec<Float>,
    /// Bound on |value − truth|, per entry.
    pub bounds: Vec<Float>,
    /// Absolute tolerance per entry (ULPS·u·M).
    pub tolerance: Vec<f64>,
    /// How M was obtained, in words.
    pub tolerance_rule: String,
    /// What `bounds` are (every entry of a quantity has the same kind): `exact`, `enclosure`
    /// or `estimate` ([`crate::conventions::BoundKind`]); written as `bound_kind` next to
    /// the bounds and printed by `check`.
    pub bound_kind: crate::conventions::BoundKind,
}

impl Quantity {
    /// The tolerance ULPS·u·M for each magnitude M.
    pub fn tolerances(magnitudes: &[f64]) -> Vec<f64> {
        magnitudes
            .iter()
            .map(|m| ULPS * UNIT_ROUNDOFF * m)
            .collect()
    }
}

use crate::conventions::usage;
/// Why a golden file cannot be written or checked (the crate's one error type).
pub use crate::conventions::Error as GoldenError;

/// The suite called `name`, or an error listing the known ones.
pub fn find_suite(name: &str) -> Result<&'static SuiteEntry, GoldenError> {
    SUITES.iter().find(|s| s.name == name).ok_or_else(|| {
        let known: Vec<&str> = SUITES.iter().map(|s| s.name).collect();
        usage(format!(
            "unknown suite `{name}` (known suites: {})",
            known.join(", ")
        ))
    })
}

/// Builds the suite's cases and checks them: finite values, the oracle's bounds at most
/// tolerance/[`ORACLE_MARGIN`], consistent shapes, distinct names.
pub fn build(suite: &SuiteEntry) -> Result<Vec<Case>, GoldenError> {
    let cases = (suite.build)()
        .map_err(|e| GoldenError::Failure(format!("suite {}: cannot build: {e}", suite.name)))?;
    let mut names = std::collections::BTreeSet::new();
    for c in &cases {
        let ok_name = !c.name.is_empty()
            && c.name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
            && !c.name.starts_with('.');
        if !ok_name || !names.insert(c.name.clone()) {
            return Err(GoldenError::Failure(format!(
                "suite {}: bad or repeated case name {:?}",
                suite.name, c.name
            )));
        }
        for q in &c.quantities {
            let n: usize = q.shape.iter().product();
            if q.values.len() != n || q.bounds.len() != n || q.tolerance.len() != n {
                return Err(GoldenError::Failure(format!(
                    "suite {} case {} quantity {}: sizes do not match the shape",
                    suite.name, c.name, q.name
                )));
            }
            for i in 0..n {
                let t = q.tolerance[i];
                let b = q.bounds[i].to_f64();
                if !(q.values[i].is_finite() && t.is_finite() && t > 0.0) {
                    return Err(GoldenError::Failure(format!(
                        "suite {} case {} quantity {} entry {i}: not finite",
                        suite.name, c.name, q.name
                    )));
                }
                if b.is_nan() || b * ORACLE_MARGIN > t {
                    return Err(GoldenError::Failure(format!(
                        "suite {} case {} quantity {} entry {i}: oracle bound {b:e} is not below tolerance/{ORACLE_MARGIN} ({t:e})",
                        suite.name, c.name, q.name
                    )));
                }
            }
        }
    }
    Ok(cases)
}

// ---------------------------------------------------------------------------------------------
// Helpers for the suites.

/// An exact binary Float of an f64 at `prec` bits (prec ≥ 53).
pub(crate) fn fl(x: f64, prec: u32) -> Float {
    Float::with_val(prec.max(53), x)
}

/// A scalar input array.
pub(crate) fn scalar(x: f64) -> Array {
    Array {
        shape: vec![],
        data: vec![x],
    }
}

/// A vector input array.
pub(crate) fn vector(x: Vec<f64>) -> Array {
    Array {
        shape: vec![x.len()],
        data: x,
    }
}
