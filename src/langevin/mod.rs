//! # Noisy mean-field dynamics: the Gibbs fixed point of mean-field Langevin on the sphere
//!
//! Setting (proofs-notes/langevin.md): neurons w on S^{d−1}, a_i = 1/N, x ~ N(0, I_d), teacher
//! y = σ*(⟨θ, x⟩), loss L = c·E(f − y)² with c = 1 (`full`) or ½ (`half`), risk R = L/c.
//! Noisy projected GD with per-step tangent noise √(2η/β) has the mean-field limit
//! ∂ρ = div(ρ∇Φ) + β⁻¹Δρ (diffusion coefficient 1/β), which decreases the free energy
//! F_β(ρ) = L(ρ) + β⁻¹ KL(ρ ‖ unif). Its unique minimiser is the Gibbs law
//! ρ* ∝ exp(−βΦ(·; ρ*)) · unif, with Φ = δL/δρ = 2c[κ̄ − ψ].
//!
//! Rotation invariance reduces it to the law p of s = ⟨w, θ⟩ on [−1, 1]:
//! p* ∝ w_unif(s) exp(−βφ(s)), w_unif ∝ (1 − s²)^{(d−3)/2},
//! φ(s) = 2c[Σ_l ν_l m_l P_l(s) − ψ(s)], κ(t) = Σ_l ν_l P_l(t) (Funk–Hecke), m_l = E_p P_l,
//! with P_l the Gegenbauer polynomials of index (d − 2)/2, P_l(1) = 1.
//!
//! Two routes that share no formula code:
//! - [`fast`] (f64): Newton in the Gegenbauer moments m_l, ν_l from the kernel's power series
//!   by the three-term recurrence of the monomials, Gauss–Jacobi in s ([`gauss`]).
//! - [`oracle`] (MPFR): Newton on the node values of φ, the interaction by Gauss–Jacobi in the
//!   angle variable z of the kernel itself (closed form for relu/erf pairs, otherwise the
//!   bounded power series), nodes and weights computed in MPFR.
//!
//! Accuracy contract. Every printed bound is an *estimate* (never an enclosure): the f64
//! route's is the change under doubling the nodes, plus a rounding term 16 ulps·(4 + β sup|φ|),
//! plus the Newton residual and the kernel-truncation term; the
//! oracle's is the change under doubling the precision and 1.25× the nodes, plus the
//! kernel-truncation term. Only the free energy's truncation term is proven (F* moves by at most
//! c(τ_κ + 2τ_ψ) when κ, ψ move by τ_κ, τ_ψ in sup norm); the others are first-order estimates
//! 2β·2c(τ_κ + τ_ψ)·sup|g| for an expectation of g. Tests: `tests/langevin.rs`.

pub mod fast;
pub mod flow;
pub mod flow_fv;
pub mod flow_spectral;
pub mod gauss;
pub mod kernel;
pub mod kernel_relu;
pub mod oracle;

use crate::meanfield::Model;

/// Kind of an error bound ([`crate::conventions::BoundKind`]).
pub use crate::conventions::BoundKind;

/// A number with an error bound and the bound's kind.
#[derive(Clone, Debug)]
pub struct Quantity<T> {
    pub value: T,
    pub bound: f64,
    pub kind: BoundKind,
}

/// The kernel-truncation budget of the Gibbs functionals, shared by the f64 route and the
/// oracle (each evaluates its own values; only this accounting of the kernels' truncation is
/// common). With tails τκ, τψ of the kernels as used, the potential φ moves by at most
/// δφ = 2c(τκ + τψ); F* moves by ≤ c(τκ + 2τψ) (proven, variational); an expectation of g moves
/// by ≈ 2β δφ sup|g| (first order: `resp` = 2β δφ).
pub(crate) struct Truncation {
    pub c: f64,
    pub beta: f64,
    /// [τκ, τψ].
    pub tails: [f64; 2],
    /// sup|κ| and sup|ψ| on [−1, 1].
    pub sup_kernel: f64,
    pub sup_psi: f64,
}

impl Truncation {
    pub fn dphi(&self) -> f64 {
        2.0 * self.c * (self.tails[0] + self.tails[1])
    }
    pub fn resp(&self) -> f64 {
        2.0 * self.beta * self.dphi()
    }
    pub fn sup_phi(&self) -> f64 {
        2.0 * self.c * (self.sup_kernel + self.sup_psi)
    }
    /// The truncation terms of the nine scalar functionals, in the order of [`Gibbs`]'s fields
    /// (free energy, loss, risk, KL, log Z, E s, E s², E|s|, interaction).
    pub fn terms(&self) -> [f64; 9] {
        let (c, beta, t) = (self.c, self.beta, self.tails);
        let (dphi, resp) = (self.dphi(), self.resp());
        let interaction = t[0] + resp * self.sup_kernel;
        let risk = interaction + 2.0 * (t[1] + resp * self.sup_psi);
        [
            c * (t[0] + 2.0 * t[1]),
            c * risk,
            risk,
            2.0 * beta * dphi + resp * beta * self.sup_phi(),
            beta * dphi,
            resp,
            resp,
            resp,
            interaction,
        ]
    }
}

/// The Gibbs fixed point and its functionals (density p of s w.r.t. ds, q = p/w_unif).
#[derive(Clone, Debug)]
pub struct Gibbs<T> {
    /// F = L + KL/β.
    pub free_energy: Quantity<T>,
    /// L = c·R.
    pub loss: Quantity<T>,
    /// R = E(f − y)² = I − 2E_pψ + Eσ*².
    pub risk: Quantity<T>,
    /// KL(p ‖ w_unif) = E_p log q.
    pub kl_to_uniform: Quantity<T>,
    /// log Z, Z = E_unif exp(−βφ).
    pub log_partition: Quantity<T>,
    pub mean_s: Quantity<T>,
    pub mean_s2: Quantity<T>,
    pub mean_abs_s: Quantity<T>,
    /// I = E_{p⊗p} κ(⟨w, w'⟩).
    pub interaction: Quantity<T>,
    /// m_l = E_p P_l(s), l = 0, 1, ….
    pub gegenbauer_moments: Vec<Quantity<T>>,
    /// Newton iterations of the final solve.
    pub iterations: usize,
    /// Final Newton residual (max-norm of the fixed-point equation in the route's unknowns).
    pub residual: f64,
    /// An estimate of the rounding error of `residual` itself (the size of the equations'
    /// evaluation error at the returned state), so that a residual at that level says "solved
    /// to rounding" rather than a number to trust digit by digit.
    pub residual_bound: f64,
    /// Quadrature nodes of the final solve.
    pub nodes: usize,
    /// Truncation bounds (sup norm on [−1, 1]) of the kernels κ and ψ as used (0 for a closed
    /// form or a polynomial).
    pub kernel_tails: [f64; 2],
}

/// Why a fixed point cannot be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LangevinError {
    #[error("beta = {0}: must be a finite number > 0")]
    Beta(f64),
    #[error("d = {0}: the reduced problem needs d >= 3")]
    Dimension(usize),
    #[error("{0}")]
    Kernel(String),
    #[error("{0}")]
    NoConvergence(String),
    /// The requested accuracy is out of reach at the largest resolution (a usage error: the
    /// message names the flag to change).
    #[error("{0}")]
    Resolution(String),
}

/// Checks β and d.
pub fn check_inputs(model: &Model, beta: f64) -> Result<(), LangevinError> {
    if !(beta.is_finite() && beta > 0.0) {
        return Err(LangevinError::Beta(beta));
    }
    if model.d < 3 {
        return Err(LangevinError::Dimension(model.d));
    }
    Ok(())
}

/// The sup-norm truncation bounds [τκ, τψ] of the model's kernels, refused (exit 2) when one
/// exceeds `kernel_tol` or is NaN.
pub(crate) fn checked_tails(model: &Model, kernel_tol: f64) -> Result<[f64; 2], LangevinError> {
    let tails = [model.kappa.tail[0], model.psi.tail[0]];
    for (name, t) in ["kappa", "psi"].iter().zip(tails) {
        if t.is_nan() || t > kernel_tol {
            return Err(LangevinError::Kernel(format!(
                "the series of {name} at degree {} has truncation bound {t:.3e} > {kernel_tol:.1e}: raise --degree or --kernel-tol",
                model.degree
            )));
        }
    }
    Ok(tails)
}

/// N_l = (2l + d − 2)(l + d − 3)!/(l!(d − 2)!), the dimension of the degree-l spherical
/// harmonics on S^{d−1}, in f64 (may be +∞ for huge l, d).
pub fn harmonic_dimension(l: usize, d: usize) -> f64 {
    if l == 0 {
        return 1.0;
    }
    let (lf, df) = (l as f64, d as f64);
    let log = (2.0 * lf + df - 2.0).ln() + libm::lgamma(lf + df - 2.0)
        - libm::lgamma(lf + 1.0)
        - libm::lgamma(df - 1.0);
    log.exp()
}

impl<T> Gibbs<T> {
    /// Assembles the result from the nine scalar functionals in field order (free energy, loss,
    /// risk, KL, log Z, E s, E s², E|s|, interaction; see [`Truncation::terms`]) and the rest.
    pub(crate) fn from_parts(
        scalars: [Quantity<T>; 9],
        gegenbauer_moments: Vec<Quantity<T>>,
        iterations: usize,
        residual: f64,
        residual_bound: f64,
        nodes: usize,
        kernel_tails: [f64; 2],
    ) -> Gibbs<T> {
        let [free_energy, loss, risk, kl_to_uniform, log_partition, mean_s, mean_s2, mean_abs_s, interaction] =
            scalars;
        Gibbs {
            free_energy,
            loss,
            risk,
            kl_to_uniform,
            log_partition,
            mean_s,
            mean_s2,
            mean_abs_s,
            interaction,
            gegenbauer_moments,
            iterations,
            residual,
            residual_bound,
            nodes,
            kernel_tails,
        }
    }
}

/// The Gegenbauer moments m_0..m_{l_out}: m_0 = E_p P_0 = 1 exactly for every probability law
/// (`one`), the others from `moment(l)`.
pub(crate) fn gegenbauer_moments<T>(
    l_out: usize,
    one: T,
    moment: impl Fn(usize) -> Quantity<T>,
) -> Vec<Quantity<T>> {
    let mut one = Some(one);
    (0..=l_out)
        .map(|l| match (l, one.take()) {
            (0, Some(v)) => Quantity {
                value: v,
                bound: 0.0,
                kind: BoundKind::Exact,
            },
            _ => moment(l),
        })
        .collect()
}
