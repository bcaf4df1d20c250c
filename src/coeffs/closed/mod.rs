//! Decomposition of a spec into exact, closed-form and residual parts, and closed-form
//! Hermite coefficients c_k = E[σ(Z) h_k(Z)] (docs/conventions.md §1).
//!
//! [`decompose`] writes σ = p(z) + Σ_t q_t(z)·atom_t(z) + residual, where p has exact
//! ([`Surd`]) coefficients, each q_t is a polynomial with constant coefficients, and the atoms
//! are step, sign, relu, abs of a z + b; exp(c z² + e z + f); sin, cos, erf of a z + b
//! (gelu(u) = u/2 + (u/2)·erf(u/√2) is rewritten), or 1 for a polynomial whose coefficients
//! are not exact (they involve pi). Everything else goes to the residual expression, for the
//! quadrature engine.
//!
//! Formulas (derived in `proofs-notes/closed-forms.md`; Φ, φ the normal cdf and density):
//! - step(a z+b): c_0 = Φ(b/|a|), c_k = sgn(a)·φ(z0)·h_{k−1}(z0)/√k, z0 = −b/a;
//! - sign = 2 step − 1 (c_0 = erf(b/(|a|√2))); relu: c_0 = |a|φ(b/|a|) + bΦ(b/|a|),
//!   c_k = a·c_{k−1}(step)/√k; abs(u) = 2 relu(u) − u;
//! - exp(c z² + e z + f), λ = 1 − 2c > 0: c_n = λ^{−1/2}e^{e²/(2λ)+f}·r_n, r_0 = 1,
//!   r_1 = e/λ, r_{n+1} = ((e/λ) r_n + (2c/λ)√n r_{n−1})/√(n+1);
//! - cos/sin(a z+b): Re/Im of e^{ib}e^{−a²/2}(ia)^k/√(k!);
//! - erf(a z+b): c_0 = erf(b/√(1+2a²)), c_k = (2a/√π)·c_{k−1}(exp(−(a z+b)²))/√k;
//! - polynomial factors by c_j(zσ) = √j·c_{j−1}(σ) + √(j+1)·c_{j+1}(σ).
//!
//! Accuracy contract of [`closed_coefficients`]: with K the degree, D the largest degree of a
//! polynomial factor and L = ⌈log2(K+D+2)⌉, every table is computed at
//! w = prec + 32 + 2L + D(L/2 + 1) bits and rounded to prec bits. The recurrences add O(1)
//! ulp per step relative to the running maximum of the table, and each multiplication by z
//! multiplies magnitudes by at most 2√(K+D) ≤ 2^{L/2+1}, so the absolute error of c_k is
//! ≲ (K+D)·(2√(K+D))^D·Σ_m|q_m|·max_j|atom_j|·2^{−w} ≲ 2^{−prec−30}·Σ_m|q_m|·max_j|atom_j|,
//! plus the final rounding 2^{−prec}|c_k|. Cancellation between terms, or inside a constant
//! expression such as `pi - 355/113`, is not compensated. The
//! result improves with prec (no f64 anywhere); callers estimate the error by re-running
//! at a higher precision (tests: `tests/closed_forms.rs`, `precision_doubling_*`).
//!
//! Exact zeros ([`closed_exact_zeros`]) come from structure only (exactly zero parameters,
//! exact Hermite roots at an exact kink, exact recurrences), never from small values.
//! Some closed terms have exact tables too (exp(c z²) with rational c, times a surd
//! polynomial): [`closed_exact_coefficients`], and [`Decomposition::exact_hermite`] for a
//! whole spec, which proves e.g. c_0 = c_2 = 0 for 5(z²e^{−z²} − √3/9).
//!
//! Layout: this file holds the decomposition and its types; `tables.rs` the floating tables,
//! `zeros.rs` the exact zeros and exact tables.

use super::exact::{exact_coefficients, sqrt_of_rational, surd_from_expr, Surd};
use crate::activation::eval::eval_const_rug;
use crate::activation::{Expr, Func};
use crate::hermite::{he_coefficients, NormalisedHermite};
use rug::float::Constant as MpConst;
use rug::{Float, Rational};

/// A constant coefficient: exact when it lies in Q(√2, √3, ...), otherwise a constant
/// expression (it involves pi, exp(1), ...) evaluated at the working precision.
#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    Exact(Surd),
    Expr(Expr),
}

impl Constant {
    pub fn zero() -> Constant {
        Constant::Exact(Surd::zero())
    }
    pub fn one() -> Constant {
        Constant::Exact(Surd::one())
    }
    pub fn rational(q: impl Into<Rational>) -> Constant {
        Constant::Exact(Surd::from_rational(q.into()))
    }
    /// The constant expression `e`, exact when [`surd_from_expr`] can represent it.
    pub fn from_expr(e: &Expr) -> Constant {
        match surd_from_expr(e) {
            Some(s) => Constant::Exact(s),
            None => Constant::Expr(e.clone()),
        }
    }
    /// True only when the constant is known to be exactly zero.
    pub fn is_exact_zero(&self) -> bool {
        matches!(self, Constant::Exact(s) if s.is_zero())
    }
    pub fn as_surd(&self) -> Option<&Surd> {
        match self {
            Constant::Exact(s) => Some(s),
            Constant::Expr(_) => None,
        }
    }
    pub fn to_expr(&self) -> Expr {
        match self {
            Constant::Exact(s) => s.to_expr(),
            Constant::Expr(e) => e.clone(),
        }
    }
    /// The value at `prec` bits: exact constants within 2^{1−prec} relative error
    /// ([`Surd::to_float`]); expressions by `activation::eval::eval_const_rug` (within an
    /// ulp unless the expression cancels, e.g. `pi - 355/113`; precision doubling by the
    /// caller detects that).
    pub fn value(&self, prec: u32) -> Float {
        match self {
            Constant::Exact(s) => s.to_float(prec),
            Constant::Expr(e) => eval_const_rug(e, prec),
        }
    }
    pub fn add(&self, o: &Constant) -> Constant {
        match (self, o) {
            (Constant::Exact(a), Constant::Exact(b)) => Constant::Exact(a + b),
            _ if self.is_exact_zero() => o.clone(),
            _ if o.is_exact_zero() => self.clone(),
            _ => Constant::Expr(Expr::Add(Box::new(self.to_expr()), Box::new(o.to_expr()))),
        }
    }
    pub fn mul(&self, o: &Constant) -> Constant {
        match (self, o) {
            (Constant::Exact(a), Constant::Exact(b)) => Constant::Exact(a * b),
            _ if self.is_exact_zero() || o.is_exact_zero() => Constant::zero(),
            _ if *self == Constant::one() => o.clone(),
            _ if *o == Constant::one() => self.clone(),
            _ => Constant::Expr(Expr::Mul(Box::new(self.to_expr()), Box::new(o.to_expr()))),
        }
    }
    pub fn neg(&self) -> Constant {
        match self {
            Constant::Exact(a) => Constant::Exact(-a),
            Constant::Expr(e) => Constant::Expr(Expr::Neg(Box::new(e.clone()))),
        }
    }
    /// 1/self (exact when [`Surd::inverse`] succeeds).
    pub fn recip(&self) -> Constant {
        if let Constant::Exact(a) = self {
            if let Some(inv) = a.inverse() {
                return Constant::Exact(inv);
            }
        }
        Constant::Expr(Expr::Div(Box::new(Expr::num(1)), Box::new(self.to_expr())))
    }
}

/// The atom of a closed term. Parameters are constants; validation guarantees a ≠ 0 for
/// the affine atoms built by [`decompose`] and c < 1/4 for exp.
#[derive(Clone, Debug, PartialEq)]
pub enum Atom {
    /// the constant function 1 (a polynomial with non-exact coefficients)
    One,
    /// step(a z + b), step(0) = 1/2
    Step { a: Constant, b: Constant },
    /// sign(a z + b)
    Sign { a: Constant, b: Constant },
    /// relu(a z + b)
    Relu { a: Constant, b: Constant },
    /// |a z + b|
    Abs { a: Constant, b: Constant },
    /// exp(c z² + e z + f), requires c < 1/2 (L²(N(0,1)) needs c < 1/4)
    Exp {
        c: Constant,
        e: Constant,
        f: Constant,
    },
    /// sin(a z + b)
    Sin { a: Constant, b: Constant },
    /// cos(a z + b)
    Cos { a: Constant, b: Constant },
    /// erf(a z + b)
    Erf { a: Constant, b: Constant },
}

/// One closed term: (Σ_m poly\[m\]·z^m) × atom(z).
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedTerm {
    /// Monomial coefficients of the polynomial factor.
    pub poly: Vec<Constant>,
    pub atom: Atom,
}

impl ClosedTerm {
    pub fn new(poly: Vec<Constant>, atom: Atom) -> ClosedTerm {
        ClosedTerm { poly, atom }
    }

    /// The term as an expression in z.
    pub fn to_expr(&self) -> Expr {
        let p = poly_to_expr(&self.poly);
        match atom_to_expr(&self.atom) {
            None => p,
            Some(a) => Expr::Mul(Box::new(p), Box::new(a)),
        }
    }
}

/// How a spec splits: Σ exact-polynomial + Σ closed terms + residual (quadrature).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Decomposition {
    /// Monomial coefficients of the exactly-known polynomial part.
    pub exact_polynomial: Vec<Surd>,
    pub closed: Vec<ClosedTerm>,
    pub residual: Option<Expr>,
}

impl Decomposition {
    /// σ reassembled as an expression (exact part + closed terms + residual).
    pub fn to_expr(&self) -> Expr {
        let exact: Vec<Constant> = self
            .exact_polynomial
            .iter()
            .cloned()
            .map(Constant::Exact)
            .collect();
        let mut out = poly_to_expr(&exact);
        for t in &self.closed {
            out = Expr::Add(Box::new(out), Box::new(t.to_expr()));
        }
        if let Some(r) = &self.residual {
            out = Expr::Add(Box::new(out), Box::new(r.clone()));
        }
        out
    }

    /// All of c_0..c_degree exactly, when there is no residual and every closed term has
    /// exact coefficients ([`closed_exact_coefficients`]); e.g. 5(z²e^{−z²} − √3/9) gives
    /// c_0 = c_2 = 0 exactly.
    pub fn exact_hermite(&self, degree: usize) -> Option<Vec<Surd>> {
        if self.residual.is_some() {
            return None;
        }
        let closed = closed_exact_coefficients(&self.closed, degree)?;
        let exact = exact_coefficients(&self.exact_polynomial, degree);
        Some(exact.iter().zip(&closed).map(|(a, b)| a + b).collect())
    }
}

// ---------------------------------------------------------------------------------------
// Decomposition
// ---------------------------------------------------------------------------------------

/// Intermediate form: poly(z) + Σ terms + residual. `terms` never hold the atom `One`.
#[derive(Clone, Debug, Default)]
struct Parts {
    poly: Vec<Constant>,
    terms: Vec<ClosedTerm>,
    residual: Option<Expr>,
}

impl Parts {
    fn poly(poly: Vec<Constant>) -> Parts {
        Parts {
            poly,
            ..Parts::default()
        }
    }
    fn residual(e: &Expr) -> Parts {
        Parts {
            residual: Some(e.clone()),
            ..Parts::default()
        }
    }
    fn term(poly: Vec<Constant>, atom: Atom) -> Parts {
        Parts {
            terms: vec![ClosedTerm { poly, atom }],
            ..Parts::default()
        }
    }
    fn is_polynomial(&self) -> bool {
        self.residual.is_none() && self.terms.is_empty()
    }
    fn add(mut self, o: Parts) -> Parts {
        self.poly = poly_add(&self.poly, &o.poly);
        self.terms.extend(o.terms);
        self.residual = match (self.residual, o.residual) {
            (None, r) | (r, None) => r,
            (Some(a), Some(b)) => Some(Expr::Add(Box::new(a), Box::new(b))),
        };
        self
    }
    fn neg(self) -> Parts {
        let minus = [Constant::rational(-1)];
        Parts {
            poly: poly_mul(&self.poly, &minus),
            terms: self
                .terms
                .into_iter()
                .map(|t| ClosedTerm {
                    poly: poly_mul(&t.poly, &minus),
                    atom: t.atom,
                })
                .collect(),
            residual: self.residual.map(|r| Expr::Neg(Box::new(r))),
        }
    }
    /// The product when every pair of pieces closes (poly × anything, exp × exp); `None`
    /// otherwise (then the caller sends the whole product to the residual).
    fn mul(&self, o: &Parts) -> Option<Parts> {
        if self.residual.is_some() || o.residual.is_some() {
            return None;
        }
        let mut out = Parts::poly(poly_mul(&self.poly, &o.poly));
        for t in &o.terms {
            out.terms.push(ClosedTerm {
                poly: poly_mul(&self.poly, &t.poly),
                atom: t.atom.clone(),
            });
        }
        for t in &self.terms {
            out.terms.push(ClosedTerm {
                poly: poly_mul(&t.poly, &o.poly),
                atom: t.atom.clone(),
            });
            for u in &o.terms {
                let atom = match (&t.atom, &u.atom) {
                    (
                        Atom::Exp { c, e, f },
                        Atom::Exp {
                            c: c2,
                            e: e2,
                            f: f2,
                        },
                    ) => Atom::Exp {
                        c: c.add(c2),
                        e: e.add(e2),
                        f: f.add(f2),
                    },
                    _ => return None,
                };
                out.terms.push(ClosedTerm {
                    poly: poly_mul(&t.poly, &u.poly),
                    atom,
                });
            }
        }
        Some(out)
    }
}

/// Splits σ into an exact polynomial, closed terms and a residual (see the module doc).
/// Terms with the same atom are merged; polynomial coefficients that are not exact go to
/// a closed term with atom [`Atom::One`]. The decomposition is an identity of functions:
/// `to_expr()` equals σ pointwise (up to the value at kinks, which has measure zero).
pub fn decompose(e: &Expr) -> Decomposition {
    let parts = split(e);
    let mut exact_polynomial = Vec::new();
    let mut inexact = Vec::new();
    for c in parts.poly {
        match c {
            Constant::Exact(s) => {
                exact_polynomial.push(s);
                inexact.push(Constant::zero());
            }
            other => {
                exact_polynomial.push(Surd::zero());
                inexact.push(other);
            }
        }
    }
    while exact_polynomial.last().is_some_and(Surd::is_zero) {
        exact_polynomial.pop();
    }
    let mut closed: Vec<ClosedTerm> = Vec::new();
    let mut push = |t: ClosedTerm| {
        let poly = trim(t.poly);
        if poly.is_empty() {
            return;
        }
        match closed.iter_mut().find(|u| u.atom == t.atom) {
            Some(u) => u.poly = trim(poly_add(&u.poly, &poly)),
            None => closed.push(ClosedTerm { poly, atom: t.atom }),
        }
    };
    push(ClosedTerm {
        poly: inexact,
        atom: Atom::One,
    });
    for t in parts.terms {
        push(t);
    }
    closed.retain(|t| !t.poly.is_empty());
    Decomposition {
        exact_polynomial,
        closed,
        residual: parts.residual,
    }
}

fn split(e: &Expr) -> Parts {
    if e.is_const() {
        return Parts::poly(vec![Constant::from_expr(e)]);
    }
    match e {
        Expr::Z => Parts::poly(vec![Constant::zero(), Constant::one()]),
        Expr::Num(_) | Expr::Pi => unreachable!("constants handled above"),
        Expr::Neg(a) => split(a).neg(),
        Expr::Add(a, b) => split(a).add(split(b)),
        Expr::Sub(a, b) => split(a).add(split(b).neg()),
        Expr::Mul(a, b) => split(a)
            .mul(&split(b))
            .unwrap_or_else(|| Parts::residual(e)),
        Expr::Div(a, b) if b.is_const() => {
            let inv = Parts::poly(vec![Constant::from_expr(b).recip()]);
            split(a).mul(&inv).unwrap_or_else(|| Parts::residual(e))
        }
        Expr::Div(..) | Expr::Sqrt(_) => Parts::residual(e),
        Expr::Pow(a, n) => {
            let base = split(a);
            let mut acc = Parts::poly(vec![Constant::one()]);
            let mut sq = base;
            let mut n = *n;
            while n > 0 {
                if n & 1 == 1 {
                    match acc.mul(&sq) {
                        Some(p) => acc = p,
                        None => return Parts::residual(e),
                    }
                }
                n >>= 1;
                if n > 0 {
                    match sq.mul(&sq) {
                        Some(p) => sq = p,
                        None => return Parts::residual(e),
                    }
                }
            }
            acc
        }
        Expr::Call(f, arg) => split_call(e, f, &split(arg)),
    }
}

fn split_call(e: &Expr, f: &Func, arg: &Parts) -> Parts {
    let poly = if arg.is_polynomial() {
        trim(arg.poly.clone())
    } else {
        return Parts::residual(e);
    };
    let coef = |i: usize| poly.get(i).cloned().unwrap_or_else(Constant::zero);
    if let Func::He(k) = f {
        return Parts::poly(hermite_of_poly(*k as usize, &poly));
    }
    if let Func::Exp = f {
        if poly.len() > 3 {
            return Parts::residual(e);
        }
        let (c, ee, ff) = (coef(2), coef(1), coef(0));
        if c.is_exact_zero() && ee.is_exact_zero() {
            return Parts::poly(vec![Constant::from_expr(&Expr::Call(
                Func::Exp,
                Box::new(ff.to_expr()),
            ))]);
        }
        return Parts::term(vec![Constant::one()], Atom::Exp { c, e: ee, f: ff });
    }
    let affine_atom = matches!(
        f,
        Func::Step
            | Func::Sign
            | Func::Relu
            | Func::Abs
            | Func::Sin
            | Func::Cos
            | Func::Erf
            | Func::Gelu
    );
    if !affine_atom || poly.len() > 2 {
        return Parts::residual(e);
    }
    let (a, b) = (coef(1), coef(0));
    if a.is_exact_zero() {
        // f(b) is a constant
        return Parts::poly(vec![Constant::from_expr(&Expr::Call(
            f.clone(),
            Box::new(b.to_expr()),
        ))]);
    }
    let one = vec![Constant::one()];
    match f {
        Func::Step => Parts::term(one, Atom::Step { a, b }),
        Func::Sign => Parts::term(one, Atom::Sign { a, b }),
        Func::Relu => Parts::term(one, Atom::Relu { a, b }),
        Func::Abs => Parts::term(one, Atom::Abs { a, b }),
        Func::Sin => Parts::term(one, Atom::Sin { a, b }),
        Func::Cos => Parts::term(one, Atom::Cos { a, b }),
        Func::Erf => Parts::term(one, Atom::Erf { a, b }),
        Func::Gelu => {
            // gelu(u) = u Φ(u) = u/2 + (u/2)·erf(u/√2), u = a z + b
            let half = Constant::rational(Rational::from((1, 2)));
            let inv_sqrt2 =
                Constant::Exact(sqrt_of_rational(&Rational::from((1, 2))).expect("√(1/2) = √2/2"));
            let u_half = vec![b.mul(&half), a.mul(&half)];
            let mut p = Parts::poly(u_half.clone());
            p.terms.push(ClosedTerm {
                poly: u_half,
                atom: Atom::Erf {
                    a: a.mul(&inv_sqrt2),
                    b: b.mul(&inv_sqrt2),
                },
            });
            p
        }
        _ => unreachable!(),
    }
}

/// h_k(u(z)) as a polynomial in z, by Horner on He_k's integer coefficients, times 1/√(k!).
fn hermite_of_poly(k: usize, u: &[Constant]) -> Vec<Constant> {
    let mut acc: Vec<Constant> = Vec::new();
    for c in he_coefficients(k).iter().rev() {
        acc = poly_mul(&acc, u);
        acc = poly_add(&acc, &[Constant::rational(c.clone())]);
    }
    let inv = Constant::Exact(super::exact::inv_sqrt_factorial(k));
    trim(poly_mul(&acc, &[inv]))
}

impl crate::poly::Coefficient for Constant {
    fn zero() -> Constant {
        Constant::zero()
    }
    fn is_exact_zero(&self) -> bool {
        Constant::is_exact_zero(self)
    }
    fn plus(&self, other: &Constant) -> Constant {
        self.add(other)
    }
    fn times(&self, other: &Constant) -> Constant {
        self.mul(other)
    }
}

use crate::poly::{add as poly_add, mul as poly_mul, trim};

fn poly_to_expr(p: &[Constant]) -> Expr {
    let mut out: Option<Expr> = None;
    for (m, c) in p.iter().enumerate() {
        if c.is_exact_zero() {
            continue;
        }
        let mono = match m {
            0 => c.to_expr(),
            1 => Expr::Mul(Box::new(c.to_expr()), Box::new(Expr::Z)),
            _ => Expr::Mul(
                Box::new(c.to_expr()),
                Box::new(Expr::Pow(Box::new(Expr::Z), m as u32)),
            ),
        };
        out = Some(match out {
            None => mono,
            Some(acc) => Expr::Add(Box::new(acc), Box::new(mono)),
        });
    }
    out.unwrap_or_else(|| Expr::num(0))
}

fn atom_to_expr(atom: &Atom) -> Option<Expr> {
    let affine = |a: &Constant, b: &Constant| poly_to_expr(&[b.clone(), a.clone()]);
    let call = |f: Func, x: Expr| Some(Expr::Call(f, Box::new(x)));
    match atom {
        Atom::One => None,
        Atom::Step { a, b } => call(Func::Step, affine(a, b)),
        Atom::Sign { a, b } => call(Func::Sign, affine(a, b)),
        Atom::Relu { a, b } => call(Func::Relu, affine(a, b)),
        Atom::Abs { a, b } => call(Func::Abs, affine(a, b)),
        Atom::Sin { a, b } => call(Func::Sin, affine(a, b)),
        Atom::Cos { a, b } => call(Func::Cos, affine(a, b)),
        Atom::Erf { a, b } => call(Func::Erf, affine(a, b)),
        Atom::Exp { c, e, f } => call(Func::Exp, poly_to_expr(&[f.clone(), e.clone(), c.clone()])),
    }
}

mod tables;
mod zeros;
pub use tables::{atom_coefficients, closed_coefficients, term_coefficients};
pub use zeros::{closed_exact_coefficients, closed_exact_zeros};
