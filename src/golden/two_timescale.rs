//! Suite `two-timescale`: the two-timescale (kernel-ridge readout) mean-field model on explicit
//! small inputs (n = 6 points in d = 3, m = 5 particles, a label-noise draw ε̃ and a Langevin
//! draw ξ; the paper's λ = 0.004, λ_a = λ_w = 0.25, η = 0.2, loss with ½): objective G,
//! readout c, second layer a, degrees of freedom, first variation, drift, label-noise drift,
//! G_ε̃ and the state after one Langevin step with the given ξ, from the MPFR oracle
//! ([`crate::two_timescale::oracle`], the m × m route, 40 digits, precision-doubling bounds).
//!
//! Tolerance (per entry): ULPS·u·M with M = κ·(n + m + d)·S, κ = 1 + tr K/(nλ̄_a) ≥ κ₂(K + nλ̄_a I)
//! and S the largest magnitude among the quantity's entries (n for the degrees of freedom):
//! the f64 accuracy contract of the n × n route (`two_timescale::eval`), C·κ·N·u·S with
//! C ≤ ULPS.

use super::{Array, Case, Quantity, SuiteEntry};
use crate::two_timescale::oracle;
use crate::two_timescale::{Input, Params, Target};

pub const SUITE: SuiteEntry = SuiteEntry {
    name: "two-timescale",
    description: "Two-timescale MFLD with kernel-ridge readout: G, readout, dof, drifts, one Langevin step (n=6, d=3, m=5)",
    build,
};

/// The quantities of the suite (oracle field names).
pub const FIELDS: &[&str] = &[
    "objective",
    "readout",
    "second_layer",
    "degrees_of_freedom",
    "first_variation",
    "drift",
    "label_noise_drift",
    "objective_label_noise",
    "after_langevin_step.objective",
    "after_langevin_step.w",
];

/// The explicit input: small dyadic-friendly decimals (their binary64 values are the data).
pub fn input() -> Input {
    let x = vec![
        0.5, -1.25, 0.75, //
        -0.3, 0.8, 1.1, //
        1.4, 0.2, -0.6, //
        -0.9, -0.4, 0.25, //
        0.1, 1.5, -1.0, //
        -1.2, 0.6, 0.4,
    ];
    let y: Vec<f64> = x.chunks(3).map(|r| r[0] * r[1] + 0.1).collect();
    let w = vec![
        0.4, -0.2, 0.1, 0.05, //
        -0.3, 0.5, 0.2, -0.1, //
        0.6, 0.1, -0.4, 0.2, //
        -0.1, -0.6, 0.3, 0.0, //
        0.2, 0.3, 0.5, -0.25,
    ];
    let eps = vec![0.3, -0.7, 0.1, 0.9, -0.2, 0.5];
    let xi = vec![
        0.5, -1.0, 0.25, 1.5, //
        -0.75, 0.3, -1.2, 0.8, //
        1.1, -0.4, 0.6, -0.9, //
        0.2, 1.3, -0.5, 0.7, //
        -1.4, 0.9, 0.1, -0.3,
    ];
    Input {
        n: 6,
        d: 3,
        m: 5,
        x,
        y,
        w,
        x_test: None,
        f_star: Target::Product(vec![0, 1]),
        eps: Some(eps),
        xi: Some(xi),
    }
}

fn build() -> Result<Vec<Case>, String> {
    let inp = input();
    let params = Params {
        sigma_tilde: "1".into(),
        ..Params::default()
    };
    let fields =
        oracle::evaluate(&inp, &params, super::DIGITS).map_err(|e| e.message().to_string())?;
    let get = |name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| format!("oracle field {name} missing"))
    };
    let (n, d, m) = (inp.n, inp.d, inp.m);
    let trace_k = get("trace_K")?.values[0].to_f64();
    let kappa = 1.0 + trace_k / (n as f64 * 0.001);
    let mut quantities = Vec::new();
    for &name in FIELDS {
        let f = get(name)?;
        let shape = match f.shape {
            oracle::Shape::Scalar => vec![],
            oracle::Shape::Vector => vec![f.values.len()],
            oracle::Shape::Matrix(c) => vec![f.values.len() / c, c],
        };
        let s = if name == "degrees_of_freedom" {
            n as f64
        } else {
            f.values
                .iter()
                .map(|v| v.to_f64().abs())
                .fold(0.0, f64::max)
        };
        let mag = kappa * (n + m + d) as f64 * s;
        quantities.push(Quantity {
            name: name.replace('.', "_"),
            description: format!("two-timescale eval field `{name}` (loss with 1/2)"),
            shape,
            values: f.values.clone(),
            bound_kind: crate::conventions::BoundKind::Estimate, // a-posteriori differences
            bounds: f.bounds.clone(),
            tolerance: Quantity::tolerances(&vec![mag; f.values.len()]),
            tolerance_rule: "M = kappa*(n+m+d)*S, kappa = 1 + tr K/(n*lambda_bar_a), S = max |entry| (n for dof): the f64 n x n route's accuracy contract".into(),
        });
    }
    let arr = |shape: Vec<usize>, data: &[f64]| Array {
        shape,
        data: data.to_vec(),
    };
    Ok(vec![Case {
        name: "small".into(),
        description: "n = 6, d = 3, m = 5, f = x_0 x_1, with eps and xi draws".into(),
        parameters: serde_json::json!({
            "lambda": params.lambda, "lambda_a": params.lambda_a, "lambda_w": params.lambda_w,
            "eta": params.eta, "sigma_tilde": params.sigma_tilde,
            "model": "h(x;w) = tanh(u.x + b); c = (K + n*lambda*lambda_a*I)^-1 y, K = H H^T/m; G = (lambda*lambda_a/2) y.c + (lambda*lambda_w/2) E|w|^2 (loss with 1/2)",
            "f_star": "x_0*x_1",
        }),
        inputs: vec![
            ("x".into(), arr(vec![n, d], &inp.x)),
            ("y".into(), arr(vec![n], &inp.y)),
            ("w".into(), arr(vec![m, d + 1], &inp.w)),
            (
                "eps".into(),
                arr(vec![n], inp.eps.as_deref().unwrap_or_default()),
            ),
            (
                "xi".into(),
                arr(vec![m, d + 1], inp.xi.as_deref().unwrap_or_default()),
            ),
        ],
        quantities,
    }])
}
