//! Closed intervals [lo, hi] of MPFR floats with outward (directed) rounding: the crate's one
//! interval type (used by the coefficient enclosures in `coeffs::enclose` and by the Hessian
//! certificates and eigenvalue enclosures in `hessian`).
//!
//! Accuracy contract: every operation returns an interval that contains the exact result of
//! the operation for every choice of exact operands in the input intervals. Lower endpoints
//! are rounded towards −∞ and upper endpoints towards +∞ by MPFR's correctly rounded
//! primitives, so the contract holds at any precision. Monotone functions (exp, tanh, erf,
//! log1p, sqrt) map endpoints; sin and cos use the midpoint value widened by the radius
//! (|sin'|, |cos'| ≤ 1). Operations that are not defined on the whole input (a divisor
//! interval containing 0, sqrt or log1p outside their domain) return `None`; `sqrt_clamped`
//! is for quantities that are ≥ 0 mathematically. Tests: the unit test below,
//! tests/hessian.rs (`interval_encloses`), tests/coeff_enclosures.rs.

use rug::float::{Constant, Round};
use rug::ops::NegAssign;
use rug::{Float, Rational};

/// A closed interval [lo, hi], lo ≤ hi, both at the same precision.
#[derive(Clone, Debug)]
pub struct Interval {
    pub lo: Float,
    pub hi: Float,
}

fn dn<T>(prec: u32, v: T) -> Float
where
    Float: rug::ops::AssignRound<T, Round = Round, Ordering = std::cmp::Ordering>,
{
    Float::with_val_round(prec, v, Round::Down).0
}

fn up<T>(prec: u32, v: T) -> Float
where
    Float: rug::ops::AssignRound<T, Round = Round, Ordering = std::cmp::Ordering>,
{
    Float::with_val_round(prec, v, Round::Up).0
}

impl Interval {
    /// The point x (exactly representable at `prec` bits or rounded outward).
    pub fn point(prec: u32, x: &Float) -> Interval {
        Interval {
            lo: dn(prec, x),
            hi: up(prec, x),
        }
    }

    pub fn from_rational(prec: u32, q: &Rational) -> Interval {
        Interval {
            lo: dn(prec, q),
            hi: up(prec, q),
        }
    }

    pub fn from_u64(prec: u32, n: u64) -> Interval {
        Interval {
            lo: dn(prec, n),
            hi: up(prec, n),
        }
    }

    /// An integer k, rounded outward if it needs more than `prec` bits.
    pub fn int(prec: u32, k: i64) -> Interval {
        Interval {
            lo: dn(prec, k),
            hi: up(prec, k),
        }
    }

    /// [lo, hi] rounded outward to `prec`.
    pub fn new(prec: u32, lo: &Float, hi: &Float) -> Interval {
        assert!(lo <= hi, "interval with lo > hi");
        Interval {
            lo: dn(prec, lo),
            hi: up(prec, hi),
        }
    }

    /// value ± radius.
    pub fn ball(prec: u32, value: &Float, radius: &Float) -> Interval {
        Interval {
            lo: dn(prec, value - radius),
            hi: up(prec, value + radius),
        }
    }

    pub fn pi(prec: u32) -> Interval {
        Interval {
            lo: dn(prec, Constant::Pi),
            hi: up(prec, Constant::Pi),
        }
    }

    pub fn prec(&self) -> u32 {
        self.lo.prec()
    }

    pub fn contains_zero(&self) -> bool {
        self.lo <= 0 && self.hi >= 0
    }

    /// max(|lo|, |hi|): an upper bound of |x| on the interval.
    pub fn mag(&self) -> Float {
        let a = Float::with_val(self.prec(), self.lo.abs_ref());
        let b = Float::with_val(self.prec(), self.hi.abs_ref());
        if a > b {
            a
        } else {
            b
        }
    }

    /// Midpoint (round to nearest) and a radius rounded up such that [mid ± rad] ⊇ self.
    pub fn mid_rad(&self) -> (Float, Float) {
        let p = self.prec();
        let mid = Float::with_val(p, &self.lo + &self.hi) / 2u32;
        let r1 = up(p, &self.hi - &mid);
        let r2 = up(p, &mid - &self.lo);
        (mid, if r1 > r2 { r1 } else { r2 })
    }

    pub fn neg(&self) -> Interval {
        let mut lo = self.hi.clone();
        let mut hi = self.lo.clone();
        lo.neg_assign();
        hi.neg_assign();
        Interval { lo, hi }
    }

    pub fn add(&self, o: &Interval) -> Interval {
        let p = self.prec();
        Interval {
            lo: dn(p, &self.lo + &o.lo),
            hi: up(p, &self.hi + &o.hi),
        }
    }

    /// self += o, in place.
    pub fn add_assign(&mut self, o: &Interval) {
        use rug::ops::AddAssignRound;
        self.lo.add_assign_round(&o.lo, Round::Down);
        self.hi.add_assign_round(&o.hi, Round::Up);
    }

    pub fn sub(&self, o: &Interval) -> Interval {
        let p = self.prec();
        Interval {
            lo: dn(p, &self.lo - &o.hi),
            hi: up(p, &self.hi - &o.lo),
        }
    }

    /// The product; two roundings per endpoint when both factors have a sign, eight
    /// products otherwise.
    pub fn mul(&self, o: &Interval) -> Interval {
        let p = self.prec();
        let (a, b) = (self, o);
        if a.lo >= 0 && b.lo >= 0 {
            return Interval {
                lo: dn(p, &a.lo * &b.lo),
                hi: up(p, &a.hi * &b.hi),
            };
        }
        if a.hi <= 0 && b.hi <= 0 {
            return Interval {
                lo: dn(p, &a.hi * &b.hi),
                hi: up(p, &a.lo * &b.lo),
            };
        }
        if a.lo >= 0 && b.hi <= 0 {
            return Interval {
                lo: dn(p, &a.hi * &b.lo),
                hi: up(p, &a.lo * &b.hi),
            };
        }
        if a.hi <= 0 && b.lo >= 0 {
            return Interval {
                lo: dn(p, &a.lo * &b.hi),
                hi: up(p, &a.hi * &b.lo),
            };
        }
        let pairs = [
            (&a.lo, &b.lo),
            (&a.lo, &b.hi),
            (&a.hi, &b.lo),
            (&a.hi, &b.hi),
        ];
        let mut lo = dn(p, pairs[0].0 * pairs[0].1);
        let mut hi = up(p, pairs[0].0 * pairs[0].1);
        for (x, y) in &pairs[1..] {
            let l = dn(p, *x * *y);
            let h = up(p, *x * *y);
            if l < lo {
                lo = l;
            }
            if h > hi {
                hi = h;
            }
        }
        Interval { lo, hi }
    }

    /// x · self for an exact point x.
    pub fn mul_point(&self, x: &Float) -> Interval {
        let p = self.prec();
        if *x >= 0 {
            Interval {
                lo: dn(p, x * &self.lo),
                hi: up(p, x * &self.hi),
            }
        } else {
            Interval {
                lo: dn(p, x * &self.hi),
                hi: up(p, x * &self.lo),
            }
        }
    }

    /// n · self for an integer n ≥ 0.
    pub fn mul_u64(&self, n: u64) -> Interval {
        let p = self.prec();
        Interval {
            lo: dn(p, &self.lo * n),
            hi: up(p, &self.hi * n),
        }
    }

    /// 1/self, `None` when the interval contains 0.
    pub fn recip(&self) -> Option<Interval> {
        if self.contains_zero() {
            return None;
        }
        let p = self.prec();
        Some(Interval {
            lo: dn(p, 1u32 / &self.hi),
            hi: up(p, 1u32 / &self.lo),
        })
    }

    /// self / o (one rounding per endpoint), `None` when o contains 0.
    pub fn div(&self, o: &Interval) -> Option<Interval> {
        if o.contains_zero() {
            return None;
        }
        let p = self.prec();
        let pairs = [
            (&self.lo, &o.lo),
            (&self.lo, &o.hi),
            (&self.hi, &o.lo),
            (&self.hi, &o.hi),
        ];
        let mut lo = dn(p, pairs[0].0 / pairs[0].1);
        let mut hi = up(p, pairs[0].0 / pairs[0].1);
        for (x, y) in &pairs[1..] {
            let l = dn(p, *x / *y);
            let h = up(p, *x / *y);
            if l < lo {
                lo = l;
            }
            if h > hi {
                hi = h;
            }
        }
        Some(Interval { lo, hi })
    }

    /// self / 2^n (exact).
    pub fn shr(&self, n: u32) -> Interval {
        Interval {
            lo: self.lo.clone() >> n,
            hi: self.hi.clone() >> n,
        }
    }

    pub fn pow(&self, n: u32) -> Interval {
        if n == 0 {
            return Interval::from_u64(self.prec(), 1);
        }
        if n % 2 == 0 {
            // even power of an interval: [min |x|^n, max |x|^n]
            let p = self.prec();
            let small = if self.contains_zero() {
                Float::new(p)
            } else {
                let a = Float::with_val(p, self.lo.abs_ref());
                let b = Float::with_val(p, self.hi.abs_ref());
                if a < b {
                    a
                } else {
                    b
                }
            };
            let big = self.mag();
            return Interval {
                lo: dn(p, rug::ops::Pow::pow(&small, n)),
                hi: up(p, rug::ops::Pow::pow(&big, n)),
            };
        }
        let mut r = self.clone();
        for _ in 1..n {
            r = r.mul(self);
        }
        r
    }

    pub fn sqrt(&self) -> Option<Interval> {
        if self.lo < 0 {
            return None;
        }
        let p = self.prec();
        Some(Interval {
            lo: dn(p, self.lo.sqrt_ref()),
            hi: up(p, self.hi.sqrt_ref()),
        })
    }

    /// √x on the nonnegative part (negative lower ends are clamped to 0: only for quantities
    /// that are ≥ 0 mathematically).
    pub fn sqrt_clamped(&self) -> Interval {
        let p = self.prec();
        let root = |x: &Float, down: bool| {
            if *x <= 0 {
                Float::new(p)
            } else if down {
                dn(p, x.sqrt_ref())
            } else {
                up(p, x.sqrt_ref())
            }
        };
        Interval {
            lo: root(&self.lo, true),
            hi: root(&self.hi, false),
        }
    }

    /// {|x| : x ∈ self}.
    pub fn abs(&self) -> Interval {
        if self.lo >= 0 {
            self.clone()
        } else if self.hi <= 0 {
            self.neg()
        } else {
            Interval {
                lo: Float::new(self.prec()),
                hi: self.mag(),
            }
        }
    }

    /// {x² : x ∈ self} (tight also when self straddles 0).
    pub fn square(&self) -> Interval {
        self.pow(2)
    }

    /// {max(x, y) : x ∈ self, y ∈ o}.
    pub fn max(&self, o: &Interval) -> Interval {
        let lo = if self.lo > o.lo { &self.lo } else { &o.lo };
        let hi = if self.hi > o.hi { &self.hi } else { &o.hi };
        Interval {
            lo: lo.clone(),
            hi: hi.clone(),
        }
    }

    /// The hull of two intervals.
    pub fn hull(&self, o: &Interval) -> Interval {
        let lo = if self.lo < o.lo { &self.lo } else { &o.lo };
        let hi = if self.hi > o.hi { &self.hi } else { &o.hi };
        Interval {
            lo: lo.clone(),
            hi: hi.clone(),
        }
    }

    /// An upper bound of |x|^n over the interval, by n upward-rounded products.
    pub fn mag_pow(&self, n: usize) -> Float {
        let p = self.prec();
        let m = self.mag();
        let mut r = Float::with_val(p, 1);
        for _ in 0..n {
            r = up(p, &r * &m);
        }
        r
    }

    pub fn exp(&self) -> Interval {
        let p = self.prec();
        Interval {
            lo: dn(p, self.lo.exp_ref()),
            hi: up(p, self.hi.exp_ref()),
        }
    }

    pub fn tanh(&self) -> Interval {
        let p = self.prec();
        Interval {
            lo: dn(p, self.lo.tanh_ref()),
            hi: up(p, self.hi.tanh_ref()),
        }
    }

    pub fn erf(&self) -> Interval {
        let p = self.prec();
        Interval {
            lo: dn(p, self.lo.erf_ref()),
            hi: up(p, self.hi.erf_ref()),
        }
    }

    /// log(1 + x), `None` unless x > −1 on the whole interval.
    pub fn ln_1p(&self) -> Option<Interval> {
        if self.lo <= -1 {
            return None;
        }
        let p = self.prec();
        Some(Interval {
            lo: dn(p, self.lo.ln_1p_ref()),
            hi: up(p, self.hi.ln_1p_ref()),
        })
    }

    /// sin or cos: f(mid) ± (rad), clamped to [−1, 1].
    fn trig(&self, cos: bool) -> Interval {
        let p = self.prec();
        let (mid, rad) = self.mid_rad();
        let (lo, hi) = if cos {
            (dn(p, mid.cos_ref()), up(p, mid.cos_ref()))
        } else {
            (dn(p, mid.sin_ref()), up(p, mid.sin_ref()))
        };
        let mut lo = dn(p, &lo - &rad);
        let mut hi = up(p, &hi + &rad);
        if lo < -1 {
            lo = Float::with_val(p, -1);
        }
        if hi > 1 {
            hi = Float::with_val(p, 1);
        }
        Interval { lo, hi }
    }

    pub fn sin(&self) -> Interval {
        self.trig(false)
    }

    pub fn cos(&self) -> Interval {
        self.trig(true)
    }

    /// 1/(1 + e^{−x}), increasing: endpoints mapped with directed rounding.
    pub fn sigmoid(&self) -> Interval {
        let p = self.prec();
        let one = Interval::from_u64(p, 1);
        let d = one.add(&self.neg().exp());
        d.recip().expect("1 + e^{-x} > 0")
    }

    /// Upper bound of the radius (hi − lo)/2.
    pub fn rad_up(&self) -> Float {
        let p = self.prec();
        up(p, &self.hi - &self.lo) >> 1u32
    }
}

/// Σ_i c_i x^i by Horner's rule in interval arithmetic.
pub fn horner(c: &[Interval], x: &Interval) -> Interval {
    let mut acc = Interval::int(x.prec(), 0);
    for ci in c.iter().rev() {
        acc = acc.mul(x).add(ci);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rat(f: &Float) -> Rational {
        f.to_rational().unwrap()
    }

    /// At 20 bits, the interval results of +, ·, / on thirds contain the exact rational
    /// results (computed in Q), and exp/tanh intervals contain a 200-bit value.
    #[test]
    fn interval_operations_contain_the_exact_results() {
        let p = 20;
        let third = Rational::from((1, 3));
        let a = Interval::from_rational(p, &third);
        let b = Interval::from_rational(p, &Rational::from((-2, 7)));
        let exact_sum = third.clone() + Rational::from((-2, 7));
        let s = a.add(&b);
        assert!(rat(&s.lo) <= exact_sum && exact_sum <= rat(&s.hi));
        let m = a.mul(&b);
        let exact_prod = third.clone() * Rational::from((-2, 7));
        assert!(rat(&m.lo) <= exact_prod && exact_prod <= rat(&m.hi));
        let q = a.div(&b).unwrap();
        let exact_q = third.clone() / Rational::from((-2, 7));
        assert!(rat(&q.lo) <= exact_q && exact_q <= rat(&q.hi));
        let wide = Interval {
            lo: Float::with_val(p, -1),
            hi: Float::with_val(p, 2),
        };
        assert!(wide.recip().is_none());
        let sq = wide.pow(2);
        assert_eq!((sq.lo.to_f64(), sq.hi.to_f64()), (0.0, 4.0));
        for (iv, f) in [
            (a.exp(), Float::with_val(200, &third).exp()),
            (
                b.tanh(),
                Float::with_val(200, Rational::from((-2, 7))).tanh(),
            ),
            (a.cos(), Float::with_val(200, &third).cos()),
            (b.sigmoid(), {
                let e = Float::with_val(200, Rational::from((2, 7))).exp() + 1u32;
                e.recip()
            }),
        ] {
            assert!(iv.lo <= f && f <= iv.hi, "{iv:?} vs {f}");
            // and the interval is narrow: a few ulps at 20 bits
            assert!(Float::with_val(p, &iv.hi - &iv.lo) < 1e-5);
        }
    }
}
