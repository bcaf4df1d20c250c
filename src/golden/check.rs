//! Checking a backend's results against a suite's expected values and tolerances.

use super::*;
use crate::conventions::BoundKind;

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
    /// The kind of the expected values' bounds (`None`: a golden directory written before
    /// kinds were recorded).
    pub bound_kind: Option<BoundKind>,
}

/// `exact`, `enclosure` or `estimate` as written by [`generate`].
fn parse_kind(s: &str) -> Option<BoundKind> {
    [BoundKind::Exact, BoundKind::Enclosure, BoundKind::Estimate]
        .into_iter()
        .find(|k| k.as_str() == s)
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
                    bound_kind: Some(q.bound_kind),
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
            let bound_kind = match q.get("bound_kind") {
                None => None,
                Some(v) => Some(v.as_str().and_then(parse_kind).ok_or_else(|| {
                    bad_ex(format!(
                        "{qname}: bound_kind must be \"exact\", \"enclosure\" or \"estimate\""
                    ))
                })?),
            };
            quantities.push(ExpectedQuantity {
                name: qname.to_string(),
                shape,
                values,
                tolerance: tol,
                bound_kind,
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
    /// The kind of the expected value's bound: `exact`, `enclosure`, `estimate`, or
    /// `unrecorded` (a golden directory written before kinds were recorded).
    pub bound_kind: String,
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
                bound_kind: q
                    .bound_kind
                    .map_or("unrecorded", |k| k.as_str())
                    .to_string(),
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
