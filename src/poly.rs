//! Dense univariate polynomials as coefficient vectors (entry k is the coefficient of z^k): the
//! crate's one `trim`, `add` and `mul`, generic over the coefficient type.
//!
//! Accuracy contract: the operations are exact when the coefficient type's `add` and `mul`
//! are (exact constants of `coeffs::closed`); over f64 each output coefficient of `mul` is a
//! sum of products accumulated in index order (deterministic, no fused operations), and `trim`
//! drops only *exact* zeros, never small values.

/// What a polynomial coefficient must provide.
pub trait Coefficient: Clone {
    /// The additive identity.
    fn zero() -> Self;
    /// True only for an exact zero (a value that is merely small is not zero).
    fn is_exact_zero(&self) -> bool;
    /// self + other.
    fn plus(&self, other: &Self) -> Self;
    /// self · other.
    fn times(&self, other: &Self) -> Self;
}

impl Coefficient for f64 {
    fn zero() -> f64 {
        0.0
    }
    fn is_exact_zero(&self) -> bool {
        *self == 0.0
    }
    fn plus(&self, other: &f64) -> f64 {
        self + other
    }
    fn times(&self, other: &f64) -> f64 {
        self * other
    }
}

/// Drops trailing exact-zero coefficients (the zero polynomial becomes empty).
pub fn trim<C: Coefficient>(mut p: Vec<C>) -> Vec<C> {
    while p.last().is_some_and(C::is_exact_zero) {
        p.pop();
    }
    p
}

/// a + b, of length max(len a, len b) (not trimmed).
pub fn add<C: Coefficient>(a: &[C], b: &[C]) -> Vec<C> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => x.plus(y),
            (Some(x), None) | (None, Some(x)) => x.clone(),
            (None, None) => unreachable!("i < max(len a, len b)"),
        })
        .collect()
}

/// a · b, trimmed; the empty (zero) polynomial when either factor is empty.
pub fn mul<C: Coefficient>(a: &[C], b: &[C]) -> Vec<C> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut out = vec![C::zero(); a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        if x.is_exact_zero() {
            continue;
        }
        for (j, y) in b.iter().enumerate() {
            out[i + j] = out[i + j].plus(&x.times(y));
        }
    }
    trim(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (1 + z)(1 − z) = 1 − z², checked by evaluating both sides at integer points (exact in
    /// f64), and trim keeps small nonzero coefficients.
    #[test]
    fn product_identity_and_trim() {
        let p = mul(&[1.0, 1.0], &[1.0, -1.0]);
        assert_eq!(p, vec![1.0, 0.0, -1.0]);
        for x in -5..=5 {
            let x = x as f64;
            let v: f64 = p.iter().rev().fold(0.0, |acc, c| acc * x + c);
            assert_eq!(v, (1.0 + x) * (1.0 - x));
        }
        assert_eq!(add(&[1.0, 2.0], &[3.0]), vec![4.0, 2.0]);
        assert_eq!(trim(vec![1.0, 1e-300, 0.0, 0.0]), vec![1.0, 1e-300]);
        assert!(mul::<f64>(&[], &[1.0]).is_empty());
        assert!(mul(&[0.0, 0.0], &[1.0, 2.0]).is_empty());
    }
}
