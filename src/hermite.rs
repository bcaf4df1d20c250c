//! Hermite polynomials, exactly and at any precision.
//!
//! Convention (docs/conventions.md §1): He_k are the monic probabilists' Hermite polynomials,
//! He_0 = 1, He_1 = z, He_{k+1} = z·He_k − k·He_{k−1}; the normalised ones are
//! h_k = He_k/√(k!), orthonormal under N(0,1). The physicists' H_k never appear here.
//!
//! Accuracy contract:
//! - [`he_coefficients`], [`monomial_to_hermite`], [`hermite_to_monomial`] are exact
//!   (GMP integers and rationals), for any degree (tested to 1000).
//! - [`NormalisedHermite::values`] evaluates h_0(z)..h_K(z) by the normalised three-term
//!   recurrence h_{k+1} = (z·h_k − √k·h_{k−1})/√(k+1). The recurrence never forms k! or
//!   He_k(z) itself, so nothing overflows at degree 1000. Each step adds O(1) ulp of
//!   rounding relative to the running magnitude max_{j≤k}|h_j(z)|; near a root of h_k the
//!   *relative* error of h_k(z) can be large while the absolute error stays
//!   ≲ 4(k+1)·2^{−p}·max_{j≤k}|h_j(z)|. Callers that need relative accuracy add guard bits
//!   (the coefficient engines do, and check by precision doubling).
//!
//! Proofs-note: `proofs-notes/hermite.md`. Tests: `tests/hermite.rs`.

use rug::{Float, Integer, Rational};

/// Integer monomial coefficients of He_0..He_k: `table[j][m]` is the coefficient of z^m
/// in He_j (zero-padded to length j+1).
pub fn he_coefficient_table(k: usize) -> Vec<Vec<Integer>> {
    let mut table: Vec<Vec<Integer>> = Vec::with_capacity(k + 1);
    table.push(vec![Integer::from(1)]);
    if k >= 1 {
        table.push(vec![Integer::new(), Integer::from(1)]);
    }
    for j in 1..k {
        // He_{j+1} = z He_j - j He_{j-1}
        let mut next = vec![Integer::new(); j + 2];
        for (m, c) in table[j].iter().enumerate() {
            next[m + 1] += c;
        }
        for (m, c) in table[j - 1].iter().enumerate() {
            next[m] -= Integer::from(c * j as u64);
        }
        table.push(next);
    }
    table
}

/// Integer monomial coefficients of He_k (index m holds the coefficient of z^m).
pub fn he_coefficients(k: usize) -> Vec<Integer> {
    he_coefficient_table(k).pop().expect("table has k+1 rows")
}

/// Coefficients of a polynomial in the monic Hermite basis: given p(z) = Σ_m p_m z^m,
/// returns q with p = Σ_j q_j He_j(z). Uses z^m = Σ_i m!/(i!·2^i·(m−2i)!) He_{m−2i}.
pub fn monomial_to_hermite(p: &[Rational]) -> Vec<Rational> {
    let n = p.len();
    let mut q = vec![Rational::new(); n];
    for (m, pm) in p.iter().enumerate() {
        if *pm == 0 {
            continue;
        }
        // c_i = m! / (i! 2^i (m-2i)!) computed incrementally:
        // c_0 = 1, c_{i+1} = c_i (m-2i)(m-2i-1) / (2(i+1)).
        let mut c = Integer::from(1);
        let mut i = 0usize;
        loop {
            q[m - 2 * i] += Rational::from(pm * &c);
            if 2 * i + 2 > m {
                break;
            }
            c *= ((m - 2 * i) * (m - 2 * i - 1)) as u64;
            c /= (2 * (i + 1)) as u64; // exact: the quotient is an integer by construction
            i += 1;
        }
    }
    q
}

/// Inverse of [`monomial_to_hermite`]: given q with p = Σ_j q_j He_j, returns the monomial
/// coefficients of p.
pub fn hermite_to_monomial(q: &[Rational]) -> Vec<Rational> {
    let n = q.len();
    if n == 0 {
        return Vec::new();
    }
    let table = he_coefficient_table(n - 1);
    let mut p = vec![Rational::new(); n];
    for (j, qj) in q.iter().enumerate() {
        if *qj == 0 {
            continue;
        }
        for (m, c) in table[j].iter().enumerate() {
            if *c != 0 {
                p[m] += Rational::from(qj * c);
            }
        }
    }
    p
}

/// Precomputed √k and 1/√(k+1) at a fixed precision, for the normalised recurrence.
#[derive(Clone, Debug)]
pub struct NormalisedHermite {
    prec: u32,
    /// sqrt_k[k] = √k, k = 0..=degree
    sqrt_k: Vec<Float>,
    /// inv_sqrt_k1[k] = 1/√(k+1), k = 0..degree
    inv_sqrt_k1: Vec<Float>,
}

impl NormalisedHermite {
    /// Tables for degrees up to `degree` at `prec` bits.
    pub fn new(degree: usize, prec: u32) -> Self {
        let sqrt_k: Vec<Float> = (0..=degree)
            .map(|k| Float::with_val(prec, k as u64).sqrt())
            .collect();
        let inv_sqrt_k1: Vec<Float> = (0..degree)
            .map(|k| Float::with_val(prec, (k + 1) as u64).sqrt().recip())
            .collect();
        NormalisedHermite {
            prec,
            sqrt_k,
            inv_sqrt_k1,
        }
    }

    /// The largest degree these tables serve.
    pub fn degree(&self) -> usize {
        self.sqrt_k.len() - 1
    }

    /// The working precision in bits.
    pub fn prec(&self) -> u32 {
        self.prec
    }

    /// h_0(z), ..., h_K(z) with K = `self.degree()`, by the normalised recurrence.
    pub fn values(&self, z: &Float) -> Vec<Float> {
        let mut out = Vec::with_capacity(self.degree() + 1);
        self.values_into(z, &mut out);
        out
    }

    /// As [`Self::values`], reusing `out`'s allocation (no allocation when `out` already
    /// holds K+1 values at this precision: the hot loop of the quadrature route).
    pub fn values_into(&self, z: &Float, out: &mut Vec<Float>) {
        use rug::Assign;
        let k_max = self.degree();
        if out.len() != k_max + 1 || out.first().map(|f| f.prec()) != Some(self.prec) {
            out.clear();
            out.resize(k_max + 1, Float::new(self.prec));
        }
        out[0].assign(1u32);
        if k_max == 0 {
            return;
        }
        out[1].assign(z);
        let mut t = Float::new(self.prec);
        for k in 1..k_max {
            // h_{k+1} = (z h_k - sqrt(k) h_{k-1}) / sqrt(k+1); the numerator is one fused
            // MPFR operation (mpfr_fmms: a·b − c·d with a single rounding).
            t.assign(z * &out[k] - &self.sqrt_k[k] * &out[k - 1]);
            t *= &self.inv_sqrt_k1[k];
            std::mem::swap(&mut out[k + 1], &mut t);
        }
    }
}

/// h_k(z) for a single k, at `prec` bits (convenience wrapper around the recurrence).
pub fn normalised_hermite(k: usize, z: &Float, prec: u32) -> Float {
    NormalisedHermite::new(k, prec)
        .values(z)
        .pop()
        .expect("k+1 values")
}

/// √(k!) is m·√s with s squarefree; returns (m, s). Exact, by Legendre's formula for the
/// exponent of each prime in k!.
pub fn sqrt_factorial_parts(k: usize) -> (Integer, Integer) {
    let mut m = Integer::from(1);
    let mut s = Integer::from(1);
    for p in primes_up_to(k) {
        let mut e = 0usize;
        let mut pk = p;
        while pk <= k {
            e += k / pk;
            match pk.checked_mul(p) {
                Some(v) => pk = v,
                None => break,
            }
        }
        m *= Integer::from(Integer::u_pow_u(p as u32, (e / 2) as u32));
        if e % 2 == 1 {
            s *= p as u64;
        }
    }
    (m, s)
}

fn primes_up_to(n: usize) -> Vec<usize> {
    if n < 2 {
        return Vec::new();
    }
    let mut sieve = vec![true; n + 1];
    sieve[0] = false;
    sieve[1] = false;
    let mut i = 2;
    while i * i <= n {
        if sieve[i] {
            let mut j = i * i;
            while j <= n {
                sieve[j] = false;
                j += i;
            }
        }
        i += 1;
    }
    (2..=n).filter(|&i| sieve[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_polynomials() {
        let t = he_coefficient_table(4);
        // He_4 = z^4 - 6 z^2 + 3
        assert_eq!(t[4], vec![3, 0, -6, 0, 1]);
        // He_3 = z^3 - 3z
        assert_eq!(t[3], vec![0, -3, 0, 1]);
    }

    #[test]
    fn sqrt_factorial_small() {
        // 5! = 120 = 2^3·3·5 → √120 = 2·√30
        assert_eq!(
            sqrt_factorial_parts(5),
            (Integer::from(2), Integer::from(30))
        );
        // 4! = 24 = 2^3·3 → 2√6
        assert_eq!(
            sqrt_factorial_parts(4),
            (Integer::from(2), Integer::from(6))
        );
        assert_eq!(
            sqrt_factorial_parts(0),
            (Integer::from(1), Integer::from(1))
        );
    }
}
