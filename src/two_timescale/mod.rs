//! Two-timescale mean-field Langevin dynamics with a kernel-ridge readout (Takakura & Suzuki,
//! ICML 2024): the objective, readout, diagnostics and particle drifts on given data and
//! particles.
//!
//! Model (derivations in `proofs-notes/two-timescale.md`): neurons h(x; w) = tanh(u·x + b),
//! w = (u, b) ∈ R^{d+1}; particles w_1..w_m with equal weights 1/m; data x_1..x_n ∈ R^d,
//! labels y. With the ½-loss and λ̄_a = λλ_a, λ̄_w = λλ_w, the optimal second layer is the
//! kernel-ridge readout c = (K + nλ̄_a I)^{-1} y of the intrinsic Gram K = H Hᵀ/m
//! (H_{ji} = h(x_j; w_i)), a(w) = h(X; w)·c, and
//! G = U + reg, U = (λ̄_a/2) yᵀc, reg = (λ̄_w/2)(1/m)Σ|w_i|².
//!
//! Two siblings compute the same quantities and are tested against each other:
//! - [`eval`]: f64, the n × n route (Cholesky of K + nλ̄_a I, degrees of freedom as
//!   ‖L^{-1}H‖²_F/m). Accuracy contract: every quantity within a few
//!   κ(A)·(n + m + d)·2^{-53} relative to its scale, κ(A) ≤ 1 + tr K/(nλ̄_a) ≤ 1 + 1/λ̄_a
//!   (checked against the oracle in `tests/two_timescale.rs`).
//! - [`oracle`]: MPFR, the m × m route (normal equations of the second layer by Gaussian
//!   elimination, G from its definition as a minimum over a), error estimated by precision
//!   doubling (an estimate, not an enclosure).
//!
//! This module holds what both share and is not a formula: the validated input.

pub mod bench;
pub mod eval;
pub mod oracle;
pub mod train;

use std::fmt;

/// The target f° whose values are the "clean" labels of the diagnostics.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// f°(x) = Π_{k ∈ indices} x_k (0-based coordinates; the default is x_0·x_1, the paper's
    /// x_1 x_2).
    Product(Vec<usize>),
    /// The labels themselves (clean target = y; no test-set target).
    Labels,
}

/// Validated evaluation input: shapes consistent, every number finite.
#[derive(Clone, Debug)]
pub struct Input {
    pub n: usize,
    pub d: usize,
    pub m: usize,
    /// n × d, row-major.
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// m × (d + 1), row-major: (u_i, b_i).
    pub w: Vec<f64>,
    /// n_test × d, row-major, and n_test.
    pub x_test: Option<(Vec<f64>, usize)>,
    pub f_star: Target,
    /// A label-noise draw ε̃ (n values).
    pub eps: Option<Vec<f64>>,
    /// A Langevin draw ξ (m × (d + 1)).
    pub xi: Option<Vec<f64>>,
}

/// Hyper-parameters as exact decimal strings (the oracle reads them exactly) and as f64.
#[derive(Clone, Debug)]
pub struct Params {
    pub lambda: String,
    pub lambda_a: String,
    pub lambda_w: String,
    pub eta: String,
    pub sigma_tilde: String,
}

/// The same parameters as binary64 values.
#[derive(Clone, Copy, Debug)]
pub struct ParamsF64 {
    pub lambda: f64,
    pub lambda_a: f64,
    pub lambda_w: f64,
    pub eta: f64,
    pub sigma_tilde: f64,
}

impl Default for Params {
    /// The paper's Section 6 values.
    fn default() -> Self {
        Params {
            lambda: "0.004".into(),
            lambda_a: "0.25".into(),
            lambda_w: "0.25".into(),
            eta: "0.2".into(),
            sigma_tilde: "1".into(),
        }
    }
}

/// A refused input, naming the field or flag.
#[derive(Clone, Debug, PartialEq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn err<T>(m: impl Into<String>) -> Result<T, InputError> {
    Err(InputError(m.into()))
}

impl Params {
    /// Checks every parameter is a plain decimal number in range and returns the f64 values:
    /// λ > 0 and λ_a > 0 (the ridge nλλ_a must be positive), λ_w ≥ 0, η ≥ 0, σ̃ ≥ 0.
    pub fn validate(&self) -> Result<ParamsF64, InputError> {
        let get = |s: &str, flag: &str, positive: bool| -> Result<f64, InputError> {
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
            let v: f64 = match s.parse::<f64>() {
                Ok(v) if plain && v.is_finite() => v,
                _ => return err(format!("--{flag} {s}: not a finite decimal number")),
            };
            if rug::Float::parse(s).is_err() {
                return err(format!("--{flag} {s}: not a finite decimal number"));
            }
            if v < 0.0 {
                return err(format!("--{flag} {s}: must not be negative"));
            }
            if positive && v <= 0.0 {
                return err(format!(
                    "--{flag} {s}: must be > 0 (the ridge nλλ_a must be positive)"
                ));
            }
            Ok(v)
        };
        Ok(ParamsF64 {
            lambda: get(&self.lambda, "lambda", true)?,
            lambda_a: get(&self.lambda_a, "lambda-a", true)?,
            lambda_w: get(&self.lambda_w, "lambda-w", false)?,
            eta: get(&self.eta, "eta", false)?,
            sigma_tilde: get(&self.sigma_tilde, "sigma-tilde", false)?,
        })
    }
}

/// Largest n·n + n·m + n_test·n_test + n_test·m (entries) the evaluation accepts: about
/// 8 such arrays of f64 are live at once, so this caps memory near 2 GiB.
pub const MAX_ENTRIES: usize = 1 << 25;

fn numbers(v: &serde_json::Value, at: &str) -> Result<Vec<f64>, InputError> {
    let arr = match v.as_array() {
        Some(a) => a,
        None => return err(format!("{at}: expected an array of numbers")),
    };
    arr.iter()
        .enumerate()
        .map(|(i, x)| match x.as_f64().filter(|f| f.is_finite()) {
            Some(f) => Ok(f),
            None => err(format!("{at} entry {i}: not a finite number ({x})")),
        })
        .collect()
}

/// A matrix field: an array of rows, each of `cols` numbers (`cols` = None: any common
/// length, returned). Ragged rows are refused with the row named.
fn matrix(
    v: &serde_json::Value,
    field: &str,
    cols: Option<usize>,
    what: &str,
) -> Result<(Vec<f64>, usize, usize), InputError> {
    let rows = match v.as_array() {
        Some(a) => a,
        None => return err(format!("field `{field}`: expected an array of rows")),
    };
    if rows.is_empty() {
        let count = match field {
            "x" => " (n = 0)",
            "w" => " (m = 0)",
            "xi" => " (m = 0)",
            _ => "",
        };
        return err(format!(
            "field `{field}`: no rows{count}; at least one is needed"
        ));
    }
    let mut out = Vec::new();
    let mut width = cols;
    for (i, r) in rows.iter().enumerate() {
        let row = numbers(r, &format!("field `{field}` row {i}"))?;
        match width {
            None => width = Some(row.len()),
            Some(w) if w != row.len() => {
                return err(format!(
                    "field `{field}` row {i}: {} entries, expected {w} ({what})",
                    row.len()
                ))
            }
            _ => {}
        }
        out.extend(row);
    }
    Ok((out, rows.len(), width.unwrap_or(0)))
}

impl Input {
    /// Parses and validates the JSON text of an evaluation input.
    pub fn from_json(text: &str) -> Result<Input, InputError> {
        let v: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return err(format!("not JSON: {e}")),
        };
        let obj = match v.as_object() {
            Some(o) => o,
            None => return err("expected a JSON object with fields x, y, w"),
        };
        const KNOWN: [&str; 7] = ["x", "y", "w", "x_test", "f_star", "eps", "xi"];
        for k in obj.keys() {
            if !KNOWN.contains(&k.as_str()) {
                return err(format!(
                    "unknown field `{k}` (expected x, y, w, x_test, f_star, eps, xi)"
                ));
            }
        }
        let need = |k: &str| match obj.get(k) {
            Some(v) => Ok(v),
            None => err(format!("missing field `{k}`")),
        };
        let (x, n, d) = matrix(need("x")?, "x", None, "the length of row 0")?;
        if d == 0 {
            return err("field `x`: rows are empty (d = 0; at least one coordinate is needed)");
        }
        let y = numbers(need("y")?, "field `y`")?;
        if y.len() != n {
            return err(format!(
                "field `y`: {} entries, expected n = {n} (the rows of x)",
                y.len()
            ));
        }
        let (w, m, _) = matrix(need("w")?, "w", Some(d + 1), "d + 1: u then b")?;
        let x_test = match obj.get("x_test") {
            None => None,
            Some(v) => {
                let (t, nt, _) = matrix(v, "x_test", Some(d), "d, as the rows of x")?;
                Some((t, nt))
            }
        };
        let f_star = match obj.get("f_star") {
            None if d < 2 => {
                return err("field `f_star`: the default x_0·x_1 needs d >= 2; give f_star")
            }
            None => Target::Product(vec![0, 1]),
            Some(v) => parse_target(v, d)?,
        };
        let eps = match obj.get("eps") {
            None => None,
            Some(v) => {
                let e = numbers(v, "field `eps`")?;
                if e.len() != n {
                    return err(format!(
                        "field `eps`: {} entries, expected n = {n}",
                        e.len()
                    ));
                }
                Some(e)
            }
        };
        let xi = match obj.get("xi") {
            None => None,
            Some(v) => {
                let (xi, mx, _) = matrix(v, "xi", Some(d + 1), "d + 1, as the rows of w")?;
                if mx != m {
                    return err(format!(
                        "field `xi`: {mx} rows, expected m = {m} (the rows of w)"
                    ));
                }
                Some(xi)
            }
        };
        let nt = x_test.as_ref().map_or(0, |t| t.1);
        let entries = n
            .saturating_mul(n)
            .saturating_add(n.saturating_mul(m))
            .saturating_add(nt.saturating_mul(nt))
            .saturating_add(nt.saturating_mul(m));
        if entries > MAX_ENTRIES {
            return err(format!(
                "fields `x`, `w`, `x_test`: n = {n}, m = {m}, n_test = {nt} need about {} MiB \
                 (n² + nm + n_test² + n_test·m = {entries} > {MAX_ENTRIES} entries)",
                entries * 64 / (1 << 20)
            ));
        }
        Ok(Input {
            n,
            d,
            m,
            x,
            y,
            w,
            x_test,
            f_star,
            eps,
            xi,
        })
    }
}

fn parse_target(v: &serde_json::Value, d: usize) -> Result<Target, InputError> {
    let o = match v.as_object() {
        Some(o) => o,
        None => {
            return err("field `f_star`: expected an object {\"kind\": \"product\" | \"y\", ...}")
        }
    };
    for k in o.keys() {
        if k != "kind" && k != "indices" {
            return err(format!("field `f_star`: unknown key `{k}` (kind, indices)"));
        }
    }
    match o.get("kind").and_then(|k| k.as_str()) {
        Some("y") => {
            if o.contains_key("indices") {
                return err("field `f_star`: kind \"y\" takes no indices");
            }
            Ok(Target::Labels)
        }
        Some("product") => {
            let idx = match o.get("indices").and_then(|i| i.as_array()) {
                Some(a) if !a.is_empty() => a,
                _ => {
                    return err(
                        "field `f_star`: kind \"product\" needs a non-empty `indices` array",
                    )
                }
            };
            idx.iter()
                .map(|i| match i.as_u64() {
                    Some(k) if (k as usize) < d => Ok(k as usize),
                    _ => err(format!(
                        "field `f_star` indices: {i} is not a coordinate 0..{}",
                        d - 1
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Target::Product)
        }
        _ => err("field `f_star`: `kind` must be \"product\" or \"y\""),
    }
}
