//! The local Hessian in the symmetric (rotation-invariant) case, in closed form.
//!
//! A particle at w = αθ + βu (β = √(1 − α²) > 0) under a law invariant under the rotations
//! fixing θ moves with v(w) = g(α) e, e = βθ − αu (docs/conventions.md §4). Writing v = G(α)(θ − αw) with
//! G = g/β (θ − αw = βe), the covariant derivative at fixed law is (proofs-notes/local-hessian.md
//! §1)
//!
//!   H = β²G'(α) e eᵀ − αG(α) I_T,
//!
//! so the eigenvalue along e is λ_e = β²G' − αG, the eigenvalue on the d − 2 directions ⊥ {w, e}
//! is λ_⊥ = −αG, and ‖v‖ = β|G|. Substituting G = g/β, G' = g'/β + αg/β³:
//!
//!   λ_e = β g'(α),   λ_⊥ = −α g(α)/β,   ‖v‖ = |g(α)|,
//!
//! where g' = dg/dα along the sphere at fixed law. Without interaction g = 2·scale·βψ'(α), so
//! λ_e = 2·scale·(β²ψ''(α) − αψ'(α)) and λ_⊥ = −2·scale·αψ'(α). With interaction
//! g = 2·scale·[(ψ' − A)β + Bα] and
//! g' = 2·scale·[(ψ'' − A')β − (ψ' − A)α/β + B'α + B].
//!
//! H is symmetric (v is minus the Riemannian gradient of a potential), so ‖H‖ = max(|λ_e|, |λ_⊥|)
//! (for d ≥ 3, when the ⊥ directions exist). R1 = ‖H‖/‖v‖ and R2 = |α|·R1 are independent of the
//! loss scale. Accuracy: plain f64 formulas (a few ulps relative to the magnitudes of the terms,
//! an estimate); the MPFR twin [`symmetric_hessian_rug`] is the oracle, and
//! [`symmetric_hessian_enclosure`] / [`ratios_enclosure`] give proven intervals (outward rounding)
//! for the interaction-free closed form. Tests: tests/hessian.rs (`symmetric_*`).
//!
//! With interaction in MPFR: [`with_interaction_rug`] takes g and g' from the oracle's exact
//! γ-polynomial (`crate::meanfield::oracle::Field::velocity_and_derivative`) and returns λ_e,
//! λ_⊥, ‖v‖ to a few roundings of its inputs; [`ratios_rug`] gives R1, R2. Tests: tests/hessian.rs
//! `oracle_g_prime_matches_dual` (g' against dual numbers on the term-by-term A, B formula, to
//! working precision), `oracle_hessian_matches_f64_flow` (against the f64 [`with_interaction`]
//! along the f64 flow, within the flows' measured state and node errors propagated to g, g'),
//! `oracle_hessian_precision_doubling`.

use rug::Float;

/// The closed-form local Hessian of one particle in the symmetric case (f64).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SymmetricHessian {
    pub alpha: f64,
    pub beta: f64,
    /// Eigenvalue along e (the direction towards θ).
    pub lambda_e: f64,
    /// Eigenvalue on the d − 2 directions ⊥ {w, e}.
    pub lambda_perp: f64,
    /// ‖v‖ = |g|.
    pub speed: f64,
    /// The signed velocity coefficient g (v = g·e): its sign tells the direction of motion, and
    /// a change of sign along a trajectory means v passed through 0 with H ≠ 0.
    pub g: f64,
}

impl SymmetricHessian {
    /// ‖H‖ = max(|λ_e|, |λ_⊥|).
    pub fn norm(&self) -> f64 {
        self.lambda_e.abs().max(self.lambda_perp.abs())
    }
    /// The largest eigenvalue max(λ_e, λ_⊥) (the logarithmic norm of the symmetric H).
    pub fn lambda_max(&self) -> f64 {
        self.lambda_e.max(self.lambda_perp)
    }
    /// R1 = ‖H‖/‖v‖ (+∞ where v = 0 and H ≠ 0).
    pub fn r1(&self) -> f64 {
        self.norm() / self.speed
    }
    /// R2 = |α|·‖H‖/‖v‖.
    pub fn r2(&self) -> f64 {
        self.alpha.abs() * self.norm() / self.speed
    }
}

/// H from the velocity coefficient g(α) and its derivative g'(α) along the sphere (law fixed),
/// for |α| < 1.
pub fn symmetric_hessian(alpha: f64, g: f64, g_prime: f64) -> SymmetricHessian {
    symmetric_hessian_at(alpha, (1.0 - alpha * alpha).max(0.0).sqrt(), g, g_prime)
}

/// [`symmetric_hessian`] with β = √(1 − α²) > 0 given by the caller, e.g. as |cos ϑ| of a
/// latitude ϑ: near ±θ, forming β from α loses relative accuracy (≈ u/β²) and gives β = 0 once
/// 1 − |α| < u, while |cos ϑ| keeps β to a few ulps.
pub fn symmetric_hessian_at(alpha: f64, beta: f64, g: f64, g_prime: f64) -> SymmetricHessian {
    SymmetricHessian {
        alpha,
        beta,
        lambda_e: beta * g_prime,
        lambda_perp: -alpha * g / beta,
        speed: g.abs(),
        g,
    }
}

/// ψ as an f64 power series with its first two derivatives (Horner).
#[derive(Clone, Debug, PartialEq)]
pub struct PowerSeries {
    /// c_0, c_1, … (coefficient of s^k).
    pub c: Vec<f64>,
}

impl PowerSeries {
    pub fn new(c: Vec<f64>) -> Self {
        PowerSeries { c }
    }
    /// The r-th derivative at s, r = 0, 1, 2, by Horner on k(k−1)…(k−r+1)c_k.
    pub fn derivative(&self, r: usize, s: f64) -> f64 {
        let mut acc = 0.0;
        for k in (r..self.c.len()).rev() {
            let f = (0..r).map(|i| (k - i) as f64).product::<f64>();
            acc = acc * s + f * self.c[k];
        }
        acc
    }
}

/// The interaction-free symmetric Hessian: g = 2·scale·βψ'(α),
/// λ_e = 2·scale·(β²ψ'' − αψ'), λ_⊥ = −2·scale·αψ', ‖v‖ = 2·scale·β|ψ'|.
pub fn interaction_free(psi: &PowerSeries, scale: f64, alpha: f64) -> SymmetricHessian {
    let beta2 = (1.0 - alpha * alpha).max(0.0);
    let beta = beta2.sqrt();
    let (p1, p2) = (psi.derivative(1, alpha), psi.derivative(2, alpha));
    SymmetricHessian {
        alpha,
        beta,
        lambda_e: 2.0 * scale * (beta2 * p2 - alpha * p1),
        lambda_perp: -2.0 * scale * alpha * p1,
        speed: 2.0 * scale * beta * p1.abs(),
        g: 2.0 * scale * beta * p1,
    }
}

/// With interaction: g = 2·scale·[(ψ' − A)β + Bα] and g' as in the module doc, from A, B and their
/// derivatives dA/dα, dB/dα along the sphere at fixed law.
pub fn with_interaction(
    psi: &PowerSeries,
    scale: f64,
    alpha: f64,
    ab: (f64, f64),
    dab: (f64, f64),
) -> SymmetricHessian {
    let beta = (1.0 - alpha * alpha).max(0.0).sqrt();
    with_interaction_at(psi, scale, alpha, beta, ab, dab)
}

/// [`with_interaction`] at a point (α, β) with β > 0 given by the caller (see
/// [`symmetric_hessian_at`]); A, B, A', B' must be evaluated at the same (α, β)
/// ([`crate::hessian::law::ReducedLaw::hessian_at`]).
pub fn with_interaction_at(
    psi: &PowerSeries,
    scale: f64,
    alpha: f64,
    beta: f64,
    ab: (f64, f64),
    dab: (f64, f64),
) -> SymmetricHessian {
    let (a, b) = ab;
    let (da, db) = dab;
    let (p1, p2) = (psi.derivative(1, alpha), psi.derivative(2, alpha));
    let g = 2.0 * scale * ((p1 - a) * beta + b * alpha);
    let gp = 2.0 * scale * ((p2 - da) * beta - (p1 - a) * alpha / beta + db * alpha + b);
    symmetric_hessian_at(alpha, beta, g, gp)
}

/// The MPFR closed form (the oracle): λ_e, λ_⊥, ‖v‖ of the interaction-free velocity at `prec`
/// bits from the series coefficients of ψ (exact polynomial or truncated series as given):
/// λ_e = 2·scale·(β²ψ''(α) − αψ'(α)), λ_⊥ = −2·scale·αψ'(α), ‖v‖ = 2·scale·β|ψ'(α)|.
/// Returned as [λ_e, λ_⊥, ‖v‖]; every operation rounds to nearest, so the values carry no
/// bound of their own: [`symmetric_hessian_enclosure`] is the same closed form with outward
/// rounding (an enclosure), and contains these values up to their rounding.
pub fn symmetric_hessian_rug(psi: &[Float], scale: &Float, alpha: &Float, prec: u32) -> [Float; 3] {
    let mut p1 = Float::new(prec);
    let mut p2 = Float::new(prec);
    for k in (1..psi.len()).rev() {
        p1 *= alpha;
        p1 += Float::with_val(prec, &psi[k] * (k as u64));
    }
    for k in (2..psi.len()).rev() {
        p2 *= alpha;
        p2 += Float::with_val(prec, &psi[k] * ((k * (k - 1)) as u64));
    }
    let beta2 = Float::with_val(prec, 1u32 - Float::with_val(prec, alpha.square_ref()));
    let beta = Float::with_val(prec, beta2.sqrt_ref());
    let two_s = Float::with_val(prec, scale * 2u32);
    let ap1 = Float::with_val(prec, alpha * &p1);
    let le = Float::with_val(prec, &beta2 * &p2 - &ap1) * &two_s;
    let lp = -Float::with_val(prec, &ap1 * &two_s);
    let sp = Float::with_val(prec, &beta * &p1).abs() * &two_s;
    [le, lp, sp]
}

/// The MPFR closed form *with* interaction (the oracle along the flow): from the velocity
/// coefficient g and its derivative g' = dg/dα along the sphere at fixed law (for the reduced
/// flow, `crate::meanfield::oracle::Field::velocity_and_derivative`, exact from the
/// γ-polynomial), at the particle (α, β), β ≠ 0:
///
///   λ_e = βg',  λ_⊥ = −αg/β,  ‖v‖ = |g|
///
/// (module doc; proofs-notes/local-hessian.md §1). α and β are used as given (the oracle's state
/// carries both; no β = √(1 − α²) is substituted). Returned as [λ_e, λ_⊥, ‖v‖] at `prec` bits;
/// each is one or two correctly rounded operations on its inputs (relative error ≤ 2·2^{−prec}
/// beyond the inputs' own). This function shares no code with the f64 [`with_interaction`]
/// (which builds g, g' from ψ', ψ'', A, B, A', B'); tests/hessian.rs
/// `oracle_hessian_matches_f64_flow` compares the two along the flow.
pub fn with_interaction_rug(
    alpha: &Float,
    beta: &Float,
    g: &Float,
    g_prime: &Float,
    prec: u32,
) -> [Float; 3] {
    let le = Float::with_val(prec, beta * g_prime);
    let mut lp = Float::with_val(prec, alpha * g);
    lp /= beta;
    lp = -lp;
    let sp = Float::with_val(prec, g.abs_ref());
    [le, lp, sp]
}

/// R1 = ‖H‖/‖v‖ and R2 = |α|·R1 in MPFR from [λ_e, λ_⊥, ‖v‖] (as returned by
/// [`with_interaction_rug`] or [`symmetric_hessian_rug`]), ‖H‖ = max(|λ_e|, |λ_⊥|). Returned as
/// [R1, R2]; +∞ where ‖v‖ = 0 and H ≠ 0 (MPFR division by zero).
pub fn ratios_rug(alpha: &Float, h: &[Float; 3], prec: u32) -> [Float; 2] {
    let e = Float::with_val(prec, h[0].abs_ref());
    let p = Float::with_val(prec, h[1].abs_ref());
    let norm = if e > p { e } else { p };
    let r1 = Float::with_val(prec, &norm / &h[2]);
    let r2 = Float::with_val(prec, &r1 * Float::with_val(prec, alpha.abs_ref()));
    [r1, r2]
}

/// An *enclosure* of the interaction-free closed form: intervals containing λ_e, λ_⊥ and ‖v‖
/// (in that order) for every ψ coefficient in `psi[k]`, loss scale in `scale` and α in `alpha`
/// (|α| ≤ 1), computed in outward-rounded MPFR interval arithmetic (`crate::hessian::interval`) by
/// the same formulas as [`symmetric_hessian_rug`]: ψ', ψ'' by Horner, β² = (1 − α)(1 + α),
/// λ_e = 2·scale·(β²ψ'' − αψ'), λ_⊥ = −2·scale·αψ', ‖v‖ = 2·scale·β|ψ'|. With point inputs (the
/// coefficients as given, α an f64) the width is a few roundings at the intervals' precision; with
/// coefficient balls (value ± bound) it carries their error too. This is the bound that
/// [`symmetric_hessian_rug`] (round-to-nearest) does not return: its values lie in these intervals
/// up to its own rounding (test `symmetric_enclosure_contains_oracle`).
pub fn symmetric_hessian_enclosure(
    psi: &[super::interval::Interval],
    scale: &super::interval::Interval,
    alpha: &super::interval::Interval,
) -> [super::interval::Interval; 3] {
    use super::interval::{horner, Interval};
    let p = alpha.prec();
    let d1: Vec<Interval> = (1..psi.len())
        .map(|k| psi[k].mul(&Interval::int(p, k as i64)))
        .collect();
    let d2: Vec<Interval> = (2..psi.len())
        .map(|k| psi[k].mul(&Interval::int(p, (k * (k - 1)) as i64)))
        .collect();
    let (p1, p2) = (horner(&d1, alpha), horner(&d2, alpha));
    let one = Interval::int(p, 1);
    let beta2 = one.sub(alpha).mul(&one.add(alpha));
    let beta = beta2.sqrt_clamped();
    let two_s = scale.mul(&Interval::int(p, 2));
    let ap1 = alpha.mul(&p1);
    let le = beta2.mul(&p2).sub(&ap1).mul(&two_s);
    let lp = Interval::int(p, 0).sub(&ap1.mul(&two_s));
    let sp = beta.mul(&p1).abs().mul(&two_s);
    [le, lp, sp]
}

/// Enclosures of R1 = max(|λ_e|, |λ_⊥|)/‖v‖ and R2 = |α|·R1 from enclosures of [λ_e, λ_⊥, ‖v‖]
/// ([`symmetric_hessian_enclosure`]); `None` when the ‖v‖ interval contains 0.
pub fn ratios_enclosure(
    alpha: &super::interval::Interval,
    h: &[super::interval::Interval; 3],
) -> Option<[super::interval::Interval; 2]> {
    let norm = h[0].abs().max(&h[1].abs());
    let r1 = norm.div(&h[2])?;
    let r2 = r1.mul(&alpha.abs());
    Some([r1, r2])
}
