//! Writing a suite to disk: manifest, inputs, expected values and tolerances
//! (layout in the parent module's documentation).

use super::*;

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
    /// The kind of the expected values' bounds.
    bound_kind: crate::conventions::BoundKind,
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
    /// What `abs_error_bound` is: exact, enclosure or estimate.
    bound_kind: crate::conventions::BoundKind,
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
                bound_kind: q.bound_kind,
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
                bound_kind: q.bound_kind,
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
