//! # mforacle
//!
//! The verified numerical reference for the mean-field dynamics of two-layer (and deep)
//! networks learning Gaussian single-index models. Conventions (normalised probabilists'
//! Hermite basis, loss without ½, learning rate ηN, time = steps·η) are those of
//! `docs/conventions.md`, carried in code by [`conventions`].
//!
//! Layering (a lower layer never imports a higher one):
//! - [`conventions`] (loss scale, update rules, error type), [`memory`] (estimates before
//!   allocating) and [`output`] (decimal printing,
//!   atomic writes, the certain-digits rule), [`rounding`] (upward-rounded MPFR operations),
//!   [`interval`] (the one outward-rounded interval type), [`poly`];
//! - expression → coefficients → kernels: [`hermite`] → [`activation`] → [`coeffs`] →
//!   [`kernel`] (with [`kernel::PopulationSeries`], the one builder of the population kernels'
//!   series and their truncation bounds);
//! - population: [`population`] (MPFR oracle: types, `setup`, `eval`, `ball`) and [`fast`]
//!   (f64 SIMD; [`fast::population_kernels`] and [`fast::evaluate_population`] from specs),
//!   siblings;
//! - mean field: [`meanfield`] (reduced flow, f64 — `flow/particles`, the continuous flow,
//!   `flow/discrete` — and MPFR) → [`hessian`] (with `eigen`) → [`concordance`]
//!   (the self-concordance report: tracer, certified bound, fits, CSV schema), [`dynamics`]
//!   (finite-width training with ideal particles, [`sampling`]);
//! - the seed rows: [`langevin`] (noisy dynamics, Gibbs fixed point), [`two_timescale`]
//!   (kernel-ridge readout), [`deep`] (deep mean-field limit);
//! - [`recipes`] (jobs, and from their files the figures and the manifest), [`figures`]
//!   (drawing), [`golden`] → [`cli`] (parsing, dispatch and printing only).

pub mod activation;
pub mod cli;
pub mod coeffs;
pub mod concordance;
pub mod conventions;
pub mod deep;
pub mod dynamics;
pub mod fast;
pub mod figures;
pub mod golden;
pub mod hermite;
pub mod hessian;
pub mod interval;
pub mod kernel;
pub mod langevin;
pub mod meanfield;
pub mod memory;
pub mod output;
pub mod poly;
pub mod population;
pub mod recipes;
pub mod rounding;
pub mod sampling;
pub mod two_timescale;
