//! Tests of the Gibbs fixed point of mean-field Langevin dynamics (`mforacle::langevin`) and
//! of `mforacle langevin gibbs`. Proofs-note: proofs-notes/langevin.md. Every check compares
//! two independent computations (the two routes, two precisions, a direct quadrature of the
//! closed-form kernel, an exact limit); tolerances are the routes' own error estimates.

use mforacle::activation::Spec;
use mforacle::langevin::{fast, gauss, harmonic_dimension, oracle, Gibbs, Quantity};
use mforacle::meanfield::Model;
use mforacle::population::LossScale;
use rug::Float;
use std::process::{Command, Output};

fn model(
    student: &str,
    teacher: &str,
    d: usize,
    degree: usize,
    digits: u32,
    scale: LossScale,
) -> Model {
    let s = Spec::parse(student).unwrap();
    let t = Spec::parse(teacher).unwrap();
    Model::new(&s, &t, d, degree, digits, scale, 0.0).unwrap()
}

fn fields<T: Clone>(g: &Gibbs<T>) -> Vec<(String, Quantity<T>)> {
    let mut v = vec![
        ("free_energy".to_string(), g.free_energy.clone()),
        ("loss".into(), g.loss.clone()),
        ("risk".into(), g.risk.clone()),
        ("kl_to_uniform".into(), g.kl_to_uniform.clone()),
        ("log_partition".into(), g.log_partition.clone()),
        ("mean_s".into(), g.mean_s.clone()),
        ("mean_s2".into(), g.mean_s2.clone()),
        ("mean_abs_s".into(), g.mean_abs_s.clone()),
        ("interaction".into(), g.interaction.clone()),
    ];
    for (l, m) in g.gegenbauer_moments.iter().enumerate() {
        v.push((format!("m_{l}"), m.clone()));
    }
    v
}

// ---------------------------------------------------------------- quadrature rules

#[test]
fn gauss_jacobi_reproduces_gegenbauer_orthogonality_and_z_moments() {
    // E_unif[P_l P_m] = δ_lm / N_l (exact for l + m ≤ 2n − 1).
    for d in [3usize, 4, 7, 40] {
        let a = (d as f64 - 3.0) / 2.0;
        let (x, w) = gauss::gauss_jacobi(20, a, a);
        for l in 0..12 {
            for m in 0..12 {
                let s: f64 = x
                    .iter()
                    .zip(&w)
                    .map(|(&xi, &wi)| {
                        let p = fast::gegenbauer(12, d, xi);
                        wi * p[l] * p[m]
                    })
                    .sum();
                let exact = if l == m {
                    1.0 / harmonic_dimension(l, d)
                } else {
                    0.0
                };
                assert!(
                    (s - exact).abs() < 1e-14,
                    "d={d} l={l} m={m}: {s} vs {exact}"
                );
            }
        }
    }
    // z with density ∝ (1 − z²)^{(d−4)/2}: E z² = 1/(d − 1), E z⁴ = 3/((d − 1)(d + 1)).
    for d in [3usize, 4, 9] {
        let a = (d as f64 - 4.0) / 2.0;
        let (z, w) = gauss::gauss_jacobi(8, a, a);
        let m2: f64 = z.iter().zip(&w).map(|(z, w)| w * z * z).sum();
        let m4: f64 = z.iter().zip(&w).map(|(z, w)| w * z.powi(4)).sum();
        let df = d as f64;
        assert!((m2 - 1.0 / (df - 1.0)).abs() < 1e-15);
        assert!((m4 - 3.0 / ((df - 1.0) * (df + 1.0))).abs() < 1e-15);
    }
    // Non-symmetric rule (1 − x)^a on [−1, 1]: E x = −a/(a + 2) exactly.
    let a = 2.5;
    let (x, w) = gauss::gauss_jacobi(10, a, 0.0);
    let m1: f64 = x.iter().zip(&w).map(|(x, w)| w * x).sum();
    assert!((m1 + a / (a + 2.0)).abs() < 1e-15);
}

// ---------------------------------------------------------------- Funk–Hecke coefficients

/// a_{k,l} = E_unif[t^k P_l] in closed form (Rodrigues + integration by parts), k − l = 2j ≥ 0.
fn monomial_closed_form(k: usize, l: usize, d: usize) -> f64 {
    if l > k || (k - l) % 2 == 1 {
        return 0.0;
    }
    let j = (k - l) / 2;
    let df = d as f64;
    let mut v = (libm::lgamma(k as f64 + 1.0)
        - libm::lgamma((k - l) as f64 + 1.0)
        - (l as f64) * std::f64::consts::LN_2
        + libm::lgamma(df / 2.0)
        - libm::lgamma(l as f64 + df / 2.0))
    .exp();
    for i in 0..j {
        let fi = i as f64;
        v *= (fi + 0.5) / (fi + 0.5 + l as f64 + (df - 1.0) / 2.0);
    }
    v
}

#[test]
fn funk_hecke_of_monomials_recurrence_against_closed_form() {
    for d in [3usize, 5, 8, 33] {
        for k in 0..=14usize {
            let mut a = vec![0.0; k + 1];
            a[k] = 1.0;
            let nu = fast::funk_hecke_from_series(&a, d);
            let total: f64 = nu.iter().sum();
            assert!((total - 1.0).abs() < 1e-14, "t^k at t = 1");
            for (l, nl) in nu.iter().enumerate() {
                let exact = harmonic_dimension(l, d) * monomial_closed_form(k, l, d);
                assert!(
                    (nl - exact).abs() < 1e-13 * (1.0 + exact),
                    "d={d} k={k} l={l}: {nl} vs {exact}"
                );
            }
        }
    }
}

/// relu: μ_l = d b_l², b_l = E_unif[relu(t) P_l(t)] in closed form.
fn relu_mu_closed(l: usize, d: usize) -> f64 {
    let df = d as f64;
    let lb = libm::lgamma(0.5) + libm::lgamma((df - 1.0) / 2.0) - libm::lgamma(df / 2.0); // log B(1/2,(d−1)/2)
    let b = if l == 0 {
        1.0 / (lb.exp() * (df - 1.0))
    } else if l == 1 {
        1.0 / (2.0 * df)
    } else if l % 2 == 1 {
        0.0
    } else {
        let j = (l - 2) / 2;
        // (-1/2)^l Γ((d−1)/2)/Γ(l + (d−1)/2) (2j)! C(l + (d−3)/2, j) (−1)^j / B
        let lf = l as f64;
        let log_binom = libm::lgamma(lf + (df - 3.0) / 2.0 + 1.0)
            - libm::lgamma(j as f64 + 1.0)
            - libm::lgamma(lf + (df - 3.0) / 2.0 - j as f64 + 1.0);
        let mag = (-lf * std::f64::consts::LN_2 + libm::lgamma((df - 1.0) / 2.0)
            - libm::lgamma(lf + (df - 1.0) / 2.0)
            + libm::lgamma(2.0 * j as f64 + 1.0)
            + log_binom
            - lb)
            .exp();
        if j % 2 == 0 {
            mag
        } else {
            -mag
        }
    };
    df * b * b
}

/// μ_l by quadrature of the closed-form relu kernel in the angle (t = cos θ, smooth in θ).
fn relu_mu_quadrature(l: usize, d: usize) -> f64 {
    let (x, w) = gauss::gauss_jacobi(400, 0.0, 0.0); // Gauss–Legendre
    let (mut num, mut den) = (0.0, 0.0);
    for (xi, wi) in x.iter().zip(&w) {
        let th = std::f64::consts::PI * (xi + 1.0) / 2.0;
        let t = th.cos();
        let k = (th.sin() + (std::f64::consts::PI - th) * t) / (2.0 * std::f64::consts::PI);
        let jac = wi * th.sin().powi(d as i32 - 2);
        num += jac * k * fast::gegenbauer(l, d, t)[l];
        den += jac;
    }
    num / den
}

#[test]
fn funk_hecke_relu_three_routes() {
    for d in [4usize, 7] {
        let m = model("relu", "relu", d, 398, 20, LossScale::Full);
        let a = m.kappa.to_f64();
        let nu_series = fast::funk_hecke_from_series(&a, d);
        let tail = m.kappa.tail[0];
        assert!(tail < 1e-4 && tail > 0.0);
        for (l, nu_l) in nu_series.iter().enumerate().take(11) {
            let nl = harmonic_dimension(l, d);
            let closed = relu_mu_closed(l, d);
            let quad = relu_mu_quadrature(l, d);
            assert!(
                (closed - quad).abs() < 1e-13,
                "d={d} l={l}: closed {closed} quadrature {quad}"
            );
            // the series route: |μ_l error| ≤ sup|κ − κ_K| · E|P_l| ≤ tail (|P_l| ≤ 1)
            let series = nu_l / nl;
            assert!(
                (series - closed).abs() <= tail + 1e-14,
                "d={d} l={l}: series {series} closed {closed} tail {tail}"
            );
        }
        // and κ(1) = Σ ν_l = 1/2 for relu, up to the tail
        let total: f64 = nu_series.iter().sum();
        assert!((total - 0.5).abs() <= tail + 1e-14);
    }
}

// ---------------------------------------------------------------- the two routes

fn assert_routes_agree(m_fast: &Model, m_oracle: &Model, beta: f64, digits: u32, small: f64) {
    let f = fast::gibbs(m_fast, beta, 6, 1e-10).unwrap();
    let nodes = oracle::default_nodes(digits, beta);
    let o = oracle::gibbs(m_oracle, beta, digits, nodes, 6).unwrap();
    assert!(
        f.residual < 1e-13 && o.residual < 1e-15,
        "{} {}",
        f.residual,
        o.residual
    );
    for ((name, qf), (_, qo)) in fields(&f).into_iter().zip(fields(&o)) {
        let diff = (qf.value - qo.value.to_f64()).abs();
        let tol = qf.bound + qo.bound;
        assert!(
            diff <= tol,
            "{name}: f64 {} oracle {} diff {diff:e} > {tol:e}",
            qf.value,
            qo.value
        );
        assert!(
            qo.bound < small && qf.bound < 1e-9,
            "{name}: bounds {} {}",
            qf.bound,
            qo.bound
        );
    }
}

#[test]
fn routes_agree_polynomial_kernel() {
    let m = model("he2+he3", "he2", 8, 20, 30, LossScale::Full);
    assert_routes_agree(&m, &m, 5.0, 20, 1e-15);
}

#[test]
fn routes_agree_erf_half_scale_closed_form_kernel() {
    // f64: the power series of κ; oracle: the closed form (2/π) asin(2t/3).
    let m = model("erf", "erf", 16, 120, 30, LossScale::Half);
    assert_routes_agree(&m, &m, 10.0, 20, 1e-15);
}

#[test]
fn routes_agree_tanh_small_dimension() {
    let mf = model("tanh", "he1", 3, 120, 20, LossScale::Full);
    let mo = model("tanh", "he1", 3, 200, 30, LossScale::Full);
    assert_routes_agree(&mf, &mo, 3.0, 16, 1e-15);
}

#[test]
fn routes_agree_concentrated_law_large_beta() {
    // β = 200: p* concentrates near s ≈ ±0.95; the f64 rounding term (∝ β sup|φ|) and the
    // oracle's node count (its quadrature estimate is ~1e-9 here) both matter.
    let m = model("he3", "he3", 20, 10, 30, LossScale::Full);
    assert_routes_agree(&m, &m, 200.0, 16, 1e-7);
}

#[test]
fn oracle_precision_doubling() {
    let m = model("erf", "he1", 6, 120, 50, LossScale::Full);
    let lo = oracle::gibbs(&m, 4.0, 20, oracle::default_nodes(20, 4.0), 4).unwrap();
    let hi = oracle::gibbs(&m, 4.0, 40, oracle::default_nodes(40, 4.0), 4).unwrap();
    for ((name, a), (_, b)) in fields(&lo).into_iter().zip(fields(&hi)) {
        let diff = Float::with_val(200, &a.value - &b.value).abs().to_f64();
        assert!(
            diff <= a.bound + b.bound,
            "{name}: {diff:e} > {:e} + {:e}",
            a.bound,
            b.bound
        );
        assert!(
            a.bound < 1e-20 && b.bound < 1e-38,
            "{name}: {:e} {:e}",
            a.bound,
            b.bound
        );
    }
}

// ---------------------------------------------------------------- the fixed-point equation

/// φ(s) = 2c[E_{p}E_z κ(s s' + r r' z) − ψ(s)] by direct quadrature of the closed-form erf
/// kernel, with p given by the f64 route's moments: composite Gauss–Legendre in the angle of s'
/// (the weight sin^{d−2}ϑ as a function) and Gauss–Legendre in z (weight (1 − z²)^{(d−4)/2} as
/// a function, d = 6). No Gegenbauer polynomial enters except to rebuild p from its moments.
#[test]
fn fixed_point_satisfies_its_equation_by_direct_quadrature() {
    let (d, beta) = (6usize, 4.0);
    let m = model("erf", "erf(2*z)", d, 120, 20, LossScale::Full);
    let kmax = m.degree;
    let g = fast::gibbs(&m, beta, kmax, 1e-10).unwrap();
    let moments: Vec<f64> = g.gegenbauer_moments.iter().map(|q| q.value).collect();
    let nu = fast::funk_hecke_from_series(&m.kappa.to_f64(), d);
    let psi_c = m.psi.to_f64();
    let horner = |c: &[f64], x: f64| c.iter().rev().fold(0.0, |a, ci| a * x + ci);
    let phi_moments = |s: f64| {
        let p = fast::gegenbauer(kmax, d, s);
        let k: f64 = (0..=kmax).map(|l| nu[l] * moments[l] * p[l]).sum();
        2.0 * (k - horner(&psi_c, s))
    };
    let kappa = |t: f64| 2.0 / std::f64::consts::PI * (2.0 * t.clamp(-1.0, 1.0) / 3.0).asin();
    let psi = |t: f64| 2.0 / std::f64::consts::PI * (2.0 * 2.0 * t / (3.0f64 * 9.0).sqrt()).asin();
    // s' = cos ϑ: (1 − s'²)^{(d−3)/2} ds' = sin^{d−2}ϑ dϑ, smooth in ϑ; 24 panels × 20
    // Gauss–Legendre nodes on [0, π].
    let (gl, glw) = gauss::gauss_jacobi(20, 0.0, 0.0);
    let mut sp = Vec::new();
    let mut spw = Vec::new();
    let panels = 24;
    let pi = std::f64::consts::PI;
    for p in 0..panels {
        let (lo, hi) = (
            pi * p as f64 / panels as f64,
            pi * (p + 1) as f64 / panels as f64,
        );
        for (x, w) in gl.iter().zip(&glw) {
            let th = lo + (hi - lo) * (x + 1.0) / 2.0;
            let s = th.cos();
            sp.push(s);
            spw.push(w * (hi - lo) * th.sin().powi(d as i32 - 2) * (-beta * phi_moments(s)).exp());
        }
    }
    let total: f64 = spw.iter().sum();
    let (zg, zw) = gauss::gauss_jacobi(40, 0.0, 0.0);
    let zw: Vec<f64> = zg.iter().zip(&zw).map(|(z, w)| w * (1.0 - z * z)).collect(); // (d−4)/2 = 1
    let ztot: f64 = zw.iter().sum();
    let mut worst = 0.0f64;
    for i in 0..=20 {
        let s = -1.0 + i as f64 / 10.0;
        let r = (1.0 - s * s).sqrt();
        let mut acc = 0.0;
        for (s2, w2) in sp.iter().zip(&spw) {
            let r2 = (1.0 - s2 * s2).max(0.0).sqrt();
            let ez: f64 = zg
                .iter()
                .zip(&zw)
                .map(|(z, wz)| wz * kappa(s * s2 + r * r2 * z))
                .sum::<f64>()
                / ztot;
            acc += w2 * ez;
        }
        let direct = 2.0 * (acc / total - psi(s));
        worst = worst.max((direct - phi_moments(s)).abs());
    }
    // composite rules of this size are accurate to ~1e-13 on these analytic integrands
    assert!(worst < 1e-11, "fixed-point equation violated by {worst:e}");
    assert!(g.residual < 1e-13);
}

// ---------------------------------------------------------------- exact limits

fn lgamma(x: f64) -> f64 {
    libm::lgamma(x)
}

#[test]
fn orthogonal_teacher_gives_the_uniform_law_exactly() {
    // σ = he2, σ* = he3: ψ = 0, κ = t², and m = 0 solves the fixed-point equation, so by
    // uniqueness p* = w_unif: KL = 0, E s² = 1/d, E|s| = Γ(d/2)/(√π Γ((d+1)/2)),
    // loss = c(1/d + 1), log Z = −β·2c/d.
    for (d, scale, c) in [(5usize, LossScale::Full, 1.0), (12, LossScale::Half, 0.5)] {
        let m = model("he2", "he3", d, 10, 30, scale);
        let beta = 7.0;
        let df = d as f64;
        let abs = (lgamma(df / 2.0) - lgamma((df + 1.0) / 2.0)).exp() / std::f64::consts::PI.sqrt();
        let exact = [
            ("loss", c * (1.0 / df + 1.0)),
            ("kl", 0.0),
            ("mean_s2", 1.0 / df),
            ("mean_abs_s", abs),
            ("log_partition", -beta * 2.0 * c / df),
            ("free_energy", c * (1.0 / df + 1.0)),
        ];
        let f = fast::gibbs(&m, beta, 4, 1e-10).unwrap();
        let o = oracle::gibbs(&m, beta, 25, oracle::default_nodes(25, beta), 4).unwrap();
        let fv = [
            &f.loss,
            &f.kl_to_uniform,
            &f.mean_s2,
            &f.mean_abs_s,
            &f.log_partition,
            &f.free_energy,
        ];
        let ov = [
            &o.loss,
            &o.kl_to_uniform,
            &o.mean_s2,
            &o.mean_abs_s,
            &o.log_partition,
            &o.free_energy,
        ];
        for (k, (name, e)) in exact.iter().enumerate() {
            assert!(
                (fv[k].value - e).abs() <= fv[k].bound + 1e-14 * (1.0 + e.abs()),
                "f64 {name}: {} vs {e}",
                fv[k].value
            );
            // the exact value in f64 (lgamma, exp) carries a few ulps of rounding
            let od = (ov[k].value.to_f64() - e).abs(); // lgamma: a few ulps
            assert!(
                od <= ov[k].bound + 1e-14 * (1.0 + e.abs()),
                "oracle {name}: {} vs {e}",
                ov[k].value
            );
        }
    }
}

#[test]
fn small_beta_tends_to_the_uniform_law() {
    // β → 0: p* → w_unif, KL = O(β²), loss → L(unif) = c(E_unif κ − 2E_unif ψ + Eσ*²);
    // for σ = σ* = he2: 1/d − 2/d + 1.
    let d = 9usize;
    let m = model("he2", "he2", d, 10, 30, LossScale::Full);
    let df = d as f64;
    let mut prev_kl = f64::INFINITY;
    for beta in [1e-2, 1e-4, 1e-6, 1e-12, 1e-300] {
        let g = fast::gibbs(&m, beta, 2, 1e-10).unwrap();
        let lu = 1.0 - 1.0 / df;
        assert!(
            (g.loss.value - lu).abs() < 10.0 * beta + 1e-14,
            "beta {beta}: {}",
            g.loss.value
        );
        // F = L + KL/β with KL/β = O(β): no cancellation blow-up as β → 0
        assert!(
            (g.free_energy.value - lu).abs() < 10.0 * beta + 1e-14,
            "beta {beta}: F = {}",
            g.free_energy.value
        );
        assert!(g.free_energy.bound < 1e-12);
        assert!(g.kl_to_uniform.value >= -g.kl_to_uniform.bound);
        assert!(g.kl_to_uniform.value < 10.0 * beta * beta + g.kl_to_uniform.bound);
        assert!(g.kl_to_uniform.value <= prev_kl);
        prev_kl = g.kl_to_uniform.value;
    }
}

#[test]
fn he1_pair_against_one_dimensional_bisection() {
    // σ = σ* = he1: κ = ψ = t = P_1, φ(s) = 2c(m_1 − 1)s, so m_1 = A(2cβ(1 − m_1)) with
    // A(h) = E[s e^{hs}]/E[e^{hs}] under w_unif, computed here in the angle by Gauss–Legendre,
    // and the fixed point by bisection (A is increasing, the right side decreasing in m_1).
    let (d, beta) = (10usize, 6.0);
    let m = model("he1", "he1", d, 10, 30, LossScale::Full);
    let g = fast::gibbs(&m, beta, 1, 1e-10).unwrap();
    let (x, w) = gauss::gauss_jacobi(200, 0.0, 0.0);
    let mean = |h: f64| {
        let (mut num, mut den) = (0.0, 0.0);
        for (xi, wi) in x.iter().zip(&w) {
            let th = std::f64::consts::PI * (xi + 1.0) / 2.0;
            let e = wi * th.sin().powi(d as i32 - 2) * (h * th.cos()).exp();
            num += e * th.cos();
            den += e;
        }
        num / den
    };
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mean(2.0 * beta * (1.0 - mid)) > mid {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let m1 = 0.5 * (lo + hi);
    assert!(
        (g.mean_s.value - m1).abs() <= g.mean_s.bound + 1e-15,
        "{} vs {m1}",
        g.mean_s.value
    );
    // risk = E_{p⊗p}⟨w,w'⟩ − 2E s + 1 = m_1² − 2m_1 + 1
    let r = (1.0 - m1) * (1.0 - m1);
    assert!((g.risk.value - r).abs() <= g.risk.bound + 1e-15);
}

#[test]
fn half_scale_at_beta_is_full_scale_at_half_beta() {
    // F_half(β) = F_full(β/2)/2, the same p*.
    let mh = model("erf", "he1", 7, 120, 20, LossScale::Half);
    let mf = model("erf", "he1", 7, 120, 20, LossScale::Full);
    let h = fast::gibbs(&mh, 8.0, 3, 1e-10).unwrap();
    let f = fast::gibbs(&mf, 4.0, 3, 1e-10).unwrap();
    assert!(
        (h.free_energy.value - f.free_energy.value / 2.0).abs()
            <= h.free_energy.bound + f.free_energy.bound
    );
    assert!(
        (h.kl_to_uniform.value - f.kl_to_uniform.value).abs()
            <= h.kl_to_uniform.bound + f.kl_to_uniform.bound
    );
    for l in 0..=3 {
        let (a, b) = (&h.gegenbauer_moments[l], &f.gegenbauer_moments[l]);
        assert!((a.value - b.value).abs() <= a.bound + b.bound);
    }
}

// ---------------------------------------------------------------- CLI

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mforacle"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn assert_usage_error(args: &[&str], needle: &str) {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn cli_bad_input() {
    let base = ["langevin", "gibbs", "--student", "erf", "--d", "5"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        base.iter().cloned().chain(extra.iter().cloned()).collect()
    };
    assert_usage_error(&with(&["--beta", "0"]), "--beta");
    assert_usage_error(&with(&["--beta", "-1"]), "--beta");
    assert_usage_error(&with(&["--beta", "nan"]), "--beta");
    assert_usage_error(&with(&["--beta", "inf"]), "--beta");
    assert_usage_error(&with(&["--beta", "1e7"]), "--beta");
    assert_usage_error(
        &[
            "langevin",
            "gibbs",
            "--student",
            "sign",
            "--d",
            "5",
            "--beta",
            "1",
        ],
        "not supported",
    );
    assert_usage_error(
        &[
            "langevin",
            "gibbs",
            "--student",
            "erf",
            "--d",
            "2",
            "--beta",
            "1",
        ],
        "d >= 3",
    );
    // relu's series tail at degree 120 is ~3e-5: not at the requested 1e-10
    assert_usage_error(
        &[
            "langevin",
            "gibbs",
            "--student",
            "relu",
            "--d",
            "5",
            "--beta",
            "1",
        ],
        "truncation bound",
    );
    // tanh at degree 20 cannot give 30 digits
    assert_usage_error(
        &[
            "langevin",
            "gibbs",
            "--student",
            "tanh",
            "--d",
            "5",
            "--beta",
            "1",
            "--oracle",
            "--digits",
            "30",
            "--degree",
            "20",
        ],
        "bounded only",
    );
    assert_usage_error(&with(&["--beta", "1", "--degree", "500"]), "--degree");
    assert_usage_error(&with(&["--beta", "1", "--student", "wat(z)"]), "");
}

#[test]
fn cli_json_fields_and_thread_independence() {
    let args = [
        "langevin",
        "gibbs",
        "--student",
        "he2",
        "--teacher",
        "he1+he2",
        "--d",
        "6",
        "--beta",
        "3",
        "--oracle",
        "--digits",
        "20",
        "--moments",
        "3",
    ];
    let one = bin()
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    let two = bin()
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    assert_eq!(
        one.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert_eq!(one.stdout, two.stdout, "thread count changed the output");
    let v: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    for f in [
        "free_energy",
        "loss",
        "risk",
        "kl_to_uniform",
        "log_partition",
        "mean_s",
        "mean_s2",
        "mean_abs_s",
        "interaction",
        "residual",
    ] {
        assert!(
            v[f]["value"].is_string() && v[f]["bound"].is_string(),
            "{f}"
        );
        assert_eq!(v[f]["bound_kind"], "estimate", "{f}");
    }
    assert_eq!(v["gegenbauer_moments"].as_array().unwrap().len(), 4);
    // m_0 = 1 for every law: the one exact number; the others are estimates
    assert_eq!(v["gegenbauer_moments"][0]["bound_kind"], "exact");
    assert_eq!(v["gegenbauer_moments"][0]["bound"], "0");
    assert_eq!(v["gegenbauer_moments"][2]["bound_kind"], "estimate");
    assert!(v["iterations"].as_u64().unwrap() >= 1);
    // f64 route through the CLI agrees with the oracle's printed values within the bounds
    let fast = run(&[
        "langevin",
        "gibbs",
        "--student",
        "he2",
        "--teacher",
        "he1+he2",
        "--d",
        "6",
        "--beta",
        "3",
    ]);
    assert_eq!(fast.status.code(), Some(0));
    let w: serde_json::Value = serde_json::from_slice(&fast.stdout).unwrap();
    for f in ["free_energy", "risk", "mean_abs_s"] {
        let p = |x: &serde_json::Value| x.as_str().unwrap().parse::<f64>().unwrap();
        let diff = (p(&v[f]["value"]) - p(&w[f]["value"])).abs();
        assert!(
            diff <= p(&v[f]["bound"]) + p(&w[f]["bound"]) + 1e-20,
            "{f}: {diff:e}"
        );
    }
}
