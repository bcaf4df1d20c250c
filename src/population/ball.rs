//! Ball arithmetic of the population oracle: a midpoint at the working precision and a radius
//! (`RB` = 64 bits) rounded upward, so that every operation's result ball contains the exact
//! result of the operation on any points of the input balls (proofs-notes/population.md).

use super::{Bounded, RB};
use rug::float::Round;
use rug::Float;

pub(super) fn up_add(a: &Float, b: &Float) -> Float {
    crate::rounding::add_up(RB, a, b)
}

pub(super) fn up_mul(a: &Float, b: &Float) -> Float {
    crate::rounding::mul_up(RB, a, b)
}

pub(super) fn abs_up(x: &Float) -> Float {
    crate::rounding::abs_up(RB, x)
}

/// |x|·2^{1−prec(x)}: bounds the rounding of a correctly rounded result x (half an ulp is at
/// most |x|·2^{−prec}).
pub(super) fn ulp(x: &Float) -> Float {
    abs_up(x) >> (x.prec() as i32 - 1)
}

#[derive(Clone, Debug)]
pub(super) struct Ball {
    pub(super) mid: Float,
    pub(super) rad: Float,
}

impl Ball {
    pub(super) fn exact(x: Float) -> Ball {
        Ball {
            mid: x,
            rad: Float::new(RB),
        }
    }

    pub(super) fn with(mid: Float, rad: Float) -> Ball {
        let rad = up_add(&rad, &ulp(&mid));
        Ball { mid, rad }
    }

    pub(super) fn add(&self, o: &Ball, p: u32) -> Ball {
        Ball::with(
            Float::with_val(p, &self.mid + &o.mid),
            up_add(&self.rad, &o.rad),
        )
    }

    pub(super) fn sub(&self, o: &Ball, p: u32) -> Ball {
        Ball::with(
            Float::with_val(p, &self.mid - &o.mid),
            up_add(&self.rad, &o.rad),
        )
    }

    pub(super) fn mul(&self, o: &Ball, p: u32) -> Ball {
        let r = up_add(
            &up_add(
                &up_mul(&abs_up(&self.mid), &o.rad),
                &up_mul(&abs_up(&o.mid), &self.rad),
            ),
            &up_mul(&self.rad, &o.rad),
        );
        Ball::with(Float::with_val(p, &self.mid * &o.mid), r)
    }

    /// Times an exact number.
    pub(super) fn scale(&self, k: &Float, p: u32) -> Ball {
        Ball::with(
            Float::with_val(p, &self.mid * k),
            up_mul(&self.rad, &abs_up(k)),
        )
    }

    pub(super) fn neg(&self) -> Ball {
        Ball {
            mid: Float::with_val(self.mid.prec(), -&self.mid),
            rad: self.rad.clone(),
        }
    }

    /// √x for x ≥ 0: |√y − √x̃| ≤ min(r/√x̃, √r) for y ≥ 0 within r of x̃.
    pub(super) fn sqrt(&self, p: u32) -> Ball {
        let m = if self.mid < 0 {
            Float::new(p)
        } else {
            Float::with_val(p, self.mid.sqrt_ref())
        };
        let mut r = Float::with_val_round(RB, self.rad.sqrt_ref(), Round::Up).0;
        if self.mid > 0 {
            let low = Float::with_val_round(RB, self.mid.sqrt_ref(), Round::Down).0;
            if low > 0 {
                let q = Float::with_val_round(RB, &self.rad / &low, Round::Up).0;
                if q < r {
                    r = q;
                }
            }
        }
        Ball::with(m, r)
    }

    /// x/y when |ỹ| > r_y: |x/y − x̃/ỹ| ≤ (|ỹ| r_x + |x̃| r_y)/(|ỹ|(|ỹ| − r_y)).
    pub(super) fn div(&self, o: &Ball, p: u32) -> Option<Ball> {
        let ya = Float::with_val_round(RB, o.mid.abs_ref(), Round::Down).0;
        let gap = Float::with_val_round(RB, &ya - &o.rad, Round::Down).0;
        if gap <= 0 {
            return None;
        }
        let num = up_add(
            &up_mul(&abs_up(&o.mid), &self.rad),
            &up_mul(&abs_up(&self.mid), &o.rad),
        );
        let den = Float::with_val_round(RB, &ya * &gap, Round::Down).0;
        let r = Float::with_val_round(RB, &num / &den, Round::Up).0;
        Some(Ball::with(Float::with_val(p, &self.mid / &o.mid), r))
    }

    /// Clamped into [−1, 1]; the radius stays valid for a truth that lies in [−1, 1].
    pub(super) fn clamp_unit(mut self) -> Ball {
        if self.mid > 1 {
            self.mid = Float::with_val(self.mid.prec(), 1);
        } else if self.mid < -1 {
            self.mid = Float::with_val(self.mid.prec(), -1);
        }
        self
    }

    pub(super) fn bounded(&self) -> Bounded {
        Bounded {
            value: self.mid.clone(),
            abs_error_bound: self.rad.clone(),
        }
    }
}

pub(super) fn dot(x: &[Ball], y: &[Ball], p: u32) -> Ball {
    let mut acc = Ball::exact(Float::new(p));
    for (a, b) in x.iter().zip(y) {
        acc = acc.add(&a.mul(b, p), p);
    }
    acc
}

/// x/‖x‖ in balls, or None when ‖x‖ is not resolved from zero.
pub(super) fn normalise(x: &[Ball], p: u32) -> Option<Vec<Ball>> {
    let n = dot(x, x, p).sqrt(p);
    x.iter().map(|c| c.div(&n, p)).collect()
}
