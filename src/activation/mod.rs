//! Activation specs: a small expression language for real functions of one variable `z`.
//!
//! Grammar (whitespace is ignored):
//! ```text
//! expr   := term (('+' | '-') term)*
//! term   := unary (('*' | '/') unary)*
//! unary  := '-' unary | power
//! power  := atom ('^' ['-']? integer)?        (integer powers only; a negative power is 1/x^n)
//! atom   := number | 'pi' | 'z' | '(' expr ')' | name '(' expr ')' | name
//! name   := relu | abs | step | sign | erf | tanh | sigmoid | softplus | gelu | silu
//!         | sin | cos | exp | log1p | sqrt | he<k>
//! ```
//! A bare function name means that function of `z` (`tanh` is `tanh(z)`, `he4` is `h_4(z)`).
//! `step(0) = 1/2`, `sign(0) = 0`, `gelu(x) = x·Φ(x)`, `silu(x) = x·sigmoid(x)`, and `he<k>` is
//! the normalised probabilists' Hermite polynomial h_k = He_k/√(k!).
//!
//! Accuracy contract: `eval_rug` at precision p returns a value within a few ulps of the
//! exact value of the expression at the given (exact) point, with MPFR's correctly rounded
//! elementary functions as the building blocks; `eval_f64` is a plain f64 evaluation meant
//! for plotting and for the fast path's inputs, with no accuracy claim beyond ordinary f64
//! rounding (erf comes from libm-quality code, relative error ~1e-16).
//!
//! Validity: `Spec::parse` rejects specs that are not functions in L²(N(0,1)) with Gaussian
//! moments of every order (for example `exp(z^2)`), kink functions whose argument is not
//! affine in z, divisions by something that may vanish, and `sqrt`/`log1p` of something that
//! may leave their domain. Every rejection carries the byte position and the reason.
//!
//! Besides [`Spec`], the submodules offer: `parse::parse_spanned` (the tree with the byte
//! position of every node), `eval::RugEvaluator` (one expression evaluated at many points,
//! Hermite tables built once), `eval::call_f64`, `analysis::growth_bound` (a proved bound
//! on |σ(z)| at infinity, for quadrature tails) and `analysis::fold_rational`.
//! Proofs-note: `proofs-notes/activation.md`. Tests: `tests/activation.rs`.

pub mod analysis;
pub mod ast;
pub mod eval;
pub mod parse;

pub use ast::{Expr, Func};

use rug::Float;

/// A parsed, validated activation spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// The source text, as typed.
    pub source: String,
    /// The expression tree.
    pub expr: Expr,
}

/// Why a spec was rejected: the byte position in the source and a one-line reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid activation spec {source_text:?} at position {position}: {reason}")]
pub struct SpecError {
    pub source_text: String,
    pub position: usize,
    pub reason: String,
}

/// Symmetry of a spec under z -> -z.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    Even,
    Odd,
    Neither,
}

/// A point where a kinked function's (affine) argument `a·z + b` vanishes, z0 = -b/a.
/// `a` and `b` are constant expressions (they may contain `pi`, `sqrt`, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct Kink {
    pub a: Expr,
    pub b: Expr,
}

impl Kink {
    /// The kink location -b/a at precision `prec` bits.
    pub fn location(&self, prec: u32) -> Float {
        let a = eval::eval_const_rug(&self.a, prec);
        let b = eval::eval_const_rug(&self.b, prec);
        -Float::with_val(prec, b / a)
    }
}

impl Spec {
    /// Parse and validate a spec string.
    pub fn parse(source: &str) -> Result<Spec, SpecError> {
        let expr = parse::parse(source)?;
        analysis::validate(source, &expr)?;
        Ok(Spec {
            source: source.to_string(),
            expr,
        })
    }

    /// The activation z ↦ f(r z) for an exact rational r ≠ 0 (`Expr::scaled_argument`); its
    /// source is the scaled expression written out, so that it parses back to the same tree.
    /// For a unit vector v̂ and |v| = r, f(⟨v, x⟩) = f_r(⟨v̂, x⟩): the norm-dependent dual kernel
    /// E f(⟨v, x⟩) g(⟨v', x⟩) is the unit-sphere kernel of f_r and g_{r'}.
    pub fn scaled(&self, r: &rug::Rational) -> Spec {
        if *r == 1 {
            return self.clone();
        }
        let expr = self.expr.scaled_argument(r);
        Spec {
            source: expr.to_string(),
            expr,
        }
    }

    /// Value at `z`, computed at `prec` bits.
    pub fn eval_rug(&self, z: &Float, prec: u32) -> Float {
        eval::eval_rug(&self.expr, z, prec)
    }

    /// Value at `z` in f64.
    pub fn eval_f64(&self, z: f64) -> f64 {
        eval::eval_f64(&self.expr, z)
    }

    /// The kinks (zeros of the arguments of relu/abs/step/sign), deduplicated.
    pub fn kinks(&self) -> Vec<Kink> {
        analysis::kinks(&self.expr)
    }

    /// Even, odd or neither under z -> -z (conservative: `Neither` when unsure).
    pub fn parity(&self) -> Parity {
        analysis::parity(&self.expr)
    }

    /// The derivative as a spec, or `None` when it is not a function (a jump of step/sign
    /// gives a Dirac delta). relu' = step, abs' = sign, step' = sign' = 0 away from the kink
    /// is *not* returned as 0: the distributional derivative has a delta, so `None`.
    pub fn derivative(&self) -> Option<Spec> {
        analysis::derivative(&self.expr).map(|expr| Spec {
            source: format!("d/dz[{}]", self.source),
            expr,
        })
    }

    /// Monomial coefficients p_0..p_n (as constant expressions) when the spec is a polynomial
    /// in z (`he<k>` counts as a polynomial); `None` otherwise.
    pub fn as_polynomial(&self) -> Option<Vec<Expr>> {
        analysis::as_polynomial(&self.expr)
    }
}
