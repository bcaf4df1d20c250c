//! Suite `kernel`: κ, κ', κ'' of dual kernels κ_{σ,τ}(s) = Σ_k c_k(σ)c_k(τ)s^k on a grid of s,
//! for the closed-form pairs relu–relu and erf(z)–erf(2z), and the series pairs tanh–tanh,
//! gelu–gelu, he4+he6 against 0.6he4+0.3he6, and the paper's σ against he4.
//!
//! Tolerances (per entry), ULPS·u·M with
//! - series pairs: M(s, r) = Σ_{k=r}^{K} k^{(r)}|s|^{k−r}·(|c_k d_k| + (k+2)^{3/2}(|c_k|‖τ‖ + |d_k|‖σ‖)),
//!   c = c(σ), d = c(τ), k^{(r)} = k(k−1)…(k−r+1): the sum of the magnitudes of the series'
//!   terms (rounding of the sum and of Horner's scheme) plus the effect of coefficients known
//!   only to the `hermite` suite's tolerance ε_k = ULPS·u·(k+2)^{3/2}‖·‖ (first order, plus the
//!   second-order ε_k ε'_k/(ULPS·u) = ULPS·u·(k+2)³‖σ‖‖τ‖, which keeps M > 0 where κ^{(r)}(s)
//!   vanishes exactly, e.g. κ(0) of an odd pair);
//! - closed-form pairs: M(s, r) = 1 + |κ^{(r)}(s)| + |s|·|κ^{(r+1)}(s)| (the last term for
//!   |s| < 1 only): a few correctly rounded operations (asin, acos, sqrt, constants of size
//!   ≤ 1) and the relative rounding of s-dependent arguments such as 1 − s² and c·s.
//!
//! The grids avoid the points where a value is infinite (relu–relu κ'' at ±1) and keep the
//! slowly converging tanh series to |s| ≤ 0.9.

use super::{fl, vector, Case, Quantity, SuiteEntry};
use crate::activation::Spec;
use crate::coeffs::{self, digits_to_bits};
use crate::kernel::{self, ClosedKernel, Side};
use rug::Float;

pub const SUITE: SuiteEntry = SuiteEntry {
    name: "kernel",
    description: "dual kernels kappa, kappa', kappa'' on grids of s: relu-relu and erf-erf (closed forms), tanh-tanh, gelu-gelu, he4+he6 vs 0.6he4+0.3he6, the paper's sigma vs he4",
    build,
};

struct Pair {
    name: &'static str,
    sigma: &'static str,
    tau: &'static str,
    degree: usize,
    s: &'static [f64],
}

const PAIRS: &[Pair] = &[
    Pair {
        name: "relu-relu",
        sigma: "relu",
        tau: "relu",
        degree: 40,
        s: &[-0.99, -0.5, 0.0, 0.25, 0.5, 0.9, 0.99],
    },
    Pair {
        name: "erf-erf2",
        sigma: "erf",
        tau: "erf(2*z)",
        degree: 40,
        s: &[-1.0, -0.5, 0.0, 0.5, 0.9, 1.0],
    },
    Pair {
        name: "tanh-tanh",
        sigma: "tanh",
        tau: "tanh",
        degree: 300,
        s: &[-0.9, -0.5, 0.0, 0.3, 0.7, 0.9],
    },
    Pair {
        name: "gelu-gelu",
        sigma: "gelu",
        tau: "gelu",
        degree: 150,
        s: &[-1.0, -0.5, 0.0, 0.5, 1.0],
    },
    Pair {
        name: "he46-misspecified",
        sigma: "he4+he6",
        tau: "0.6*he4+0.3*he6",
        degree: 8,
        s: &[-1.0, -0.5, 0.0, 0.5, 1.0],
    },
    Pair {
        name: "paper-sigma-he4",
        sigma: "5*(z^2*exp(-z^2)-sqrt(3)/9)",
        tau: "he4",
        degree: 100,
        s: &[-1.0, -0.5, 0.0, 0.5, 1.0],
    },
];

const NAMES: [&str; 3] = ["kappa", "kappa_prime", "kappa_second"];

/// |κ^{(r)}(s)| of a closed-form kernel in f64, r ≤ 3 (for magnitudes only).
fn closed_f64(ck: &ClosedKernel, s: f64, r: usize) -> f64 {
    if r <= 2 {
        let v = kernel::closed_value(ck, &Float::with_val(64, s), r, 64);
        return v.map(|x| x.value.to_f64().abs()).unwrap_or(f64::INFINITY);
    }
    let pi = std::f64::consts::PI;
    match ck {
        // third derivative: s/(2π(1 − s²)^{3/2})
        ClosedKernel::ReluRelu => (s / (2.0 * pi * (1.0 - s * s).powf(1.5))).abs(),
        // κ = (2/π) asin(cs), third derivative (2/π) c³ (1 + 2c²s²)/(1 − c²s²)^{5/2}
        ClosedKernel::ErfErf(a, b) => {
            let (a, b) = (a.to_f64(), b.to_f64());
            let c = 2.0 * a * b / ((1.0 + 2.0 * a * a) * (1.0 + 2.0 * b * b)).sqrt();
            let q = 1.0 - c * c * s * s;
            (2.0 / pi * c.powi(3) * (1.0 + 2.0 * c * c * s * s) / q.powf(2.5)).abs()
        }
    }
}

fn falling(k: usize, r: usize) -> f64 {
    (0..r).map(|i| k.saturating_sub(i) as f64).product()
}

fn build() -> Result<Vec<Case>, String> {
    let digits = super::DIGITS + 5;
    let prec = digits_to_bits(digits) + 64;
    let mut out = Vec::new();
    for p in PAIRS {
        let sa = Spec::parse(p.sigma).map_err(|e| e.to_string())?;
        let sb = Spec::parse(p.tau).map_err(|e| e.to_string())?;
        let closed = kernel::closed_kernel(&sa, &sb);
        let side_a = Side::new(&sa, p.degree, digits).map_err(|e| e.to_string())?;
        let side_b = Side::new(&sb, p.degree, digits).map_err(|e| e.to_string())?;
        let na = coeffs::norm_squared(&sa, 20)?.0.to_f64().sqrt();
        let nb = coeffs::norm_squared(&sb, 20)?.0.to_f64().sqrt();
        let ca: Vec<f64> = side_a
            .table
            .coefficients
            .iter()
            .map(|c| c.value.to_f64())
            .collect();
        let cb: Vec<f64> = side_b
            .table
            .coefficients
            .iter()
            .map(|c| c.value.to_f64())
            .collect();
        let mut quantities = Vec::new();
        for (r, qname) in NAMES.iter().enumerate() {
            let mut values = Vec::new();
            let mut bounds = Vec::new();
            let mut mags = Vec::new();
            let mut kind = crate::conventions::BoundKind::Exact;
            for &s in p.s {
                let sf = fl(s, prec);
                let v = match &closed {
                    Some(ck) => kernel::closed_value(ck, &sf, r, prec),
                    None => kernel::series(&side_a, &side_b, &sf, r),
                }
                .map_err(|e| format!("{} at s = {s}, derivative {r}: {e}", p.name))?;
                kind = kind.weakest(v.kind);
                values.push(v.value);
                bounds.push(v.abs_error_bound);
                let m = match &closed {
                    Some(ck) => {
                        let mut m = 1.0 + closed_f64(ck, s, r);
                        if s.abs() < 1.0 {
                            m += s.abs() * closed_f64(ck, s, r + 1);
                        }
                        m
                    }
                    None => (r..=p.degree)
                        .map(|k| {
                            let w = falling(k, r) * s.abs().powi((k - r) as i32);
                            let g = ((k + 2) as f64).powf(1.5);
                            let second = super::ULPS * super::UNIT_ROUNDOFF * g * g * na * nb;
                            w * ((ca[k] * cb[k]).abs()
                                + g * (ca[k].abs() * nb + cb[k].abs() * na)
                                + second)
                        })
                        .sum(),
                };
                mags.push(m);
            }
            let rule = match &closed {
                Some(_) => "closed form: M = 1 + |kappa^(r)(s)| + |s| |kappa^(r+1)(s)|",
                None => "series: M = sum_k k^(r) |s|^(k-r) (|c_k d_k| + (k+2)^{3/2} (|c_k| ||tau|| + |d_k| ||sigma||) + ulps u (k+2)^3 ||sigma|| ||tau||)",
            };
            quantities.push(Quantity {
                name: qname.to_string(),
                description: format!("d^{r}/ds^{r} kappa_{{sigma,tau}}(s) at each s of s.npy"),
                shape: vec![p.s.len()],
                values,
                bounds,
                tolerance: Quantity::tolerances(&mags),
                tolerance_rule: rule.into(),
                bound_kind: kind,
            });
        }
        out.push(Case {
            name: p.name.into(),
            description: format!("kappa_{{{}, {}}} and two derivatives", p.sigma, p.tau),
            parameters: serde_json::json!({
                "sigma": p.sigma,
                "tau": p.tau,
                "closed_form": closed.as_ref().map(|c| format!("{c:?}")),
                "convention": "kappa(s) = sum_k c_k(sigma) c_k(tau) s^k = E[sigma(<u,x>) tau(<v,x>)], <u,v> = s",
            }),
            inputs: vec![("s".into(), vector(p.s.to_vec()))],
            quantities,
        });
    }
    Ok(out)
}
