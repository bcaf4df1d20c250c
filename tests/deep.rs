//! Tests of the deep mean-field model (src/deep), each against an independent method:
//! quadrature of the defining expectations, central differences of the risk, the MPFR oracle,
//! the second limit method, Monte Carlo over seeded draws, and the command line.

use mforacle::deep::{self, finite, oracle, Net, Psi};

const EPS: f64 = f64::EPSILON;

// ---------------------------------------------------------------- quadrature helpers

/// Gauss–Legendre nodes and weights on [−1, 1] (Newton on P_q from the Chebyshev guess).
fn gauss_legendre(q: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; q];
    let mut w = vec![0.0; q];
    for i in 0..q {
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (q as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, z);
            for k in 2..=q {
                let p2 = ((2 * k - 1) as f64 * z * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            dp = q as f64 * (z * p1 - p0) / (z * z - 1.0);
            let dz = p1 / dp;
            z -= dz;
            if dz.abs() < 1e-16 {
                break;
            }
        }
        x[i] = z;
        w[i] = 2.0 / ((1.0 - z * z) * dp * dp);
    }
    (x, w)
}

/// Composite Gauss–Legendre rule for the standard normal weight on [−9, 9] (mass lost outside:
/// 2Φ(−9) < 2.3e−19), `panels` equal panels of `q` nodes: (nodes, weights including φ).
fn normal_rule(panels: usize, q: usize) -> (Vec<f64>, Vec<f64>) {
    let (gx, gw) = gauss_legendre(q);
    let h = 18.0 / panels as f64;
    let mut xs = Vec::new();
    let mut ws = Vec::new();
    for p in 0..panels {
        let c = -9.0 + (p as f64 + 0.5) * h;
        for (x, w) in gx.iter().zip(&gw) {
            let z = c + 0.5 * h * x;
            xs.push(z);
            ws.push(0.5 * h * w * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt());
        }
    }
    (xs, ws)
}

fn g(z: f64) -> f64 {
    libm::erf(z / std::f64::consts::SQRT_2)
}

/// The network function evaluated pointwise from its definition (not from node vectors):
/// H1 h_i = ⟨u_i, x⟩, H2 z_j = (1/N) Σ_i ψ(θ_ij) h_i, then the output layer(s).
fn network_at(net: &Net, x: &[f64]) -> f64 {
    let (n, d) = (net.n, net.d);
    let h: Vec<f64> = (0..n)
        .map(|i| (0..d).map(|m| net.u[i * d + m] * x[m]).sum())
        .collect();
    let z: Vec<f64> = (0..n)
        .map(|j| (0..n).map(|i| net.psi.value(net.theta1[j * n + i]) * h[i]).sum::<f64>() / n as f64)
        .collect();
    if net.layers == 2 {
        (0..n).map(|j| net.a[j] * g(z[j])).sum::<f64>() / n as f64
    } else {
        let z3: Vec<f64> = (0..n)
            .map(|k| {
                (0..n)
                    .map(|j| net.psi.value(net.theta2[j * n + k]) * g(z[j]))
                    .sum::<f64>()
                    / n as f64
            })
            .collect();
        (0..n).map(|k| net.a[k] * z3[k]).sum::<f64>() / n as f64
    }
}

/// E(f − y)² by a tensor rule over x ∈ R² (d = 2).
fn risk_by_quadrature(net: &Net, panels: usize) -> f64 {
    assert_eq!(net.d, 2);
    let (xs, ws) = normal_rule(panels, 10);
    let mut s = 0.0;
    for (x1, w1) in xs.iter().zip(&ws) {
        for (x2, w2) in xs.iter().zip(&ws) {
            let r = network_at(net, &[*x1, *x2]) - g(*x1);
            s += w1 * w2 * r * r;
        }
    }
    s
}

fn nets_small(d: usize, n: usize) -> Vec<Net> {
    let mut v = Vec::new();
    for (layers, psi, seed) in [
        (2, Psi::Gd, 1u64),
        (2, Psi::Id, 2),
        (3, Psi::Gd, 3),
        (3, Psi::Id, 4),
    ] {
        let mut net = deep::init(layers, n, d, psi, seed);
        // Move off the initialisation so that the state is generic (v_j larger, correlated).
        for (k, t) in net.theta1.iter_mut().enumerate() {
            *t += 0.3 * ((k as f64) * 0.7).sin();
        }
        v.push(net);
    }
    v
}

// ---------------------------------------------------------------- finite-N closed forms

/// The closed-form risk against a tensor Gauss–Legendre quadrature of E(f − y)² over x,
/// with f evaluated from the layer definitions. Quadrature error: the integrand is entire and
/// the rule converges geometrically; its error is estimated by |Q_P − Q_{2P}| (P = 24 and 48
/// panels of 10 nodes), and the test allows 10 times that plus 1e−13 of rounding.
#[test]
fn finite_risk_matches_quadrature_of_the_definition() {
    for net in nets_small(2, 3) {
        let closed = finite::risk(&net);
        let q1 = risk_by_quadrature(&net, 24);
        let q2 = risk_by_quadrature(&net, 48);
        let tol = 10.0 * (q1 - q2).abs() + 1e-13;
        assert!(
            (closed - q2).abs() <= tol,
            "L={} psi={:?}: closed {closed:e} quadrature {q2:e} (est {:e})",
            net.layers,
            net.psi,
            (q1 - q2).abs()
        );
        assert!(tol < 1e-11, "quadrature not converged: {tol:e}");
    }
}

/// Velocities against central differences of the closed-form risk: −N² ∂R/∂θ_e ≈
/// −N² (R(θ + h) − R(θ − h))/(2h). Truncation O(h²) is estimated by Richardson
/// (|D_h − D_{h/2}|, which is 3/4 of D_h's truncation error up to O(h⁴)), rounding by
/// N²·4·eps·max|R|/h (h = 1e−3, then 5e−4). Checks every edge and the N² scaling.
#[test]
fn velocities_match_central_differences_of_the_risk() {
    for net in nets_small(3, 4) {
        let ev = finite::evaluate(&net);
        let n2 = (net.n * net.n) as f64;
        let diff = |which: usize, idx: usize, h: f64| -> f64 {
            let mut p = net.clone();
            let mut m = net.clone();
            if which == 1 {
                p.theta1[idx] += h;
                m.theta1[idx] -= h;
            } else {
                p.theta2[idx] += h;
                m.theta2[idx] -= h;
            }
            -n2 * (finite::risk(&p) - finite::risk(&m)) / (2.0 * h)
        };
        let layers: &[usize] = if net.layers == 3 { &[1, 2] } else { &[1] };
        for &which in layers {
            let vel = if which == 1 { &ev.vel1 } else { &ev.vel2 };
            for (idx, &vx) in vel.iter().enumerate() {
                let h = 1e-3;
                let d1 = diff(which, idx, h);
                let d2 = diff(which, idx, h / 2.0);
                let tol = (d1 - d2).abs() + n2 * 8.0 * EPS * 1.0 / (h / 2.0);
                assert!(
                    (vx - d2).abs() <= tol,
                    "L={} layer {which} edge {idx}: closed {vx:e} differences {d2:e} tol {tol:e}",
                    net.layers
                );
            }
        }
    }
}

/// f64 path against the MPFR oracle (30 digits). The f64 evaluation sums O(N d) products per
/// entry and one asin/sqrt per pair: forward error ≤ (N d + 16)·eps·Σ|terms| ≈ 1e−13 relative
/// for N = 5, d = 3 with |terms| of the size of the result times at most 10 (the nets here have
/// |q| ≤ 0.9, so asin's condition number is below 3). Tolerance 2e−12·max(1, |x|).
#[test]
fn f64_matches_the_oracle() {
    for net in nets_small(3, 5) {
        let ev = finite::evaluate(&net);
        let or = oracle::evaluate(&net, 30);
        let tol = |x: f64| 2e-12 * x.abs().max(1.0);
        assert!(or.risk_err.to_f64() < 1e-28, "oracle risk error {}", or.risk_err);
        let r = or.risk.to_f64();
        assert!((ev.risk - r).abs() <= tol(r), "risk {} vs {r}", ev.risk);
        for (x, y) in ev.vel1.iter().zip(&or.vel1) {
            assert!((x - y.to_f64()).abs() <= tol(y.to_f64()), "vel1 {x} vs {y}");
        }
        assert_eq!(ev.vel2.len(), or.vel2.len());
        for (x, y) in ev.vel2.iter().zip(&or.vel2) {
            assert!((x - y.to_f64()).abs() <= tol(y.to_f64()), "vel2 {x} vs {y}");
        }
        for e in or.vel1_err.iter().chain(&or.vel2_err) {
            assert!(e.to_f64() < 1e-27);
        }
    }
}

/// The same seed gives the same network and the same risk and velocities, bit for bit, on one
/// and on two rayon threads; each θ row regenerates alone from its stream.
#[test]
fn seeded_draws_are_bit_identical_for_any_thread_count() {
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let net = deep::init(3, 37, 4, Psi::Gd, 11);
                let ev = finite::evaluate(&net);
                (net, ev)
            })
    };
    let (n1, e1) = run(1);
    let (n2, e2) = run(2);
    assert_eq!(n1, n2);
    assert_eq!(e1.risk.to_bits(), e2.risk.to_bits());
    assert!(e1.vel1.iter().zip(&e2.vel1).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(e1.vel2.iter().zip(&e2.vel2).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(deep::theta1_row(11, 37, 5), n1.theta1[5 * 37..6 * 37].to_vec());
    assert_eq!(deep::theta2_row(11, 37, 36), n1.theta2[36 * 37..].to_vec());
    // Laws: θ1 ~ N(0,1), θ2 ~ N(1,1), a ~ U[1 − √3, 1 + √3] for L = 3.
    let m2: f64 = n1.theta2.iter().sum::<f64>() / n1.theta2.len() as f64;
    assert!((m2 - 1.0).abs() < 5.0 / (n1.theta2.len() as f64).sqrt());
    assert!(n1.a.iter().all(|&a| (1.0 - 3f64.sqrt()..1.0 + 3f64.sqrt()).contains(&a)));
}
