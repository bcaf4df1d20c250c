//! Suites `population` (loss, tangent and radial gradients, velocity) and `step` (one
//! projected-GD step: Euclidean, tangent, geodesic) for fixed seeded small networks.
//!
//! Inputs of every case: `w.npy` (N×d, unit rows), `a.npy` (N), `theta.npy` (d, unit),
//! `constant.npy` (scalar κ_{σ*,σ*}(1) + ν² = E[σ*(Z)²], ν² = 0) and, when
//! `parameters.kernel_form` is "power-series", the f64 power-series coefficients (of s^k,
//! k = 0..K) of the four kernels the formulas need: `kappa_series.npy` (c_k(σ)²),
//! `psi_series.npy` (c_k(σ)c_k(σ*)), `kappa_radial_series.npy` (c_k(zσ')c_k(σ)) and
//! `psi_radial_series.npy` (c_k(zσ')c_k(σ*)); their truncation error on [−1, 1] is in
//! `parameters.series_truncation_bound` and is below tolerance/10. When `kernel_form` is
//! "relu-closed-form" all four kernels are κ(s) = (√(1−s²) + (π − arccos s)s)/(2π)
//! (z·relu'(z) = relu(z)), κ'(s) = (π − arccos s)/(2π). `step` cases add `eta.npy`.
//!
//! Golden values: [`crate::population::Oracle`] at 40 digits on the same f64 inputs (rows
//! normalised exactly by the oracle).
//!
//! Tolerances (per entry, ULPS·u·M), with κ̄^{(r)}(s) = Σ_k k^{(r)}|κ_k||s|^{k−r} the absolute
//! series of a kernel (κ^{(r)}(|s|) for relu–relu, whose coefficients are ≥ 0), δ = 2d (the
//! overlap of two f64 unit vectors is known to 2d·u), s_ij, t_i the overlaps:
//! - loss: Σ_ij|a_i a_j|(κ̄(s_ij) + δκ̄'(s_ij)) + 2Σ_i|a_i|(ψ̄(t_i) + δψ̄'(t_i)) + |constant|;
//! - tangent gradient, row i: 4|a_i|[Σ_j|a_j|κ̄'(s_ij) + δΣ_{j≠i}|a_j|κ̄''(s_ij) + ψ̄'(t_i) + δψ̄''(t_i)]
//!   (the factor 2 of the projection I − w_i w_iᵀ; the j = i term's argument error lies along
//!   w_i and is projected out);
//! - velocity, row i: the same without |a_i|;
//! - radial gradient i: 2|a_i|[Σ_j|a_j|(ρ̄(s_ij) + δρ̄'(s_ij)) + ρ̄*(t_i) + δρ̄*'(t_i)], ρ = κ_{zσ',σ},
//!   ρ* = κ_{zσ',σ*};
//! - step, row i: (2/‖x_i‖)[ηN((1+√d)M_g,i + M_ρ,i) + 1 + ηN|ρ_i| + ηN‖g_i‖] + 2d, x_i the row
//!   before normalisation, M_g,i and M_ρ,i the gradient magnitudes above (the √d for the
//!   geodesic step's dependence on ‖g_i‖).

use super::{scalar, vector, Array, Case, Quantity, SuiteEntry, ORACLE_MARGIN};
use crate::activation::{Expr, Func, Spec};
use crate::coeffs;
use crate::kernel;
use crate::population::{Oracle, Teacher, Update};
use rand::SeedableRng;
use rug::Float;

pub const SUITE: SuiteEntry = SuiteEntry {
    name: "population",
    description: "population loss, tangent gradient, radial gradient and velocity of seeded networks: he4/he4, relu/relu, tanh/tanh, he4+he6 vs 0.6he4+0.3he6; N from 1 to 64, d from 3 to 64",
    build: build_population,
};

pub const STEP_SUITE: SuiteEntry = SuiteEntry {
    name: "step",
    description: "one projected-GD step (learning rate eta*N): Euclidean then normalise, tangent then normalise, geodesic",
    build: build_step,
};

struct Net {
    name: &'static str,
    student: &'static str,
    teacher: &'static str,
    n: usize,
    d: usize,
    seed: u64,
    /// Degree of the power series given to the backend (ignored for relu).
    degree: usize,
    /// Learning rate η (step suite).
    eta: f64,
}

const MIS_S: &str = "he4+he6";
const MIS_T: &str = "0.6*he4+0.3*he6";

const POPULATION: &[Net] = &[
    Net {
        name: "he4-he4-n1-d3",
        student: "he4",
        teacher: "he4",
        n: 1,
        d: 3,
        seed: 1,
        degree: 4,
        eta: 0.0,
    },
    Net {
        name: "he4-he4-n8-d16",
        student: "he4",
        teacher: "he4",
        n: 8,
        d: 16,
        seed: 2,
        degree: 4,
        eta: 0.0,
    },
    Net {
        name: "he4-he4-n64-d64",
        student: "he4",
        teacher: "he4",
        n: 64,
        d: 64,
        seed: 3,
        degree: 4,
        eta: 0.0,
    },
    Net {
        name: "relu-relu-n5-d4",
        student: "relu",
        teacher: "relu",
        n: 5,
        d: 4,
        seed: 4,
        degree: 0,
        eta: 0.0,
    },
    Net {
        name: "relu-relu-n32-d32",
        student: "relu",
        teacher: "relu",
        n: 32,
        d: 32,
        seed: 5,
        degree: 0,
        eta: 0.0,
    },
    Net {
        name: "tanh-tanh-n6-d24",
        student: "tanh",
        teacher: "tanh",
        n: 6,
        d: 24,
        seed: 6,
        degree: 240,
        eta: 0.0,
    },
    Net {
        name: "misspecified-n16-d8",
        student: MIS_S,
        teacher: MIS_T,
        n: 16,
        d: 8,
        seed: 7,
        degree: 6,
        eta: 0.0,
    },
];

const STEP: &[Net] = &[
    Net {
        name: "he4-he4-n8-d16",
        student: "he4",
        teacher: "he4",
        n: 8,
        d: 16,
        seed: 11,
        degree: 4,
        eta: 0.05,
    },
    Net {
        name: "relu-relu-n5-d6",
        student: "relu",
        teacher: "relu",
        n: 5,
        d: 6,
        seed: 12,
        degree: 0,
        eta: 0.1,
    },
    Net {
        name: "misspecified-n4-d5",
        student: MIS_S,
        teacher: MIS_T,
        n: 4,
        d: 5,
        seed: 13,
        degree: 6,
        eta: 0.02,
    },
];

fn unit(rng: &mut rand_chacha::ChaCha8Rng, d: usize) -> Vec<f64> {
    let g = crate::sampling::gaussians(rng, d);
    let norm = libm::sqrt(g.iter().map(|x| x * x).sum::<f64>());
    g.iter().map(|x| x / norm).collect()
}

/// A kernel for magnitudes: the absolute series, or relu–relu at |s|.
enum AbsKernel {
    Series(Vec<f64>),
    Relu,
}

impl AbsKernel {
    /// κ̄^{(r)}(s), r ≤ 2.
    fn eval(&self, s: f64, r: usize) -> f64 {
        let x = s.abs().min(1.0);
        match self {
            AbsKernel::Series(c) => c
                .iter()
                .enumerate()
                .skip(r)
                .map(|(k, ck)| {
                    let w: f64 = (0..r).map(|i| (k - i) as f64).product();
                    w * ck.abs() * x.powi((k - r) as i32)
                })
                .sum(),
            AbsKernel::Relu => {
                let pi = std::f64::consts::PI;
                match r {
                    0 => ((1.0 - x * x).sqrt() + (pi - x.acos()) * x) / (2.0 * pi),
                    1 => (pi - x.acos()) / (2.0 * pi),
                    _ => 1.0 / (2.0 * pi * (1.0 - x * x).sqrt()),
                }
            }
        }
    }
}

/// Everything a case needs: the network, the kernels given to the backend, the oracle.
struct Setup {
    w: Vec<f64>,
    a: Vec<f64>,
    theta: Vec<f64>,
    constant: f64,
    /// (name, coefficients) of the four series, or empty for relu.
    series: Vec<(&'static str, Vec<f64>)>,
    kappa: AbsKernel,
    psi: AbsKernel,
    kappa_radial: AbsKernel,
    psi_radial: AbsKernel,
    /// Truncation bounds of the series on [−1, 1]: (loss, per-row tangent / |a_i|, radial / |a_i|).
    truncation: (f64, f64, f64),
    oracle: Oracle,
    teacher: Teacher,
    parameters: serde_json::Value,
}

fn is_relu(s: &Spec) -> bool {
    s.expr == Expr::Call(Func::Relu, Box::new(Expr::Z))
}

fn setup(net: &Net) -> Result<Setup, String> {
    let digits = super::DIGITS;
    let student = Spec::parse(net.student).map_err(|e| e.to_string())?;
    let teacher = Spec::parse(net.teacher).map_err(|e| e.to_string())?;
    let (n, d) = (net.n, net.d);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(net.seed);
    let theta = unit(&mut rng, d);
    let mut w = Vec::with_capacity(n * d);
    for _ in 0..n {
        w.extend(unit(&mut rng, d));
    }
    let a = vec![1.0 / n as f64; n];
    let (tnorm, _) = coeffs::norm_squared(&teacher, 30)?;
    let constant = tnorm.to_f64();
    let relu = is_relu(&student) && is_relu(&teacher);
    let sum_a: f64 = a.iter().map(|x| x.abs()).sum();
    let (series, kernels, truncation, form) = if relu {
        (
            vec![],
            [
                AbsKernel::Relu,
                AbsKernel::Relu,
                AbsKernel::Relu,
                AbsKernel::Relu,
            ],
            (0.0, 0.0, 0.0),
            "relu-closed-form",
        )
    } else {
        let k = net.degree;
        // Tables at 45 digits (both to K + 2), products at 256 bits; R, R' from the tables'
        // norms at the oracle's precision; R_{zσ'} from a 30-digit quadrature at 256 bits.
        let precision = kernel::Precision {
            table_digits: digits + 5,
            teacher_extra: 2,
            product_bits: 256,
            radial_from_f64: false,
            remainders: kernel::Remainders::Tables {
                bits: coeffs::digits_to_bits(digits) + 64,
                z_digits: 30,
                z_bits: 256,
            },
        };
        let series = kernel::PopulationSeries::new(&student, &teacher, k, &precision)
            .map_err(|e| e.message().to_string())?;
        let kappa = series.kappa.to_f64();
        let psi = series.psi.to_f64();
        let kr = series.kappa_radial.to_f64();
        let pr = series.psi_radial.to_f64();
        // Parseval remainders R (values) and R' (derivatives) at K.
        let rb = &series.remainders;
        let rem = |r: Option<f64>| r.unwrap_or(f64::INFINITY);
        let (r0s, r1s, r0t, r1t) = (
            rem(rb.student[0]),
            rem(rb.student[1]),
            rem(rb.teacher[0]),
            rem(rb.teacher[1]),
        );
        let rz = rem(rb.z_dsigma);
        let t_loss = sum_a * sum_a * r0s + 2.0 * sum_a * (r0s * r0t).sqrt();
        let t_grad = 4.0 * (sum_a * r1s + (r1s * r1t).sqrt());
        let t_rad = 2.0 * (sum_a * (rz * r0s).sqrt() + (rz * r0t).sqrt());
        (
            vec![
                ("kappa_series", kappa.clone()),
                ("psi_series", psi.clone()),
                ("kappa_radial_series", kr.clone()),
                ("psi_radial_series", pr.clone()),
            ],
            [
                AbsKernel::Series(kappa),
                AbsKernel::Series(psi),
                AbsKernel::Series(kr),
                AbsKernel::Series(pr),
            ],
            (t_loss, t_grad, t_rad),
            "power-series",
        )
    };
    let [kappa, psi, kappa_radial, psi_radial] = kernels;
    let oracle_degree = if relu { 40 } else { net.degree.max(40) };
    let oracle = Oracle::new(
        &student,
        std::slice::from_ref(&teacher),
        oracle_degree,
        digits,
    )
    .map_err(|e| e.to_string())?;
    let prec = oracle.precision();
    let th: Vec<Float> = theta.iter().map(|x| super::fl(*x, prec)).collect();
    let t = Teacher::single_index(teacher.clone(), th);
    let parameters = serde_json::json!({
        "student": net.student,
        "teacher": net.teacher,
        "n": n,
        "d": d,
        "seed": net.seed,
        "loss_scale": "full",
        "noise_variance": 0.0,
        "kernel_form": form,
        "series_degree": if relu { serde_json::Value::Null } else { net.degree.into() },
        "series_truncation_bound": {
            "loss": truncation.0,
            "tangent_gradient_over_abs_a_i": truncation.1,
            "radial_gradient_over_abs_a_i": truncation.2,
        },
        "formulas": "s_ij = <w_i,w_j>, t_i = <w_i,theta>, P_i = I - w_i w_i^T; \
    loss = sum_ij a_i a_j kappa(s_ij) - 2 sum_i a_i psi(t_i) + constant; \
    tangent_gradient_i = 2 a_i P_i (sum_j a_j kappa'(s_ij) w_j - psi'(t_i) theta); \
    radial_gradient_i = 2 a_i (sum_j a_j kappa_radial(s_ij) - psi_radial(t_i)) (j = i included); \
    velocity_i = 2 P_i (psi'(t_i) theta - sum_j a_j kappa'(s_ij) w_j)",
    });
    Ok(Setup {
        w,
        a,
        theta,
        constant,
        series,
        kappa,
        psi,
        kappa_radial,
        psi_radial,
        truncation,
        oracle,
        teacher: t,
        parameters,
    })
}

impl Setup {
    fn n(&self) -> usize {
        self.a.len()
    }
    fn d(&self) -> usize {
        self.theta.len()
    }

    fn inputs(&self) -> Vec<(String, Array)> {
        let (n, d) = (self.n(), self.d());
        let mut v = vec![
            (
                "w".to_string(),
                Array {
                    shape: vec![n, d],
                    data: self.w.clone(),
                },
            ),
            ("a".to_string(), vector(self.a.clone())),
            ("theta".to_string(), vector(self.theta.clone())),
            ("constant".to_string(), scalar(self.constant)),
        ];
        for (name, c) in &self.series {
            v.push((name.to_string(), vector(c.clone())));
        }
        v
    }

    fn rows_float(&self, prec: u32) -> (Vec<Float>, Vec<Vec<Float>>) {
        let d = self.d();
        let a = self.a.iter().map(|x| super::fl(*x, prec)).collect();
        let w = self
            .w
            .chunks(d)
            .map(|r| r.iter().map(|x| super::fl(*x, prec)).collect())
            .collect();
        (a, w)
    }

    /// Magnitudes: (loss, tangent row i, radial i) — velocity rows are tangent / |a_i|.
    fn magnitudes(&self) -> (f64, Vec<f64>, Vec<f64>) {
        let (n, d) = (self.n(), self.d());
        let delta = 2.0 * d as f64;
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
        let row = |i: usize| &self.w[i * d..(i + 1) * d];
        let mut loss = self.constant.abs();
        let mut tang = vec![0.0; n];
        let mut rad = vec![0.0; n];
        for i in 0..n {
            let ai = self.a[i].abs();
            let t = dot(row(i), &self.theta);
            let mut g = self.psi.eval(t, 1) + delta * self.psi.eval(t, 2);
            let mut r = self.psi_radial.eval(t, 0) + delta * self.psi_radial.eval(t, 1);
            loss += 2.0 * ai * (self.psi.eval(t, 0) + delta * self.psi.eval(t, 1));
            for j in 0..n {
                let aj = self.a[j].abs();
                let s = if i == j { 1.0 } else { dot(row(i), row(j)) };
                loss += ai * aj * (self.kappa.eval(s, 0) + delta * self.kappa.eval(s, 1));
                g += aj * self.kappa.eval(s, 1);
                if i != j {
                    g += aj * delta * self.kappa.eval(s, 2);
                }
                r += aj * (self.kappa_radial.eval(s, 0) + delta * self.kappa_radial.eval(s, 1));
            }
            tang[i] = 4.0 * ai * g;
            rad[i] = 2.0 * ai * r;
        }
        (loss, tang, rad)
    }
}

/// Checks that the series truncation is below tolerance/10 everywhere.
fn check_truncation(name: &str, what: &str, trunc: f64, tol: &[f64]) -> Result<(), String> {
    let min = tol.iter().cloned().fold(f64::INFINITY, f64::min);
    if trunc * 10.0 > min {
        return Err(format!(
            "case {name}: series truncation {trunc:e} of {what} is not below tolerance/10 ({min:e}): raise the degree"
        ));
    }
    let _ = ORACLE_MARGIN;
    Ok(())
}

/// A case's set-up, its rows at the oracle's precision and the oracle's evaluation there.
#[allow(clippy::type_complexity)]
fn evaluated(
    net: &Net,
) -> Result<
    (
        Setup,
        Vec<Float>,
        Vec<Vec<Float>>,
        crate::population::PopulationResult,
    ),
    String,
> {
    let s = setup(net)?;
    let (a, w) = s.rows_float(s.oracle.precision());
    let r = s
        .oracle
        .evaluate(&a, &w, &s.teacher)
        .map_err(|e| format!("case {}: {e}", net.name))?;
    Ok((s, a, w, r))
}

fn build_population() -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for net in POPULATION {
        let (s, _, _, r) = evaluated(net)?;
        let (n, d) = (s.n(), s.d());
        let (ml, mt, mr) = s.magnitudes();
        let expand = |per_row: &[f64], scale: &dyn Fn(usize) -> f64| -> Vec<f64> {
            (0..n * d).map(|x| per_row[x / d] * scale(x / d)).collect()
        };
        let one = |_: usize| 1.0;
        let inv_a = |i: usize| 1.0 / s.a[i].abs();
        let flat = |m: &Vec<Vec<crate::population::Bounded>>| -> (Vec<Float>, Vec<Float>) {
            m.iter()
                .flatten()
                .map(|b| (b.value.clone(), b.abs_error_bound.clone()))
                .unzip()
        };
        let (tv, tb) = flat(&r.tangent_gradient);
        let (vv, vb) = flat(&r.velocity);
        let loss_tol = Quantity::tolerances(&[ml]);
        let tang_tol = Quantity::tolerances(&expand(&mt, &one));
        let vel_tol = Quantity::tolerances(&expand(&mt, &inv_a));
        let rad_tol = Quantity::tolerances(&mr);
        let (tl, tg, tr) = s.truncation;
        check_truncation(net.name, "the loss", tl, &loss_tol)?;
        let amax = s.a.iter().cloned().fold(0.0, f64::max);
        check_truncation(net.name, "the tangent gradient", tg * amax, &tang_tol)?;
        check_truncation(net.name, "the velocity", tg, &vel_tol)?;
        check_truncation(net.name, "the radial gradient", tr * amax, &rad_tol)?;
        let quantities = vec![
            Quantity {
                name: "loss".into(),
                description: "population loss E[(f - y)^2] (scalar)".into(),
                shape: vec![],
                values: vec![r.loss.value.clone()],
                bounds: vec![r.loss.abs_error_bound.clone()],
                tolerance: loss_tol,
                tolerance_rule: "M = sum_ij |a_i a_j| (kb(s_ij) + 2d kb'(s_ij)) + 2 sum_i |a_i| (psib(t_i) + 2d psib'(t_i)) + |constant|, kb/psib the absolute series".into(),
                bound_kind: r.loss_kind,
            },
            Quantity {
                name: "tangent_gradient".into(),
                description: "g_i = P_i grad_{w_i} L, N x d".into(),
                shape: vec![n, d],
                values: tv,
                bounds: tb,
                tolerance: tang_tol,
                tolerance_rule: "row i: M_i = 4 |a_i| (sum_j |a_j| kb'(s_ij) + 2d sum_{j!=i} |a_j| kb''(s_ij) + psib'(t_i) + 2d psib''(t_i))".into(),
                bound_kind: r.gradient_kind,
            },
            Quantity {
                name: "radial_gradient".into(),
                description: "rho_i = <w_i, grad_{w_i} L> (true x-gradient, j = i term included), N".into(),
                shape: vec![n],
                values: r.radial_gradient.iter().map(|b| b.value.clone()).collect(),
                bounds: r.radial_gradient.iter().map(|b| b.abs_error_bound.clone()).collect(),
                tolerance: rad_tol,
                tolerance_rule: "M_i = 2 |a_i| (sum_j |a_j| (rb(s_ij) + 2d rb'(s_ij)) + rb*(t_i) + 2d rb*'(t_i)), rb, rb* the absolute radial series".into(),
                bound_kind: r.gradient_kind,
            },
            Quantity {
                name: "velocity".into(),
                description: "v_i = 2 P_i (psi'(t_i) theta - sum_j a_j kappa'(s_ij) w_j) = -g_i/a_i, N x d".into(),
                shape: vec![n, d],
                values: vv,
                bounds: vb,
                tolerance: vel_tol,
                tolerance_rule: "row i: the tangent gradient's M_i / |a_i|".into(),
                bound_kind: r.gradient_kind,
            },
        ];
        out.push(Case {
            name: net.name.into(),
            description: format!(
                "student {}, teacher {}, N = {n}, d = {d}, seed {}",
                net.student, net.teacher, net.seed
            ),
            parameters: s.parameters.clone(),
            inputs: s.inputs(),
            quantities,
        });
    }
    Ok(out)
}

fn build_step() -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for net in STEP {
        let (s, a, w, r) = evaluated(net)?;
        let (n, d) = (s.n(), s.d());
        let eta = super::fl(net.eta, s.oracle.precision());
        let (_, mt, mr) = s.magnitudes();
        let lr = net.eta * n as f64;
        let mut quantities = Vec::new();
        for (update, qname, what) in [
            (Update::Euclidean, "w_euclidean", "w_i <- (1 - eta N rho_i) w_i - eta N g_i, then normalise (the primary paper's code)"),
            (Update::Tangent, "w_tangent", "w_i <- w_i - eta N g_i, then normalise"),
            (Update::Geodesic, "w_geodesic", "w_i <- cos(phi) w_i - sin(phi) g_i/|g_i|, phi = eta N |g_i| (exponential map)"),
        ] {
            let st = s
                .oracle
                .step(&a, &w, &s.teacher, &eta, update)
                .map_err(|e| format!("case {}: {e}", net.name))?;
            let mut mags = Vec::with_capacity(n * d);
            for i in 0..n {
                let g: Vec<f64> = r.tangent_gradient[i].iter().map(|b| b.value.to_f64()).collect();
                let gn = g.iter().map(|x| x * x).sum::<f64>().sqrt();
                let rho = r.radial_gradient[i].value.to_f64();
                let xnorm = match update {
                    Update::Euclidean => ((1.0 - lr * rho).powi(2) + (lr * gn).powi(2)).sqrt(),
                    Update::Tangent => (1.0 + (lr * gn).powi(2)).sqrt(),
                    Update::Geodesic => 1.0,
                };
                let m = 2.0 / xnorm
                    * (lr * ((1.0 + (d as f64).sqrt()) * mt[i] + mr[i])
                        + 1.0
                        + lr * rho.abs()
                        + lr * gn)
                    + 2.0 * d as f64;
                mags.extend(std::iter::repeat_n(m, d));
            }
            quantities.push(Quantity {
                name: qname.into(),
                description: format!("{what}; N x d"),
                shape: vec![n, d],
                values: st.w.iter().flatten().cloned().collect(),
                bounds: st.abs_error_bound.iter().flatten().cloned().collect(),
                tolerance: Quantity::tolerances(&mags),
                tolerance_rule: "row i: M_i = (2/|x_i|) (eta N ((1 + sqrt d) M_g,i + M_rho,i) + 1 + eta N |rho_i| + eta N |g_i|) + 2d, M_g and M_rho the population suite's magnitudes".into(),
                bound_kind: st.kind,
            });
        }
        let mut parameters = s.parameters.clone();
        parameters["eta"] = net.eta.into();
        parameters["learning_rate"] = "eta * N".into();
        let mut inputs = s.inputs();
        inputs.push(("eta".into(), scalar(net.eta)));
        out.push(Case {
            name: net.name.into(),
            description: format!(
                "one step, student {}, teacher {}, N = {n}, d = {d}, eta = {}",
                net.student, net.teacher, net.eta
            ),
            parameters,
            inputs,
            quantities,
        });
    }
    Ok(out)
}
