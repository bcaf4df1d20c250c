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

// ---------------------------------------------------------------------------------------
// Floating evaluation of the closed forms
// ---------------------------------------------------------------------------------------

/// Working precision for tables of length n + 1 with a polynomial factor of degree d,
/// requested at `prec` bits: 32 + 2⌈log2(n+2)⌉ guard bits for the recurrences, plus
/// d·(⌈log2(n+2)⌉/2 + 1) for the growth (2√n)^d of the multiplications by z.
fn working_prec(prec: u32, n: usize, d: usize) -> u32 {
    let lg = usize::BITS - (n + 2).leading_zeros();
    prec + 32 + 2 * lg + d as u32 * (lg / 2 + 1)
}

fn sqrt_u(k: usize, w: u32) -> Float {
    Float::with_val(w, k as u64).sqrt()
}

/// Φ(x) = erfc(−x/√2)/2 (no cancellation for x ≪ 0).
fn normal_cdf(x: &Float, w: u32) -> Float {
    let s = Float::with_val(w, -x) / sqrt_u(2, w);
    s.erfc() / 2u32
}

/// φ(x) = e^{−x²/2}/√(2π).
fn normal_pdf(x: &Float, w: u32) -> Float {
    let e = (-(Float::with_val(w, x * x) / 2u32)).exp();
    let two_pi = Float::with_val(w, MpConst::Pi) * 2u32;
    e / two_pi.sqrt()
}

/// c_0..c_n of one atom at exactly `w` bits (no guard bits added; see
/// [`atom_coefficients`] for the public entry point).
fn atom_table(atom: &Atom, n: usize, w: u32) -> Vec<Float> {
    let zero = || Float::new(w);
    match atom {
        Atom::One => {
            let mut t = vec![zero(); n + 1];
            t[0] = Float::with_val(w, 1);
            t
        }
        Atom::Step { a, b } => step_table(&a.value(w), &b.value(w), n, w),
        Atom::Sign { a, b } => {
            let (a, b) = (a.value(w), b.value(w));
            if a.is_zero() {
                return constant_table(sign_of(&b, w), n, w);
            }
            let mut t: Vec<Float> = step_table(&a, &b, n, w)
                .into_iter()
                .map(|x| x * 2u32)
                .collect();
            let arg = Float::with_val(w, &b / Float::with_val(w, a.abs_ref())) / sqrt_u(2, w);
            t[0] = arg.erf();
            t
        }
        Atom::Relu { a, b } => relu_table(&a.value(w), &b.value(w), n, w),
        Atom::Abs { a, b } => {
            let (a, b) = (a.value(w), b.value(w));
            let mut t: Vec<Float> = relu_table(&a, &b, n, w)
                .into_iter()
                .map(|x| x * 2u32)
                .collect();
            t[0] -= &b;
            if n >= 1 {
                t[1] -= &a;
            }
            t
        }
        Atom::Exp { c, e, f } => exp_table(&c.value(w), &e.value(w), &f.value(w), n, w),
        Atom::Sin { a, b } => trig_table(&a.value(w), &b.value(w), n, w, true),
        Atom::Cos { a, b } => trig_table(&a.value(w), &b.value(w), n, w, false),
        Atom::Erf { a, b } => erf_table(&a.value(w), &b.value(w), n, w),
    }
}

fn sign_of(x: &Float, w: u32) -> Float {
    Float::with_val(w, x.cmp0().map_or(0, |o| o as i32))
}

fn constant_table(v: Float, n: usize, w: u32) -> Vec<Float> {
    let mut t = vec![Float::new(w); n + 1];
    t[0] = v;
    t
}

/// step(a z + b): c_0 = Φ(b/|a|), c_k = sgn(a)·φ(z0)·h_{k−1}(z0)/√k, z0 = −b/a.
fn step_table(a: &Float, b: &Float, n: usize, w: u32) -> Vec<Float> {
    if a.is_zero() {
        let v = match b.cmp0() {
            Some(std::cmp::Ordering::Greater) => Float::with_val(w, 1),
            Some(std::cmp::Ordering::Equal) => Float::with_val(w, 0.5),
            _ => Float::new(w),
        };
        return constant_table(v, n, w);
    }
    let abs_a = Float::with_val(w, a.abs_ref());
    let mut t = Vec::with_capacity(n + 1);
    t.push(normal_cdf(&Float::with_val(w, b / &abs_a), w));
    if n == 0 {
        return t;
    }
    let z0 = -Float::with_val(w, b / a);
    let mut amp = normal_pdf(&z0, w);
    if a.is_sign_negative() {
        amp = -amp;
    }
    let h = NormalisedHermite::new(n - 1, w).values(&z0);
    for k in 1..=n {
        t.push(Float::with_val(w, &amp * &h[k - 1]) / sqrt_u(k, w));
    }
    t
}

/// relu(a z + b): c_0 = |a|φ(b/|a|) + bΦ(b/|a|), c_k = a·c_{k−1}(step)/√k.
fn relu_table(a: &Float, b: &Float, n: usize, w: u32) -> Vec<Float> {
    if a.is_zero() {
        let v = if b.is_sign_positive() {
            b.clone()
        } else {
            Float::new(w)
        };
        return constant_table(v, n, w);
    }
    let abs_a = Float::with_val(w, a.abs_ref());
    let t0 = Float::with_val(w, b / &abs_a);
    let c0 = Float::with_val(w, &abs_a * normal_pdf(&t0, w))
        + Float::with_val(w, b * normal_cdf(&t0, w));
    let mut t = vec![c0];
    if n >= 1 {
        let step = step_table(a, b, n - 1, w);
        for k in 1..=n {
            t.push(Float::with_val(w, a * &step[k - 1]) / sqrt_u(k, w));
        }
    }
    t
}

/// exp(c z² + e z + f), λ = 1 − 2c > 0: c_n = λ^{−1/2}e^{e²/(2λ)+f}·r_n with r_0 = 1,
/// r_1 = e/λ, r_{n+1} = ((e/λ) r_n + (2c/λ)√n r_{n−1})/√(n+1).
fn exp_table(c: &Float, e: &Float, f: &Float, n: usize, w: u32) -> Vec<Float> {
    let lambda = Float::with_val(w, 1) - Float::with_val(w, c * 2u32);
    assert!(
        lambda.is_sign_positive() && !lambda.is_zero(),
        "exp(c z^2 + ...) needs c < 1/2 for E[exp(cZ^2)] to exist (got c = {c})"
    );
    let beta = Float::with_val(w, e / &lambda);
    let gamma2 = Float::with_val(w, c * 2u32) / &lambda;
    let expo = Float::with_val(w, e * e) / Float::with_val(w, &lambda * 2u32) + f;
    let amp = expo.exp() / lambda.sqrt();
    let mut r: Vec<Float> = Vec::with_capacity(n + 1);
    r.push(Float::with_val(w, 1));
    if n >= 1 {
        r.push(beta.clone());
    }
    for k in 1..n {
        let mut next = Float::with_val(w, &beta * &r[k]);
        let s = Float::with_val(w, &gamma2 * &r[k - 1]) * sqrt_u(k, w);
        next += s;
        r.push(next / sqrt_u(k + 1, w));
    }
    r.into_iter().map(|x| x * &amp).collect()
}

/// sin/cos(a z + b): c_k = e^{−a²/2}·(a^k/√(k!))·trig(b + kπ/2) with trig = sin or cos;
/// a^k/√(k!) by the running product m_k = m_{k−1}·a/√k.
fn trig_table(a: &Float, b: &Float, n: usize, w: u32, is_sin: bool) -> Vec<Float> {
    let base = (-(Float::with_val(w, a * a) / 2u32)).exp();
    let (sb, cb) = b.clone().sin_cos(Float::new(w));
    // trig(b + kπ/2) cycles with period 4
    let cycle: [Float; 4] = if is_sin {
        [sb.clone(), cb.clone(), -sb, -cb]
    } else {
        [cb.clone(), -sb.clone(), -cb, sb]
    };
    let mut m = base;
    let mut t = Vec::with_capacity(n + 1);
    for k in 0..=n {
        if k >= 1 {
            m = Float::with_val(w, &m * a) / sqrt_u(k, w);
        }
        t.push(Float::with_val(w, &m * &cycle[k % 4]));
    }
    t
}

/// erf(a z + b): c_0 = erf(b/√(1+2a²)), c_k = (2a/√π)·c_{k−1}(exp(−(a z+b)²))/√k.
fn erf_table(a: &Float, b: &Float, n: usize, w: u32) -> Vec<Float> {
    let a2 = Float::with_val(w, a * a);
    let den = (Float::with_val(w, &a2 * 2u32) + 1u32).sqrt();
    let mut t = vec![Float::with_val(w, b / &den).erf()];
    if n >= 1 {
        let c = -a2;
        let e = Float::with_val(w, a * b) * -2i32;
        let f = -Float::with_val(w, b * b);
        let g = exp_table(&c, &e, &f, n - 1, w);
        let pi = Float::with_val(w, MpConst::Pi);
        let amp = Float::with_val(w, a * 2u32) / pi.sqrt();
        for k in 1..=n {
            t.push(Float::with_val(w, &amp * &g[k - 1]) / sqrt_u(k, w));
        }
    }
    t
}

/// Hermite coefficients c_0..c_degree of one atom, at `prec` bits (computed with guard
/// bits, see the module's accuracy contract).
pub fn atom_coefficients(atom: &Atom, degree: usize, prec: u32) -> Vec<Float> {
    let w = working_prec(prec, degree, 0);
    atom_table(atom, degree, w)
        .into_iter()
        .map(|x| Float::with_val(prec, x))
        .collect()
}

/// Applies Σ_m p_m z^m to a table of length L + 1 (L ≥ D = deg p), giving length L − D + 1:
/// Horner with c_j(zσ) = √j c_{j−1}(σ) + √(j+1) c_{j+1}(σ).
fn apply_poly(p: &[Float], table: &[Float], w: u32) -> Vec<Float> {
    let d = p.len() - 1;
    let sq: Vec<Float> = (0..=table.len()).map(|j| sqrt_u(j, w)).collect();
    let mut acc: Vec<Float> = table
        .iter()
        .map(|t| Float::with_val(w, t * &p[d]))
        .collect();
    for m in (0..d).rev() {
        let len = acc.len() - 1;
        let mut next = Vec::with_capacity(len);
        for j in 0..len {
            let mut v = Float::with_val(w, &sq[j + 1] * &acc[j + 1]);
            if j >= 1 {
                v += Float::with_val(w, &sq[j] * &acc[j - 1]);
            }
            if !p[m].is_zero() {
                v += Float::with_val(w, &p[m] * &table[j]);
            }
            next.push(v);
        }
        acc = next;
    }
    acc
}

/// c_0..c_degree of one closed term at `w` working bits.
fn term_table(term: &ClosedTerm, degree: usize, w: u32) -> Vec<Float> {
    let poly = trim(term.poly.clone());
    if poly.is_empty() {
        return vec![Float::new(w); degree + 1];
    }
    let d = poly.len() - 1;
    let p: Vec<Float> = poly.iter().map(|c| c.value(w)).collect();
    apply_poly(&p, &atom_table(&term.atom, degree + d, w), w)
}

/// Hermite coefficients of one closed term, k = 0..=degree, at `prec` bits.
pub fn term_coefficients(term: &ClosedTerm, degree: usize, prec: u32) -> Vec<Float> {
    closed_coefficients(std::slice::from_ref(term), degree, prec)
}

/// Σ over `terms` of c_k(term), k = 0..=degree, at `prec` bits.
///
/// Accuracy: absolute error ≲ 2^{−prec−30}·Σ_m|q_m|·max_j|atom_j| per term plus the final
/// rounding 2^{−prec}|c_k| (module doc); in practice ≲ 2^{−prec}·max_k|c_k| (checked by
/// precision doubling, 200 vs 400 bits to degree 1000, in `tests/closed_forms.rs`).
/// Panics if an exp term has c ≥ 1/2.
pub fn closed_coefficients(terms: &[ClosedTerm], degree: usize, prec: u32) -> Vec<Float> {
    let max_d = terms
        .iter()
        .map(|t| t.poly.len().saturating_sub(1))
        .max()
        .unwrap_or(0);
    let w = working_prec(prec, degree + max_d, max_d);
    let mut acc = vec![Float::new(w); degree + 1];
    for t in terms {
        for (a, v) in acc.iter_mut().zip(term_table(t, degree, w)) {
            *a += v;
        }
    }
    acc.into_iter().map(|x| Float::with_val(prec, x)).collect()
}

// ---------------------------------------------------------------------------------------
// Exact zeros and exact tables
// ---------------------------------------------------------------------------------------

/// The kink z0 = −b/a exactly, when known (b exactly 0 gives 0 whatever a is).
fn exact_kink(a: &Constant, b: &Constant) -> Option<Surd> {
    if b.is_exact_zero() {
        return Some(Surd::zero());
    }
    let (a, b) = (a.as_surd()?, b.as_surd()?);
    Some(-(b * &a.inverse()?))
}

/// zero[n] iff He_n(x) = 0 exactly, n = 0..=len−1 (recurrence in Q(√·)).
fn hermite_zero_pattern(x: &Surd, len: usize) -> Vec<bool> {
    if x.is_zero() {
        return (0..len).map(|n| n % 2 == 1).collect();
    }
    let mut out = Vec::with_capacity(len);
    let (mut prev, mut cur) = (Surd::zero(), Surd::one());
    for n in 0..len {
        out.push(cur.is_zero());
        let next = &(x * &cur) - &prev.scale(&Rational::from(n as u64));
        prev = std::mem::replace(&mut cur, next);
    }
    out
}

/// zero[n] iff r_n = 0 exactly in the exp(c z² + e z + f) table, n = 0..=len−1.
/// With b_n = n!·[t^n] exp(βt + γt²), β = e/λ, γ = c/λ: b_{n+1} = β b_n + 2γ n b_{n−1}.
fn exp_zero_pattern(c: &Constant, e: &Constant, len: usize) -> Vec<bool> {
    let (ce, ee) = (c.is_exact_zero(), e.is_exact_zero());
    if ce && ee {
        return (0..len).map(|n| n >= 1).collect();
    }
    if let (Some(cs), Some(es)) = (c.as_surd(), e.as_surd()) {
        let lambda = &Surd::one() - &cs.scale(&Rational::from(2));
        if let Some(inv) = lambda.inverse() {
            let beta = es * &inv;
            let gamma2 = (cs * &inv).scale(&Rational::from(2));
            let mut out = Vec::with_capacity(len);
            let (mut prev, mut cur) = (Surd::zero(), Surd::one());
            for n in 0..len {
                out.push(cur.is_zero());
                let next = &(&beta * &cur) + &(&gamma2 * &prev).scale(&Rational::from(n as u64));
                prev = std::mem::replace(&mut cur, next);
            }
            return out;
        }
    }
    if ee {
        return (0..len).map(|n| n % 2 == 1).collect();
    }
    vec![false; len]
}

/// Structural zero pattern of one atom's table c_0..c_n.
fn atom_zero_pattern(atom: &Atom, n: usize) -> Vec<bool> {
    let len = n + 1;
    // zero[k] for c_k = (const)·He_{k−shift}(z0), k ≥ shift
    let kink = |a: &Constant, b: &Constant, shift: usize| -> Vec<bool> {
        let he = match exact_kink(a, b) {
            Some(z0) => hermite_zero_pattern(&z0, len),
            None => vec![false; len],
        };
        (0..len).map(|k| k >= shift && he[k - shift]).collect()
    };
    let mut z = match atom {
        Atom::One => (0..len).map(|k| k >= 1).collect(),
        Atom::Step { a, b } => kink(a, b, 1),
        Atom::Sign { a, b } => {
            let mut z = kink(a, b, 1);
            z[0] = b.is_exact_zero();
            z
        }
        Atom::Relu { a, b } => kink(a, b, 2),
        Atom::Abs { a, b } => {
            let mut z = kink(a, b, 2);
            if len > 1 {
                z[1] = b.is_exact_zero();
            }
            z
        }
        Atom::Exp { c, e, .. } => exp_zero_pattern(c, e, len),
        // sin b = 0 and cos b = 0 never hold for a non-zero algebraic b (Lindemann)
        Atom::Sin { b, .. } => (0..len).map(|k| b.is_exact_zero() && k % 2 == 0).collect(),
        Atom::Cos { b, .. } => (0..len).map(|k| b.is_exact_zero() && k % 2 == 1).collect(),
        Atom::Erf { a, b } => {
            let c = a.mul(a).neg();
            let e = a.mul(b).mul(&Constant::rational(-2));
            let g = exp_zero_pattern(&c, &e, len);
            let mut z: Vec<bool> = (0..len).map(|k| k >= 1 && g[k - 1]).collect();
            z[0] = b.is_exact_zero();
            z
        }
    };
    z.truncate(len);
    z
}

/// Structural zeros of one term: the atom's pattern pushed through the polynomial factor
/// (a coefficient √j c_{j−1} + √(j+1) c_{j+1} + p_m c_j is zero when each piece is).
fn term_zero_pattern(term: &ClosedTerm, degree: usize) -> Vec<bool> {
    let poly = trim(term.poly.clone());
    if poly.is_empty() {
        return vec![true; degree + 1];
    }
    let d = poly.len() - 1;
    let t = atom_zero_pattern(&term.atom, degree + d);
    let mut acc = if poly[d].is_exact_zero() {
        vec![true; t.len()]
    } else {
        t.clone()
    };
    for m in (0..d).rev() {
        let len = acc.len() - 1;
        acc = (0..len)
            .map(|j| acc[j + 1] && (j == 0 || acc[j - 1]) && (poly[m].is_exact_zero() || t[j]))
            .collect();
    }
    acc
}

/// `zero[k]` is true when every term's c_k is zero by structure (exactly): exactly zero
/// parameters (b = 0 gives parity), exact Hermite roots at an exact kink (step(z − 1) has
/// c_3 = 0 because He_2(1) = 0), exact recurrences for exp atoms with exact parameters,
/// pushed through exact polynomial factors. When every term has an exact table
/// ([`closed_exact_coefficients`]) the zeros of the exact sum are used instead. A value that
/// is merely small is never reported as zero.
pub fn closed_exact_zeros(terms: &[ClosedTerm], degree: usize) -> Vec<bool> {
    if let Some(exact) = closed_exact_coefficients(terms, degree) {
        return exact.iter().map(Surd::is_zero).collect();
    }
    let mut out = vec![true; degree + 1];
    for t in terms {
        for (o, z) in out.iter_mut().zip(term_zero_pattern(t, degree)) {
            *o &= z;
        }
    }
    out
}

/// Exact c_0..c_degree of the closed terms, when every term has an exact table: atom 1 with
/// exact coefficients, or exp(c z²) (e = f = 0, c rational, √(1/λ) a surd) times an exact
/// polynomial, where c_{2m} = λ^{−1/2}·√((2m)!)·(c/λ)^m/m! and odd ones vanish.
/// `None` as soon as one term has no exact table.
pub fn closed_exact_coefficients(terms: &[ClosedTerm], degree: usize) -> Option<Vec<Surd>> {
    let mut acc = vec![Surd::zero(); degree + 1];
    for t in terms {
        let poly: Vec<Surd> = trim(t.poly.clone())
            .iter()
            .map(|c| c.as_surd().cloned())
            .collect::<Option<_>>()?;
        let table = match &t.atom {
            Atom::One => exact_coefficients(&poly, degree),
            Atom::Exp { c, e, f } if e.is_exact_zero() && f.is_exact_zero() => {
                let c = c.as_surd()?.as_rational()?;
                let lambda = Rational::from(1) - Rational::from(&c * 2u32);
                if lambda <= 0 {
                    return None;
                }
                if poly.is_empty() {
                    continue;
                }
                let amp = sqrt_of_rational(&Rational::from(lambda.recip_ref()))?;
                let gamma = Rational::from(&c / &lambda);
                let n = degree + poly.len() - 1;
                let mut table = vec![Surd::zero(); n + 1];
                let mut gm = Rational::from(1); // γ^m/m!
                for m in 0..=n / 2 {
                    if m >= 1 {
                        gm *= &gamma;
                        gm /= m as u64;
                    }
                    table[2 * m] = &super::exact::sqrt_factorial(2 * m) * &amp.scale(&gm);
                }
                exact_apply_poly(&poly, &table)?
            }
            _ => return None,
        };
        for (a, v) in acc.iter_mut().zip(&table) {
            *a = &*a + v;
        }
    }
    Some(acc)
}

/// Exact version of [`apply_poly`].
fn exact_apply_poly(p: &[Surd], table: &[Surd]) -> Option<Vec<Surd>> {
    let d = p.len() - 1;
    let sq: Vec<Surd> = (0..=table.len() as u64)
        .map(Surd::sqrt_int)
        .collect::<Option<_>>()?;
    let mut acc: Vec<Surd> = table.iter().map(|t| t * &p[d]).collect();
    for m in (0..d).rev() {
        let len = acc.len() - 1;
        acc = (0..len)
            .map(|j| {
                let mut v = &sq[j + 1] * &acc[j + 1];
                if j >= 1 {
                    v = &v + &(&sq[j] * &acc[j - 1]);
                }
                &v + &(&p[m] * &table[j])
            })
            .collect();
    }
    Some(acc)
}
