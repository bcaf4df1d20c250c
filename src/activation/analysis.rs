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

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

/// The exact value of a constant built from rationals with + − × ÷, integer powers and sqrt
/// of rational squares; `None` for anything else (pi, functions, z).
pub fn fold_rational(e: &Expr) -> Option<Rational> {
    Some(match e {
        Expr::Num(q) => q.clone(),
        Expr::Neg(a) => -fold_rational(a)?,
        Expr::Add(a, b) => fold_rational(a)? + fold_rational(b)?,
        Expr::Sub(a, b) => fold_rational(a)? - fold_rational(b)?,
        Expr::Mul(a, b) => fold_rational(a)? * fold_rational(b)?,
        Expr::Div(a, b) => {
            let d = fold_rational(b)?;
            if d == 0 {
                return None;
            }
            fold_rational(a)? / d
        }
        Expr::Pow(a, n) => {
            let q = fold_rational(a)?;
            let mut r = Rational::from(1);
            for _ in 0..*n {
                r *= &q;
            }
            r
        }
        Expr::Sqrt(a) => {
            let q = fold_rational(a)?;
            if q < 0 || !q.numer().is_perfect_square() || !q.denom().is_perfect_square() {
                return None;
            }
            Rational::from((q.numer().clone().sqrt(), q.denom().clone().sqrt()))
        }
        Expr::Pi | Expr::Z | Expr::Call(..) => return None,
    })
}

/// Value of a constant at `CHECK_PREC` bits, `None` when it is not finite.
fn const_value(e: &Expr) -> Option<Float> {
    let v = eval_const_rug(e, CHECK_PREC);
    v.is_finite().then_some(v)
}

/// Largest |value| over all subexpressions of a constant (the scale of its rounding error).
fn const_scale(e: &Expr) -> Float {
    let here = eval_const_rug(e, 64).abs();
    let kids = match e {
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) | Expr::Call(_, a) => vec![const_scale(a)],
        Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
            vec![const_scale(a), const_scale(b)]
        }
        _ => Vec::new(),
    };
    kids.into_iter()
        .fold(here, |m, k| if k > m { k } else { m })
}

/// Sign of a constant: exact when rational, numerical otherwise (see module doc).
fn const_sign_numeric(e: &Expr) -> Option<Ordering> {
    if let Some(q) = fold_rational(e) {
        return Some(q.cmp0());
    }
    let v1 = const_value(e)?;
    let v2 = eval_const_rug(e, CHECK_PREC + 128);
    if !v2.is_finite() {
        return None;
    }
    let scale = const_scale(e);
    let one = Float::with_val(64, 1);
    let floor = Float::with_val(64, if scale > one { scale } else { one }) >> 128u32;
    let s1 = v1.cmp0()?;
    (s1 == v2.cmp0()? && Float::with_val(64, v1.abs_ref()) > floor).then_some(s1)
}

/// An upper bound of a constant (for growth exponents), `None` when not finite.
fn const_upper(e: &Expr) -> Option<Float> {
    if let Some(q) = fold_rational(e) {
        return Some(Float::with_val_round(CHECK_PREC, &q, Round::Up).0);
    }
    // the 256-bit value is within ~2^-250 of the truth relative to its largest
    // intermediate; a slack of 2^-200 times that scale (at least 2^-200) is safe
    let v = const_value(e)?;
    let scale = const_scale(e).max(&Float::with_val(64, 1));
    Some(v + (Float::with_val(CHECK_PREC, scale) >> 200u32))
}

// ---------------------------------------------------------------------------------------
// Sign analysis
// ---------------------------------------------------------------------------------------

/// What is known about the sign of an expression for every real z.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sg {
    Zero,
    /// > 0
    Pos,
    /// < 0
    Neg,
    /// ≥ 0
    NonNeg,
    /// ≤ 0
    NonPos,
    Unknown,
}

/// A sign, and whether |e| ≥ δ > 0 for some constant δ ("bounded away from zero").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SignInfo {
    s: Sg,
    away: bool,
}

impl SignInfo {
    fn new(s: Sg, away: bool) -> Self {
        let away = away && matches!(s, Sg::Pos | Sg::Neg);
        SignInfo { s, away }
    }
    fn plain(s: Sg) -> Self {
        SignInfo::new(s, false)
    }
    fn strict(self) -> bool {
        matches!(self.s, Sg::Pos | Sg::Neg)
    }
    fn nonneg(self) -> bool {
        matches!(self.s, Sg::Pos | Sg::NonNeg | Sg::Zero)
    }
    fn nonpos(self) -> bool {
        matches!(self.s, Sg::Neg | Sg::NonPos | Sg::Zero)
    }
    /// (direction: +1/−1, strict) for a known sign.
    fn dir(self) -> Option<(i8, bool)> {
        match self.s {
            Sg::Pos => Some((1, true)),
            Sg::NonNeg => Some((1, false)),
            Sg::Neg => Some((-1, true)),
            Sg::NonPos => Some((-1, false)),
            _ => None,
        }
    }
    fn from_dir(d: i8, strict: bool, away: bool) -> Self {
        let s = match (d > 0, strict) {
            (true, true) => Sg::Pos,
            (true, false) => Sg::NonNeg,
            (false, true) => Sg::Neg,
            (false, false) => Sg::NonPos,
        };
        SignInfo::new(s, away)
    }
    fn neg(self) -> Self {
        let s = match self.s {
            Sg::Pos => Sg::Neg,
            Sg::Neg => Sg::Pos,
            Sg::NonNeg => Sg::NonPos,
            Sg::NonPos => Sg::NonNeg,
            s => s,
        };
        SignInfo::new(s, self.away)
    }
    fn add(self, o: Self) -> Self {
        if self.s == Sg::Zero {
            return o;
        }
        if o.s == Sg::Zero {
            return self;
        }
        match (self.dir(), o.dir()) {
            (Some((d1, s1)), Some((d2, s2))) if d1 == d2 => {
                let away = (s1 && self.away) || (s2 && o.away);
                SignInfo::from_dir(d1, s1 || s2, away)
            }
            _ => SignInfo::plain(Sg::Unknown),
        }
    }
    fn mul(self, o: Self) -> Self {
        if self.s == Sg::Zero || o.s == Sg::Zero {
            return SignInfo::plain(Sg::Zero);
        }
        match (self.dir(), o.dir()) {
            (Some((d1, s1)), Some((d2, s2))) => {
                SignInfo::from_dir(d1 * d2, s1 && s2, self.away && o.away)
            }
            _ => SignInfo::plain(Sg::Unknown),
        }
    }
    /// Same sign as the argument, not bounded away (erf, tanh, gelu, silu, log1p).
    fn follow(self) -> Self {
        SignInfo::plain(self.s)
    }
}

fn sign_info(e: &Expr) -> SignInfo {
    if e.is_const() {
        if let Some(q) = fold_rational(e) {
            return match q.cmp0() {
                Ordering::Greater => SignInfo::new(Sg::Pos, true),
                Ordering::Less => SignInfo::new(Sg::Neg, true),
                Ordering::Equal => SignInfo::plain(Sg::Zero),
            };
        }
        let s = structural_sign(e);
        if s.strict() {
            return SignInfo::new(s.s, true);
        }
        return match const_sign_numeric(e) {
            Some(Ordering::Greater) => SignInfo::new(Sg::Pos, true),
            Some(Ordering::Less) => SignInfo::new(Sg::Neg, true),
            _ => s,
        };
    }
    structural_sign(e)
}

fn structural_sign(e: &Expr) -> SignInfo {
    use Sg::*;
    match e {
        Expr::Num(_) => sign_info(e),
        Expr::Pi => SignInfo::new(Pos, true),
        Expr::Z => SignInfo::plain(Unknown),
        Expr::Neg(a) => sign_info(a).neg(),
        Expr::Add(a, b) => sign_info(a).add(sign_info(b)),
        Expr::Sub(a, b) => sign_info(a).add(sign_info(b).neg()),
        Expr::Mul(a, b) => {
            let (sa, sb) = (sign_info(a), sign_info(b));
            if a == b {
                // a square
                return if sa.strict() {
                    SignInfo::new(Pos, sa.away)
                } else {
                    SignInfo::plain(NonNeg)
                };
            }
            sa.mul(sb)
        }
        Expr::Div(a, b) => {
            let sb = sign_info(b);
            if !sb.strict() {
                return SignInfo::plain(Unknown);
            }
            let s = sign_info(a).mul(sb);
            SignInfo::plain(s.s)
        }
        Expr::Pow(a, n) => {
            let sa = sign_info(a);
            if *n == 0 {
                SignInfo::new(Pos, true)
            } else if sa.s == Zero {
                SignInfo::plain(Zero)
            } else if n % 2 == 1 {
                sa
            } else if sa.strict() {
                SignInfo::new(Pos, sa.away)
            } else {
                SignInfo::plain(NonNeg)
            }
        }
        Expr::Sqrt(a) => {
            let sa = sign_info(a);
            match sa.s {
                Pos => sa,
                Zero => sa,
                _ => SignInfo::plain(NonNeg),
            }
        }
        Expr::Call(f, a) => {
            let sa = sign_info(a);
            match f {
                Func::Relu => match sa.s {
                    Pos => sa,
                    Neg | NonPos | Zero => SignInfo::plain(Zero),
                    _ => SignInfo::plain(NonNeg),
                },
                Func::Abs => match sa.s {
                    Pos | Neg => SignInfo::new(Pos, sa.away),
                    Zero => sa,
                    _ => SignInfo::plain(NonNeg),
                },
                Func::Step => match sa.s {
                    Neg => SignInfo::plain(Zero),
                    Pos | NonNeg | Zero => SignInfo::new(Pos, true),
                    _ => SignInfo::plain(NonNeg),
                },
                Func::Sign => match sa.s {
                    Pos | Neg => SignInfo::new(sa.s, true),
                    s => SignInfo::plain(s),
                },
                Func::Erf | Func::Tanh | Func::Gelu | Func::Silu | Func::Log1p => sa.follow(),
                Func::Sigmoid | Func::Softplus | Func::Exp => SignInfo::new(Pos, sa.nonneg()),
                Func::He(0) => SignInfo::new(Pos, true),
                Func::Sin | Func::Cos | Func::He(_) => SignInfo::plain(Unknown),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Growth at infinity
// ---------------------------------------------------------------------------------------

/// A bound on |e(z)| for all real z:
/// `Poly(d)`: ≤ C(1+|z|)^d; `Gauss(c)`: ≤ C_ε exp((c+ε)z²) for every ε > 0 (c ≥ 0, stored
/// rounded up); `Unbounded`: no bound of either kind could be proved.
#[derive(Clone, Debug, PartialEq)]
pub enum Growth {
    Poly(u32),
    Gauss(Float),
    Unbounded,
}

fn quarter() -> Float {
    Float::with_val(CHECK_PREC, 0.25)
}

fn up_add(a: &Float, b: &Float) -> Float {
    crate::rounding::add_up(CHECK_PREC, a, b)
}

fn up_mul(a: &Float, b: &Float) -> Float {
    crate::rounding::mul_up(CHECK_PREC, a, b)
}

impl Growth {
    fn is_bad(&self) -> bool {
        match self {
            Growth::Poly(_) => false,
            Growth::Gauss(c) => *c >= quarter(),
            Growth::Unbounded => true,
        }
    }
    fn rank(&self) -> (u8, Float, u32) {
        match self {
            Growth::Poly(d) => (0, Float::new(CHECK_PREC), *d),
            Growth::Gauss(c) => (1, c.clone(), 0),
            Growth::Unbounded => (2, Float::new(CHECK_PREC), 0),
        }
    }
    fn max(self, o: Growth) -> Growth {
        if self.rank().partial_cmp(&o.rank()) == Some(Ordering::Less) {
            o
        } else {
            self
        }
    }
    fn min(self, o: Growth) -> Growth {
        if self.rank().partial_cmp(&o.rank()) == Some(Ordering::Less) {
            self
        } else {
            o
        }
    }
    fn times(self, o: Growth) -> Growth {
        match (self, o) {
            (Growth::Unbounded, _) | (_, Growth::Unbounded) => Growth::Unbounded,
            (Growth::Poly(a), Growth::Poly(b)) => Growth::Poly(a.saturating_add(b)),
            (Growth::Gauss(c), Growth::Poly(_)) | (Growth::Poly(_), Growth::Gauss(c)) => {
                Growth::Gauss(c)
            }
            (Growth::Gauss(a), Growth::Gauss(b)) => Growth::Gauss(up_add(&a, &b)),
        }
    }
    fn pow(self, n: u32) -> Growth {
        match self {
            _ if n == 0 => Growth::Poly(0),
            Growth::Poly(d) => Growth::Poly(d.saturating_mul(n)),
            Growth::Gauss(c) => Growth::Gauss(up_mul(&c, &Float::with_val(CHECK_PREC, n))),
            Growth::Unbounded => Growth::Unbounded,
        }
    }
    fn sqrt(self) -> Growth {
        match self {
            Growth::Poly(d) => Growth::Poly(d.div_ceil(2)),
            Growth::Gauss(c) => Growth::Gauss(c / 2u32),
            Growth::Unbounded => Growth::Unbounded,
        }
    }
    fn describe(&self) -> String {
        match self {
            Growth::Poly(d) => format!("|z|^{d}"),
            Growth::Gauss(c) => format!("exp({:.6} z^2)", c.to_f64()),
            Growth::Unbounded => "faster than any exp(c z^2)".into(),
        }
    }
}

/// An upper bound of a real function u (not of |u|): u(z) ≤ (a+ε)z² + C_ε for every ε > 0
/// (a may be −∞), and if `bounded`, u(z) ≤ C. Used for the argument of exp.
#[derive(Clone, Debug)]
struct Upper {
    a: Float,
    bounded: bool,
}

impl Upper {
    fn new(a: Float, bounded: bool) -> Self {
        let bounded = bounded || a < 0;
        Upper { a, bounded }
    }
    fn zero(bounded: bool) -> Self {
        Upper::new(Float::new(CHECK_PREC), bounded)
    }
    fn plus(self, o: Upper) -> Upper {
        Upper::new(up_add(&self.a, &o.a), self.bounded && o.bounded)
    }
    /// Multiply by a constant c > 0 given as an upper bound.
    fn scale(self, c: &Float) -> Upper {
        if self.a.is_infinite() {
            return self;
        }
        let a = if self.a >= 0 {
            up_mul(&self.a, c)
        } else {
            // a < 0: a smaller factor makes a·c larger, so any c ≥ 0 below the true one is
            // unsafe; use 0 (still bounded above).
            Float::new(CHECK_PREC)
        };
        Upper::new(a, self.bounded)
    }
}

/// Upper bound of `sgn·u` (sgn = ±1).
fn upper(u: &Expr, negate: bool) -> Option<Upper> {
    if let Some(r) = as_polynomial(u).and_then(|p| poly_upper(&p, negate)) {
        return Some(r);
    }
    let composed = match u {
        Expr::Add(a, b) => upper(a, negate).zip(upper(b, negate)),
        Expr::Sub(a, b) => upper(a, negate).zip(upper(b, !negate)),
        Expr::Neg(a) => return upper(a, !negate).or_else(|| upper_fallback(u, negate)),
        Expr::Mul(c, x) | Expr::Mul(x, c) | Expr::Div(x, c) if c.is_const() => {
            let recip = matches!(u, Expr::Div(..));
            let scaled = const_scaled_upper(x, c, recip, negate);
            return scaled.or_else(|| upper_fallback(u, negate));
        }
        _ => None,
    };
    match composed {
        Some((x, y)) => Some(x.plus(y)),
        None => upper_fallback(u, negate),
    }
}

fn const_scaled_upper(x: &Expr, c: &Expr, recip: bool, negate: bool) -> Option<Upper> {
    let s = const_sign_numeric(c)?;
    if s == Ordering::Equal {
        return if recip { None } else { Some(Upper::zero(true)) };
    }
    // an upper bound of |c| (or 1/|c|): the 256-bit value inflated by 2^-100 relative
    let v = const_value(c)?.abs();
    let v = if recip { v.recip() } else { v };
    let mag = Float::with_val(CHECK_PREC, &v + (Float::with_val(CHECK_PREC, &v) >> 100u32));
    let flip = s == Ordering::Less;
    Some(upper(x, negate ^ flip)?.scale(&mag))
}

fn upper_fallback(u: &Expr, negate: bool) -> Option<Upper> {
    let s = if negate {
        sign_info(u).neg()
    } else {
        sign_info(u)
    };
    if s.nonpos() {
        return Some(Upper::zero(true));
    }
    match growth_bound(u) {
        Growth::Poly(0) => Some(Upper::zero(true)),
        Growth::Poly(1) => Some(Upper::zero(false)),
        _ => None,
    }
}

/// Upper bound of ±p(z) for a polynomial p.
fn poly_upper(p: &[Expr], negate: bool) -> Option<Upper> {
    let n = p.len() - 1;
    if n == 0 {
        return Some(Upper::zero(true));
    }
    if n == 1 {
        return Some(Upper::zero(false));
    }
    let lead = if negate {
        Expr::Neg(Box::new(p[n].clone()))
    } else {
        p[n].clone()
    };
    let s = const_sign_numeric(&lead)?;
    if n == 2 {
        let a = const_upper(&lead)?;
        return Some(Upper::new(a, s == Ordering::Less));
    }
    (n % 2 == 0 && s == Ordering::Less).then(|| {
        Upper::new(
            Float::with_val(CHECK_PREC, rug::float::Special::NegInfinity),
            true,
        )
    })
}

/// A proved bound on |e(z)| as |z| → ∞ (rule (a) of the module doc): for a validated spec
/// it is `Poly(d)` or `Gauss(c)` with c < 1/4. Useful to choose quadrature tails: the
/// integrand σ(z)·h_k(z)·φ(z) decays at least like exp(−(1/2 − c − ε) z²).
pub fn growth_bound(e: &Expr) -> Growth {
    growth(e, &Spanned::zeros(e)).g
}

/// Growth of a node, with the position and reason to blame when it is too fast.
struct G {
    g: Growth,
    blame: Option<(usize, String)>,
}

fn growth(e: &Expr, sp: &Spanned) -> G {
    let kid = |i: usize| &sp.kids[i];
    let (g, kids): (Growth, Vec<G>) = match e {
        _ if e.is_const() => (Growth::Poly(0), Vec::new()),
        Expr::Z => (Growth::Poly(1), Vec::new()),
        Expr::Num(_) | Expr::Pi => (Growth::Poly(0), Vec::new()),
        Expr::Neg(a) => {
            let ga = growth(a, kid(0));
            (ga.g.clone(), vec![ga])
        }
        Expr::Add(a, b) | Expr::Sub(a, b) => {
            let (ga, gb) = (growth(a, kid(0)), growth(b, kid(1)));
            (ga.g.clone().max(gb.g.clone()), vec![ga, gb])
        }
        Expr::Mul(a, b) => {
            let (ga, gb) = (growth(a, kid(0)), growth(b, kid(1)));
            (ga.g.clone().times(gb.g.clone()), vec![ga, gb])
        }
        Expr::Div(a, b) => {
            let ga = growth(a, kid(0));
            let rb = recip_growth(b);
            if rb == Growth::Unbounded {
                let reason = "cannot bound 1/denominator by exp(c z^2) with c < 1/4".to_string();
                return G {
                    g: Growth::Unbounded,
                    blame: Some((sp.pos, reason)),
                };
            }
            (ga.g.clone().times(rb), vec![ga])
        }
        Expr::Pow(a, n) => {
            let ga = growth(a, kid(0));
            (ga.g.clone().pow(*n), vec![ga])
        }
        Expr::Sqrt(a) => {
            let ga = growth(a, kid(0));
            (ga.g.clone().sqrt(), vec![ga])
        }
        Expr::Call(f, a) => {
            let ga = growth(a, kid(0));
            let g = match f {
                Func::Relu | Func::Abs | Func::Gelu | Func::Silu => ga.g.clone(),
                Func::Softplus => ga.g.clone().max(Growth::Poly(0)),
                Func::Step
                | Func::Sign
                | Func::Erf
                | Func::Tanh
                | Func::Sigmoid
                | Func::Sin
                | Func::Cos => {
                    return G {
                        g: Growth::Poly(0),
                        blame: None,
                    }
                }
                Func::He(k) => ga.g.clone().pow(*k),
                Func::Exp => match upper(a, false) {
                    None => {
                        let reason = "cannot bound the argument of exp above by c*z^2 + C \
                            (a polynomial of odd degree >= 3 or with positive leading \
                            coefficient grows too fast): no finite Gaussian moments";
                        return G {
                            g: Growth::Unbounded,
                            blame: Some((sp.pos, reason.into())),
                        };
                    }
                    Some(u) if u.bounded => Growth::Poly(0),
                    Some(u) => Growth::Gauss(if u.a > 0 { u.a } else { Float::new(CHECK_PREC) }),
                },
                Func::Log1p => {
                    let one_plus = Expr::Add(Box::new(Expr::num(1)), a.clone());
                    match ga.g.clone().max(recip_growth(&one_plus)) {
                        Growth::Poly(_) => Growth::Poly(1),
                        Growth::Gauss(_) => Growth::Poly(2),
                        Growth::Unbounded => Growth::Unbounded,
                    }
                }
            };
            (g, vec![ga])
        }
    };
    let blame = if g.is_bad() {
        kids.into_iter()
            .find_map(|k| if k.g.is_bad() { k.blame } else { None })
            .or_else(|| {
                Some((
                    sp.pos,
                    format!(
                        "grows like {}: E sigma(Z)^2 is finite only for growth below exp(z^2/4)",
                        g.describe()
                    ),
                ))
            })
    } else {
        None
    };
    G { g, blame }
}

/// Growth of 1/b, for a b already known to be nonzero; `Unbounded` when no bound is found.
fn recip_growth(b: &Expr) -> Growth {
    if b.is_const() || sign_info(b).away {
        return Growth::Poly(0);
    }
    let exp_of_minus = |u: &Expr| {
        let e = Expr::Call(Func::Exp, Box::new(Expr::Neg(Box::new(u.clone()))));
        growth_bound(&e)
    };
    match b {
        Expr::Neg(a) => recip_growth(a),
        Expr::Mul(a, c) => recip_growth(a).times(recip_growth(c)),
        Expr::Div(a, c) => recip_growth(a).times(growth_bound(c)),
        Expr::Pow(a, n) => recip_growth(a).pow(*n),
        Expr::Sqrt(a) => recip_growth(a).sqrt(),
        Expr::Add(..) | Expr::Sub(..) => {
            let (x, y, negate_y) = match b {
                Expr::Add(x, y) => (x, y, false),
                Expr::Sub(x, y) => (x, y, true),
                _ => unreachable!(),
            };
            let (sx, mut sy) = (sign_info(x), sign_info(y));
            if negate_y {
                sy = sy.neg();
            }
            // same sign on both sides: |x + y| ≥ max(|x|, |y|) ≥ each strict one
            let same = (sx.nonneg() && sy.nonneg()) || (sx.nonpos() && sy.nonpos());
            if !same {
                return Growth::Unbounded;
            }
            match (sx.strict(), sy.strict()) {
                (true, true) => recip_growth(x).min(recip_growth(y)),
                (true, false) => recip_growth(x),
                (false, true) => recip_growth(y),
                (false, false) => Growth::Unbounded,
            }
        }
        Expr::Call(Func::Exp, u) => exp_of_minus(u),
        // 1/sigmoid(u) = 1 + e^{−u}; 1/softplus(u) ≤ max(1/log 2, 2e^{−u})
        Expr::Call(Func::Sigmoid | Func::Softplus, u) => exp_of_minus(u).max(Growth::Poly(0)),
        _ => Growth::Unbounded,
    }
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

/// Check rules (a)–(e) of the module doc. Positions come from re-parsing `source`; when the
/// tree did not come from `source` (a derived expression), every position is 0.
pub fn validate(source: &str, e: &Expr) -> Result<(), SpecError> {
    let sp = match parse_spanned(source) {
        Ok((pe, sp)) if pe == *e => sp,
        _ => Spanned::zeros(e),
    };
    let fail = |(position, reason): (usize, String)| SpecError {
        source_text: source.to_string(),
        position,
        reason,
    };
    check_local(e, &sp).map_err(fail)?;
    match growth(e, &sp).blame {
        Some(b) => Err(fail(b)),
        None => Ok(()),
    }
}

/// Rules (b)–(e), children first (so the innermost problem is reported).
fn check_local(e: &Expr, sp: &Spanned) -> Result<(), (usize, String)> {
    match e {
        Expr::Num(_) | Expr::Pi | Expr::Z => {}
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) | Expr::Call(_, a) => {
            check_local(a, &sp.kids[0])?
        }
        Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
            check_local(a, &sp.kids[0])?;
            check_local(b, &sp.kids[1])?;
        }
    }
    let reason = match e {
        Expr::Div(_, b) if fold_rational(b).is_some_and(|q| q == 0) => {
            Some("division by zero".to_string())
        }
        Expr::Div(_, b) if b.is_const() && !sign_info(b).strict() => Some(
            "the constant denominator is zero, or too close to zero to tell apart at 256 bits"
                .into(),
        ),
        Expr::Div(_, b) if !sign_info(b).strict() => Some(
            "cannot prove the denominator nonzero for every z (provably nonzero: nonzero \
             constants, exp, sigmoid, softplus, 1 + z^2, sums and products of positives, \
             even powers plus a positive constant)"
                .into(),
        ),
        Expr::Sqrt(a) if !sign_info(a).nonneg() => {
            Some("cannot prove the argument of sqrt is >= 0 for every z".into())
        }
        Expr::Call(Func::Log1p, a)
            if sign_info(&Expr::Add(Box::new(Expr::num(1)), a.clone())).s != Sg::Pos =>
        {
            Some("cannot prove the argument of log1p is > -1 for every z".into())
        }
        Expr::Call(f, a) if f.is_kinked() && !a.is_const() => kink_argument_problem(f, a),
        _ if e.is_const() && const_value(e).is_none() => {
            Some("this constant evaluates to NaN or overflows (not a finite number)".into())
        }
        _ => None,
    };
    match reason {
        Some(r) => Err((sp.pos, r)),
        None => Ok(()),
    }
}

/// Rule (b): why the argument `a` of a kinked function is not affine with nonzero slope.
fn kink_argument_problem(f: &Func, a: &Expr) -> Option<String> {
    let affine = format!(
        "the argument of {} must be affine in z (a*z + b, a != 0)",
        f.name()
    );
    match as_polynomial(a) {
        None => Some(affine),
        Some(p) if p.len() > 2 => Some(format!(
            "{affine}; got a polynomial of degree {}",
            p.len() - 1
        )),
        Some(p) if p.len() == 1 => None, // constant after simplification: no kink
        Some(p) if !sign_info(&p[1]).strict() => Some(format!(
            "{affine}; the slope is zero or too close to zero to tell"
        )),
        Some(_) => None,
    }
}

// ---------------------------------------------------------------------------------------
// Kinks
// ---------------------------------------------------------------------------------------

/// The affine arguments a·z + b of every relu/abs/step/sign with a non-constant argument,
/// deduplicated by location −b/a (exactly when a and b are rational, otherwise to within
/// 2^−240·max(1, |location|) at 256 bits) and sorted by location. An argument that is not
/// affine (rejected by validation) is skipped.
pub fn kinks(e: &Expr) -> Vec<Kink> {
    let mut found: Vec<(Kink, Option<Rational>, Float)> = Vec::new();
    collect_kinks(e, &mut found);
    found.sort_by(|x, y| x.2.partial_cmp(&y.2).unwrap_or(Ordering::Equal));
    found.into_iter().map(|(k, _, _)| k).collect()
}

fn collect_kinks(e: &Expr, out: &mut Vec<(Kink, Option<Rational>, Float)>) {
    match e {
        Expr::Num(_) | Expr::Pi | Expr::Z => {}
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) => collect_kinks(a, out),
        Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
            collect_kinks(a, out);
            collect_kinks(b, out);
        }
        Expr::Call(f, a) => {
            collect_kinks(a, out);
            if !f.is_kinked() || a.is_const() {
                return;
            }
            let Some(p) = as_polynomial(a) else { return };
            if p.len() != 2 {
                return;
            }
            let kink = Kink {
                a: p[1].clone(),
                b: p[0].clone(),
            };
            let exact = match (fold_rational(&kink.a), fold_rational(&kink.b)) {
                (Some(a), Some(b)) if a != 0 => Some(-b / a),
                _ => None,
            };
            let loc = kink.location(CHECK_PREC);
            let dup = out.iter().any(|(_, q, x)| match (q, &exact) {
                (Some(q), Some(r)) => q == r,
                _ => {
                    let d = Float::with_val(CHECK_PREC, x - &loc).abs();
                    let scale = Float::with_val(CHECK_PREC, loc.abs_ref())
                        .max(&Float::with_val(CHECK_PREC, 1));
                    d <= scale >> 240u32
                }
            });
            if !dup {
                out.push((kink, exact, loc));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parity
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum P {
    /// identically zero (both even and odd)
    Zero,
    Even,
    Odd,
    Neither,
}

/// Even/Odd/Neither under z → −z, conservative.
pub fn parity(e: &Expr) -> Parity {
    match par(e) {
        P::Zero | P::Even => Parity::Even,
        P::Odd => Parity::Odd,
        P::Neither => Parity::Neither,
    }
}

fn par(e: &Expr) -> P {
    use P::*;
    if e.is_const() {
        return if fold_rational(e).is_some_and(|q| q == 0) {
            Zero
        } else {
            Even
        };
    }
    let add = |a: P, b: P| match (a, b) {
        (Zero, x) | (x, Zero) => x,
        (Even, Even) => Even,
        (Odd, Odd) => Odd,
        _ => Neither,
    };
    let mul = |a: P, b: P| match (a, b) {
        (Zero, _) | (_, Zero) => Zero,
        (Neither, _) | (_, Neither) => Neither,
        (x, y) if x == y => Even,
        _ => Odd,
    };
    match e {
        Expr::Num(_) | Expr::Pi => Even,
        Expr::Z => Odd,
        Expr::Neg(a) => par(a),
        Expr::Add(a, b) | Expr::Sub(a, b) => add(par(a), par(b)),
        Expr::Mul(a, b) | Expr::Div(a, b) => mul(par(a), par(b)),
        Expr::Pow(a, n) => match par(a) {
            _ if *n == 0 => Even,
            Odd if n % 2 == 1 => Odd,
            Odd => Even,
            x => x,
        },
        Expr::Sqrt(a) => match par(a) {
            Zero | Even => par(a),
            _ => Neither,
        },
        Expr::Call(f, a) => match par(a) {
            Zero => Even,
            Even => Even,
            Neither => Neither,
            Odd => match f {
                Func::Erf | Func::Tanh | Func::Sin | Func::Sign => Odd,
                Func::Abs | Func::Cos => Even,
                Func::He(k) => {
                    if k % 2 == 1 {
                        Odd
                    } else {
                        Even
                    }
                }
                _ => Neither,
            },
        },
    }
}

// ---------------------------------------------------------------------------------------
// Light simplification (used by derivative and as_polynomial)
// ---------------------------------------------------------------------------------------

fn is_num(e: &Expr, v: i32) -> bool {
    matches!(e, Expr::Num(q) if *q == v)
}

fn s_neg(a: Expr) -> Expr {
    match a {
        Expr::Num(q) => Expr::Num(-q),
        Expr::Neg(x) => *x,
        a => Expr::Neg(Box::new(a)),
    }
}

/// The non-numeric part r of `q·r` (or of `r` itself); `None` for a number.
fn non_numeric(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Num(_) => None,
        Expr::Mul(a, r) if matches!(**a, Expr::Num(_)) => Some(r),
        e => Some(e),
    }
}

/// Split `q·r` into (q, r); anything else is (1, e).
fn split_num(e: Expr) -> (Rational, Expr) {
    match e {
        Expr::Mul(a, r) if matches!(*a, Expr::Num(_)) => {
            let Expr::Num(q) = *a else { unreachable!() };
            (q, *r)
        }
        e => (Rational::from(1), e),
    }
}

fn s_add(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x + y),
        (a, b) if is_num(&a, 0) => b,
        (a, b) if is_num(&b, 0) => a,
        // q·r + p·r = (q + p)·r (keeps polynomial coefficients with a common surd compact)
        (a, b) if non_numeric(&a).is_some() && non_numeric(&a) == non_numeric(&b) => {
            let ((x, r), (y, _)) = (split_num(a), split_num(b));
            s_mul(Expr::Num(x + y), r)
        }
        (a, Expr::Neg(b)) => Expr::Sub(Box::new(a), b),
        // a + (−q)·r = a − q·r (readability only)
        (a, Expr::Num(q)) if q < 0 => Expr::Sub(Box::new(a), Box::new(Expr::Num(-q))),
        (a, Expr::Mul(x, r)) if matches!(&*x, Expr::Num(q) if *q < 0) => {
            let Expr::Num(q) = *x else { unreachable!() };
            Expr::Sub(Box::new(a), Box::new(s_mul(Expr::Num(-q), *r)))
        }
        (a, b) => Expr::Add(Box::new(a), Box::new(b)),
    }
}

fn s_sub(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x - y),
        (a, b) if is_num(&b, 0) => a,
        (a, b) if is_num(&a, 0) => s_neg(b),
        (a, b) if a == b => Expr::num(0),
        (a, b) => Expr::Sub(Box::new(a), Box::new(b)),
    }
}

fn s_mul(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x * y),
        (a, b) if is_num(&a, 0) || is_num(&b, 0) => Expr::num(0),
        (a, b) if is_num(&a, 1) => b,
        (a, b) if is_num(&b, 1) => a,
        (a, b) if is_num(&a, -1) => s_neg(b),
        (a, b) if is_num(&b, -1) => s_neg(a),
        (Expr::Neg(a), b) => s_neg(s_mul(*a, b)),
        (a, Expr::Neg(b)) => s_neg(s_mul(a, *b)),
        (Expr::Num(x), Expr::Mul(y, r)) if matches!(*y, Expr::Num(_)) => {
            let Expr::Num(y) = *y else { unreachable!() };
            s_mul(Expr::Num(x * y), *r)
        }
        (a, Expr::Num(x)) => s_mul(Expr::Num(x), a),
        // numeric factors to the front: (q·r)·b = q·(r·b)
        (Expr::Mul(x, r), b) if matches!(*x, Expr::Num(_)) => s_mul(*x, s_mul(*r, b)),
        (a, Expr::Mul(x, r)) if matches!(*x, Expr::Num(_)) => s_mul(*x, s_mul(a, *r)),
        // √q·√q = q for a rational q ≥ 0
        (Expr::Sqrt(x), Expr::Sqrt(y)) if x == y && matches!(&*x, Expr::Num(q) if *q >= 0) => *x,
        (a, b) => Expr::Mul(Box::new(a), Box::new(b)),
    }
}

fn s_div(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::Num(x), Expr::Num(y)) if y != 0 => Expr::Num(x / y),
        (a, _) if is_num(&a, 0) => Expr::num(0),
        (a, b) if is_num(&b, 1) => a,
        (a, Expr::Num(y)) if y != 0 => s_mul(Expr::Num(y.recip()), a),
        (a, b) => Expr::Div(Box::new(a), Box::new(b)),
    }
}

fn s_pow(a: Expr, n: u32) -> Expr {
    match (a, n) {
        (_, 0) => Expr::num(1),
        (a, 1) => a,
        (Expr::Num(q), n) => {
            Expr::Num(fold_rational(&Expr::Pow(Box::new(Expr::Num(q)), n)).expect("rational"))
        }
        (a, n) => Expr::Pow(Box::new(a), n),
    }
}

/// Fold a constant to a `Num` when it is rational, otherwise keep it.
fn fold(e: &Expr) -> Expr {
    fold_rational(e).map(Expr::Num).unwrap_or_else(|| e.clone())
}

/// √k as an expression: an integer when k is a square, `sqrt(k)` otherwise.
fn sqrt_int(k: u32) -> Expr {
    let r = (k as f64).sqrt().round() as u32;
    if r * r == k {
        Expr::num(r)
    } else {
        Expr::Sqrt(Box::new(Expr::num(k)))
    }
}

// ---------------------------------------------------------------------------------------
// Derivative
// ---------------------------------------------------------------------------------------

/// The symbolic derivative, lightly simplified (0·x → 0, 1·x → x, x + 0 → x, rational
/// constants folded). `None` when the derivative is not a function: step or sign of a
/// non-constant argument (a Dirac delta; hence also relu'' and abs''), or sqrt of an argument
/// not provably > 0 (u'/(2√u) may be singular where u vanishes).
pub fn derivative(e: &Expr) -> Option<Expr> {
    if e.is_const() {
        return Some(Expr::num(0));
    }
    Some(match e {
        Expr::Num(_) | Expr::Pi => Expr::num(0),
        Expr::Z => Expr::num(1),
        Expr::Neg(a) => s_neg(derivative(a)?),
        Expr::Add(a, b) => s_add(derivative(a)?, derivative(b)?),
        Expr::Sub(a, b) => s_sub(derivative(a)?, derivative(b)?),
        Expr::Mul(a, b) => {
            let (da, db) = (derivative(a)?, derivative(b)?);
            s_add(s_mul(da, (**b).clone()), s_mul((**a).clone(), db))
        }
        Expr::Div(a, b) => {
            let da = derivative(a)?;
            if b.is_const() {
                return Some(s_div(da, (**b).clone()));
            }
            let db = derivative(b)?;
            let num = s_sub(s_mul(da, (**b).clone()), s_mul((**a).clone(), db));
            s_div(num, s_pow((**b).clone(), 2))
        }
        Expr::Pow(_, 0) => Expr::num(0),
        Expr::Pow(a, n) => {
            let da = derivative(a)?;
            let outer = s_mul(Expr::num(*n), s_pow((**a).clone(), n - 1));
            s_mul(outer, da)
        }
        Expr::Sqrt(a) => {
            if sign_info(a).s != Sg::Pos {
                return None;
            }
            let da = derivative(a)?;
            s_div(da, s_mul(Expr::num(2), e.clone()))
        }
        Expr::Call(f, a) => {
            let da = derivative(a)?;
            let u = (**a).clone();
            let call = |g: Func, x: Expr| Expr::Call(g, Box::new(x));
            let sig = call(Func::Sigmoid, u.clone());
            let outer = match f {
                Func::Relu => call(Func::Step, u),
                Func::Abs => call(Func::Sign, u),
                Func::Step | Func::Sign => return None,
                // 2/√π · exp(−u²)
                Func::Erf => s_mul(
                    Expr::Div(
                        Box::new(Expr::num(2)),
                        Box::new(Expr::Sqrt(Box::new(Expr::Pi))),
                    ),
                    call(Func::Exp, s_neg(s_pow(u, 2))),
                ),
                Func::Tanh => s_sub(Expr::num(1), s_pow(e.clone(), 2)),
                Func::Sigmoid => s_mul(sig.clone(), s_sub(Expr::num(1), sig)),
                Func::Softplus => sig,
                // Φ(u) + u φ(u) = (1 + erf(u/√2))/2 + u·exp(−u²/2)/√(2π)
                Func::Gelu => {
                    let sqrt2 = Expr::Sqrt(Box::new(Expr::num(2)));
                    let cdf = s_div(
                        s_add(Expr::num(1), call(Func::Erf, s_div(u.clone(), sqrt2))),
                        Expr::num(2),
                    );
                    let pdf_num = call(Func::Exp, s_div(s_neg(s_pow(u.clone(), 2)), Expr::num(2)));
                    let sqrt2pi = Expr::Sqrt(Box::new(s_mul(Expr::num(2), Expr::Pi)));
                    s_add(cdf, s_div(s_mul(u, pdf_num), sqrt2pi))
                }
                // s + u·s·(1 − s)
                Func::Silu => s_add(
                    sig.clone(),
                    s_mul(s_mul(u, sig.clone()), s_sub(Expr::num(1), sig)),
                ),
                Func::Sin => call(Func::Cos, u),
                Func::Cos => s_neg(call(Func::Sin, u)),
                Func::Exp => e.clone(),
                Func::Log1p => s_div(Expr::num(1), s_add(Expr::num(1), u)),
                Func::He(0) => Expr::num(0),
                Func::He(k) => s_mul(sqrt_int(*k), call(Func::He(k - 1), u)),
            };
            s_mul(outer, da)
        }
    })
}

// ---------------------------------------------------------------------------------------
// Polynomial form
// ---------------------------------------------------------------------------------------

/// Monomial coefficients p_0..p_n (constant expressions, rational ones folded to `Num`) when
/// the expression is a polynomial in z: sums, differences, products, integer powers, `he<k>`
/// of a polynomial, division by a nonzero constant, any constant. Trailing exact zeros are
/// removed (the zero polynomial is `[0]`). `None` when not recognised as a polynomial, and
/// also when the coefficients would exceed `MAX_POLY_NODES` nodes (possible only with
/// irrational coefficients under high powers or `he<k>`).
pub fn as_polynomial(e: &Expr) -> Option<Vec<Expr>> {
    let p = poly(e)?;
    (p.iter().map(node_count).sum::<usize>() <= MAX_POLY_NODES).then_some(p)
}

fn node_count(e: &Expr) -> usize {
    1 + match e {
        Expr::Num(_) | Expr::Pi | Expr::Z => 0,
        Expr::Neg(a) | Expr::Pow(a, _) | Expr::Sqrt(a) | Expr::Call(_, a) => node_count(a),
        Expr::Add(a, b) | Expr::Sub(a, b) | Expr::Mul(a, b) | Expr::Div(a, b) => {
            node_count(a) + node_count(b)
        }
    }
}

impl crate::poly::Coefficient for Expr {
    fn zero() -> Expr {
        Expr::num(0)
    }
    fn is_exact_zero(&self) -> bool {
        is_num(self, 0)
    }
    fn plus(&self, other: &Expr) -> Expr {
        s_add(self.clone(), other.clone())
    }
    fn times(&self, other: &Expr) -> Expr {
        s_mul(self.clone(), other.clone())
    }
}

/// Drops trailing zeros but keeps at least the constant term.
fn trim(p: Vec<Expr>) -> Vec<Expr> {
    let mut p = crate::poly::trim(p);
    if p.is_empty() {
        p.push(Expr::num(0));
    }
    p
}

fn p_add(a: &[Expr], b: &[Expr], negate_b: bool) -> Vec<Expr> {
    let n = a.len().max(b.len());
    let zero = Expr::num(0);
    let out = (0..n)
        .map(|i| {
            let (x, y) = (
                a.get(i).unwrap_or(&zero).clone(),
                b.get(i).unwrap_or(&zero).clone(),
            );
            if negate_b {
                s_sub(x, y)
            } else {
                s_add(x, y)
            }
        })
        .collect();
    trim(out)
}

fn p_mul(a: &[Expr], b: &[Expr]) -> Option<Vec<Expr>> {
    let mut out = vec![Expr::num(0); a.len() + b.len() - 1];
    let mut size = 0usize;
    for (i, x) in a.iter().enumerate() {
        if is_num(x, 0) {
            continue;
        }
        for (j, y) in b.iter().enumerate() {
            let t = std::mem::replace(&mut out[i + j], Expr::num(0));
            out[i + j] = s_add(t, s_mul(x.clone(), y.clone()));
        }
        size += out.iter().map(node_count).sum::<usize>();
        if size > 64 * MAX_POLY_NODES {
            return None;
        }
    }
    let out = trim(out);
    (out.iter().map(node_count).sum::<usize>() <= MAX_POLY_NODES).then_some(out)
}

fn p_pow(a: &[Expr], mut n: u32) -> Option<Vec<Expr>> {
    let mut result = vec![Expr::num(1)];
    let mut base = a.to_vec();
    while n > 0 {
        if n & 1 == 1 {
            result = p_mul(&result, &base)?;
        }
        n >>= 1;
        if n > 0 {
            base = p_mul(&base, &base)?;
        }
    }
    Some(result)
}

fn poly(e: &Expr) -> Option<Vec<Expr>> {
    if e.is_const() {
        return Some(vec![fold(e)]);
    }
    match e {
        Expr::Z => Some(vec![Expr::num(0), Expr::num(1)]),
        Expr::Neg(a) => Some(poly(a)?.into_iter().map(s_neg).collect()),
        Expr::Add(a, b) => Some(p_add(&poly(a)?, &poly(b)?, false)),
        Expr::Sub(a, b) => Some(p_add(&poly(a)?, &poly(b)?, true)),
        Expr::Mul(a, b) => p_mul(&poly(a)?, &poly(b)?),
        Expr::Div(a, b) if b.is_const() => {
            if !sign_info(b).strict() {
                return None;
            }
            let d = fold(b);
            Some(poly(a)?.into_iter().map(|c| s_div(c, d.clone())).collect())
        }
        Expr::Pow(a, n) => p_pow(&poly(a)?, *n),
        Expr::Call(Func::He(k), a) => hermite_compose(*k, &poly(a)?),
        _ => None,
    }
}

/// Coefficients of h_k(u(z)) = He_k(u)/√(k!) for a polynomial u.
fn hermite_compose(k: u32, u: &[Expr]) -> Option<Vec<Expr>> {
    let he = he_coefficients(k as usize);
    let (m, s) = sqrt_factorial_parts(k as usize);
    // 1/√(k!) = 1/(m√s) = √s/(m·s)
    let rat_factor = Rational::from((Integer::from(1), Integer::from(&m * &s)));
    let surd = (s != 1).then(|| Expr::Sqrt(Box::new(Expr::Num(Rational::from(s.clone())))));
    let scale = |c: Expr| match &surd {
        None => s_mul(Expr::Num(rat_factor.clone() * Rational::from(s.clone())), c),
        Some(r) => s_mul(s_mul(Expr::Num(rat_factor.clone()), c), r.clone()),
    };
    let rational_u: Option<Vec<Rational>> = u
        .iter()
        .map(|c| match c {
            Expr::Num(q) => Some(q.clone()),
            _ => None,
        })
        .collect();
    let he_u: Vec<Expr> = match rational_u {
        Some(ru) => {
            // Horner over Q: acc = acc·u + c_j, j = k..0
            let mut acc: Vec<Rational> = vec![Rational::new()];
            for c in he.iter().rev() {
                let mut next = vec![Rational::new(); acc.len() + ru.len() - 1];
                for (i, x) in acc.iter().enumerate() {
                    if *x == 0 {
                        continue;
                    }
                    for (j, y) in ru.iter().enumerate() {
                        next[i + j] += Rational::from(x * y);
                    }
                }
                next[0] += c;
                while next.len() > 1 && next.last().is_some_and(|q| *q == 0) {
                    next.pop();
                }
                acc = next;
            }
            acc.into_iter().map(Expr::Num).collect()
        }
        None => {
            let mut acc = vec![Expr::num(0)];
            for c in he.iter().rev() {
                acc = p_mul(&acc, u)?;
                acc[0] = s_add(acc[0].clone(), Expr::Num(Rational::from(c.clone())));
            }
            acc
        }
    };
    Some(trim(he_u.into_iter().map(scale).collect()))
}
