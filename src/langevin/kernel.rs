//! # The kernel (lazy) limit: tangent kernel at initialisation, its spectrum, the kernel-flow
//! risk curve (proofs-notes/langevin-kernel.md)
//!
//! Setting: θ = (a, w), w uniform on S^{d−1}, a_0 = ±1, x ~ N(0, I_d), f_α = α∫aσ(⟨w, x⟩)dρ
//! with ∫aσ dρ_0 = 0 and time rescaled by α^{−2}. As α → ∞ the predictor follows
//! df/dt = −2c[T(f − f*) + λf] (c the loss scale, λ the ridge), T the integral operator of
//!
//!   K_0(x, x') = c_a E_w[σ(w·x)σ(w·x')] + c_w E_w[σ'(w·x)σ'(w·x')⟨P_w x, P_w x'⟩],
//!
//! (c_a, c_w) = (1, 1) for `aw`, (0, 1) for `w`, (1, 0) for `a`; P_w the projection on the
//! tangent space (w stays on the sphere).
//!
//! Spectrum (Funk–Hecke): with κ(t) = Σ_l ν_l P_l(t) (P_l Gegenbauer of index (d−2)/2,
//! P_l(1) = 1, ν_l = N_l μ_l, μ_l = E_t[κ P_l]), T has the eigenvalue
//! λ_l = μ_l (c_a + c_w l(l + d − 2)) with multiplicity N_l (the harmonic dimension). The
//! teacher's energy in eigenspace l is E_l = ν_l(ψ)²/ν_l(κ) (= ν_l(κ) when σ = σ*); the rest of
//! E σ*² is never learned. Risk curve:
//! R_K(t) = E σ*² − Σ_l E_l (1 − g_l(t)²), g_l = [λ + λ_l e^{−2c(λ_l + λ)t}]/(λ_l + λ);
//! R_K(∞) is the population kernel ridge regression risk.
//! The kernel printed in the overlap c is the series K̄_0(c) = Σ_l N_l λ_l P_l(c), which is
//! E_r K_0(ru, ru') over a common radius r ~ χ_d (⟨u, u'⟩ = c, |u| = 1) and, for a positively
//! 1-homogeneous σ (relu), d·K_0(x, x')/(|x||x'|) for every x, x'.
//!
//! Two routes for ν_l:
//! - the power series κ_K(t) = Σ_{k≤K} a_k t^k (any σ; [`funk_hecke_series`], by the
//!   recurrence of [`super::fast::funk_hecke_from_series`]); the tail r = κ − κ_K satisfies
//!   Σ_l |ν_l(r)| ≤ Σ_{k>K}|a_k| ≤ τ_0 and Σ_l |ν_l(r)| l(l+d−2) ≤ (d−1)τ_1 (τ_r the rigorous
//!   Cauchy–Schwarz tails of the series), which bounds every ν_l and the kernel series;
//! - the closed form for relu ([`super::kernel_relu`]), summed to `lmax`; the kernel series'
//!   tail is then the trace remainder tr T − Σ_{l≤L} N_l λ_l, with
//!   tr T = E_x K_0(x, x) = c_a E σ² + c_w (d − 1) E σ'² from the Hermite norms.
//!
//! Accuracy contract: every bound is an *estimate* (f64 arithmetic with first-order rounding
//! terms; the truncation terms are rigorous given the coefficient tables). The energy beyond
//! the last resolved l is counted as never learned; its size is bounded by the teacher's own
//! Funk–Hecke tail (E_l ≤ ν_l(κ*) by Cauchy–Schwarz) and enters the bound of R_K.
//! Tests: `tests/langevin_kernel.rs`.

use super::fast::{funk_hecke_from_series, gegenbauer};
use super::{harmonic_dimension, BoundKind, LangevinError, Quantity};
use crate::activation::{Parity, Spec};
use crate::conventions::LossScale;
use crate::kernel::{closed_kernel, ClosedKernel, SeriesKernel};
use crate::meanfield::Model;

const U: f64 = f64::EPSILON / 2.0;

/// Which parameters are trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trained {
    /// The second layer a only (random features).
    A,
    /// The first layer w only (a fixed at ±1).
    W,
    /// Both.
    Aw,
}

impl Trained {
    /// (c_a, c_w).
    pub fn weights(self) -> (f64, f64) {
        match self {
            Trained::A => (1.0, 0.0),
            Trained::W => (0.0, 1.0),
            Trained::Aw => (1.0, 1.0),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Trained::A => "a",
            Trained::W => "w",
            Trained::Aw => "aw",
        }
    }
}

/// Funk–Hecke coefficients ν_l = N_l μ_l of a zonal kernel, l = 0..=L, with bounds on
/// |ν_l − exact ν_l| for l ≤ L.
#[derive(Clone, Debug)]
pub struct FunkHecke {
    pub nu: Vec<f64>,
    pub bound: Vec<f64>,
    pub route: &'static str,
}

/// ν_l of a series kernel: those of κ_K by the monomial recurrence, with bound
/// τ_0 + (coefficient bounds) + 4(K + 2)u·(the same recurrence on |a_k|) (all recurrence
/// weights are ≥ 0, so rounding is relative to the sum of absolute terms).
pub fn funk_hecke_series(k: &SeriesKernel, d: usize) -> FunkHecke {
    let a = k.to_f64();
    let nu = funk_hecke_from_series(&a, d);
    let abs: Vec<f64> = a.iter().map(|x| x.abs()).collect();
    let nabs = funk_hecke_from_series(&abs, d);
    let cb: Vec<f64> = k
        .bound
        .iter()
        .zip(&a)
        .map(|(b, x)| b.to_f64() + U * x.abs())
        .collect();
    let nb = funk_hecke_from_series(&cb, d);
    let kk = a.len() as f64;
    let bound = (0..a.len())
        .map(|l| k.tail[0] + nb[l] + 4.0 * (kk + 2.0) * U * nabs[l])
        .collect();
    FunkHecke {
        nu,
        bound,
        route: "hermite-series",
    }
}

/// The kernel limit of one problem: spectrum, energies and the data of the risk curve.
#[derive(Clone, Debug)]
pub struct KernelLimit {
    pub d: usize,
    /// Loss scale c (1 or ½).
    pub c: f64,
    pub trained: Trained,
    /// Largest l with a resolved eigenvalue.
    pub lmax: usize,
    pub kappa: FunkHecke,
    /// N_l, l ≤ lmax.
    pub multiplicity: Vec<f64>,
    /// μ_l(κ).
    pub mu: Vec<Quantity<f64>>,
    /// λ_l = μ_l (c_a + c_w l(l + d − 2)).
    pub lambda: Vec<Quantity<f64>>,
    /// E_l, the teacher's energy in eigenspace l.
    pub energy: Vec<Quantity<f64>>,
    /// E σ*² (the risk at t = 0).
    pub teacher_norm: f64,
    /// Energy never learned at any t (Eσ*² − Σ_l E_l over all l).
    pub never_learnable: Quantity<f64>,
    /// Upper bound on Σ_{l > lmax} E_l (counted as never learned in R_K).
    pub beyond: f64,
    /// tr T = E_x K_0(x, x) from the Hermite norms E σ², E σ'² (None: σ' ∉ L² with c_w > 0).
    pub trace: f64,
    /// Bound on |K̄_0(c) − Σ_{l≤L} N_l λ_l P_l(c)| for every c.
    pub kernel_tail: f64,
}

/// The ν_l of κ_{σ,τ}: the relu closed form for relu/relu, else the series (its tail must be
/// ≤ `tol`).
fn funk_hecke_of(
    k: &SeriesKernel,
    closed: Option<ClosedKernel>,
    d: usize,
    lmax_closed: usize,
    tol: f64,
    name: &str,
) -> Result<FunkHecke, LangevinError> {
    if closed == Some(ClosedKernel::ReluRelu) {
        return Ok(super::kernel_relu::funk_hecke(d, lmax_closed));
    }
    let t = k.tail[0];
    if !(t <= tol) {
        return Err(LangevinError::Kernel(format!(
            "the series of {name} at degree {} has truncation bound {t:.3e} > {tol:.1e}: its Gegenbauer coefficients cannot be bounded at the requested accuracy (raise --degree or --kernel-tol)",
            k.coefficients.len() - 1
        )));
    }
    Ok(funk_hecke_series(k, d))
}

impl KernelLimit {
    /// The spectrum of the problem `model` (κ, ψ, E σ*²), with `teacher_self` the model of the
    /// teacher against itself (for the tail of the energies; `None` when σ = σ*), the norms
    /// (E σ², E σ'²) of the student (E σ'² = None when σ' ∉ L²), `lmax_closed` the last l of the
    /// closed-form route, `tol` the largest accepted series truncation.
    pub fn new(
        model: &Model,
        teacher_self: Option<&Model>,
        norms: (f64, Option<f64>),
        trained: Trained,
        lmax_closed: usize,
        tol: f64,
    ) -> Result<KernelLimit, LangevinError> {
        let d = model.d;
        super::check_inputs(model, 1.0)?;
        let (ca, cw) = trained.weights();
        let closed_k = closed_kernel(&model.student, &model.student);
        let mut kappa =
            funk_hecke_of(&model.kappa, closed_k.clone(), d, lmax_closed, tol, "kappa")?;
        // An odd (even) σ has c_k = 0 for every even (odd) k, so κ and ψ have no component of
        // that parity: ν_l(κ) = ν_l(ψ) = 0 exactly there (the teacher's energy too, A f* = ψ).
        let forbidden = |l: usize| match model.student.parity() {
            Parity::Odd => l % 2 == 0,
            Parity::Even => l % 2 == 1,
            Parity::Neither => false,
        };
        for l in 0..kappa.nu.len() {
            if forbidden(l) {
                kappa.nu[l] = 0.0;
                kappa.bound[l] = 0.0;
            }
        }
        let trace = match norms.1 {
            _ if cw == 0.0 => ca * norms.0,
            Some(n1) => ca * norms.0 + cw * (d as f64 - 1.0) * n1,
            None => {
                return Err(LangevinError::Kernel(format!(
                    "{}: the derivative is not in L²(N(0,1)), so the tangent kernel of the trained w has an unbounded trace (train a only)",
                    model.student.source
                )))
            }
        };
        let same = teacher_self.is_none();
        let (psi, teacher_fh) = if same {
            (kappa.clone(), kappa.clone())
        } else {
            let ts = teacher_self.expect("teacher model");
            let closed_p = closed_kernel(&model.student, &model.teacher);
            let closed_t = closed_kernel(&model.teacher, &model.teacher);
            (
                funk_hecke_of(&model.psi, closed_p, d, lmax_closed, tol, "psi")?,
                funk_hecke_of(
                    &ts.kappa,
                    closed_t,
                    d,
                    lmax_closed,
                    tol,
                    "the teacher's kernel",
                )?,
            )
        };
        let lmax = kappa.nu.len().min(psi.nu.len()).min(teacher_fh.nu.len()) - 1;
        let teacher_norm = model.teacher_norm.0.to_f64();
        let multiplicity: Vec<f64> = (0..=lmax).map(|l| harmonic_dimension(l, d)).collect();
        let est = |value: f64, bound: f64| Quantity {
            value,
            bound,
            kind: BoundKind::Estimate,
        };
        let mut mu = Vec::with_capacity(lmax + 1);
        let mut lambda = Vec::with_capacity(lmax + 1);
        let mut energy = Vec::with_capacity(lmax + 1);
        let mut learned = 0.0;
        let mut learned_err = 0.0;
        for l in 0..=lmax {
            let nl = multiplicity[l];
            let w = ca + cw * (l as f64) * (l as f64 + d as f64 - 2.0);
            let (nu, b) = (kappa.nu[l], kappa.bound[l]);
            let exact_zero = nu == 0.0 && b == 0.0;
            let q = |v: f64, bd: f64| {
                if exact_zero {
                    Quantity {
                        value: 0.0,
                        bound: 0.0,
                        kind: BoundKind::Exact,
                    }
                } else {
                    est(v, bd)
                }
            };
            mu.push(q(nu / nl, b / nl + 2.0 * U * (nu / nl).abs()));
            lambda.push(q(w * nu / nl, w * (b / nl + 4.0 * U * (nu / nl).abs())));
            let e = if nu == 0.0 && b == 0.0 {
                // ν_l(κ) = 0 exactly: σ(r w·u) has no degree-l part for any r, nor has A f*
                Quantity {
                    value: 0.0,
                    bound: 0.0,
                    kind: BoundKind::Exact,
                }
            } else if same {
                est(nu, b)
            } else {
                let (p, bp) = (psi.nu[l], psi.bound[l]);
                let upper_cs = teacher_fh.nu[l] + teacher_fh.bound[l];
                if nu > 4.0 * b && nu > 0.0 {
                    let hi = (p.abs() + bp).powi(2) / (nu - b);
                    let lo = (p.abs() - bp).max(0.0).powi(2) / (nu + b);
                    let v = p * p / nu;
                    est(
                        v,
                        ((hi - v).max(v - lo) + 4.0 * U * v).min(upper_cs.max(0.0)),
                    )
                } else {
                    // unresolved: E_l ∈ [0, ν_l(κ*)] (Cauchy–Schwarz)
                    let hi = upper_cs.max(0.0);
                    est(hi / 2.0, hi / 2.0)
                }
            };
            learned += e.value;
            learned_err += e.bound;
            energy.push(e);
        }
        // Energy beyond lmax: ≤ Σ_{l>L} ν_l(κ*) ≤ Eσ*² − Σ_{l≤L} (ν_l(κ*) − b_l), plus the
        // series tail when the teacher's route is the series (then Σ_{l≤K} ν_l(κ*_K) = κ*_K(1)).
        let t_sum: f64 = teacher_fh
            .nu
            .iter()
            .zip(&teacher_fh.bound)
            .take(lmax + 1)
            .map(|(v, b)| v - b)
            .sum();
        let beyond = (teacher_norm - t_sum).max(0.0) + 4.0 * (lmax as f64 + 2.0) * U * teacher_norm;
        let never_learnable = if same {
            Quantity {
                value: 0.0,
                bound: 0.0,
                kind: BoundKind::Exact,
            }
        } else {
            // Eσ*² − Σ_{l≤L} E_l − Σ_{l>L} E_l, the last in [0, beyond]
            let v = teacher_norm - learned - beyond / 2.0;
            est(
                v.max(0.0),
                beyond / 2.0 + learned_err + 4.0 * (lmax as f64 + 2.0) * U * teacher_norm,
            )
        };
        let partial: f64 = (0..=lmax)
            .map(|l| multiplicity[l] * lambda[l].value)
            .sum::<f64>();
        let kernel_tail = match &kappa.route {
            &"closed-form-relu" => {
                let err: f64 = lambda
                    .iter()
                    .zip(&multiplicity)
                    .map(|(q, n)| q.bound * n)
                    .sum();
                (trace - partial).abs() + err
            }
            _ => {
                let err: f64 = (0..=lmax)
                    .map(|l| {
                        (kappa.bound[l] - model.kappa.tail[0])
                            * (ca + cw * (l * (l + d - 2)) as f64)
                    })
                    .sum();
                let t1 = if cw > 0.0 { model.kappa.tail[1] } else { 0.0 };
                ca * model.kappa.tail[0] + cw * (d as f64 - 1.0) * t1 + err
            }
        };
        Ok(KernelLimit {
            d,
            c: model.scale(),
            trained,
            lmax,
            kappa,
            multiplicity,
            mu,
            lambda,
            energy,
            teacher_norm,
            never_learnable,
            beyond,
            trace,
            kernel_tail,
        })
    }

    /// Σ_{l≤L} N_l λ_l P_l(c), the kernel series in the overlap c ∈ [−1, 1], with its bound.
    pub fn kernel_series(&self, c: f64) -> Quantity<f64> {
        let p = gegenbauer(self.lmax, self.d, c);
        let (mut s, mut abs) = (0.0, 0.0);
        for l in 0..=self.lmax {
            let t = self.multiplicity[l] * self.lambda[l].value * p[l];
            s += t;
            abs += t.abs();
        }
        Quantity {
            value: s,
            bound: self.kernel_tail
                + 4.0 * (self.lmax as f64 + 4.0) * U * abs * (self.lmax as f64 + 1.0),
            kind: BoundKind::Estimate,
        }
    }

    /// R_K(t) with ridge λ ≥ 0: Eσ*² − Σ_{l≤L} E_l (1 − g_l(t)²), the energy beyond L counted
    /// as unlearned (the bound adds it), with first-order error terms.
    pub fn risk(&self, t: f64, ridge: f64) -> Quantity<f64> {
        let c = self.c;
        let mut learned = 0.0;
        let mut err = 0.0;
        for l in 0..=self.lmax {
            let (lam, bl) = (self.lambda[l].value.max(0.0), self.lambda[l].bound);
            let e = &self.energy[l];
            let s = lam + ridge;
            let (g, dg) = if t.is_infinite() {
                if lam - bl > 0.0 || ridge > 0.0 {
                    (ridge / s, ridge / (s * s))
                } else {
                    // λ_l not resolved from 0: g ∈ {0, 1}, counted in the bound
                    err += e.value.abs() + e.bound;
                    (1.0, 0.0)
                }
            } else if s <= 0.0 {
                (1.0, 2.0 * c * t)
            } else {
                let ex = (-2.0 * c * s * t).exp();
                let g = (ridge + lam * ex) / s;
                (g, 2.0 * c * t + ridge * (1.0 - ex) / (s * s))
            };
            let one_m = 1.0 - g * g;
            learned += e.value * one_m;
            err += e.bound * one_m + e.value * 2.0 * g.abs() * dg * bl + 4.0 * U * e.value.abs();
        }
        let v = self.teacher_norm - learned;
        Quantity {
            value: v,
            bound: err + self.beyond + 4.0 * (self.lmax as f64 + 2.0) * U * self.teacher_norm,
            kind: BoundKind::Estimate,
        }
    }

    /// R_K(∞), the population kernel ridge regression risk (E_res + Σ_l E_l λ²/(λ_l + λ)²).
    pub fn krr_risk(&self, ridge: f64) -> Quantity<f64> {
        self.risk(f64::INFINITY, ridge)
    }
}

/// The kernel limit of student σ against teacher σ* as `langevin kernel` builds it: kernels
/// from [`Model`] at 20 digits to degree `degree`, the teacher's own kernel when σ ≠ σ*, the
/// student's Hermite norms E σ², E σ'² (quadrature, independent of the tables).
#[allow(clippy::too_many_arguments)]
pub fn build(
    student: &Spec,
    teacher: &Spec,
    d: usize,
    degree: usize,
    scale: LossScale,
    trained: Trained,
    lmax: usize,
    tol: f64,
) -> Result<KernelLimit, LangevinError> {
    if d < 3 {
        return Err(LangevinError::Dimension(d));
    }
    let model_err = |e: crate::meanfield::ModelError| {
        match e {
        crate::meanfield::ModelError::NoDerivative(src) => LangevinError::Kernel(format!(
            "{src}: the kernels are built by the reduced-flow model, which needs a derivative; activations with jumps are not supported by the kernel limit yet"
        )),
        other => LangevinError::Kernel(other.to_string()),
    }
    };
    let model = Model::new(student, teacher, d, degree, 20, scale, 0.0).map_err(model_err)?;
    let teacher_self = if teacher.expr == student.expr {
        None
    } else {
        Some(Model::new(teacher, teacher, d, degree, 20, scale, 0.0).map_err(model_err)?)
    };
    let quad = |e: String| LangevinError::Kernel(format!("quadrature: {e}"));
    let n0 = crate::coeffs::norm_squared(student, 20).map_err(quad)?;
    let n1 = match student.derivative() {
        Some(ds) => Some(
            crate::coeffs::norm_squared(&ds, 20)
                .map_err(quad)?
                .0
                .to_f64(),
        ),
        None => None,
    };
    KernelLimit::new(
        &model,
        teacher_self.as_ref(),
        (n0.0.to_f64(), n1),
        trained,
        lmax,
        tol,
    )
}
