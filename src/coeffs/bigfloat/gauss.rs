//! Gauss–Legendre nodes and weights on num-bigfloat.

use super::*;

/// The n-point Gauss–Legendre rule on [−1, 1]: nodes in increasing order and weights.
///
/// Each positive node is found by Newton's method on P_n, evaluated with the three-term
/// recurrence (j+1) P_{j+1} = (2j+1) x P_j − j P_{j−1} in BigFloat, with
/// P'_n = n (x P_n − P_{n−1})/(x² − 1), from the f64 initial guess
/// x ≈ (1 − 1/(8n²) + 1/(8n³)) cos(π(4i−1)/(4n+2)) refined in f64 first. Newton stops
/// when the step is below 1e−39 (it converges quadratically from ~1e−16, so this takes 2–3
/// BigFloat steps); the weight is 2/((1 − x²) P'_n(x)²). Negative nodes are mirrored, so the
/// rule is exactly symmetric. Tests: Σ w = 2 and exactness on x^{2m}, m < n.
pub fn gauss_legendre_bigfloat(n: usize) -> (Vec<BigFloat>, Vec<BigFloat>) {
    assert!(n >= 1, "Gauss–Legendre needs at least one node");
    let nf = n as f64;
    let mut pos_nodes = Vec::new();
    let mut pos_weights = Vec::new();
    let step_tol = BigFloat::parse("1e-39").unwrap();
    for i in 1..=n / 2 {
        // f64 guess and f64 Newton
        let theta = std::f64::consts::PI * (4.0 * i as f64 - 1.0) / (4.0 * nf + 2.0);
        let mut g = (1.0 - 1.0 / (8.0 * nf * nf) + 1.0 / (8.0 * nf * nf * nf)) * theta.cos();
        for _ in 0..6 {
            let (p, dp) = legendre_f64(n, g);
            g -= p / dp;
        }
        let mut x = BigFloat::from_f64(g);
        let mut dp_final = ONE;
        for iter in 0..10 {
            let (p, dp) = legendre_bigfloat(n, &x);
            let dx = p / dp;
            x -= dx;
            dp_final = dp;
            if dx.abs() < step_tol && iter >= 1 {
                let (_, dp) = legendre_bigfloat(n, &x);
                dp_final = dp;
                break;
            }
        }
        let w = TWO / ((ONE - x * x) * dp_final * dp_final);
        pos_nodes.push(x);
        pos_weights.push(w);
    }
    let mut nodes = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    for (x, w) in pos_nodes.iter().zip(&pos_weights) {
        nodes.push(-*x);
        weights.push(*w);
    }
    if n % 2 == 1 {
        let (_, dp) = legendre_bigfloat(n, &ZERO);
        nodes.push(ZERO);
        weights.push(TWO / (dp * dp));
    }
    for (x, w) in pos_nodes.iter().zip(&pos_weights).rev() {
        nodes.push(*x);
        weights.push(*w);
    }
    (nodes, weights)
}

fn legendre_f64(n: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    for j in 1..n {
        let jf = j as f64;
        let p2 = ((2.0 * jf + 1.0) * x * p1 - jf * p0) / (jf + 1.0);
        p0 = p1;
        p1 = p2;
    }
    (p1, n as f64 * (x * p1 - p0) / (x * x - 1.0))
}

/// (P_n(x), P'_n(x)) in BigFloat.
fn legendre_bigfloat(n: usize, x: &BigFloat) -> (BigFloat, BigFloat) {
    let mut p0 = ONE;
    let mut p1 = *x;
    for j in 1..n {
        let j = j as i64;
        let p2 = (bf(2 * j + 1) * *x * p1 - bf(j) * p0) / bf(j + 1);
        p0 = p1;
        p1 = p2;
    }
    (p1, bf(n as i64) * (*x * p1 - p0) / (*x * *x - ONE))
}
