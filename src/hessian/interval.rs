//! A small interval type over MPFR with outward rounding: every lower end is rounded down
//! (`Round::Down`) and every upper end up (`Round::Up`), so an interval computed from intervals
//! containing the true inputs contains the true result. Used by [`crate::hessian::certify`].
//! Tests: tests/hessian.rs (`interval_*`).

use rug::float::Round;
use rug::Float;
use std::cmp::Ordering;

/// [lo, hi] with lo ≤ hi, both at the same precision.
#[derive(Clone, Debug)]
pub struct Interval {
    pub lo: Float,
    pub hi: Float,
}

macro_rules! down {
    ($p:expr, $e:expr) => {
        Float::with_val_round($p, $e, Round::Down).0
    };
}
macro_rules! up {
    ($p:expr, $e:expr) => {
        Float::with_val_round($p, $e, Round::Up).0
    };
}

impl Interval {
    /// The exact point x (x must be representable at `prec`; it is rounded outward otherwise).
    pub fn point(x: &Float, prec: u32) -> Interval {
        Interval {
            lo: down!(prec, x),
            hi: up!(prec, x),
        }
    }
    /// [lo, hi] rounded outward to `prec`.
    pub fn new(lo: &Float, hi: &Float, prec: u32) -> Interval {
        assert!(lo <= hi, "interval with lo > hi");
        Interval {
            lo: down!(prec, lo),
            hi: up!(prec, hi),
        }
    }
    /// value ± radius.
    pub fn ball(value: &Float, radius: &Float, prec: u32) -> Interval {
        Interval {
            lo: down!(prec, value - radius),
            hi: up!(prec, value + radius),
        }
    }
    /// An exact integer.
    pub fn int(k: i64, prec: u32) -> Interval {
        Interval::point(&Float::with_val(prec, k), prec)
    }
    pub fn prec(&self) -> u32 {
        self.lo.prec()
    }
    pub fn contains_zero(&self) -> bool {
        self.lo <= 0 && self.hi >= 0
    }
    pub fn add(&self, o: &Interval) -> Interval {
        let p = self.prec();
        Interval {
            lo: down!(p, &self.lo + &o.lo),
            hi: up!(p, &self.hi + &o.hi),
        }
    }
    pub fn sub(&self, o: &Interval) -> Interval {
        let p = self.prec();
        Interval {
            lo: down!(p, &self.lo - &o.hi),
            hi: up!(p, &self.hi - &o.lo),
        }
    }
    pub fn mul(&self, o: &Interval) -> Interval {
        let p = self.prec();
        let pairs = [
            (&self.lo, &o.lo),
            (&self.lo, &o.hi),
            (&self.hi, &o.lo),
            (&self.hi, &o.hi),
        ];
        let lo = pairs
            .iter()
            .map(|(a, b)| down!(p, *a * *b))
            .min_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal))
            .unwrap();
        let hi = pairs
            .iter()
            .map(|(a, b)| up!(p, *a * *b))
            .max_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal))
            .unwrap();
        Interval { lo, hi }
    }
    /// self / o, or `None` when o contains 0.
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
        let lo = pairs
            .iter()
            .map(|(a, b)| down!(p, *a / *b))
            .min_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal))
            .unwrap();
        let hi = pairs
            .iter()
            .map(|(a, b)| up!(p, *a / *b))
            .max_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal))
            .unwrap();
        Some(Interval { lo, hi })
    }
    /// {x² : x ∈ self} (tight also when self straddles 0).
    pub fn square(&self) -> Interval {
        let a = self.abs();
        let p = self.prec();
        Interval {
            lo: down!(p, a.lo.square_ref()),
            hi: up!(p, a.hi.square_ref()),
        }
    }
    /// {|x| : x ∈ self}.
    pub fn abs(&self) -> Interval {
        let p = self.prec();
        if self.lo >= 0 {
            self.clone()
        } else if self.hi <= 0 {
            Interval {
                lo: Float::with_val(p, -&self.hi),
                hi: Float::with_val(p, -&self.lo),
            }
        } else {
            let m = if Float::with_val(p, -&self.lo) > self.hi {
                Float::with_val(p, -&self.lo)
            } else {
                self.hi.clone()
            };
            Interval {
                lo: Float::new(p),
                hi: m,
            }
        }
    }
    /// √x on the nonnegative part (negative lower ends are clamped to 0: callers use it only for
    /// quantities that are ≥ 0 mathematically).
    pub fn sqrt(&self) -> Interval {
        let p = self.prec();
        let lo = if self.lo <= 0 {
            Float::new(p)
        } else {
            down!(p, self.lo.sqrt_ref())
        };
        let hi = if self.hi <= 0 {
            Float::new(p)
        } else {
            up!(p, self.hi.sqrt_ref())
        };
        Interval { lo, hi }
    }
    /// {max(x, y)}.
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
    /// An upper bound of |x| over the interval.
    pub fn mag(&self) -> Float {
        self.abs().hi
    }
    /// x^n for n ≥ 0 by repeated multiplication of |x| bounds (only the magnitude is needed).
    pub fn mag_pow(&self, n: usize) -> Float {
        let p = self.prec();
        let m = self.mag();
        let mut r = Float::with_val(p, 1);
        for _ in 0..n {
            r = up!(p, &r * &m);
        }
        r
    }
}

/// Σ_i c_i x^i by Horner's rule in interval arithmetic.
pub fn horner(c: &[Interval], x: &Interval) -> Interval {
    let p = x.prec();
    let mut acc = Interval::int(0, p);
    for ci in c.iter().rev() {
        acc = acc.mul(x).add(ci);
    }
    acc
}
