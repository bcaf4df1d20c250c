//! Growth at infinity: the validation rule (a) of the parent module.

use super::*;

/// A bound on |e(z)| for all real z:
/// `Poly(d)`: ≤ C(1+|z|)^d; `Gauss(c)`: ≤ C_ε exp((c+ε)z²) for every ε > 0 (c ≥ 0, stored
/// rounded up); `Unbounded`: no bound of either kind could be proved.
#[derive(Clone, Debug, PartialEq)]
pub enum Growth {
    Poly(u32),
    Gauss(Float),
    Unbounded,
}

pub(super) fn quarter() -> Float {
    Float::with_val(CHECK_PREC, 0.25)
}

pub(super) fn up_add(a: &Float, b: &Float) -> Float {
    crate::rounding::add_up(CHECK_PREC, a, b)
}

pub(super) fn up_mul(a: &Float, b: &Float) -> Float {
    crate::rounding::mul_up(CHECK_PREC, a, b)
}

impl Growth {
    pub(super) fn is_bad(&self) -> bool {
        match self {
            Growth::Poly(_) => false,
            Growth::Gauss(c) => *c >= quarter(),
            Growth::Unbounded => true,
        }
    }
    pub(super) fn rank(&self) -> (u8, Float, u32) {
        match self {
            Growth::Poly(d) => (0, Float::new(CHECK_PREC), *d),
            Growth::Gauss(c) => (1, c.clone(), 0),
            Growth::Unbounded => (2, Float::new(CHECK_PREC), 0),
        }
    }
    pub(super) fn max(self, o: Growth) -> Growth {
        if self.rank().partial_cmp(&o.rank()) == Some(Ordering::Less) {
            o
        } else {
            self
        }
    }
    pub(super) fn min(self, o: Growth) -> Growth {
        if self.rank().partial_cmp(&o.rank()) == Some(Ordering::Less) {
            self
        } else {
            o
        }
    }
    pub(super) fn times(self, o: Growth) -> Growth {
        match (self, o) {
            (Growth::Unbounded, _) | (_, Growth::Unbounded) => Growth::Unbounded,
            (Growth::Poly(a), Growth::Poly(b)) => Growth::Poly(a.saturating_add(b)),
            (Growth::Gauss(c), Growth::Poly(_)) | (Growth::Poly(_), Growth::Gauss(c)) => {
                Growth::Gauss(c)
            }
            (Growth::Gauss(a), Growth::Gauss(b)) => Growth::Gauss(up_add(&a, &b)),
        }
    }
    pub(super) fn pow(self, n: u32) -> Growth {
        match self {
            _ if n == 0 => Growth::Poly(0),
            Growth::Poly(d) => Growth::Poly(d.saturating_mul(n)),
            Growth::Gauss(c) => Growth::Gauss(up_mul(&c, &Float::with_val(CHECK_PREC, n))),
            Growth::Unbounded => Growth::Unbounded,
        }
    }
    pub(super) fn sqrt(self) -> Growth {
        match self {
            Growth::Poly(d) => Growth::Poly(d.div_ceil(2)),
            Growth::Gauss(c) => Growth::Gauss(c / 2u32),
            Growth::Unbounded => Growth::Unbounded,
        }
    }
    pub(super) fn describe(&self) -> String {
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
pub(super) struct Upper {
    pub(super) a: Float,
    pub(super) bounded: bool,
}

impl Upper {
    pub(super) fn new(a: Float, bounded: bool) -> Self {
        let bounded = bounded || a < 0;
        Upper { a, bounded }
    }
    pub(super) fn zero(bounded: bool) -> Self {
        Upper::new(Float::new(CHECK_PREC), bounded)
    }
    pub(super) fn plus(self, o: Upper) -> Upper {
        Upper::new(up_add(&self.a, &o.a), self.bounded && o.bounded)
    }
    /// Multiply by a constant c > 0 given as an upper bound.
    pub(super) fn scale(self, c: &Float) -> Upper {
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
pub(super) fn upper(u: &Expr, negate: bool) -> Option<Upper> {
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

pub(super) fn const_scaled_upper(x: &Expr, c: &Expr, recip: bool, negate: bool) -> Option<Upper> {
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

pub(super) fn upper_fallback(u: &Expr, negate: bool) -> Option<Upper> {
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
pub(super) fn poly_upper(p: &[Expr], negate: bool) -> Option<Upper> {
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
pub(super) struct G {
    pub(super) g: Growth,
    pub(super) blame: Option<(usize, String)>,
}

pub(super) fn growth(e: &Expr, sp: &Spanned) -> G {
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
pub(super) fn recip_growth(b: &Expr) -> Growth {
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
