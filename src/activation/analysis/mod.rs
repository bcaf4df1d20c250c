//! Static analyses of expressions: validation, kinks, parity, derivative, polynomial form.
//!
//! Every analysis is conservative: when it cannot prove a property it says so (validation
//! rejects, `parity` answers `Neither`, `as_polynomial` answers `None`). Constants that the
//! structural rules cannot sign are signed numerically: evaluated at 256 and 384 bits, and
//! accepted only when both agree and |value| > 2^−128·max(1, largest intermediate); an
//! exactly-zero constant the rules do not recognise evaluates to about 2^−256 times its
//! largest intermediate and is therefore treated as "possibly zero".
//!
//! Validation rules (proofs-note `proofs-notes/activation.md` §3):
//! (a) growth: |σ(z)| ≤ C_ε exp((c+ε) z²) for every ε > 0 with c < 1/4, so E σ(Z)² |Z|^m < ∞
//!     for every m (L²(N(0,1)) and every Gaussian moment); see [`Growth`];
//! (b) relu/abs/step/sign of a non-constant argument need an affine argument a·z + b, a ≠ 0;
//! (c) a denominator must be provably nonzero (a constant one must evaluate to nonzero);
//! (d) sqrt needs an argument provably ≥ 0, log1p one provably > −1;
//! (e) every constant subexpression must evaluate to a finite number (no NaN, no overflow).
//!
//! Tests: `tests/activation.rs` (`error_*`, `validate_*`, `kinks_*`, `parity_*`,
//! `derivative_*`, `polynomial_*`).

use super::ast::{Expr, Func};
use super::eval::eval_const_rug;
use super::parse::{parse_spanned, Spanned};
use super::{Kink, Parity, SpecError};
use crate::hermite::{he_coefficients, sqrt_factorial_parts};
use rug::float::Round;
use rug::{Float, Integer, Rational};
use std::cmp::Ordering;

/// Precision of the numerical checks on constants.
const CHECK_PREC: u32 = 256;
/// Largest total size (in nodes) of the coefficients `as_polynomial` will build.
pub const MAX_POLY_NODES: usize = 200_000;

mod constants;
mod derivative;
mod growth;
mod kinks;
mod parity;
mod polynomial;
mod sign;
mod simplify;
mod validation;

pub use constants::*;
pub use derivative::*;
pub use growth::*;
pub use kinks::*;
pub use parity::*;
pub use polynomial::*;
use sign::*;
use simplify::*;
pub use validation::*;
