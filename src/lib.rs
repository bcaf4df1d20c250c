//! # mforacle
//!
//! The verified numerical reference for the mean-field dynamics of one-hidden-layer networks
//! learning Gaussian single-index models. Conventions (normalised probabilists' Hermite
//! basis, loss without ½, learning rate ηN, time = steps·η) are those of
//! `docs/background.md`, restated in README.md.
//!
//! Layering (a lower layer never imports a higher one):
//! `hermite` (polynomials) → `activation` (specs) → `coeffs` (Hermite coefficients) →
//! `kernel` (dual kernels) → `cli`.

pub mod activation;
pub mod cli;
pub mod coeffs;
pub mod dynamics;
pub mod fast;
pub mod figures;
pub mod golden;
pub mod hermite;
pub mod hessian;
pub mod kernel;
pub mod meanfield;
pub mod memory;
pub mod output;
pub mod population;
pub mod recipes;
pub mod sampling;
