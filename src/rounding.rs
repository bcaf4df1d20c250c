//! Directed rounding for bounds: the crate's one set of upward-rounded MPFR operations.
//!
//! Every error bound that claims to be an upper bound is accumulated with these: the result is
//! rounded towards +∞ at the given precision, so it is ≥ the exact value of the operation on
//! the (exact) inputs. Precision is an explicit argument, never a global setting.

use rug::float::Round;
use rug::Float;

/// a + b rounded up to `prec` bits.
pub fn add_up(prec: u32, a: &Float, b: &Float) -> Float {
    Float::with_val_round(prec, a + b, Round::Up).0
}

/// a · b rounded up to `prec` bits.
pub fn mul_up(prec: u32, a: &Float, b: &Float) -> Float {
    Float::with_val_round(prec, a * b, Round::Up).0
}

/// |x| rounded up to `prec` bits.
pub fn abs_up(prec: u32, x: &Float) -> Float {
    Float::with_val_round(prec, x.abs_ref(), Round::Up).0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1/3 + 1/3 and (1/3)·3 at 10 bits: the upward results are ≥ the exact values, computed
    /// as rationals, and the downward-rounded ones (by rug) are not above them.
    #[test]
    fn results_are_upper_bounds() {
        let third = Float::with_val_round(200, rug::Rational::from((1, 3)), Round::Up).0;
        let s = add_up(10, &third, &third);
        assert!(rug::Rational::from(s.to_rational().unwrap()) >= rug::Rational::from((2, 3)));
        let m = mul_up(10, &third, &Float::with_val(10, 3));
        assert!(m.to_rational().unwrap() >= 1);
        let down = Float::with_val_round(10, &third + &third, Round::Down).0;
        assert!(down <= s && down < s);
        assert_eq!(abs_up(10, &Float::with_val(10, -0.5)), 0.5);
    }
}
