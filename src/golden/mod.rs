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
//!   significant digits as the oracle certifies, at most [`DIGITS`]), their error bounds, and
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

mod concordance;
mod hermite;
mod kernel;
mod meanfield;
mod population;

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

/// Why a golden file cannot be written or checked (the crate's one error type).
pub use crate::conventions::Error as GoldenError;
use crate::conventions::usage;

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
// Writing.

#[derive(Serialize)]
struct ToleranceDoc {
    /// "abs": one value for every entry; "abs_entrywise": one per entry (in `file`).
    kind: &'static str,
    /// The tolerance ("abs") or its largest entry ("abs_entrywise").
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    ulps: f64,
    rule: String,
}

#[derive(Serialize)]
struct ManifestQuantity {
    name: String,
    description: String,
    /// What the backend writes: RESULTS_DIR/<case>/<file> (or the key `name` in results.json).
    file: String,
    expected: String,
    shape: Vec<usize>,
    tolerance: ToleranceDoc,
}

#[derive(Serialize)]
struct ManifestCase {
    name: String,
    description: String,
    inputs: Vec<String>,
    quantities: Vec<ManifestQuantity>,
}

#[derive(Serialize)]
struct Manifest {
    format: &'static str,
    suite: String,
    description: String,
    crate_version: &'static str,
    conventions: &'static str,
    unit_roundoff: f64,
    tolerance_rule: &'static str,
    results_layout: &'static str,
    cases: Vec<ManifestCase>,
}

#[derive(Serialize)]
struct InputArrayDoc {
    name: String,
    file: String,
    shape: Vec<usize>,
    values: Vec<f64>,
}

#[derive(Serialize)]
struct InputsDoc {
    case: String,
    description: String,
    parameters: serde_json::Value,
    arrays: Vec<InputArrayDoc>,
}

#[derive(Serialize)]
struct ExpectedQuantityDoc {
    name: String,
    shape: Vec<usize>,
    file: String,
    values: Vec<String>,
    abs_error_bound: Vec<String>,
    tolerance: ToleranceDoc,
    #[serde(skip_serializing_if = "Option::is_none")]
    tolerance_entrywise: Option<Vec<f64>>,
}

#[derive(Serialize)]
struct ExpectedDoc {
    case: String,
    quantities: Vec<ExpectedQuantityDoc>,
}

const TOLERANCE_RULE: &str = "pass iff |result - expected| <= tolerance for every entry; \
tolerance = ulps * 2^-53 * M with M the magnitude of the terms an f64 evaluation sums (see each quantity's rule).";

const RESULTS_LAYOUT: &str = "RESULTS_DIR/<case>/<quantity>.npy (float64, the quantity's shape, () for a scalar) \
and/or RESULTS_DIR/<case>/results.json = {\"<quantity>\": number or nested lists}; every quantity exactly once, no others.";

fn tolerance_doc(q: &Quantity) -> (ToleranceDoc, bool) {
    let first = q.tolerance[0];
    let uniform = q.tolerance.iter().all(|t| *t == first);
    let max = q.tolerance.iter().cloned().fold(0.0, f64::max);
    (
        ToleranceDoc {
            kind: if uniform { "abs" } else { "abs_entrywise" },
            value: max,
            file: if uniform {
                None
            } else {
                Some(format!("expected/{}.tol.npy", q.name))
            },
            ulps: ULPS,
            rule: q.tolerance_rule.clone(),
        },
        uniform,
    )
}

/// Decimal string of a golden value: the digits the bound certifies (at most [`DIGITS`]).
fn render(v: &Float, b: &Float) -> (String, String) {
    let (s, bound, _) = crate::output::render_with_bound(v, b, DIGITS);
    (s, bound)
}

fn json_bytes<T: Serialize>(x: &T) -> Result<Vec<u8>, GoldenError> {
    let mut s =
        serde_json::to_string_pretty(x).map_err(|e| GoldenError::Failure(format!("JSON: {e}")))?;
    s.push('\n');
    Ok(s.into_bytes())
}

fn npy_bytes(shape: &[usize], data: &[f64]) -> Result<Vec<u8>, GoldenError> {
    npy::to_bytes(shape, data).map_err(|e| GoldenError::Failure(format!(".npy: {e}")))
}

/// Every file of the golden directory, by relative path.
pub fn render_files(
    suite: &SuiteEntry,
    cases: &[Case],
) -> Result<BTreeMap<PathBuf, Vec<u8>>, GoldenError> {
    let mut files = BTreeMap::new();
    let mut mcases = Vec::new();
    for c in cases {
        let dir = PathBuf::from(&c.name);
        let mut arrays = Vec::new();
        for (name, a) in &c.inputs {
            let file = format!("{name}.npy");
            files.insert(dir.join(&file), npy_bytes(&a.shape, &a.data)?);
            arrays.push(InputArrayDoc {
                name: name.clone(),
                file,
                shape: a.shape.clone(),
                values: a.data.clone(),
            });
        }
        if let Some(x) = c
            .inputs
            .iter()
            .flat_map(|(_, a)| &a.data)
            .find(|x| !x.is_finite())
        {
            return Err(GoldenError::Failure(format!(
                "case {}: non-finite input {x}",
                c.name
            )));
        }
        let inputs_doc = InputsDoc {
            case: c.name.clone(),
            description: c.description.clone(),
            parameters: c.parameters.clone(),
            arrays,
        };
        files.insert(dir.join("inputs.json"), json_bytes(&inputs_doc)?);
        let mut eq = Vec::new();
        let mut mq = Vec::new();
        for q in &c.quantities {
            let f64s: Vec<f64> = q.values.iter().map(|v| v.to_f64()).collect();
            let expected_file = format!("expected/{}.npy", q.name);
            files.insert(dir.join(&expected_file), npy_bytes(&q.shape, &f64s)?);
            let (tdoc, uniform) = tolerance_doc(q);
            if !uniform {
                files.insert(
                    dir.join(format!("expected/{}.tol.npy", q.name)),
                    npy_bytes(&q.shape, &q.tolerance)?,
                );
            }
            let (vals, bnds): (Vec<String>, Vec<String>) = q
                .values
                .iter()
                .zip(&q.bounds)
                .map(|(v, b)| render(v, b))
                .unzip();
            eq.push(ExpectedQuantityDoc {
                name: q.name.clone(),
                shape: q.shape.clone(),
                file: expected_file.clone(),
                values: vals,
                abs_error_bound: bnds,
                tolerance: tolerance_doc(q).0,
                tolerance_entrywise: if uniform {
                    None
                } else {
                    Some(q.tolerance.clone())
                },
            });
            mq.push(ManifestQuantity {
                name: q.name.clone(),
                description: q.description.clone(),
                file: format!("{}.npy", q.name),
                expected: expected_file,
                shape: q.shape.clone(),
                tolerance: tdoc,
            });
        }
        files.insert(
            dir.join("expected.json"),
            json_bytes(&ExpectedDoc {
                case: c.name.clone(),
                quantities: eq,
            })?,
        );
        mcases.push(ManifestCase {
            name: c.name.clone(),
            description: c.description.clone(),
            inputs: c.inputs.iter().map(|(n, _)| format!("{n}.npy")).collect(),
            quantities: mq,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        suite: suite.name.to_string(),
        description: suite.description.to_string(),
        crate_version: env!("CARGO_PKG_VERSION"),
        conventions: crate::conventions::POPULATION,
        unit_roundoff: UNIT_ROUNDOFF,
        tolerance_rule: TOLERANCE_RULE,
        results_layout: RESULTS_LAYOUT,
        cases: mcases,
    };
    files.insert(PathBuf::from("manifest.json"), json_bytes(&manifest)?);
    Ok(files)
}

/// Builds the suite and writes the golden directory `out`: everything is written to a fresh
/// directory beside it, which then replaces `out`. An existing `out` is replaced only if it
/// is empty or a golden directory (has a manifest.json); otherwise it is refused (exit 2).
pub fn generate(suite: &SuiteEntry, out: &Path) -> Result<usize, GoldenError> {
    if out.exists() {
        if !out.is_dir() {
            return Err(usage(format!("--out {}: not a directory", out.display())));
        }
        let empty = std::fs::read_dir(out)
            .map_err(|e| usage(format!("--out {}: {e}", out.display())))?
            .next()
            .is_none();
        if !empty && !out.join("manifest.json").is_file() {
            return Err(usage(format!(
                "--out {}: exists, is not empty and is not a golden directory (no manifest.json); refusing to replace it",
                out.display()
            )));
        }
    }
    let cases = build(suite)?;
    let files = render_files(suite, &cases)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = out
        .file_name()
        .ok_or_else(|| usage(format!("--out {}: not a directory path", out.display())))?
        .to_string_lossy()
        .to_string();
    let fail = |e: std::io::Error, what: &Path| {
        GoldenError::Failure(format!("cannot write {}: {e}", what.display()))
    };
    std::fs::create_dir_all(&parent).map_err(|e| fail(e, &parent))?;
    let tmp = parent.join(format!(".{base}.tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        for (rel, bytes) in &files {
            let p = tmp.join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|e| fail(e, d))?;
            }
            std::fs::write(&p, bytes).map_err(|e| fail(e, &p))?;
        }
        if out.exists() {
            std::fs::remove_dir_all(out).map_err(|e| fail(e, out))?;
        }
        std::fs::rename(&tmp, out).map_err(|e| fail(e, out))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result.map(|_| files.len())
}

// ---------------------------------------------------------------------------------------------
// Checking.

/// What `check` compares against: per case, per quantity, f64 values and tolerances.
#[derive(Clone, Debug)]
pub struct ExpectedCase {
    pub name: String,
    pub quantities: Vec<ExpectedQuantity>,
}

#[derive(Clone, Debug)]
pub struct ExpectedQuantity {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
    pub tolerance: Vec<f64>,
}

/// The expectations of freshly built cases.
pub fn expected_from_cases(cases: &[Case]) -> Vec<ExpectedCase> {
    cases
        .iter()
        .map(|c| ExpectedCase {
            name: c.name.clone(),
            quantities: c
                .quantities
                .iter()
                .map(|q| ExpectedQuantity {
                    name: q.name.clone(),
                    shape: q.shape.clone(),
                    values: q.values.iter().map(|v| v.to_f64()).collect(),
                    tolerance: q.tolerance.clone(),
                })
                .collect(),
        })
        .collect()
}

fn read_json(path: &Path) -> Result<serde_json::Value, GoldenError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| usage(format!("{}: not valid JSON: {e}", path.display())))
}

/// The expectations stored in a golden directory written by [`generate`] for `suite`.
pub fn expected_from_dir(dir: &Path, suite: &str) -> Result<Vec<ExpectedCase>, GoldenError> {
    let m = read_json(&dir.join("manifest.json"))?;
    let bad = |what: &str| usage(format!("{}: {what}", dir.join("manifest.json").display()));
    if m.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
        return Err(bad(&format!("not a {FORMAT} manifest")));
    }
    let msuite = m.get("suite").and_then(|v| v.as_str()).unwrap_or("");
    if msuite != suite {
        return Err(bad(&format!("holds suite `{msuite}`, not `{suite}`")));
    }
    let cases = m
        .get("cases")
        .and_then(|v| v.as_array())
        .ok_or_else(|| bad("no cases"))?;
    let mut out = Vec::new();
    for c in cases {
        let name = c
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("a case without a name"))?;
        let ex_path = dir.join(name).join("expected.json");
        let ex = read_json(&ex_path)?;
        let bad_ex = |what: String| usage(format!("{}: {what}", ex_path.display()));
        let qs = ex
            .get("quantities")
            .and_then(|v| v.as_array())
            .ok_or_else(|| bad_ex("no quantities".into()))?;
        let mut quantities = Vec::new();
        for q in qs {
            let qname = q
                .get("name")
                .and_then(|v| v.as_str())
                .ok_or_else(|| bad_ex("a quantity without a name".into()))?;
            let shape: Vec<usize> = q
                .get("shape")
                .and_then(|v| v.as_array())
                .ok_or_else(|| bad_ex(format!("{qname}: no shape")))?
                .iter()
                .map(|x| x.as_u64().map(|x| x as usize))
                .collect::<Option<_>>()
                .ok_or_else(|| bad_ex(format!("{qname}: bad shape")))?;
            let n: usize = shape.iter().product();
            let values: Vec<f64> = q
                .get("values")
                .and_then(|v| v.as_array())
                .ok_or_else(|| bad_ex(format!("{qname}: no values")))?
                .iter()
                .map(|x| x.as_str().and_then(|s| s.parse::<f64>().ok()))
                .collect::<Option<_>>()
                .ok_or_else(|| bad_ex(format!("{qname}: values must be decimal strings")))?;
            let tol = match q.get("tolerance_entrywise").and_then(|v| v.as_array()) {
                Some(t) => t.iter().map(|x| x.as_f64()).collect::<Option<Vec<f64>>>(),
                None => q
                    .get("tolerance")
                    .and_then(|t| t.get("value"))
                    .and_then(|v| v.as_f64())
                    .map(|t| vec![t; n]),
            }
            .ok_or_else(|| bad_ex(format!("{qname}: bad tolerance")))?;
            if values.len() != n || tol.len() != n {
                return Err(bad_ex(format!(
                    "{qname}: sizes do not match shape {shape:?}"
                )));
            }
            quantities.push(ExpectedQuantity {
                name: qname.to_string(),
                shape,
                values,
                tolerance: tol,
            });
        }
        out.push(ExpectedCase {
            name: name.to_string(),
            quantities,
        });
    }
    Ok(out)
}

/// One compared quantity.
#[derive(Clone, Debug, Serialize)]
pub struct CheckRow {
    pub case: String,
    pub quantity: String,
    #[serde(serialize_with = "crate::output::finite")]
    pub max_abs_error: f64,
    /// Largest |error|/|expected| over entries with expected ≠ 0 (0 if none).
    #[serde(serialize_with = "crate::output::finite")]
    pub max_rel_error: f64,
    /// Largest |error|/tolerance; the quantity passes iff ≤ 1.
    #[serde(serialize_with = "crate::output::finite")]
    pub max_error_over_tolerance: f64,
    /// C-order multi-index of the entry with the largest error/tolerance.
    pub worst_index: Vec<usize>,
    #[serde(serialize_with = "crate::output::finite")]
    pub error_at_worst: f64,
    #[serde(serialize_with = "crate::output::finite")]
    pub tolerance_at_worst: f64,
    pub pass: bool,
}

/// The result of [`check`].
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub suite: String,
    pub pass: bool,
    pub rows: Vec<CheckRow>,
}

impl CheckReport {
    /// The rows that failed.
    pub fn failures(&self) -> Vec<&CheckRow> {
        self.rows.iter().filter(|r| !r.pass).collect()
    }
}

fn multi_index(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for k in (0..shape.len()).rev() {
        idx[k] = flat % shape[k].max(1);
        flat /= shape[k].max(1);
    }
    idx
}

/// A nested JSON list (or a number) as (shape, C-order data); None if not rectangular or not
/// all numbers.
fn json_array(v: &serde_json::Value) -> Result<Array, String> {
    match v {
        serde_json::Value::Number(n) => n
            .as_f64()
            .map(|x| Array {
                shape: vec![],
                data: vec![x],
            })
            .ok_or_else(|| "not a finite number".to_string()),
        serde_json::Value::Array(items) => {
            let mut shape_rest: Option<Vec<usize>> = None;
            let mut data = Vec::new();
            for it in items {
                let a = json_array(it)?;
                match &shape_rest {
                    None => shape_rest = Some(a.shape.clone()),
                    Some(s) if *s != a.shape => {
                        return Err("ragged nested lists (rows of different lengths)".into())
                    }
                    _ => {}
                }
                data.extend(a.data);
            }
            let mut shape = vec![items.len()];
            shape.extend(shape_rest.unwrap_or_default());
            Ok(Array { shape, data })
        }
        serde_json::Value::Null => {
            Err("null (NaN or infinity written as null?): results must be finite".into())
        }
        other => Err(format!("not a number or a list of numbers: {other}")),
    }
}

/// Reads one case directory of results: quantity → array.
fn read_case_results(
    case_dir: &Path,
    expected: &ExpectedCase,
) -> Result<BTreeMap<String, (Array, PathBuf)>, GoldenError> {
    let known: Vec<&str> = expected
        .quantities
        .iter()
        .map(|q| q.name.as_str())
        .collect();
    let mut got: BTreeMap<String, (Array, PathBuf)> = BTreeMap::new();
    let entries = std::fs::read_dir(case_dir)
        .map_err(|e| usage(format!("cannot read {}: {e}", case_dir.display())))?;
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for path in names {
        let fname = path
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        if fname.starts_with('.') || !path.is_file() {
            continue;
        }
        let mut insert = |q: &str, a: Array, from: &Path| -> Result<(), GoldenError> {
            if !known.contains(&q) {
                return Err(usage(format!(
                    "{}: extra quantity `{q}` (case {} has: {})",
                    from.display(),
                    expected.name,
                    known.join(", ")
                )));
            }
            if let Some((_, first)) = got.get(q) {
                return Err(usage(format!(
                    "quantity `{q}` of case {} is given twice ({} and {})",
                    expected.name,
                    first.display(),
                    from.display()
                )));
            }
            got.insert(q.to_string(), (a, from.to_path_buf()));
            Ok(())
        };
        if fname == "results.json" {
            let v = read_json(&path)?;
            let obj = v.as_object().ok_or_else(|| {
                usage(format!(
                    "{}: expected a JSON object {{\"quantity\": values}}",
                    path.display()
                ))
            })?;
            for (k, val) in obj {
                let a = json_array(val)
                    .map_err(|e| usage(format!("{} field `{k}`: {e}", path.display())))?;
                insert(k, a, &path)?;
            }
        } else if let Some(q) = fname.strip_suffix(".npy") {
            let bytes = std::fs::read(&path)
                .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
            let a =
                npy::from_bytes(&bytes).map_err(|e| usage(format!("{}: {e}", path.display())))?;
            insert(q, a, &path)?;
        }
    }
    Ok(got)
}

/// Compares the results in `results_dir` with `expected`. Malformed results (a missing or
/// extra case or quantity, a wrong shape, NaN or infinity, an unreadable file) are a usage
/// error naming the file and quantity; out-of-tolerance values are reported in the rows.
pub fn check(
    suite: &str,
    expected: &[ExpectedCase],
    results_dir: &Path,
) -> Result<CheckReport, GoldenError> {
    if !results_dir.is_dir() {
        return Err(usage(format!(
            "results directory {} does not exist",
            results_dir.display()
        )));
    }
    let case_names: Vec<&str> = expected.iter().map(|c| c.name.as_str()).collect();
    let entries = std::fs::read_dir(results_dir)
        .map_err(|e| usage(format!("cannot read {}: {e}", results_dir.display())))?;
    let mut extra: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('.') && !case_names.contains(&n.as_str()))
        .collect();
    extra.sort();
    if let Some(x) = extra.first() {
        return Err(usage(format!(
            "{}: extra case directory `{x}` (suite {suite} has: {})",
            results_dir.display(),
            case_names.join(", ")
        )));
    }
    let mut rows = Vec::new();
    for c in expected {
        let dir = results_dir.join(&c.name);
        if !dir.is_dir() {
            return Err(usage(format!(
                "missing case directory {} (case {} of suite {suite})",
                dir.display(),
                c.name
            )));
        }
        let got = read_case_results(&dir, c)?;
        for q in &c.quantities {
            let (a, from) = got.get(&q.name).ok_or_else(|| {
                usage(format!(
                    "case {}: missing quantity `{}` (write {}/{}.npy or a `{}` field in results.json)",
                    c.name,
                    q.name,
                    dir.display(),
                    q.name,
                    q.name
                ))
            })?;
            if a.shape != q.shape {
                return Err(usage(format!(
                    "{}: quantity `{}` has shape {:?}, expected {:?}",
                    from.display(),
                    q.name,
                    a.shape,
                    q.shape
                )));
            }
            if let Some(i) = a.data.iter().position(|x| !x.is_finite()) {
                return Err(usage(format!(
                    "{}: quantity `{}` entry {:?} is {} (results must be finite)",
                    from.display(),
                    q.name,
                    multi_index(i, &q.shape),
                    a.data[i]
                )));
            }
            let mut row = CheckRow {
                case: c.name.clone(),
                quantity: q.name.clone(),
                max_abs_error: 0.0,
                max_rel_error: 0.0,
                max_error_over_tolerance: 0.0,
                worst_index: multi_index(0, &q.shape),
                error_at_worst: 0.0,
                tolerance_at_worst: q.tolerance.first().copied().unwrap_or(0.0),
                pass: true,
            };
            for (i, ((r, e), t)) in a.data.iter().zip(&q.values).zip(&q.tolerance).enumerate() {
                let err = (r - e).abs();
                row.max_abs_error = row.max_abs_error.max(err);
                if *e != 0.0 {
                    row.max_rel_error = row.max_rel_error.max(err / e.abs());
                }
                let ratio = err / t;
                if ratio > row.max_error_over_tolerance {
                    row.max_error_over_tolerance = ratio;
                    row.worst_index = multi_index(i, &q.shape);
                    row.tolerance_at_worst = *t;
                    row.error_at_worst = err;
                }
                if err > *t {
                    row.pass = false;
                }
            }
            rows.push(row);
        }
    }
    Ok(CheckReport {
        suite: suite.to_string(),
        pass: rows.iter().all(|r| r.pass),
        rows,
    })
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
