//! Suite `langevin`: Gibbs fixed points of mean-field Langevin dynamics (the MPFR oracle of
//! `langevin gibbs --oracle`, 30 digits), values of the reduced flow (`langevin flow`) and eigenvalues of the tangent kernel at
//! initialisation (`langevin kernel`), computed here in MPFR.
//!
//! Cases:
//! - `gibbs-*`: free energy, loss, risk, KL, log Z, E s, E s², interaction and the Gegenbauer
//!   moments m_0..m_4 of the fixed point, for (erf, erf, d = 5, β = 2) and (he2, he2, d = 6,
//!   β = 4), full loss scale. Tolerance M = 16(4 + β·sup|φ|)(1 + |v|), sup|φ| ≤ 2c(Σ|ν_l| +
//!   Σ|ψ_k|): an f64 computation weighs the nodes by e^{−βφ}, whose relative error is
//!   β·u·sup|φ| per node (φ known to a few ulps of its size), times a growth factor 16 for
//!   the Newton solve and the sums; this is the rounding term of the f64 route of
//!   `langevin gibbs` (which the tests run against the suite).
//! - `kernel-*`: μ_l = E_t[κ(t)P_l(t)] and λ_l = μ_l(1 + l(l + d − 2)) (trained a and w),
//!   l = 0..8, and the multiplicities N_l, for relu (d = 6; closed form d·b_l², Gamma functions
//!   in MPFR) and erf (d = 5; Σ_k a_k E[t^k P_l] with the closed-form monomial projections in
//!   MPFR, a_k = c_k² from 50-digit tables to degree 200, tail ≤ τ_0/√N_l). Tolerance
//!   M_l = 64(L + l + d)·|μ_l| (times the weight for λ_l): a sum of nonnegative terms or a
//!   product of Gamma ratios in f64 has relative error at most a few units per operation.
//!   Multiplicities are integers (tolerance 1/2).
//! - `flow-*`: the reduced flow of `langevin flow` from the uniform start (risk, free energy,
//!   E s at t ∈ {0.5, 1, 2}) for (erf, erf, d = 5, β = 2), full loss scale, f64. The value is
//!   route B's (Gegenbauer–ETDRK4) at target 1e-11; the tolerance is twice the acceptance rule
//!   of the flow's own check, 2(|A − B| + est_A + est_B + 1e-13(1 + |v|)), and at least 128
//!   est_B (the suite requires reference bounds below 1/100 of the tolerance): a backend that
//!   agrees with either route to its estimate passes, one off by more than that fails.

use super::{Case, Quantity, SuiteEntry};
use crate::activation::Spec;
use crate::conventions::LossScale;
use crate::langevin::{harmonic_dimension, oracle};
use crate::meanfield::Model;
use rug::{Complete, Float};

pub const SUITE: SuiteEntry = SuiteEntry {
    name: "langevin",
    description: "Gibbs fixed points of mean-field Langevin dynamics (erf d=5 beta=2, he2 d=6 beta=4), the reduced flow's risk, free energy and mean_s at t = 0.5, 1, 2 (erf d=5 beta=2) and tangent-kernel eigenvalues mu_l, lambda_l, N_l (relu d=6, erf d=5)",
    build,
};

const DIGITS: u32 = 30;
const PREC: u32 = 256;
const L: usize = 8;

fn scalar_q(name: &str, v: &crate::langevin::Quantity<Float>, m: f64) -> Quantity {
    Quantity {
        name: name.into(),
        description: format!("{name} of the Gibbs fixed point"),
        shape: vec![],
        values: vec![v.value.clone()],
        bound_kind: crate::conventions::BoundKind::Estimate, // a-posteriori differences
        bounds: vec![Float::with_val(53, v.bound)],
        tolerance: Quantity::tolerances(&[m]),
        tolerance_rule: "M = 16 (4 + beta sup|phi|)(1 + |v|) (f64 Gibbs weights e^{-beta phi})"
            .into(),
    }
}

fn gibbs_case(student: &str, d: usize, beta: f64) -> Result<Case, String> {
    let s = Spec::parse(student).map_err(|e| e.to_string())?;
    let model =
        Model::new(&s, &s, d, 120, DIGITS + 10, LossScale::Full, 0.0).map_err(|e| e.to_string())?;
    let nodes = oracle::default_nodes(DIGITS, beta);
    let g = oracle::gibbs(&model, beta, DIGITS, nodes, 4).map_err(|e| e.to_string())?;
    let nu = crate::langevin::fast::funk_hecke_from_series(&model.kappa.to_f64(), d);
    let sup_phi = 2.0
        * (nu.iter().map(|x| x.abs()).sum::<f64>()
            + model.psi.to_f64().iter().map(|x| x.abs()).sum::<f64>());
    let grow = 16.0 * (4.0 + beta * sup_phi);
    let m = |q: &crate::langevin::Quantity<Float>| grow * (1.0 + q.value.to_f64().abs());
    let mut quantities: Vec<Quantity> = [
        ("free_energy", &g.free_energy),
        ("loss", &g.loss),
        ("risk", &g.risk),
        ("kl_to_uniform", &g.kl_to_uniform),
        ("log_partition", &g.log_partition),
        ("mean_s", &g.mean_s),
        ("mean_s2", &g.mean_s2),
        ("interaction", &g.interaction),
    ]
    .iter()
    .map(|(n, q)| scalar_q(n, q, m(q)))
    .collect();
    quantities.push(Quantity {
        name: "gegenbauer_moments".into(),
        description: "m_l = E_p* P_l(s), l = 0..4".into(),
        shape: vec![5],
        values: g
            .gegenbauer_moments
            .iter()
            .map(|q| q.value.clone())
            .collect(),
        bound_kind: crate::conventions::BoundKind::Estimate, // a-posteriori differences
        bounds: g
            .gegenbauer_moments
            .iter()
            .map(|q| Float::with_val(53, q.bound))
            .collect(),
        tolerance: Quantity::tolerances(
            &g.gegenbauer_moments
                .iter()
                .map(|q| m(q))
                .collect::<Vec<_>>(),
        ),
        tolerance_rule: "M = 16 (4 + beta sup|phi|)(1 + |m_l|)".into(),
    });
    Ok(Case {
        name: format!("gibbs-{student}-d{d}-beta{beta}"),
        description: format!("Gibbs fixed point, student = teacher = {student}, d = {d}, beta = {beta}, full loss scale"),
        parameters: serde_json::json!({
            "student": student, "teacher": student, "d": d, "beta": beta,
            "loss_scale": "full", "convention": "langevin gibbs (p* ∝ (1-s^2)^((d-3)/2) exp(-beta phi))",
        }),
        inputs: vec![],
        quantities,
    })
}

/// log Γ(x) in MPFR.
fn lgam(x: f64) -> Float {
    Float::with_val(PREC, x).ln_gamma()
}

/// μ_l(κ_relu) = d·b_l² in MPFR, b_l by the closed form (kernel_relu's doc).
fn relu_mu(l: usize, d: usize) -> Float {
    let df = d as f64;
    let h = (df - 1.0) / 2.0;
    let log_beta = lgam(0.5) + lgam(h) - lgam(df / 2.0);
    let b: Float = match l {
        0 => {
            let lb = Float::with_val(PREC, -&log_beta).exp();
            lb / (d as u32 - 1)
        }
        1 => Float::with_val(PREC, 1) / (2 * d as u32),
        _ if l % 2 == 1 => Float::new(PREC),
        _ => {
            let j = (l - 2) / 2;
            let n = l as f64 + (df - 3.0) / 2.0;
            let lg = lgam(h) - lgam(l as f64 + h) + lgam(2.0 * j as f64 + 1.0) + lgam(n + 1.0)
                - lgam(j as f64 + 1.0)
                - lgam(n - j as f64 + 1.0)
                - &log_beta;
            let mag = Float::with_val(PREC, lg.exp()) >> (l as u32);
            if j % 2 == 0 {
                mag
            } else {
                -mag
            }
        }
    };
    Float::with_val(PREC, b.square_ref()) * d as u32
}

/// E[t^k P_l(t)] for k = l..=kmax (0 unless k − l even), in MPFR, by the ratio recurrence.
fn projections(l: usize, kmax: usize, d: usize) -> Vec<Float> {
    let df = d as f64;
    let mut out = vec![Float::new(PREC); kmax + 1];
    if l > kmax {
        return out;
    }
    let lg = lgam(l as f64 + 1.0) + lgam(df / 2.0) - lgam(l as f64 + df / 2.0);
    let mut a = Float::with_val(PREC, lg.exp()) >> (l as u32);
    let (mut k, mut j) = (l, 0usize);
    while k <= kmax {
        out[k] = a.clone();
        // a_{k+2,l}/a_{k,l} = (k+2)(k+1)/((k−l+2)(k−l+1)) · (2j+1)/(2j+1+2l+d−1)
        a *= ((k + 2) * (k + 1)) as u64;
        a /= ((k - l + 2) * (k - l + 1)) as u64;
        a *= (2 * j + 1) as u64;
        a /= (2 * j + 2 * l + d) as u64;
        k += 2;
        j += 1;
    }
    out
}

fn kernel_case(student: &str, d: usize) -> Result<Case, String> {
    let mut mu = Vec::new();
    let mut bounds = Vec::new();
    if student == "relu" {
        for l in 0..=L {
            let v = relu_mu(l, d);
            bounds.push(Float::with_val(53, v.abs_ref()) >> 200u32);
            mu.push(v);
        }
    } else {
        let s = Spec::parse(student).map_err(|e| e.to_string())?;
        let model =
            Model::new(&s, &s, d, 200, 50, LossScale::Full, 0.0).map_err(|e| e.to_string())?;
        let a = &model.kappa.coefficients;
        for l in 0..=L {
            let p = projections(l, a.len() - 1, d);
            let mut v = Float::new(PREC);
            let mut b = Float::with_val(53, model.kappa.tail[0] / harmonic_dimension(l, d).sqrt());
            for ((ak, bk), pk) in a.iter().zip(&model.kappa.bound).zip(&p) {
                v += Float::with_val(PREC, ak * pk);
                b += Float::with_val(53, bk * pk);
            }
            b += Float::with_val(53, v.abs_ref()) >> 200u32;
            mu.push(v);
            bounds.push(b);
        }
    }
    let weights: Vec<u64> = (0..=L).map(|l| (1 + l * (l + d - 2)) as u64).collect();
    let lam: Vec<Float> = mu
        .iter()
        .zip(&weights)
        .map(|(m, w)| Float::with_val(PREC, m * *w))
        .collect();
    let lam_b: Vec<Float> = bounds
        .iter()
        .zip(&weights)
        .map(|(b, w)| Float::with_val(53, b * *w))
        .collect();
    let mag = |v: &Float, l: usize| 64.0 * (200 + l + d) as f64 * v.to_f64().abs().max(1e-300);
    let mu_m: Vec<f64> = mu.iter().enumerate().map(|(l, v)| mag(v, l)).collect();
    let lam_m: Vec<f64> = lam.iter().enumerate().map(|(l, v)| mag(v, l)).collect();
    // N_l exactly: the product formula (2l+d−2)(l+d−3)!/(l!(d−2)!) in integers
    let mult: Vec<Float> = (0..=L)
        .map(|l| {
            let n = if l == 0 {
                rug::Integer::from(1)
            } else {
                let num = rug::Integer::from(2 * l + d - 2)
                    * rug::Integer::factorial((l + d - 3) as u32).complete();
                let den = rug::Integer::factorial(l as u32).complete()
                    * rug::Integer::factorial((d - 2) as u32).complete();
                num / den
            };
            Float::with_val(PREC, n)
        })
        .collect();
    let q = |name: &str,
             desc: &str,
             values: Vec<Float>,
             bounds: Vec<Float>,
             tol: Vec<f64>,
             rule: &str| Quantity {
        name: name.into(),
        description: desc.into(),
        shape: vec![L + 1],
        values,
        bound_kind: crate::conventions::BoundKind::Estimate, // a-posteriori differences
        bounds,
        tolerance: tol,
        tolerance_rule: rule.into(),
    };
    // zero entries (relu, odd l ≥ 3): tolerance from the largest entry's scale
    let floor = |m: Vec<f64>| -> Vec<f64> {
        let top = m.iter().cloned().fold(0.0, f64::max);
        Quantity::tolerances(&m.iter().map(|x| x.max(1e-3 * top)).collect::<Vec<_>>())
    };
    Ok(Case {
        name: format!("kernel-{student}-d{d}"),
        description: format!(
            "tangent kernel at initialisation, student = teacher = {student}, d = {d}"
        ),
        parameters: serde_json::json!({
            "student": student, "d": d, "lmax": L,
            "convention": "mu_l = E[kappa(t) P_l(t)], t ~ (1-t^2)^((d-3)/2), P_l Gegenbauer of index (d-2)/2 with P_l(1) = 1; lambda_l = mu_l (1 + l(l+d-2)) (a and w trained)",
        }),
        inputs: vec![],
        quantities: vec![
            q(
                "mu",
                "Funk-Hecke coefficients mu_l of the dual kernel",
                mu,
                bounds,
                floor(mu_m),
                "M_l = 64 (200 + l + d) |mu_l| (floor 1e-3 of the largest)",
            ),
            q(
                "lambda_aw",
                "eigenvalues lambda_l = mu_l (1 + l(l+d-2))",
                lam,
                lam_b,
                floor(lam_m),
                "M_l = 64 (200 + l + d) |lambda_l| (floor 1e-3 of the largest)",
            ),
            q(
                "multiplicity",
                "N_l = (2l+d-2)(l+d-3)!/(l!(d-2)!)",
                mult,
                vec![Float::new(53); L + 1],
                vec![0.5; L + 1],
                "integers: 1/2",
            ),
        ],
    })
}

/// The output times of the `flow-*` cases.
pub const FLOW_TIMES: [f64; 3] = [0.5, 1.0, 2.0];

fn flow_case(student: &str, d: usize, beta: f64) -> Result<Case, String> {
    use crate::langevin::flow::{self, Problem, QUANTITIES};
    let s = Spec::parse(student).map_err(|e| e.to_string())?;
    let model = Model::new(&s, &s, d, 120, 20, LossScale::Full, 0.0).map_err(|e| e.to_string())?;
    let p = Problem::new(&model, beta, 1e-12).map_err(|e| e.to_string())?;
    let mut times = vec![0.0];
    times.extend(FLOW_TIMES);
    let f = flow::flow(&p, &times, 1e-11).map_err(|e| e.to_string())?;
    let quantities = ["risk", "free_energy", "mean_s"]
        .iter()
        .map(|name| {
            let q = QUANTITIES.iter().position(|x| x == name).unwrap_or(0);
            let vals: Vec<&flow::FlowValue> = f.values[1..].iter().map(|r| &r[q]).collect();
            Quantity {
                name: (*name).into(),
                description: format!("{name} of the reduced Langevin flow at t = 0.5, 1, 2"),
                shape: vec![FLOW_TIMES.len()],
                values: vals.iter().map(|v| Float::with_val(53, v.value)).collect(),
                bounds: vals.iter().map(|v| Float::with_val(53, v.bound)).collect(),
                tolerance: vals
                    .iter()
                    .map(|v| {
                        let agree =
                            2.0 * (v.diff_ab + v.bound + v.bound_a + f.floor * (1.0 + v.value.abs()));
                        agree.max(128.0 * v.bound)
                    })
                    .collect(),
                tolerance_rule: "max(2 (|A - B| + est_A + est_B + 1e-13 (1 + |v|)), 128 est_B): twice the flow's own route-agreement check, and at least 128 times the reference's estimate".into(),
                bound_kind: crate::conventions::BoundKind::Estimate, // route B's a-posteriori estimate
            }
        })
        .collect();
    Ok(Case {
        name: format!("flow-{student}-d{d}-beta{beta}"),
        description: format!(
            "reduced mean-field Langevin flow from the uniform start, student = teacher = {student}, d = {d}, beta = {beta}, full loss scale"
        ),
        parameters: serde_json::json!({
            "student": student, "teacher": student, "d": d, "beta": beta, "times": FLOW_TIMES,
            "loss_scale": "full",
            "convention": "langevin flow: dp/dt = d/ds[(1-s^2) p d/ds(phi + log(p/w_unif)/beta)], p_0 = w_unif; F = L + KL/beta",
        }),
        inputs: vec![],
        quantities,
    })
}

fn build() -> Result<Vec<Case>, String> {
    Ok(vec![
        gibbs_case("erf", 5, 2.0)?,
        gibbs_case("he2", 6, 4.0)?,
        flow_case("erf", 5, 2.0)?,
        kernel_case("relu", 6)?,
        kernel_case("erf", 5)?,
    ])
}
