//! Quadrature in MPFR for the oracle: Gauss–Legendre rules, the graded composite layout of the
//! initial law of α = ⟨w, θ⟩, and the exact moments of the sphere and of the z-law.
//!
//! Proofs-note: `proofs-notes/meanfield-oracle.md` §2. Tests: `tests/meanfield_oracle.rs`
//! (`gauss_legendre_*`, `initial_law_*`, `z_moments_*`, `normaliser_*`).

use rug::float::Constant;
use rug::ops::Pow;
use rug::{Assign, Float, Integer, Rational};

/// The node layout of the initial law: on [0, 1], breakpoints x_j = (j/n)^p (j = 0..n), `order`
/// Gauss–Legendre nodes per panel, mirrored to [−1, 0]; weight of a node α = GL weight ×
/// (1 − α²)^{(d−3)/2} / Z_d. Nodes are returned in increasing order of α (the mirrored half
/// first), so node i and node M − 1 − i are mirror images (α ↦ −α).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// n ≥ 1 panels on [0, 1].
    pub panels: usize,
    /// q ≥ 1 Gauss–Legendre nodes per panel.
    pub order: usize,
    /// p ≥ 1: breakpoints (j/n)^p, graded towards α = 0.
    pub grading: u32,
}

impl Default for Layout {
    /// n = 200, q = 16, p = 3 (6400 nodes): the family shared with the f64 flow.
    fn default() -> Layout {
        Layout {
            panels: 200,
            order: 16,
            grading: 3,
        }
    }
}

impl Layout {
    /// Number of nodes M = 2nq.
    pub fn len(&self) -> usize {
        2 * self.panels * self.order
    }

    /// Always false for a valid layout (kept for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same family with 2n panels (the node-convergence check).
    pub fn refined(&self) -> Layout {
        Layout {
            panels: 2 * self.panels,
            ..*self
        }
    }
}

/// P_q(x) and P'_q(x) by the three-term recurrence, at the precision of `x`.
fn legendre(q: usize, x: &Float) -> (Float, Float) {
    let prec = x.prec();
    let mut p0 = Float::with_val(prec, 1);
    let mut p1 = x.clone();
    let mut t = Float::new(prec);
    for j in 1..q {
        // P_{j+1} = ((2j+1) x P_j − j P_{j−1}) / (j+1)
        t.assign(x * &p1);
        t *= (2 * j + 1) as u32;
        p0 *= j as u32;
        t -= &p0;
        t /= (j + 1) as u32;
        std::mem::swap(&mut p0, &mut p1);
        std::mem::swap(&mut p1, &mut t);
    }
    if q == 0 {
        return (Float::with_val(prec, 1), Float::new(prec));
    }
    // P'_q = q (x P_q − P_{q−1}) / (x² − 1)
    let mut dp = Float::with_val(prec, x * &p1);
    dp -= &p0;
    dp *= q as u32;
    let mut den = Float::with_val(prec, x.square_ref());
    den -= 1u32;
    dp /= &den;
    (p1, dp)
}

/// The q-point Gauss–Legendre rule on [−1, 1] at `prec` bits: (nodes ascending, weights).
///
/// Roots of P_q by Newton's method at prec + 32 bits from the f64 guesses
/// cos(π(i + 3/4)/(q + 1/2)), iterated until the correction is below 2^{−(prec+28)}; weights
/// 2/((1 − x²) P'_q(x)²); the rule is exactly symmetric (nodes mirrored, 0 exact for odd q).
/// Contract: it integrates polynomials of degree ≤ 2q − 1 with relative error a few units in
/// 2^{−prec} (tested: Σw = 2, ∫x^{2k} = 2/(2k + 1)).
pub fn gauss_legendre(q: usize, prec: u32) -> (Vec<Float>, Vec<Float>) {
    assert!(q >= 1, "gauss_legendre: q must be at least 1");
    let wp = prec + 32;
    let mut pos: Vec<(Float, Float)> = Vec::with_capacity(q / 2);
    for i in 0..q / 2 {
        let guess = (std::f64::consts::PI * (i as f64 + 0.75) / (q as f64 + 0.5)).cos();
        let mut x = Float::with_val(wp, guess);
        for _ in 0..200 {
            let (p, dp) = legendre(q, &x);
            let dx = Float::with_val(wp, &p / &dp);
            x -= &dx;
            let small = dx.is_zero() || dx.get_exp().is_some_and(|e| e < -(wp as i32) + 4);
            if small {
                break;
            }
        }
        let (_, dp) = legendre(q, &x);
        let mut w = Float::with_val(wp, 1);
        w -= Float::with_val(wp, x.square_ref());
        w *= Float::with_val(wp, dp.square_ref());
        let w = Float::with_val(wp, 2u32) / w;
        pos.push((Float::with_val(prec, &x), Float::with_val(prec, &w)));
    }
    let mut nodes = Vec::with_capacity(q);
    let mut weights = Vec::with_capacity(q);
    for (x, w) in pos.iter() {
        nodes.push(Float::with_val(prec, -x));
        weights.push(w.clone());
    }
    if q % 2 == 1 {
        let zero = Float::new(wp);
        let (_, dp) = legendre(q, &zero);
        let w = Float::with_val(wp, 2u32) / Float::with_val(wp, dp.square_ref());
        nodes.push(Float::new(prec));
        weights.push(Float::with_val(prec, &w));
    }
    for (x, w) in pos.iter().rev() {
        nodes.push(x.clone());
        weights.push(w.clone());
    }
    (nodes, weights)
}

/// Z_d = ∫_{−1}^{1} (1 − x²)^{(d−3)/2} dx = √π Γ((d−1)/2)/Γ(d/2), by the exact recursion
/// Z_d = Z_{d−2}·(d−3)/(d−2) from Z_3 = 2, Z_4 = π/2 (one rational, one rounding).
pub fn sphere_normaliser(d: usize, prec: u32) -> Float {
    assert!(d >= 3);
    let mut r = Rational::from(1);
    let mut m = d;
    while m >= 5 {
        r *= Rational::from(((m - 3) as u64, (m - 2) as u64));
        m -= 2;
    }
    if d % 2 == 1 {
        Float::with_val(prec, &r) * 2u32
    } else {
        let pi = Float::with_val(prec + 16, Constant::Pi);
        Float::with_val(prec, pi * &r) / 2u32
    }
}

/// (1 − x²)^{(d−3)/2}, computed as ((1−x)(1+x))^{(d−3)/2} (integer power, times a square root
/// when d is even).
pub fn sphere_density(x: &Float, d: usize) -> Float {
    let prec = x.prec();
    let mut u = Float::with_val(prec, 1 - x.clone());
    u *= Float::with_val(prec, 1 + x.clone());
    let e = d - 3;
    let mut r = Float::with_val(prec, (&u).pow((e / 2) as u32));
    if e % 2 == 1 {
        r *= u.sqrt();
    }
    r
}

/// The nodes α_0 and weights of the initial law, density (1 − α²)^{(d−3)/2}/Z_d on [−1, 1], in
/// the layout `layout` (see [`Layout`]), at `prec` bits (computed at prec + 32, rounded once).
pub fn initial_law(layout: &Layout, d: usize, prec: u32) -> (Vec<Float>, Vec<Float>) {
    assert!(d >= 3 && layout.panels >= 1 && layout.order >= 1 && layout.grading >= 1);
    let wp = prec + 32;
    let (xi, wi) = gauss_legendre(layout.order, wp);
    let z = sphere_normaliser(d, wp);
    let n = layout.panels;
    let nn = Integer::from(n).pow(layout.grading);
    let brk: Vec<Float> = (0..=n)
        .map(|j| {
            let q = Rational::from((Integer::from(j).pow(layout.grading), nn.clone()));
            Float::with_val(wp, &q)
        })
        .collect();
    let mut pos_x = Vec::with_capacity(n * layout.order);
    let mut pos_w = Vec::with_capacity(n * layout.order);
    for j in 0..n {
        let half = Float::with_val(wp, &brk[j + 1] - &brk[j]) / 2u32;
        let mid = Float::with_val(wp, &brk[j + 1] + &brk[j]) / 2u32;
        for (x, w) in xi.iter().zip(&wi) {
            let mut a = Float::with_val(wp, &half * x);
            a += &mid;
            let mut weight = Float::with_val(wp, &half * w);
            weight *= sphere_density(&a, d);
            weight /= &z;
            pos_x.push(a);
            pos_w.push(weight);
        }
    }
    let mut nodes = Vec::with_capacity(2 * pos_x.len());
    let mut weights = Vec::with_capacity(2 * pos_x.len());
    for (a, w) in pos_x.iter().zip(&pos_w).rev() {
        nodes.push(Float::with_val(prec, -a));
        weights.push(Float::with_val(prec, w));
    }
    for (a, w) in pos_x.iter().zip(&pos_w) {
        nodes.push(Float::with_val(prec, a));
        weights.push(Float::with_val(prec, w));
    }
    (nodes, weights)
}

/// E z^l for l = 0..=lmax, z with density ∝ (1 − z²)^{(d−4)/2} on [−1, 1] (d ≥ 3): odd moments
/// 0, E z^{2j} = Π_{i<j} (2i+1)/(d−1+2i), an exact rational rounded once.
pub fn z_moments(d: usize, lmax: usize, prec: u32) -> Vec<Float> {
    product_moments(d - 1, lmax, prec)
}

/// E α^l for l = 0..=lmax under the initial law (density ∝ (1 − α²)^{(d−3)/2}): odd 0,
/// E α^{2j} = Π_{i<j} (2i+1)/(d+2i) (exact rational rounded once). Also E s^l for the overlap s of
/// two independent uniform unit vectors.
pub fn sphere_moments(d: usize, lmax: usize, prec: u32) -> Vec<Float> {
    product_moments(d, lmax, prec)
}

fn product_moments(e: usize, lmax: usize, prec: u32) -> Vec<Float> {
    let mut out = Vec::with_capacity(lmax + 1);
    let mut r = Rational::from(1);
    for l in 0..=lmax {
        if l % 2 == 1 {
            out.push(Float::new(prec));
        } else {
            if l > 0 {
                let i = (l / 2 - 1) as u64;
                r *= Rational::from((2 * i + 1, e as u64 + 2 * i));
            }
            out.push(Float::with_val(prec, &r));
        }
    }
    out
}
