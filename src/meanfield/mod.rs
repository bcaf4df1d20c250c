//! # The exact mean-field flow for a uniform start, reduced to one scalar per particle
//!
//! docs/conventions.md §4: if ρ_0 is uniform on S^{d−1}, every ρ_t is invariant under the rotations
//! fixing θ, and a particle w = αθ + βu (β = √(1 − α²) ≥ 0, u ⊥ θ fixed) moves in the plane of
//! θ and its initial u. With α' the overlap of an independent particle and z = ⟨u, u'⟩
//! (density ∝ (1 − z²)^{(d−4)/2}, E z^{2j} = Π_{i<j} (2i+1)/(d−1+2i)):
//! - A(α) = E[κ'(αα' + ββ'z) α'], B(α) = E[κ'(αα' + ββ'z) β'z];
//! - v = g(α) e with e = βθ − αu and g(α) = 2·scale·[(ψ'(α) − A)β + Bα]; dα/dt = βg, or with
//!   α = cos φ, dφ/dt = −g;
//! - loss L(ρ_t) = scale·(E[κ(αα' + ββ'z)] − 2E[ψ(α)] + E σ*² + ν²);
//! - radial part (for the Euclidean-step-then-normalise map) r(α) = 2·scale·(E[κ_rad(αα' +
//!   ββ'z)] − ψ_rad(α)); the discrete mean-field map with step η moves φ to
//!   φ − atan2(ηg, 1 − ηr) (Euclidean), φ − atan(ηg) (tangent), φ − ηg (geodesic).
//!
//! Modules: [`model`] (the kernels as power series with truncation bounds: the input data,
//! shared), `flow` (f64: graded Gauss–Legendre nodes in α_0, moments, adaptive Runge–Kutta,
//! outputs), `oracle` (MPFR, independent of `flow`). Proofs-note:
//! `proofs-notes/meanfield-reduction.md`.

pub mod flow;
pub mod model;
pub mod oracle;

pub use model::{Model, ModelError, SeriesKernel};
