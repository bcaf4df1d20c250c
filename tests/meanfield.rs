//! Tests of the f64 reduced mean-field flow (`mforacle::meanfield::flow`) and of the
//! `meanfield` command. Proofs-note: proofs-notes/meanfield-reduction.md, which names the test
//! checking each piece. No test relies on a hard-coded reference value alone: each compares
//! two independent computations (an identity, a second route, a second resolution).

mod common;
use common::run;

use mforacle::activation::Spec;
use mforacle::meanfield::flow::{
    gauss_legendre, nodes, z_moments, DiscreteFlow, Flow, Layout, SummarySpec, Tolerance,
};
use mforacle::meanfield::Model;
use mforacle::population::{LossScale, Update};

const EPS: f64 = f64::EPSILON;

fn model(student: &str, teacher: &str, d: usize, scale: LossScale, noise: f64) -> Model {
    let s = Spec::parse(student).unwrap();
    let t = Spec::parse(teacher).unwrap();
    Model::new(&s, &t, d, 40, 30, scale, noise).unwrap()
}

fn he4(d: usize) -> Model {
    model("he4", "he4", d, LossScale::Full, 0.0)
}

fn layout(panels: usize) -> Layout {
    Layout {
        panels,
        ..Layout::default()
    }
}

fn horner(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |a, ci| a * x + ci)
}

fn dhorner(c: &[f64], x: f64) -> f64 {
    let d: Vec<f64> = (1..c.len()).map(|k| k as f64 * c[k]).collect();
    horner(&d, x)
}

/// E α^{2j} for α = ⟨w, θ⟩, w uniform on S^{d−1}: Π_{i<j} (2i+1)/(d+2i).
fn sphere_moment(d: usize, k: usize) -> f64 {
    if k % 2 == 1 {
        return 0.0;
    }
    (0..k / 2)
        .map(|i| (2 * i + 1) as f64 / (d + 2 * i) as f64)
        .product()
}

// ---------------------------------------------------------------------------------------------
// Quadrature (note §4)

/// Σw = 2 and ∫x^k for k ≤ 2n − 1. Nodes and weights are Newton fixed points, accurate to a few
/// ulps; a sum of n terms of size ≤ w_i has rounding ≤ n·eps·Σw, and a node error of c·eps
/// changes x^k by ≤ k·c·eps: allowed (4n + 4k)·eps·2.
#[test]
fn gauss_legendre_identities() {
    for n in (1..=40).chain([48, 64, 100, 128]) {
        let (x, w) = gauss_legendre(n);
        assert!(x.windows(2).all(|p| p[0] < p[1]), "n = {n}: not ascending");
        let s: f64 = w.iter().sum();
        assert!((s - 2.0).abs() <= 8.0 * n as f64 * EPS, "n = {n}: Σw = {s}");
        for k in 0..2 * n {
            let q: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(k as i32)).sum();
            let exact = if k % 2 == 1 {
                0.0
            } else {
                2.0 / (k + 1) as f64
            };
            let tol = (4 * n + 4 * k) as f64 * EPS * 2.0;
            assert!((q - exact).abs() <= tol, "n = {n}, k = {k}: {q} vs {exact}");
        }
        // and not exact at degree 2n (the rule is Gauss, not better): the error of x^{2n} is
        // 2^{2n+1}(n!)^4/((2n+1)((2n)!)^3)·(2n)! > 0.
        if n <= 10 {
            let q: f64 = x
                .iter()
                .zip(&w)
                .map(|(x, w)| w * x.powi(2 * n as i32))
                .sum();
            assert!((2.0 / (2 * n + 1) as f64 - q) > 1e-6, "n = {n}");
        }
    }
}

/// Σ w − 1 and E α^{2j} of the node rule against the exact sphere moments, E z^{2j} against the
/// same product formula in dimension d − 1, and the quadrature CDF against the regularised
/// incomplete beta function (statrs; its own accuracy is ~1e-14).
#[test]
fn weights_and_initial_moments() {
    for d in [3usize, 4, 5, 8, 32, 100, 1000] {
        let nd = nodes(Layout::default(), d).unwrap();
        // Z has relative error ≤ (d/2+1)eps, the sum of M weights ≤ M eps.
        let bound = ((d / 2 + 1) as f64 + nd.len() as f64) * EPS;
        assert!(
            nd.weight_sum_error.abs() <= bound,
            "d = {d}: Σw − 1 = {:e}",
            nd.weight_sum_error
        );
        let a = nd.alpha();
        for j in 1..=12 {
            let m: f64 = a
                .iter()
                .zip(&nd.weights)
                .map(|(a, w)| w * a.powi(2 * j))
                .sum();
            let exact = sphere_moment(d, 2 * j as usize);
            assert!(
                (m - exact).abs() <= 1e-13 * exact + bound,
                "d = {d}, j = {j}: {m:e} vs {exact:e}"
            );
            let odd: f64 = a
                .iter()
                .zip(&nd.weights)
                .map(|(a, w)| w * a.powi(2 * j - 1))
                .sum();
            assert!(odd.abs() <= 1e-15, "d = {d}: odd moment {odd:e}");
        }
        let mu = z_moments(d, 12);
        for (l, m) in mu.iter().enumerate() {
            // z = ⟨u, u'⟩ on S^{d−2}: the sphere moments of dimension d − 1 (same product,
            // same order of operations, so equal to the bit).
            assert_eq!(*m, sphere_moment(d - 1, l), "d = {d}, l = {l}");
        }
        let h = (d as f64 - 1.0) / 2.0;
        for x in [-0.9, -0.3, -0.05, 0.0, 0.01, 0.2, 0.5, 0.99] {
            let f = nd.cdf(x);
            let exact = statrs::function::beta::beta_reg(h, h, (1.0 + x) / 2.0);
            assert!(
                (f - exact).abs() <= 1e-12,
                "d = {d}, x = {x}: {f} vs {exact}"
            );
        }
        for q in [0.01, 0.3, 0.5, 0.77] {
            let a0 = nd.quantile(q);
            assert!((nd.cdf(a0) - q).abs() <= 1e-14, "d = {d}, q = {q}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Interaction through moments (note §2–§3)

const PAIRS: [(&str, &str); 4] = [
    ("he4", "he4"),
    ("he4+he6", "0.6*he4+0.3*he6"),
    ("he3", "he3"),
    ("5*(z^2*exp(-z^2)-sqrt(3)/9)", "5*(z^2*exp(-z^2)-sqrt(3)/9)"),
];

/// At t = 0 the law is uniform: A = cα, B = cβ with one c, so g = 2ψ'(α)β (docs/conventions.md §4).
/// The node law is uniform up to its quadrature error (≈ 1e-15), so the identities hold to
/// rounding: allowed 1e-13·(1 + Σ|b_m|).
#[test]
fn uniform_law_interaction_identity() {
    for (s, t) in PAIRS {
        let m = model(s, t, 20, LossScale::Full, 0.0);
        let f = Flow::new(&m, layout(40), Tolerance::default()).unwrap();
        let k = m.kappa.to_f64();
        let bsum: f64 = (1..k.len()).map(|j| j as f64 * k[j].abs()).sum();
        let psi = m.psi.to_f64();
        let tol = 1e-13 * (1.0 + bsum);
        let mut cs = Vec::new();
        for a in [-0.8, -0.3, 0.1, 0.25, 0.6, 0.95] {
            let b = (1.0f64 - a * a).sqrt();
            let (aa, bb) = f.interaction(a);
            // A β − B α = 0 and A α + B β = c.
            assert!((aa * b - bb * a).abs() <= tol, "{s}: α = {a}");
            cs.push(aa * a + bb * b);
            let g = f.velocity_coefficient(a);
            let g0 = 2.0 * dhorner(&psi, a) * b;
            assert!((g - g0).abs() <= 2.0 * tol, "{s}: g = {g}, 2ψ'β = {g0}");
        }
        for c in &cs {
            assert!((c - cs[0]).abs() <= tol, "{s}: c varies: {cs:?}");
        }
    }
}

/// z moments by an independent rule: z = cos φ, density ∝ sin^{d−3}φ on [0, π], 200-point
/// Gauss–Legendre in φ (the integrand is smooth and periodic-like: spectral convergence).
fn z_rule(d: usize) -> Vec<(f64, f64)> {
    let (x, w) = gauss_legendre(100);
    let mut out = Vec::new();
    for half in [0.0, 1.0] {
        for (xi, wi) in x.iter().zip(&w) {
            let phi = std::f64::consts::FRAC_PI_4 * (xi + 1.0) + half * std::f64::consts::FRAC_PI_2;
            out.push((phi.cos(), wi * phi.sin().powi(d as i32 - 3)));
        }
    }
    let s: f64 = out.iter().map(|p| p.1).sum();
    out.iter().map(|(z, w)| (*z, w / s)).collect()
}

/// A, B, dA/dα, dB/dα, E κ(αα'+ββ'z) at α and over the law, g and the radial coefficient from
/// the binomial moment expansion, against a direct double sum over the node pairs with a
/// quadrature rule in z and the kernels evaluated by Horner (no expansion), after the law has
/// moved (t = 2, not uniform). Both sides are sums of bounded terms: allowed 1e-12·scale.
#[test]
fn interaction_against_direct_quadrature() {
    for (s, t) in PAIRS {
        let d = 12;
        let m = model(s, t, d, LossScale::Full, 0.0);
        let mut f = Flow::new(
            &m,
            Layout {
                panels: 3,
                order: 4,
                grading: 2.0,
            },
            Tolerance::new(1e-10),
        )
        .unwrap();
        f.advance_to(2.0).unwrap();
        let k = m.kappa.to_f64();
        let kr = m.kappa_radial.to_f64();
        let psi = m.psi.to_f64();
        let psir = m.psi_radial.to_f64();
        let z = z_rule(d);
        let law: Vec<(f64, f64)> = f
            .alpha()
            .iter()
            .zip(&f.nodes().weights)
            .map(|(a, w)| (*a, *w))
            .collect();
        let scale: f64 = 1.0 + k.iter().map(|c| c.abs()).sum::<f64>() * k.len() as f64;
        let direct = |a: f64| {
            let b = (1.0 - a * a).sqrt();
            let (mut aa, mut bb, mut km, mut rm) = (0.0, 0.0, 0.0, 0.0);
            for (a2, w2) in &law {
                let b2 = (1.0 - a2 * a2).sqrt();
                for (zz, wz) in &z {
                    let sdot = a * a2 + b * b2 * zz;
                    let kp = dhorner(&k, sdot);
                    aa += w2 * wz * kp * a2;
                    bb += w2 * wz * kp * b2 * zz;
                    km += w2 * wz * horner(&k, sdot);
                    rm += w2 * wz * horner(&kr, sdot);
                }
            }
            (aa, bb, km, rm)
        };
        let mut self_mean = 0.0;
        for (a, w) in &law {
            self_mean += w * direct(*a).2;
        }
        let tol = 1e-12 * scale;
        assert!(
            (self_mean - f.self_kernel_mean()).abs() <= tol,
            "{s}: E κ {self_mean} vs {}",
            f.self_kernel_mean()
        );
        for a in [-0.7, -0.2, 0.05, 0.4, 0.8] {
            let (aa, bb, km, rm) = direct(a);
            let (fa, fb) = f.interaction(a);
            assert!((aa - fa).abs() <= tol, "{s}: A({a}) {aa} vs {fa}");
            assert!((bb - fb).abs() <= tol, "{s}: B({a}) {bb} vs {fb}");
            assert!((km - f.kernel_mean_at(a)).abs() <= tol, "{s}: Eκ({a})");
            let b = (1.0 - a * a).sqrt();
            let g = 2.0 * ((dhorner(&psi, a) - aa) * b + bb * a);
            assert!(
                (g - f.velocity_coefficient(a)).abs() <= 4.0 * tol,
                "{s}: g({a})"
            );
            let r = 2.0 * (rm - horner(&psir, a));
            assert!(
                (r - f.radial_coefficient(a)).abs() <= 4.0 * tol,
                "{s}: r({a})"
            );
            // Derivatives by central differences of the direct route (h = 1e-5: truncation
            // h²·|A'''|/6 ≲ 1e-9·scale, cancellation eps·scale/h ≈ 1e-11·scale).
            let h = 1e-5;
            let (ap, bp, _, _) = direct(a + h);
            let (am, bm, _, _) = direct(a - h);
            let (da, db) = f.interaction_derivatives(a);
            let dtol = 1e-8 * scale;
            assert!(((ap - am) / (2.0 * h) - da).abs() <= dtol, "{s}: dA({a})");
            assert!(((bp - bm) / (2.0 * h) - db).abs() <= dtol, "{s}: dB({a})");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loss (note §3)

/// Loss at t = 0 against the closed form Σ_k c_k² E[s^k] − 2 Σ_k c_k c*_k E[α^k] + E σ*² + ν²
/// with E s^k = E α^k the sphere moments; half scale halves it; noise adds scale·ν².
#[test]
fn initial_loss_closed_form() {
    for (s, t) in PAIRS {
        for (scale, sc) in [(LossScale::Full, 1.0), (LossScale::Half, 0.5)] {
            let nu = 0.3;
            let d = 24;
            let m = model(s, t, d, scale, nu);
            let f = Flow::new(&m, layout(20), Tolerance::default()).unwrap();
            let k = m.kappa.to_f64();
            let psi = m.psi.to_f64();
            let ek: f64 = k
                .iter()
                .enumerate()
                .map(|(j, c)| c * sphere_moment(d, j))
                .sum();
            let ep: f64 = psi
                .iter()
                .enumerate()
                .map(|(j, c)| c * sphere_moment(d, j))
                .sum();
            let tn = m.teacher_norm.0.to_f64();
            let exact = sc * (ek - 2.0 * ep + tn + nu);
            assert!(
                (f.loss() - exact).abs() <= 1e-14 * (1.0 + tn),
                "{s}: {} vs {exact}",
                f.loss()
            );
            assert!((f.risk() - (ek - 2.0 * ep + tn)).abs() <= 1e-14 * (1.0 + tn));
        }
    }
}

/// Box–Muller normals from a SplitMix64 stream (a fixed, documented generator).
fn normals(seed: u64, count: usize) -> Vec<f64> {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(count + 1);
    while out.len() < count {
        let (u1, u2) = (next(), next());
        let r = (-2.0 * u1.ln()).sqrt();
        out.push(r * (std::f64::consts::TAU * u2).cos());
        out.push(r * (std::f64::consts::TAU * u2).sin());
    }
    out.truncate(count);
    out
}

/// The finite-N population loss (fast path) of N = 2048 random unit neurons against the
/// reduced loss at t = 0. E[L_N] = L_MF + (κ(1) − Eκ)/N exactly; the fluctuation is
/// −(2/N)Σ(ψ(α_i) − Eψ) + (1/N²)Σ_{i≠j}(κ(s_ij) − Eκ), with standard error
/// SE ≤ 2 sd(ψ(α))/√N + √2 sd(κ(s))/N (sample estimates). Allowed: 5 SE.
#[test]
fn initial_loss_against_finite_population() {
    let d = 16;
    let n = 2048;
    let m = model("he4", "he4", d, LossScale::Full, 0.0);
    let f = Flow::new(&m, layout(50), Tolerance::default()).unwrap();
    let g = normals(12345, n * d);
    let mut w = Vec::with_capacity(n * d);
    for r in g.chunks(d) {
        let norm = r.iter().map(|x| x * x).sum::<f64>().sqrt();
        w.extend(r.iter().map(|x| x / norm));
    }
    let mut theta = vec![0.0; d];
    theta[0] = 1.0;
    let a = vec![1.0 / n as f64; n];
    let k = m.kappa.to_f64();
    let psi = m.psi.to_f64();
    let problem = mforacle::fast::Problem {
        w: &w,
        n,
        d,
        a: &a,
        theta: &theta,
        kappa: mforacle::fast::Kernel::PowerSeries(k.clone()),
        psi: mforacle::fast::Kernel::PowerSeries(psi.clone()),
        kappa_radial: mforacle::fast::Kernel::PowerSeries(m.kappa_radial.to_f64()),
        psi_radial: mforacle::fast::Kernel::PowerSeries(m.psi_radial.to_f64()),
        constant: m.teacher_norm.0.to_f64(),
        loss_scale: mforacle::fast::LossScale::Full,
    };
    let ln = mforacle::fast::evaluate(&problem, mforacle::fast::Route::Tiled)
        .unwrap()
        .loss;
    let ek = f.self_kernel_mean();
    let expected = f.loss() + (horner(&k, 1.0) - ek) / n as f64;
    let ps: Vec<f64> = (0..n).map(|i| horner(&psi, w[i * d])).collect();
    let mean = ps.iter().sum::<f64>() / n as f64;
    let sd_psi = (ps.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let ks: Vec<f64> = (0..n / 2)
        .map(|i| {
            let (u, v) = (
                &w[2 * i * d..(2 * i + 1) * d],
                &w[(2 * i + 1) * d..(2 * i + 2) * d],
            );
            horner(&k, u.iter().zip(v).map(|(x, y)| x * y).sum())
        })
        .collect();
    let km = ks.iter().sum::<f64>() / ks.len() as f64;
    let sd_k = (ks.iter().map(|p| (p - km).powi(2)).sum::<f64>() / (ks.len() - 1) as f64).sqrt();
    let se = 2.0 * sd_psi / (n as f64).sqrt() + 2f64.sqrt() * sd_k / n as f64;
    assert!(
        (ln - expected).abs() <= 5.0 * se,
        "finite N loss {ln} vs {expected} (SE {se:e})"
    );
}

// ---------------------------------------------------------------------------------------------
// Symmetry (note §5)

/// For even activations the flow commutes with α → −α: the node set is exactly mirrored at
/// t = 0, and stays mirrored up to the integration error (tolerance 1e-11 per step; the flow
/// is contracting on the escaped side, so 1e-8 is generous); test particles ±α_0 stay opposite.
#[test]
fn mirror_symmetry_even_activations() {
    for (s, t) in [("he4", "he4"), ("he4+he6", "0.6*he4+0.3*he6")] {
        let m = model(s, t, 16, LossScale::Full, 0.0);
        let mut f = Flow::new(&m, layout(40), Tolerance::new(1e-11)).unwrap();
        f.add_test_particles(&[0.2, -0.2, 0.05, -0.05]).unwrap();
        let a0 = f.alpha().to_vec();
        let mm = a0.len();
        for j in 0..mm {
            assert_eq!(a0[j], -a0[mm - 1 - j]);
        }
        f.advance_to(6.0).unwrap();
        let a = f.alpha();
        let worst = (0..mm)
            .map(|j| (a[j] + a[mm - 1 - j]).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 1e-8, "{s}: asymmetry {worst:e}");
        let ta = f.test_alpha();
        assert!((ta[0] + ta[1]).abs() <= 1e-8 && (ta[2] + ta[3]).abs() <= 1e-8);
        assert!(ta[0] > 0.2, "{s}: the particle at 0.2 moved towards θ");
        let sn = f.snapshot(&SummarySpec::default());
        let q = &sn.quantiles;
        assert!((q[0].1 + q[4].1).abs() <= 1e-7 && (q[1].1 + q[3].1).abs() <= 1e-7);
    }
}

// ---------------------------------------------------------------------------------------------
// Time integration (note §6)

/// Loss curves at tolerances τ, τ/4, τ/16 (he4, d = 32): the differences shrink (the error
/// is controlled), and the error of the default tolerance estimated against τ_default/16 is
/// below 1e-10 at every output time.
#[test]
fn tolerance_halving() {
    let m = he4(32);
    let curve = |tol: f64| {
        let mut f = Flow::new(&m, layout(60), Tolerance::new(tol)).unwrap();
        (1..=10)
            .map(|k| {
                f.advance_to(k as f64).unwrap();
                f.loss()
            })
            .collect::<Vec<f64>>()
    };
    let maxdiff = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    };
    let tau = 1e-7;
    let (c1, c2, c3) = (curve(tau), curve(tau / 4.0), curve(tau / 16.0));
    let (d1, d2) = (maxdiff(&c1, &c2), maxdiff(&c2, &c3));
    assert!(d2 < d1, "no convergence in the tolerance: {d1:e}, {d2:e}");
    let def = Tolerance::default().rtol;
    let e = maxdiff(&curve(def), &curve(def / 16.0));
    assert!(e <= 1e-10, "default tolerance: loss error {e:e}");
}

/// dL/dt = −E_ρ[g²] exactly for the node system (it is itself a mean-field flow), checked by
/// central differences with h and 2h: |D(h) + E g²| ≤ 2|D(2h) − D(h)| + (integrator noise)
/// (the O(h²) truncation of D(h) is a third of D(2h) − D(h)); and the loss never increases.
#[test]
fn loss_dissipation_identity() {
    for (s, t, scale) in [
        ("he4", "he4", LossScale::Full),
        ("he4+he6", "0.6*he4+0.3*he6", LossScale::Half),
        ("he3", "he3", LossScale::Full),
    ] {
        let m = model(s, t, 16, scale, 0.1);
        let tol = Tolerance::new(1e-13);
        let at = |time: f64| {
            let mut f = Flow::new(&m, layout(30), tol).unwrap();
            f.advance_to(time).unwrap();
            f
        };
        for t0 in [0.5, 2.0] {
            let h = 1e-3;
            let l = |x: f64| at(x).loss();
            let d1 = (l(t0 + h) - l(t0 - h)) / (2.0 * h);
            let d2 = (l(t0 + 2.0 * h) - l(t0 - 2.0 * h)) / (4.0 * h);
            let rate = -at(t0).dissipation();
            assert!(
                (d1 - rate).abs() <= 2.0 * (d2 - d1).abs() + 1e-8,
                "{s}: t = {t0}: dL/dt {d1} vs −E g² {rate}"
            );
        }
        let mut f = Flow::new(&m, layout(30), Tolerance::default()).unwrap();
        let mut prev = f.loss();
        for k in 1..=20 {
            f.advance_to(k as f64 * 0.5).unwrap();
            let l = f.loss();
            assert!(
                l <= prev + 1e-13,
                "{s}: loss increased at t = {}",
                k as f64 * 0.5
            );
            prev = l;
        }
    }
}

/// Half loss scale halves gradients and doubles time: L_half(2t) = ½ L_full(t).
#[test]
fn half_scale_is_half_speed() {
    let full = model("he4", "he4", 16, LossScale::Full, 0.0);
    let half = model("he4", "he4", 16, LossScale::Half, 0.0);
    let mut a = Flow::new(&full, layout(30), Tolerance::new(1e-12)).unwrap();
    let mut b = Flow::new(&half, layout(30), Tolerance::new(1e-12)).unwrap();
    for t in [1.0, 3.0] {
        a.advance_to(t).unwrap();
        b.advance_to(2.0 * t).unwrap();
        assert!((0.5 * a.loss() - b.loss()).abs() <= 1e-11, "t = {t}");
    }
}

/// Same inputs, same bits; and a saved state continues to the same bits.
#[test]
fn deterministic_and_restartable() {
    let m = he4(20);
    let run = || {
        let mut f = Flow::new(&m, layout(20), Tolerance::default()).unwrap();
        f.add_test_particles(&[0.1, -0.3]).unwrap();
        f.advance_to(3.0).unwrap();
        f
    };
    let (mut a, b) = (run(), run());
    assert_eq!(a.alpha(), b.alpha());
    assert_eq!(a.loss().to_bits(), b.loss().to_bits());
    let saved = a.save_state();
    a.advance_to(5.0).unwrap();
    let mut c = Flow::new(&m, layout(20), Tolerance::default()).unwrap();
    c.add_test_particles(&[0.0, 0.0]).unwrap();
    c.restore_state(&saved).unwrap();
    c.advance_to(5.0).unwrap();
    assert_eq!(a.alpha(), c.alpha());
    assert_eq!(a.test_alpha(), c.test_alpha());
    assert!(c.restore_state(&saved[1..]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Node convergence (note §4)

/// h_4, d = 32, t = 15: loss at n/2, n and 2n panels per side (n = 200): the differences
/// shrink, and the default layout is within 1e-9 of the finer one.
#[test]
fn node_convergence_he4() {
    let m = he4(32);
    let loss = |panels: usize| {
        let mut f = Flow::new(&m, layout(panels), Tolerance::default()).unwrap();
        f.advance_to(15.0).unwrap();
        (f.loss(), f.snapshot(&SummarySpec::default()))
    };
    let (l1, s1) = loss(100);
    let (l2, s2) = loss(200);
    let (l3, s3) = loss(400);
    let (d1, d2) = ((l1 - l2).abs(), (l2 - l3).abs());
    println!("he4 d=32 t=15: L(100) = {l1:.16e}, L(200) = {l2:.16e}, L(400) = {l3:.16e}");
    println!("differences: {d1:e}, {d2:e}");
    assert!(d2 < d1 && d2 <= 1e-9, "node convergence: {d1:e}, {d2:e}");
    let (e1, e2) = (
        (s1.escaped_fraction - s2.escaped_fraction).abs(),
        (s2.escaped_fraction - s3.escaped_fraction).abs(),
    );
    println!("escaped fraction differences: {e1:e}, {e2:e}");
    assert!(e2 < e1 && e2 <= 1e-6);
}

/// The interpolated node map α_0 ↦ α_t and its preimage against test particles started at the
/// same α_0 (independent: a test particle is integrated, the map is interpolated); the
/// escape time of a test particle against a second flow stopped at that time.
#[test]
fn interpolated_map_matches_test_particles() {
    let m = he4(32);
    let a0 = [0.03, 0.1, 0.137, 0.2, 0.31, -0.15, -0.6];
    let mut f = Flow::new(&m, Layout::default(), Tolerance::default()).unwrap();
    f.add_test_particles(&a0).unwrap();
    f.set_escape_threshold(0.9).unwrap();
    f.advance_to(10.0).unwrap();
    let mut worst: f64 = 0.0;
    for (i, a) in a0.iter().enumerate() {
        worst = worst.max((f.map_at(*a) - f.test_alpha()[i]).abs());
    }
    println!("map vs test particles at t = 10: {worst:e}");
    assert!(worst <= 1e-7, "interpolated map off by {worst:e}");
    // The preimage of 0.9 followed as a test particle reaches 0.9 at t = 10.
    let p = f.preimage(0.9);
    let mut g = Flow::new(&m, Layout::default(), Tolerance::default()).unwrap();
    g.add_test_particles(&[p]).unwrap();
    g.advance_to(10.0).unwrap();
    assert!(
        (g.test_alpha()[0] - 0.9).abs() <= 1e-7,
        "{}",
        g.test_alpha()[0]
    );
    // Escape times: stopping a fresh flow at the recorded time puts the particle on the
    // threshold (to its speed × time resolution + integration error).
    let times = f.escape_times().to_vec();
    for (i, a) in a0.iter().enumerate() {
        if let Some(te) = times[i] {
            let mut h = Flow::new(&m, layout(100), Tolerance::default()).unwrap();
            h.add_test_particles(&[*a]).unwrap();
            h.advance_to(te).unwrap();
            let x = h.test_alpha()[0].abs();
            assert!((x - 0.9).abs() <= 1e-8, "α_0 = {a}: |α({te})| = {x}");
        }
    }
    println!("escape times {times:?}");
    // α_0 = 0.03 cannot escape by t = 10 (even without interaction it needs
    // (0.03^{-2} − 0.9^{-2})/16 ≈ 69, docs/conventions.md §6); 0.137 and beyond do.
    assert!(times[0].is_none() && times[2..].iter().all(|t| t.is_some()));
}

// ---------------------------------------------------------------------------------------------
// Discrete map (note §7)

/// The discrete map with step η converges to the flow at first order: the errors of the loss
/// and of test particles at T = 2 for η, η/2, η/4 have ratios close to 2 (in [1.7, 2.3]).
#[test]
fn discrete_map_first_order() {
    let m = model("he4+he6", "0.6*he4+0.3*he6", 16, LossScale::Full, 0.0);
    let tt = 2.0;
    let mut c = Flow::new(&m, layout(20), Tolerance::new(1e-12)).unwrap();
    c.add_test_particles(&[0.3, -0.5]).unwrap();
    c.advance_to(tt).unwrap();
    for update in [Update::Euclidean, Update::Tangent, Update::Geodesic] {
        let err = |eta: f64| {
            let mut f = DiscreteFlow::new(&m, layout(20), eta, update).unwrap();
            f.add_test_particles(&[0.3, -0.5]).unwrap();
            let steps = (tt / eta).round() as usize;
            for _ in 0..steps {
                f.step();
            }
            assert!((f.time() - tt).abs() < 1e-12);
            (
                (f.loss() - c.loss()).abs(),
                (f.test_alpha()[0] - c.test_alpha()[0]).abs(),
            )
        };
        let eta = 0.02;
        let (e1, e2, e3) = (err(eta), err(eta / 2.0), err(eta / 4.0));
        for (x, y, what) in [
            (e1.0, e2.0, "loss"),
            (e2.0, e3.0, "loss"),
            (e1.1, e2.1, "particle"),
        ] {
            let r = x / y;
            assert!(
                (1.7..=2.3).contains(&r),
                "{update:?}: {what} error ratio {r} ({x:e}, {y:e})"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Command line (note §8)

#[test]
fn cli_defaults_and_header() {
    let o = run(&[
        "meanfield",
        "--student",
        "he4",
        "--d",
        "32",
        "--t-end",
        "15",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "t,loss,risk,alpha_mean_abs,escaped_fraction,q05,q25,q50,q75,q95"
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 31);
    assert_eq!(rows[30][0], 15.0);
    // Loss nonincreasing, and the row at t = 15 equals the library's value.
    assert!(rows.windows(2).all(|w| w[1][1] <= w[0][1] + 1e-13));
    let mut f = Flow::new(&he4(32), Layout::default(), Tolerance::new(1e-10)).unwrap();
    for r in &rows {
        f.advance_to(r[0]).unwrap();
    }
    assert_eq!(rows[30][1], f.loss());
}

#[test]
fn cli_bad_input_exit_2_one_line() {
    for args in [
        vec!["--student", "he4", "--d", "2", "--t-end", "1"],
        vec!["--student", "he4", "--d", "16", "--t-end", "-1"],
        vec!["--student", "he4", "--d", "16", "--t-end", "nan"],
        vec![
            "--student",
            "he4",
            "--d",
            "16",
            "--t-end",
            "1",
            "--dt-out",
            "0",
        ],
        vec!["--student", "he4(", "--d", "16", "--t-end", "1"],
        vec![
            "--student",
            "he4",
            "--d",
            "16",
            "--t-end",
            "1",
            "--panels",
            "0",
        ],
        vec![
            "--student",
            "he4",
            "--d",
            "16",
            "--t-end",
            "1",
            "--threshold",
            "1",
        ],
        vec![
            "--student",
            "he4",
            "--d",
            "16",
            "--t-end",
            "1",
            "--track",
            "1.5",
        ],
        vec![
            "--student",
            "he4",
            "--d",
            "16",
            "--t-end",
            "1",
            "--rtol",
            "0",
        ],
        vec!["--student", "step", "--d", "16", "--t-end", "1"],
        vec!["--student", "he4", "--d", "16"],
    ] {
        let o = run(&[&["meanfield"][..], &args[..]].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // the oracle refuses a horizon that is not a whole number of output steps
    let o = run(&[
        "meanfield",
        "--student",
        "he4",
        "--d",
        "16",
        "--t-end",
        "1.25",
        "--dt-out",
        "0.5",
        "--oracle",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
}

#[test]
fn cli_out_writes_files() {
    let dir = std::env::temp_dir().join(format!("mforacle-mf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = run(&[
        "meanfield",
        "--student",
        "he4+he6",
        "--teacher",
        "0.6*he4+0.3*he6",
        "--d",
        "16",
        "--t-end",
        "2",
        "--dt-out",
        "0.25",
        "--loss-scale",
        "half",
        "--noise-variance",
        "0.1",
        "--panels",
        "40",
        "--track",
        "0.1,-0.2,0.95",
        "--check-nodes",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty());
    let csv = std::fs::read_to_string(dir.join("meanfield.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with("q95_node_diff"), "{header}");
    assert_eq!(csv.lines().count(), 10);
    let tr = std::fs::read_to_string(dir.join("trajectories.csv")).unwrap();
    assert_eq!(tr.lines().count(), 10);
    let es = std::fs::read_to_string(dir.join("escape_times.csv")).unwrap();
    let last: Vec<&str> = es.lines().nth(3).unwrap().split(',').collect();
    assert_eq!(last[1].parse::<f64>().unwrap(), 0.0, "0.95 starts escaped");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meanfield.json")).unwrap())
            .unwrap();
    assert_eq!(j["crate_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(j["check_panels"], 20);
    assert_eq!(j["rows"].as_array().unwrap().len(), 9);
    // The noise adds scale·ν² = 0.05 to the loss, not to the risk.
    let r0 = &j["rows"][0];
    let (l, r) = (r0["loss"].as_f64().unwrap(), r0["risk"].as_f64().unwrap());
    assert!((l - 0.5 * (r + 0.1)).abs() <= 1e-15);
    let hist: f64 = r0["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!((hist - 1.0).abs() <= 1e-13);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `meanfield --oracle` prints the MPFR flow with its achieved accuracy per row.
#[test]
fn cli_oracle_prints_accuracy() {
    let o = run(&[
        "meanfield",
        "--student",
        "he4",
        "--d",
        "9",
        "--t-end",
        "0.5",
        "--dt-out",
        "0.25",
        "--panels",
        "10",
        "--oracle",
        "--digits",
        "20",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "t,loss,alpha_mean_abs,err_time,err_rounding,err_nodes,err_kernel,err_total,digits,bound_kind"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 3);
    // t = 0: uniform law, h_4: L = 1 − 3/(d(d+2)) = 1 − 3/99, printed to 20 digits
    let l0: f64 = rows[0][1].parse().unwrap();
    assert!((l0 - (1.0 - 3.0 / 99.0)).abs() < 1e-15, "{l0}");
    for r in &rows {
        let total: f64 = r[7].parse().unwrap();
        assert!(total.is_finite() && total >= 0.0);
        assert_eq!(r[9], "estimate");
        assert!(r[1].len() >= 20, "{}", r[1]);
    }
}
