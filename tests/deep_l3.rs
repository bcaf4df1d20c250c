//! Tests of the L = 3 deep model (src/deep/limit3.rs, src/deep/train3.rs), each against an
//! independent method: the second limit method (ideal particles without push-forward), a
//! quadrature of the initial law written here, seeded finite-width draws, central differences
//! of the risk, and the command line. The finite-N closed forms of L = 3 (risk against
//! quadrature of the definition, velocities against differences at a generic state, f64
//! against the MPFR oracle) are checked in `tests/deep.rs`.

mod common;

use mforacle::deep::limit::{BParams, Params};
use mforacle::deep::{self, finite, limit3, Psi};
use std::f64::consts::PI;

/// E h(θ) for θ ~ N(μ, 1) by the trapezoidal rule on [μ − 12, μ + 12] with step 1/64. For h
/// analytic in the strip |Im θ| < π/2 (gd, sech²) and bounded there by a polynomial in |θ| the
/// error is O(e^{−2π(π/2)·64}) plus the lost mass 2Φ(−12) < 4e−33: at rounding level.
fn normal_mean(mu: f64, h: impl Fn(f64) -> f64) -> f64 {
    let step = 1.0 / 64.0;
    let n = (24.0 / step) as usize;
    (0..=n)
        .map(|k| {
            let z = -12.0 + k as f64 * step;
            step * (-0.5 * z * z).exp() / (2.0 * PI).sqrt() * h(mu + z)
        })
        .sum()
}

fn gd(t: f64) -> f64 {
    libm::atan(libm::sinh(t))
}

/// b(0) = E a · E ψ(θ0'), θ0' ~ N(1, 1), E a = 1; and E ψ'(θ0)², θ0 ~ N(0, 1).
fn initial_moments(psi: Psi) -> (f64, f64) {
    match psi {
        Psi::Id => (1.0, 1.0),
        Psi::Gd => (
            normal_mean(1.0, gd),
            normal_mean(0.0, |t| 1.0 / libm::cosh(t).powi(2)),
        ),
    }
}

// ---------------------------------------------------------------- the L = 3 limit

/// Method A (reduced ODE in Γ1, Ω with the closed-form push-forwards A and c) against method B
/// (ideal particles of both layers integrated one by one on grids). Tolerance: B's RK4 error,
/// estimated by its step halving (the finer run's error is ≈ |B_h − B_{h/2}|/15; the whole
/// difference is allowed twice), plus A's step-halving difference, plus the node refinement
/// of each method (|A − A_refined|, |B − B_refined|), plus 1e−13 of rounding.
#[test]
fn l3_limit_method_a_matches_method_b() {
    for (psi, t_end) in [(Psi::Gd, 2.0), (Psi::Id, 1.0)] {
        let pa = Params::new(psi);
        let a = limit3::method_a(&pa, t_end, 0.5);
        let ah = limit3::method_a(&pa.halved(), t_end, 0.5);
        let af = limit3::method_a(&pa.refined(), t_end, 0.5);
        let mut pb = BParams::new(psi);
        pb.h = 0.05;
        let b1 = limit3::method_b(&pb, t_end, 0.5);
        pb.h = 0.025;
        let b2 = limit3::method_b(&pb, t_end, 0.5);
        let bf = limit3::method_b(&limit3::refined_b(&pb), t_end, 0.5);
        for i in 0..a.times.len() {
            let est = |x: &[f64], y1: &[f64], y2: &[f64], xh: &[f64], xf: &[f64], yf: &[f64]| {
                2.0 * (y1[i] - y2[i]).abs()
                    + (x[i] - xh[i]).abs()
                    + (x[i] - xf[i]).abs()
                    + (y2[i] - yf[i]).abs()
                    + 1e-13
            };
            let tol = est(&a.risk, &b1.risk, &b2.risk, &ah.risk, &af.risk, &bf.risk);
            let diff = (a.risk[i] - b2.risk[i]).abs();
            assert!(
                diff <= tol,
                "{psi:?} t={}: A {} B {} tol {tol:e}",
                a.times[i],
                a.risk[i],
                b2.risk[i]
            );
            // The state agrees too: α and b of the common H2 node.
            for (x, y1, y2, xh, xf, yf, name) in [
                (
                    &a.alpha, &b1.alpha, &b2.alpha, &ah.alpha, &af.alpha, &bf.alpha, "alpha",
                ),
                (&a.b, &b1.b, &b2.b, &ah.b, &af.b, &bf.b, "b"),
            ] {
                let tol = est(x, y1, y2, xh, xf, yf);
                assert!(
                    (x[i] - y2[i]).abs() <= tol,
                    "{psi:?} {name} t={}: A {} B {} tol {tol:e}",
                    a.times[i],
                    x[i],
                    y2[i]
                );
            }
        }
        // Not vacuous: the risk moved far from 1/3, and the estimates are small.
        assert!(*a.risk.last().unwrap() < 0.1, "{psi:?}: {:?}", a.risk);
        let worst = (0..a.times.len())
            .map(|i| (a.risk[i] - b2.risk[i]).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-8, "{psi:?}: A − B = {worst:e}");
    }
}

/// The limit at t = 0 against the initial law, computed here by quadrature: R_∞(0) = 1/3
/// (α(0) = 0), b(0) = E a · E ψ(θ0'), the drive (dΓ1/dt, dΩ/dt)(0) = (2b(0)√2/π, 0), and the
/// energy identity dR_∞/dt(0) = −E[(dθ̄1/dt)²] − E[(dθ̄2/dt)²] = −(8/π²) b(0)² E ψ'(θ0)² (the
/// second layer's velocity vanishes at t = 0 because e(0) = b k(0, 0) − k(0, 1) = 0). The slope
/// of method A's risk is the second-order one-sided difference (−3R₀ + 4R_h − R_{2h})/(2h),
/// h = 1e−3; its truncation error is estimated by the same difference at 2h (the difference of
/// the two is ≈ 3× the error at h), plus rounding 8·eps/h.
#[test]
fn l3_limit_starts_from_the_initial_law() {
    for psi in [Psi::Gd, Psi::Id] {
        let (b0, dpsi2) = initial_moments(psi);
        let p = Params::new(psi);
        let slope = |h: f64| {
            let r = limit3::method_a(&p, 2.0 * h, h);
            assert_eq!(r.risk[0], 1.0 / 3.0);
            assert!(
                (r.b[0] - b0).abs() < 1e-13,
                "{psi:?}: b(0) {} vs {b0}",
                r.b[0]
            );
            (-3.0 * r.risk[0] + 4.0 * r.risk[1] - r.risk[2]) / (2.0 * h)
        };
        let (s1, s2) = (slope(1e-3), slope(2e-3));
        let expect = -8.0 / (PI * PI) * b0 * b0 * dpsi2;
        let tol = (s1 - s2).abs() + 8.0 * f64::EPSILON / 1e-3;
        assert!(
            (s1 - expect).abs() <= tol,
            "{psi:?}: slope {s1} expected {expect} tol {tol:e}"
        );
        let d = limit3::drive(0.0, b0);
        assert!((d[0] - 2.0 * b0 * 2f64.sqrt() / PI).abs() < 1e-15 && d[1] == 0.0);
    }
}

/// Finite width at initialisation against the limit at t = 0 (seeded draws, f64 path; the f64
/// path is checked against the MPFR oracle for L = 3 in `tests/deep.rs`).
///
/// Risk: R_N(0) − 1/3 = E_x f² − 2E_x f y. Under u ↦ −u (a symmetry of the initial law)
/// v_j ↦ −v_j and f ↦ −f, so E[E_x f y] = 0 over the initial law; 0 ≤ E_x f² ≤
/// (1/N) Σ_j b_j² K(v_j, v_j) ≤ (1/N) Σ_j b_j² |v_j|² =: B (Cauchy–Schwarz, asin x ≤ πx/2). So
/// the mean gap over draws lies in [−4 se, 4 se + mean B]. Its spread over draws is that of
/// 2E_x f y = (2/N) Σ_j b_j K(v_j, w*), a mean of N² centred terms: ∝ N^{−1}; the fitted
/// exponent (N = 16 → 256, 32 draws, standard error ≈ 0.065) must lie in [0.75, 1.25].
///
/// Energy: the finite-N slope dR_N/dt = −(1/N²) Σ_e (dθ_e/dt)² tends to the limit's
/// −(8/π²) b(0)² E ψ'(θ0)² (previous test); its bias is ∝ 1/N at first order (node
/// fluctuations O(N^{−1/2}) enter squared), so the Richardson combination (4 m₂₅₆ − m₆₄)/3 of
/// the means over draws must match the limit within 4 of its standard errors.
#[test]
fn l3_finite_width_at_init_approaches_the_limit() {
    let d = 3;
    let draws = 32u64;
    let psi = Psi::Gd;
    let (b0, dpsi2) = initial_moments(psi);
    let slope_lim = -8.0 / (PI * PI) * b0 * b0 * dpsi2;
    let mut sds = Vec::new();
    let mut slopes = Vec::new();
    for &n in &[16usize, 64, 256] {
        let mut gaps = Vec::new();
        let mut bounds = Vec::new();
        let mut sl = Vec::new();
        for s in 0..draws {
            let net = deep::init(3, n, d, psi, 500 + s);
            let ev = finite::evaluate(&net);
            gaps.push(ev.risk - 1.0 / 3.0);
            let b: f64 = (0..n)
                .map(|j| {
                    let v2: f64 = ev.v[j * d..(j + 1) * d].iter().map(|x| x * x).sum();
                    ev.c[j] * ev.c[j] * v2
                })
                .sum::<f64>()
                / n as f64;
            bounds.push(b);
            let e2: f64 = ev.vel1.iter().chain(&ev.vel2).map(|x| x * x).sum();
            sl.push(-e2 / (n * n) as f64);
        }
        let (mean, var) = mean_var(&gaps);
        let se = (var / draws as f64).sqrt();
        let bias = bounds.iter().sum::<f64>() / draws as f64;
        assert!(
            mean >= -4.0 * se && mean <= 4.0 * se + bias,
            "N={n}: mean gap {mean:e} se {se:e} bound {bias:e}"
        );
        sds.push(var.sqrt());
        slopes.push(mean_var(&sl));
    }
    let fit = -(sds[2] / sds[0]).ln() / 16f64.ln();
    assert!(
        (0.75..=1.25).contains(&fit),
        "spread exponent {fit} (sds {sds:?})"
    );
    let (m64, v64) = slopes[1];
    let (m256, v256) = slopes[2];
    let extrap = (4.0 * m256 - m64) / 3.0;
    let se = ((16.0 * v256 + v64) / 9.0 / draws as f64).sqrt();
    assert!(
        (extrap - slope_lim).abs() <= 4.0 * se,
        "energy slope: extrapolated {extrap} (N=64: {m64}, N=256: {m256}) limit {slope_lim} se {se:e}"
    );
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (
        m,
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

/// The discrete map of Euler GD for ψ = id by method A (Euler steps of Γ1, Ω; exact for id:
/// θ̄1 = θ0 + sΓ1, θ̄2 = θ0' + aΩ) and by method B (every particle's Euler step). They differ
/// by B's quadrature of E s² = 1, E s θ0 = 0, E θ0' = 1, E a² = 2 (Gauss–Legendre, exact to
/// rounding) and the rounding of B's sums: per evaluation ≤ n·eps·Σ|terms| with n ≤ 2·10⁴
/// particles and Σ|terms| ≤ E|s|(|θ0| + |s||Γ1|) + E|a|(|θ0'| + |a||Ω|) < 10 here, so
/// 2.2e−11 per step, accumulated over at most 20 steps with an amplification below e^{LT}
/// (L ≤ 4, T = 2): tolerance 20·2.2e−11·e⁸ ≈ 1.5e−6 is loose; the measured difference is
/// 1e−16, and a wrong drive (sign, factor 2) changes R by ≥ 1e−3.
#[test]
fn l3_discrete_map_id_method_a_matches_method_b() {
    let (eta, t_end) = (0.1, 2.0);
    let a = limit3::discrete_a(&Params::new(Psi::Id), eta, t_end, 0.5).unwrap();
    let b = limit3::discrete_b(&BParams::new(Psi::Id), eta, t_end, 0.5);
    assert!(limit3::discrete_a(&Params::new(Psi::Gd), eta, t_end, 0.5).is_none());
    let tol = 20.0 * 2.2e-11 * 8f64.exp();
    for i in 0..a.times.len() {
        assert!(
            (a.risk[i] - b.risk[i]).abs() <= tol,
            "t={}: {} vs {}",
            a.times[i],
            a.risk[i],
            b.risk[i]
        );
    }
    assert_eq!(a.drive_steps.len(), 20);
    let flow = limit3::method_a(&Params::new(Psi::Id), t_end, 0.5);
    assert!(
        (a.risk[4] - flow.risk[4]).abs() > 1e-4,
        "the step has an effect"
    );
}

/// The discrete map tends to the flow at first order in η (Euler is a one-step method of order
/// 1: D(η) = R_η − R_flow = c₁η + c₂η² + O(η³)): the ratio D(2η)/D(η) = 2 + (2c₂/c₁)η + O(η²)
/// tends to 2 with a deviation proportional to η, so the deviation at η = 0.1 (ratio of
/// η = 0.2 and 0.1) is halved at η = 0.05: required within 0.5 ± 0.1 of it (the O(η²) term of
/// the ratio), plus 0.005 for the flow's and B's own errors (< 1e−9 against D ≈ 2e−4). gd
/// (method B). A map of order 0 (D ↛ 0) or of order 2 gives ratios near 1 or 4.
#[test]
fn l3_discrete_map_tends_to_the_flow_at_first_order() {
    let t_end = 2.0;
    let flow = limit3::method_a(&Params::new(Psi::Gd), t_end, t_end).risk[1];
    let pb = BParams::new(Psi::Gd);
    let d: Vec<f64> = [0.2, 0.1, 0.05]
        .iter()
        .map(|&eta| limit3::discrete_b(&pb, eta, t_end, t_end).risk[1] - flow)
        .collect();
    let (r1, r2) = (d[0] / d[1], d[1] / d[2]);
    let (dev1, dev2) = (r1 - 2.0, r2 - 2.0);
    assert!(
        (dev2 - 0.5 * dev1).abs() <= 0.1 * dev1.abs() + 0.005 && dev2.abs() < 0.25,
        "ratios {r1} {r2} (differences {d:?})"
    );
}

// ---------------------------------------------------------------- command line

use common::run as cli;

/// `deep limit --layers 3`: JSON shape, the values of the library, bad input with exit 2.
#[test]
fn cli_limit3_json_and_bad_input() {
    let out = cli(&[
        "deep", "limit", "--layers", "3", "--psi", "id", "--t-end", "1", "--dt-out", "0.5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The CLI's default step for L = 3 with ψ = id is 0.00625 (the 1e−10 target, §3).
    let mut p = Params::new(Psi::Id);
    p.h = 0.00625;
    let lib = limit3::method_a(&p, 1.0, 0.5);
    for key in ["risk", "gamma1", "omega", "alpha", "b"] {
        let arr = v[key].as_array().unwrap();
        assert_eq!(arr.len(), 3, "{key}");
    }
    for (i, x) in v["risk"].as_array().unwrap().iter().enumerate() {
        assert_eq!(x.as_f64().unwrap(), lib.risk[i]);
    }
    for key in ["risk_b", "diff_ab", "node_diff", "step_diff"] {
        assert_eq!(v[key].as_array().unwrap().len(), 3, "{key}");
    }
    assert_eq!(v["bound_kind"], "estimate");
    for bad in [
        vec![
            "deep", "limit", "--layers", "3", "--t-end", "1", "--track", "1",
        ],
        vec![
            "deep", "limit", "--layers", "3", "--t-end", "1", "--eta", "0.3",
        ],
        vec!["deep", "limit", "--layers", "4", "--t-end", "1"],
    ] {
        let o = cli(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{bad:?}: {err}");
    }
}

// ---------------------------------------------------------------- finite width along the flow

use mforacle::deep::{train, train3};

fn case(
    n: usize,
    d: usize,
    psi: Psi,
    seed: u64,
    draw: usize,
    t_end: f64,
    dt_out: f64,
) -> train::Case {
    train::Case {
        n,
        d,
        psi,
        seed,
        draw,
        t_end,
        dt_out,
    }
}

/// At a trained state (both layers moved by the L = 3 flow to t = 0.5, so θ2 and b_j are off
/// their initial law), every velocity of both layers against −N²(R(θ+h) − R(θ−h))/2h: checks
/// the N² scaling of both layers where it matters for training. Tolerance as in
/// `tests/deep.rs`: Richardson (|D_h − D_{h/2}|) plus rounding N²·8·eps/h.
/// Then the flow itself: along the RK4 trajectory, (R(t+δ) − R(t−δ))/(2δ) must equal the
/// energy identity dR/dt = −(1/N²) Σ_e (dθ_e/dt)² at t, within the central difference's error
/// estimated by the same difference at 2δ (plus the RK4 error, far below at step δ/4).
#[test]
fn l3_velocities_and_energy_along_the_flow() {
    for psi in [Psi::Gd, Psi::Id] {
        let mut net = deep::init(3, 4, 3, psi, 11);
        train3::advance(&mut net, 0.5, 0.05);
        let ev = finite::evaluate(&net);
        let n2 = (net.n * net.n) as f64;
        let diff = |layer: usize, idx: usize, h: f64| -> f64 {
            let (mut p, mut m) = (net.clone(), net.clone());
            let (tp, tm) = if layer == 1 {
                (&mut p.theta1, &mut m.theta1)
            } else {
                (&mut p.theta2, &mut m.theta2)
            };
            tp[idx] += h;
            tm[idx] -= h;
            -n2 * (finite::risk(&p) - finite::risk(&m)) / (2.0 * h)
        };
        for (layer, vel) in [(1, &ev.vel1), (2, &ev.vel2)] {
            for (idx, &vx) in vel.iter().enumerate() {
                let h = 1e-3;
                let (d1, d2) = (diff(layer, idx, h), diff(layer, idx, h / 2.0));
                let tol = (d1 - d2).abs() + n2 * 8.0 * f64::EPSILON / (h / 2.0);
                assert!(
                    (vx - d2).abs() <= tol,
                    "{psi:?} layer {layer} edge {idx}: {vx:e} vs {d2:e} tol {tol:e}"
                );
            }
        }
        // The second layer really moved (the check covers a trained state).
        let moved: f64 = net
            .theta2
            .iter()
            .zip(&deep::init(3, 4, 3, psi, 11).theta2)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(moved > 1e-3, "{psi:?}: θ2 moved by {moved:e}");
        // Energy identity along the RK4 trajectory.
        let slope = |delta: f64| {
            let mut a = deep::init(3, 4, 3, psi, 11);
            train3::advance(&mut a, 0.5 - delta, delta / 4.0);
            let ra = finite::risk(&a);
            train3::advance(&mut a, 2.0 * delta, delta / 4.0);
            (finite::risk(&a) - ra) / (2.0 * delta)
        };
        let mut mid = deep::init(3, 4, 3, psi, 11);
        train3::advance(&mut mid, 0.5, 0.05 / 4.0);
        let e = finite::evaluate(&mid);
        let energy = -e.vel1.iter().chain(&e.vel2).map(|x| x * x).sum::<f64>() / n2;
        let (s1, s2) = (slope(0.01), slope(0.02));
        let tol = (s1 - s2).abs() + 1e-9;
        assert!(
            (s1 - energy).abs() <= tol,
            "{psi:?}: dR/dt {s1} energy {energy} tol {tol:e}"
        );
    }
}

/// Finite width along the flow (gd, d = 4, t = 1) against the ideal particles: node gap
/// mean_j |v_j − αw*|², readout gap mean_j (b_j − b)² and the edge gaps of both layers are
/// predicted ∝ 1/N (proofs-note §7: each H2 node averages N edges with independent initial
/// weights and frozen features). Fitted exponent between N = 32 and 128 from 16 draws each;
/// standard error by the delta method (se(ln mean) = sd/(mean·√R)).
/// - node and layer-2 edge gaps: exponent within 4 se + 0.15 (pre-asymptotic curvature) of 1,
///   and the fit must tell N^{−1} from N^{−1/2} (4 se + 0.15 < 0.5; measured se 0.04, 0.07);
/// - readout and layer-1 edge gaps carry a part common to all nodes from the empirical law of
///   the frozen a_k (resp. s_i) — one χ²-like variable per draw — so 16 draws give se ≈ 0.13:
///   exponent within 4 se + 0.15 of 1 and significantly positive (exponent − 4 se > 0).
///
/// Edge gaps vanish at t = 0 (the push-forward with Γ1 = Ω = 0 is θ(0) up to the rounding of
/// asinh∘sinh).
#[test]
fn l3_finite_width_flow_approaches_the_ideal_particles() {
    let lim = train3::flow_limit(&Params::new(Psi::Gd), 1.0, 1.0);
    let draws = 16;
    let mut stats = Vec::new();
    for &n in &[32usize, 128] {
        let mut gaps = vec![Vec::new(); 4];
        for r in 0..draws {
            let rows = train3::run(&case(n, 4, Psi::Gd, 31, r, 1.0, 1.0), 0.05, &lim);
            assert!(rows[0].edge_gap1 < 1e-28 && rows[0].edge_gap2 < 1e-28);
            let last = rows.last().unwrap();
            assert_eq!(last.t, 1.0);
            for (g, x) in gaps.iter_mut().zip([
                last.node_gap,
                last.edge_gap2,
                last.readout_gap,
                last.edge_gap1,
            ]) {
                g.push(x);
            }
        }
        stats.push(
            gaps.iter()
                .map(|v| {
                    let (m, var) = mean_var(v);
                    (m, var.sqrt() / (m * (v.len() as f64).sqrt()))
                })
                .collect::<Vec<_>>(),
        );
    }
    let ln4 = 4f64.ln();
    for (k, name) in ["node", "edge2", "readout", "edge1"].iter().enumerate() {
        let (a, b) = (stats[0][k], stats[1][k]);
        let slope = (a.0 / b.0).ln() / ln4;
        let se = (a.1 * a.1 + b.1 * b.1).sqrt() / ln4;
        assert!(
            (slope - 1.0).abs() <= 4.0 * se + 0.15,
            "{name} gap exponent {slope} (se {se}, means {} {})",
            a.0,
            b.0
        );
        if k < 2 {
            assert!(
                4.0 * se + 0.15 < 0.5,
                "{name}: too noisy to tell N^-1 from N^-1/2 (se {se})"
            );
        } else {
            assert!(
                slope - 4.0 * se > 0.0,
                "{name}: no significant decrease ({slope}, se {se})"
            );
        }
    }
}

/// Euler GD of the finite network follows the discrete map, not the flow: for the same draw
/// (same θ(0), u, a), the paired difference D_N = R_N^η − R_N^flow has mean over draws
/// R_∞^η − R_∞^flow (≈ −7.9e−4 at η = 0.25, t = 2, gd) up to a 1/N bias. Per draw D_N carries
/// an N^{−1/2} term of mean zero from the frozen features (spread ≈ 6e−4 at N = 256, d = 2),
/// so 32 draws: required |mean D_N − (R_∞^η − R_∞^flow)| ≤ 4 se, and |mean D_N| > 4 se (the
/// test can tell the discrete map from the flow, for which mean D_N would be 0). Measured:
/// mean −6.2e−4, se 1.0e−4. The edge gaps against the discrete ideal particles vanish at t = 0.
#[test]
fn l3_euler_training_follows_the_discrete_map() {
    let (eta, t_end, d, n) = (0.25, 2.0, 2, 256);
    let pb = BParams::new(Psi::Gd);
    let disc = limit3::discrete_b(&pb, eta, t_end, t_end);
    let flow = train3::flow_limit(&Params::new(Psi::Gd), t_end, t_end);
    let dlim = disc.risk[1] - flow.risk[1];
    let paired: Vec<f64> = (0..32)
        .map(|r| {
            let c = case(n, d, Psi::Gd, 5, r, t_end, t_end);
            let e = train3::run_euler(&c, eta, &disc);
            let f = train3::run(&c, 0.1, &flow);
            assert!(e[0].edge_gap1 == 0.0 && e[0].edge_gap2 == 0.0);
            e[1].risk - f[1].risk
        })
        .collect();
    let (m, var) = mean_var(&paired);
    let se = (var / paired.len() as f64).sqrt();
    assert!(
        (m - dlim).abs() <= 4.0 * se && m.abs() > 4.0 * se,
        "mean paired difference {m:e} (se {se:e}), limits' difference {dlim:e}"
    );
}

/// `deep train --layers 3`: CSV header and rows, same bits as the library, memory line.
#[test]
fn cli_train3_matches_the_library() {
    let out = cli(&[
        "deep", "train", "--layers", "3", "--d", "2", "--widths", "8,16", "--t-end", "0.5",
        "--dt-out", "0.25", "--psi", "id", "--seed", "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "t,n,draw,risk,risk_limit,loss_gap,edge_gap1,edge_gap2,node_gap,readout_gap"
    );
    let lim = train3::flow_limit(&Params::new(Psi::Id), 0.5, 0.25);
    let rows = train3::run(&case(16, 2, Psi::Id, 3, 0, 0.5, 0.25), 0.05, &lim);
    let csv16: Vec<&str> = lines
        .filter(|l| l.split(',').nth(1) == Some("16"))
        .collect();
    assert_eq!(csv16.len(), rows.len());
    for (l, r) in csv16.iter().zip(&rows) {
        let risk: f64 = l.split(',').nth(3).unwrap().parse().unwrap();
        assert_eq!(risk, r.risk);
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("MiB"));
}
