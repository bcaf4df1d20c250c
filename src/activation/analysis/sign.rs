//! Sign analysis of expressions.

use super::*;

/// What is known about the sign of an expression for every real z.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sg {
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
pub(super) struct SignInfo {
    pub(super) s: Sg,
    pub(super) away: bool,
}

impl SignInfo {
    pub(super) fn new(s: Sg, away: bool) -> Self {
        let away = away && matches!(s, Sg::Pos | Sg::Neg);
        SignInfo { s, away }
    }
    pub(super) fn plain(s: Sg) -> Self {
        SignInfo::new(s, false)
    }
    pub(super) fn strict(self) -> bool {
        matches!(self.s, Sg::Pos | Sg::Neg)
    }
    pub(super) fn nonneg(self) -> bool {
        matches!(self.s, Sg::Pos | Sg::NonNeg | Sg::Zero)
    }
    pub(super) fn nonpos(self) -> bool {
        matches!(self.s, Sg::Neg | Sg::NonPos | Sg::Zero)
    }
    /// (direction: +1/−1, strict) for a known sign.
    pub(super) fn dir(self) -> Option<(i8, bool)> {
        match self.s {
            Sg::Pos => Some((1, true)),
            Sg::NonNeg => Some((1, false)),
            Sg::Neg => Some((-1, true)),
            Sg::NonPos => Some((-1, false)),
            _ => None,
        }
    }
    pub(super) fn from_dir(d: i8, strict: bool, away: bool) -> Self {
        let s = match (d > 0, strict) {
            (true, true) => Sg::Pos,
            (true, false) => Sg::NonNeg,
            (false, true) => Sg::Neg,
            (false, false) => Sg::NonPos,
        };
        SignInfo::new(s, away)
    }
    pub(super) fn neg(self) -> Self {
        let s = match self.s {
            Sg::Pos => Sg::Neg,
            Sg::Neg => Sg::Pos,
            Sg::NonNeg => Sg::NonPos,
            Sg::NonPos => Sg::NonNeg,
            s => s,
        };
        SignInfo::new(s, self.away)
    }
    pub(super) fn add(self, o: Self) -> Self {
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
    pub(super) fn mul(self, o: Self) -> Self {
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
    pub(super) fn follow(self) -> Self {
        SignInfo::plain(self.s)
    }
}

pub(super) fn sign_info(e: &Expr) -> SignInfo {
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

pub(super) fn structural_sign(e: &Expr) -> SignInfo {
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
