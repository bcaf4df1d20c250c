//! Quadrature of the initial law of the overlap: Gauss–Legendre rules computed in f64, the
//! graded panel layout in the latitude ϑ = asin α, node weights with the exact normaliser, and
//! the cumulative distribution function of the initial law.
//!
//! The initial law of α = ⟨w, θ⟩ for w uniform on S^{d−1} has density (1 − α²)^{(d−3)/2} / Z on
//! [−1, 1], Z = B(1/2, (d−1)/2). In the latitude ϑ (α = sin ϑ, dα = cos ϑ dϑ) the density is
//! cos^{d−2} ϑ / Z on [−π/2, π/2], smooth up to the poles for every d (in α it has a
//! half-integer power singularity at ±1 when d is even). Proofs-note:
//! `proofs-notes/meanfield-reduction.md` §4.

use std::f64::consts::{FRAC_PI_2, PI};

/// The node layout: `panels` panels on each side of α = 0, with breakpoints
/// α_j = (j/panels)^grading on [0, 1], mirrored to [−1, 0]; inside each panel `order`
/// Gauss–Legendre nodes in the latitude ϑ = asin α (where the density cos^{d−2}ϑ is smooth).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layout {
    pub panels: usize,
    pub order: usize,
    pub grading: f64,
}

impl Default for Layout {
    /// 200 panels per side, 16 nodes each, grading 3: 6400 nodes.
    fn default() -> Self {
        Layout {
            panels: 200,
            order: 16,
            grading: 3.0,
        }
    }
}

impl Layout {
    /// Total number of nodes, 2·panels·order.
    pub fn node_count(&self) -> usize {
        2 * self.panels * self.order
    }

    /// Checks the ranges: panels ≥ 1, 1 ≤ order ≤ 128, grading finite and ≥ 1.
    pub fn validate(&self) -> Result<(), String> {
        if self.panels == 0 {
            return Err("panels must be at least 1".into());
        }
        if self.order == 0 || self.order > MAX_ORDER {
            return Err(format!("order must be in 1..={MAX_ORDER}"));
        }
        if !(self.grading.is_finite() && self.grading >= 1.0 && self.grading <= 10.0) {
            return Err("grading must be a number in [1, 10]".into());
        }
        Ok(())
    }
}

/// Largest Gauss–Legendre order accepted.
pub const MAX_ORDER: usize = 128;

/// The n-point Gauss–Legendre rule on [−1, 1]: (nodes ascending, weights).
///
/// Newton's method on the three-term recurrence of P_n from Tricomi's initial guesses,
/// iterated to a fixed point; weights 2/((1 − x²) P_n'(x)²). The positive half is computed
/// and mirrored, so the rule is exactly symmetric. Checked in tests/meanfield.rs
/// (`gauss_legendre_identities`): Σ w = 2 and exactness on x^k, k ≤ 2n − 1.
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    assert!((1..=MAX_ORDER).contains(&n), "Gauss–Legendre order {n}");
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    // P_n(x) and P_n'(x) by the recurrence (k+1)P_{k+1} = (2k+1)xP_k − kP_{k−1}.
    let legendre = |t: f64| -> (f64, f64) {
        let (mut p0, mut p1) = (1.0, t);
        if n == 0 {
            return (1.0, 0.0);
        }
        for k in 1..n {
            let p2 = ((2 * k + 1) as f64 * t * p1 - k as f64 * p0) / (k + 1) as f64;
            p0 = p1;
            p1 = p2;
        }
        // P_n' = n (x P_n − P_{n−1}) / (x² − 1)
        let dp = n as f64 * (t * p1 - p0) / (t * t - 1.0);
        (p1, dp)
    };
    let half = n / 2;
    for i in 0..half {
        // i-th largest root; Tricomi's approximation.
        let theta = PI * (i as f64 + 0.75) / (n as f64 + 0.5);
        let nf = n as f64;
        let mut t = (1.0 - (nf - 1.0) / (8.0 * nf * nf * nf)) * theta.cos();
        for _ in 0..100 {
            let (p, dp) = legendre(t);
            let dt = p / dp;
            t -= dt;
            if dt.abs() <= 1e-17 {
                break;
            }
        }
        let (_, dp) = legendre(t);
        let wi = 2.0 / ((1.0 - t * t) * dp * dp);
        x[n - 1 - i] = t;
        x[i] = -t;
        w[n - 1 - i] = wi;
        w[i] = wi;
    }
    if n % 2 == 1 {
        // The middle root is 0: P_n'(0) = n P_{n−1}(0).
        let mut p0 = 1.0;
        let mut p1 = 0.0;
        for k in 1..n {
            let p2 = -(k as f64) * p0 / (k + 1) as f64;
            p0 = p1;
            p1 = p2;
        }
        // p1 = P_n(0) = 0 (n odd), p0 = P_{n−1}(0).
        let dp = n as f64 * p0;
        x[half] = 0.0;
        w[half] = 2.0 / (dp * dp);
    }
    (x, w)
}

/// Z = B(1/2, (d−1)/2) = ∫_{−1}^{1} (1 − α²)^{(d−3)/2} dα, by the exact recurrence
/// Z(3) = 2, Z(4) = π/2, Z(d+2) = Z(d)·(d−1)/d (relative error ≤ (d/2 + 1)·2^{−53}).
pub fn sphere_normaliser(d: usize) -> f64 {
    assert!(d >= 3);
    let (mut z, mut k) = if d % 2 == 1 { (2.0, 3) } else { (FRAC_PI_2, 4) };
    while k < d {
        z *= (k - 1) as f64 / k as f64;
        k += 2;
    }
    z
}

/// The density of the latitude ϑ of a uniform point of S^{d−1}: cos^{d−2}ϑ / Z.
pub fn latitude_density(theta: f64, d: usize, z: f64) -> f64 {
    libm::pow(theta.cos().max(0.0), (d - 2) as f64) / z
}

/// The quadrature of the initial law: nodes in the latitude, ascending, with weights.
#[derive(Clone, Debug)]
pub struct Nodes {
    pub layout: Layout,
    pub d: usize,
    /// Latitudes ϑ_j ∈ (−π/2, π/2), ascending; α_j = sin ϑ_j. Exactly mirrored:
    /// ϑ_{M−1−j} = −ϑ_j.
    pub theta: Vec<f64>,
    /// Weights w_j = GL weight × (panel half-length) × cos^{d−2}ϑ_j / Z; Σ w_j ≈ 1.
    pub weights: Vec<f64>,
    /// Panel edges in ϑ, ascending, 2·panels + 1 of them, from −π/2 to π/2 (sin of the edges:
    /// ±(j/panels)^grading).
    pub edges: Vec<f64>,
    /// Σ_j w_j − 1 (a diagnostic of the quadrature and of Z).
    pub weight_sum_error: f64,
    /// Z = B(1/2, (d−1)/2).
    pub normaliser: f64,
    /// The reference rule on [−1, 1].
    pub(crate) gl: (Vec<f64>, Vec<f64>),
    /// Prefix sums of the panel masses: mass of panels 0..p is `panel_prefix[p]`.
    panel_prefix: Vec<f64>,
}

/// Builds the node set of `layout` for dimension `d` (d ≥ 3).
pub fn nodes(layout: Layout, d: usize) -> Result<Nodes, String> {
    layout.validate()?;
    if d < 3 {
        return Err(format!("d = {d}: the reduced flow needs d >= 3"));
    }
    let (n, q) = (layout.panels, layout.order);
    let gl = gauss_legendre(q);
    let z = sphere_normaliser(d);
    // Positive side edges α = (j/n)^γ, i.e. ϑ = asin((j/n)^γ), j = 0..n.
    let pos: Vec<f64> = (0..=n)
        .map(|j| {
            if j == n {
                FRAC_PI_2
            } else {
                (j as f64 / n as f64).powf(layout.grading).asin()
            }
        })
        .collect();
    let mut edges: Vec<f64> = pos.iter().rev().map(|e| -e).collect();
    edges.extend_from_slice(&pos[1..]);
    let mut ptheta = Vec::with_capacity(n * q);
    let mut pw = Vec::with_capacity(n * q);
    for j in 0..n {
        let (a, b) = (pos[j], pos[j + 1]);
        let (c, h) = (0.5 * (a + b), 0.5 * (b - a));
        for k in 0..q {
            let t = c + h * gl.0[k];
            ptheta.push(t);
            pw.push(h * gl.1[k] * latitude_density(t, d, z));
        }
    }
    let m = 2 * n * q;
    let mut theta = vec![0.0; m];
    let mut weights = vec![0.0; m];
    for i in 0..n * q {
        theta[n * q + i] = ptheta[i];
        weights[n * q + i] = pw[i];
        theta[n * q - 1 - i] = -ptheta[i];
        weights[n * q - 1 - i] = pw[i];
    }
    let mut panel_prefix = vec![0.0; 2 * n + 1];
    for p in 0..2 * n {
        let s: f64 = weights[p * q..(p + 1) * q].iter().sum();
        panel_prefix[p + 1] = panel_prefix[p] + s;
    }
    let weight_sum_error = panel_prefix[2 * n] - 1.0;
    Ok(Nodes {
        layout,
        d,
        theta,
        weights,
        edges,
        weight_sum_error,
        normaliser: z,
        gl,
        panel_prefix,
    })
}

impl Nodes {
    /// Number of nodes M.
    pub fn len(&self) -> usize {
        self.theta.len()
    }

    /// Always false (a layout has at least 2 nodes).
    pub fn is_empty(&self) -> bool {
        self.theta.is_empty()
    }

    /// Initial overlaps α_j = sin ϑ_j.
    pub fn alpha(&self) -> Vec<f64> {
        self.theta.iter().map(|t| t.sin()).collect()
    }

    /// Initial β_j = cos ϑ_j > 0 (cos of the exact f64 latitude: a few ulps relative, also in
    /// the panels at the poles).
    pub fn beta(&self) -> Vec<f64> {
        self.theta.iter().map(|t| t.cos()).collect()
    }

    /// Number of panels (both sides).
    pub fn panel_count(&self) -> usize {
        self.edges.len() - 1
    }

    /// The panel containing latitude `t` (clamped to the first/last).
    pub fn panel_of(&self, t: f64) -> usize {
        let p = self.edges.partition_point(|e| *e <= t);
        p.saturating_sub(1).min(self.panel_count() - 1)
    }

    /// ∫_a^b cos^{d−2}ϑ dϑ / Z by the Gauss–Legendre rule of the layout's order on [a, b]
    /// (meant for sub-intervals of one panel).
    pub fn partial_mass(&self, a: f64, b: f64) -> f64 {
        let (c, h) = (0.5 * (a + b), 0.5 * (b - a));
        let mut s = 0.0;
        for (x, w) in self.gl.0.iter().zip(&self.gl.1) {
            s += w * latitude_density(c + h * x, self.d, self.normaliser);
        }
        s * h
    }

    /// The quadrature CDF of the initial latitude: mass of ϑ_0 ≤ t, = the node masses of the
    /// panels below t plus the partial integral over t's panel (same rule, same order).
    pub fn cdf_latitude(&self, t: f64) -> f64 {
        if t <= -FRAC_PI_2 {
            return 0.0;
        }
        if t >= FRAC_PI_2 {
            return self.panel_prefix[self.panel_count()];
        }
        let p = self.panel_of(t);
        self.panel_prefix[p] + self.partial_mass(self.edges[p], t)
    }

    /// Mass of the panels 0..p.
    pub fn mass_below_panel(&self, p: usize) -> f64 {
        self.panel_prefix[p]
    }

    /// P(α_0 ≤ a) of the initial law, by the quadrature (see [`Nodes::cdf_latitude`]).
    pub fn cdf(&self, a: f64) -> f64 {
        self.cdf_latitude(a.clamp(-1.0, 1.0).asin())
    }

    /// The initial overlap at quantile level `q` ∈ [0, 1] of the quadrature CDF (bisection
    /// in ϑ to the last bit, then α = sin ϑ).
    pub fn quantile(&self, q: f64) -> f64 {
        let total = self.panel_prefix[self.panel_count()];
        let target = q * total;
        let (mut lo, mut hi) = (-FRAC_PI_2, FRAC_PI_2);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if self.cdf_latitude(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (0.5 * (lo + hi)).sin()
    }
}
