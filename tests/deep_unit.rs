//! Tests of the deep model with a general unit σ (`--unit`, src/deep/general.rs and
//! src/deep/oracle_general.rs), each against an independent method: a two-dimensional
//! trapezoidal quadrature of E(f − y)² with σ written natively here, the arc-cosine closed form
//! for relu, central differences of the risk, the erf closed forms of `deep::finite`, the MPFR
//! oracle, and the command line.

use mforacle::activation::Spec;
use mforacle::deep::{self, finite, general, oracle_general, Net, Psi};
use std::f64::consts::{PI, SQRT_2};

mod common;

fn unit(src: &str, k: usize) -> general::Unit {
    general::Unit::new(&Spec::parse(src).unwrap(), k).unwrap()
}

fn teacher(z: f64) -> f64 {
    libm::erf(z / SQRT_2)
}

/// Node vectors and readout weights from the definition (layer by layer).
fn nodes(net: &Net) -> (Vec<Vec<f64>>, Vec<f64>) {
    let (n, d) = (net.n, net.d);
    let v: Vec<Vec<f64>> = (0..n)
        .map(|j| {
            (0..d)
                .map(|m| {
                    (0..n)
                        .map(|i| net.psi.value(net.theta1[j * n + i]) * net.u[i * d + m])
                        .sum::<f64>()
                        / n as f64
                })
                .collect()
        })
        .collect();
    let c = if net.layers == 3 {
        (0..n)
            .map(|j| {
                (0..n)
                    .map(|k| net.a[k] * net.psi.value(net.theta2[j * n + k]))
                    .sum::<f64>()
                    / n as f64
            })
            .collect()
    } else {
        net.a.clone()
    };
    (v, c)
}

/// E(f − y)² over x ∈ R² (d = 2) by the trapezoidal rule with step h on [−11, 11]²
/// (the Gaussian mass outside is below 4e−28); σ is a native f64 function.
fn risk_by_trapezoid(net: &Net, sigma: fn(f64) -> f64, h: f64) -> f64 {
    assert_eq!(net.d, 2);
    let (v, c) = nodes(net);
    let m = (11.0 / h).round() as i64;
    let w = |x: f64| h * (-0.5 * x * x).exp() / (2.0 * PI).sqrt();
    let mut s = 0.0;
    for a in -m..=m {
        let x1 = a as f64 * h;
        for b in -m..=m {
            let x2 = b as f64 * h;
            let f: f64 = (0..net.n)
                .map(|j| c[j] * sigma(v[j][0] * x1 + v[j][1] * x2))
                .sum::<f64>()
                / net.n as f64;
            let r = f - teacher(x1);
            s += w(x1) * w(x2) * r * r;
        }
    }
    s
}

fn nets(d: usize, n: usize) -> Vec<Net> {
    let mut out = Vec::new();
    for (layers, psi, seed) in [
        (2, Psi::Gd, 11u64),
        (2, Psi::Id, 12),
        (3, Psi::Gd, 13),
        (3, Psi::Id, 14),
    ] {
        let mut net = deep::init(layers, n, d, psi, seed);
        // Off the initialisation: larger, correlated node vectors.
        for (k, t) in net.theta1.iter_mut().enumerate() {
            *t += 0.8 * ((k as f64) * 0.9).sin() + 0.4;
        }
        out.push(net);
    }
    out
}

fn sin_unit(z: f64) -> f64 {
    z.sin() + 0.5 * z
}

/// The general route's risk against the trapezoidal quadrature of the definition, for tanh and
/// sin(z) + z/2 (entire or analytic in a strip: the trapezoidal rule converges geometrically in
/// 1/h). Quadrature error estimated by |Q_h − Q_{h/2}| (h = 0.1, 0.05); tolerance 10 times that
/// plus the route's own truncation estimate plus 1e−13 of rounding.
#[test]
fn general_risk_matches_quadrature_of_the_definition() {
    let cases: [(&str, fn(f64) -> f64); 2] = [("tanh(z)", f64::tanh), ("sin(z) + z/2", sin_unit)];
    for (src, f) in cases {
        let u = unit(src, 96);
        for net in nets(2, 3) {
            let e = general::evaluate(&u, &net);
            let q1 = risk_by_trapezoid(&net, f, 0.1);
            let q2 = risk_by_trapezoid(&net, f, 0.05);
            let tol = 10.0 * (q1 - q2).abs() + e.risk_tail + 1e-13;
            assert!(tol < 1e-11, "{src}: not converged {tol:e}");
            assert!(
                (e.risk - q2).abs() <= tol,
                "{src} L={} {:?}: general {:e} quadrature {q2:e} tol {tol:e}",
                net.layers,
                net.psi,
                e.risk
            );
        }
    }
}

/// relu: κ(r, r', ρ) = r r' (√(1−ρ²) + (π − arccos ρ)ρ)/(2π) (arc-cosine kernel) and, with
/// g(y) = erf(y/√2) = 2Φ(y) − 1 and E Φ(a + bW) = Φ(a/√(1+b²)),
/// E relu(rX) g(Y) = r c/√(π(1 + 2c²)), c = ρ/√(2(2 − ρ²)) (integration by parts), E g² = 1/3.
/// The general route's series converges slowly for relu (c_l² ~ l^{−5/2}): the difference must
/// lie within its truncation estimate (a Parseval bound given the tables) plus 1e−12, at degree
/// 24 (estimate large enough to matter) and 200.
#[test]
fn relu_risk_within_the_truncation_estimate_of_the_arc_cosine_closed_form() {
    for k in [24, 200] {
        let u = unit("relu(z)", k);
        for net in nets(3, 4) {
            let (v, c) = nodes(&net);
            let n = net.n;
            let r: Vec<f64> = v
                .iter()
                .map(|x| x.iter().map(|y| y * y).sum::<f64>().sqrt())
                .collect();
            let mut quad = 0.0;
            let mut lin = 0.0;
            for j in 0..n {
                for l in 0..n {
                    let rho = (v[j].iter().zip(&v[l]).map(|(a, b)| a * b).sum::<f64>()
                        / (r[j] * r[l]))
                        .clamp(-1.0, 1.0);
                    let kap = r[j] * r[l] * ((1.0 - rho * rho).sqrt() + (PI - rho.acos()) * rho)
                        / (2.0 * PI);
                    quad += c[j] * c[l] * kap;
                }
                let rho = v[j][0] / r[j];
                let cc = rho / (2.0 * (2.0 - rho * rho)).sqrt();
                lin += c[j] * r[j] * cc / (PI * (1.0 + 2.0 * cc * cc)).sqrt();
            }
            let nf = n as f64;
            let closed = quad / (nf * nf) - 2.0 * lin / nf + 1.0 / 3.0;
            let e = general::evaluate(&u, &net);
            assert!(
                (e.risk - closed).abs() <= e.risk_tail + 1e-12,
                "K={k} L={}: general {:e} closed {closed:e} tail {:e}",
                net.layers,
                e.risk,
                e.risk_tail
            );
            if k == 200 {
                assert!(e.risk_tail < 1e-4, "tail {:e}", e.risk_tail);
            }
        }
    }
}

/// Velocities against central differences of the general route's risk (h = 1e−3 and 5e−4;
/// truncation by Richardson |D_h − D_{h/2}|, rounding N²·8·eps/h), tanh and relu, every edge of
/// both layers.
#[test]
fn general_velocities_match_central_differences_of_the_risk() {
    for src in ["tanh(z)", "relu(z)"] {
        let u = unit(src, 64);
        for net in nets(3, 4) {
            let ev = general::evaluate(&u, &net);
            common::deep_velocities_match_differences(
                &net,
                &ev.vel1,
                &ev.vel2,
                &|n: &Net| general::risk(&u, n),
                src,
            );
        }
    }
}

/// The general route with σ = erf(z/√2) (forced past the dispatch) against the erf closed forms
/// of `deep::finite`: the coefficients of erf(rz/√2) decay like (r²/(1 + r²))^{l/2}, so at
/// degree 160 and the radii here (< 2) the truncation is below 1e−15; the quadrature tables are
/// accurate to a few ulps. Tolerance 1e−12·max(1, |x|).
#[test]
fn general_route_for_erf_matches_the_erf_closed_forms() {
    let u = unit(general::ERF_UNIT, 160);
    for net in nets(3, 5) {
        let a = finite::evaluate(&net);
        let b = general::evaluate(&u, &net);
        let tol = |x: f64| 1e-12 * x.abs().max(1.0);
        assert!(
            (a.risk - b.risk).abs() <= tol(a.risk),
            "{} {}",
            a.risk,
            b.risk
        );
        for (x, y) in a.vel1.iter().zip(&b.vel1).chain(a.vel2.iter().zip(&b.vel2)) {
            assert!((x - y).abs() <= tol(*x), "L={}: {x} vs {y}", net.layers);
        }
    }
}

/// The f64 general route against the MPFR oracle (kernel-module series of the scaled specs,
/// 25 digits, tables to degree 200) for tanh, N = 3, d = 3: the oracle's printed errors and the
/// f64 route's truncation estimates must be at most 1e−14, a hundredth of the tolerance (else
/// the comparison would not test the f64 route), and the f64 values within 1e−12·max(1, |x|)
/// (a few hundred ulps: O(K) Horner terms per pair, O(N) pairs).
#[test]
fn general_f64_matches_the_general_oracle() {
    let spec = Spec::parse("tanh(z)").unwrap();
    let u = general::Unit::new(&spec, 160).unwrap();
    for net in nets(3, 3).into_iter().step_by(2) {
        let f = general::evaluate(&u, &net);
        let o = oracle_general::evaluate(&spec, &net, 200, 25).unwrap();
        let tol = |x: f64| 1e-12 * x.abs().max(1.0);
        assert!(
            o.risk_err.to_f64() <= 1e-14,
            "oracle risk error {}",
            o.risk_err
        );
        assert!(
            f.risk_tail <= 1e-14 && f.velocity_tail <= 1e-14,
            "f64 tails {:e} {:e}",
            f.risk_tail,
            f.velocity_tail
        );
        assert!(
            (o.risk.to_f64() - f.risk).abs() <= tol(f.risk),
            "risk {} vs {}",
            o.risk,
            f.risk
        );
        let pairs = o
            .vel1
            .iter()
            .zip(&o.vel1_err)
            .zip(&f.vel1)
            .chain(o.vel2.iter().zip(&o.vel2_err).zip(&f.vel2));
        for ((ov, oe), fv) in pairs {
            assert!(oe.to_f64() <= 1e-14, "oracle velocity error {oe}");
            assert!(
                (ov.to_f64() - fv).abs() <= tol(*fv),
                "L={}: {ov} vs {fv}",
                net.layers
            );
        }
    }
}

use common::run as cli;

/// Bad units and non-erf units in `limit`/`train` exit 2 with one line; the default unit's
/// output is unchanged (no `unit` field) and the general route prints its truncation estimate
/// with its kind.
#[test]
fn unit_flag_on_the_command_line() {
    for args in [
        vec!["deep", "eval", "--d", "2", "--n", "3", "--unit", "step(z)"],
        vec!["deep", "eval", "--d", "2", "--n", "3", "--unit", "tanh(("],
        vec![
            "deep",
            "eval",
            "--d",
            "2",
            "--n",
            "3",
            "--unit",
            "tanh(z)",
            "--unit-degree",
            "0",
        ],
        // `deep limit` and `deep train` accept general units (tests/deep_unit_limit.rs) but
        // refuse a jump in σ' and bad specs like `deep eval`.
        vec!["deep", "limit", "--t-end", "1", "--unit", "step(z)"],
        vec![
            "deep", "limit", "--layers", "3", "--t-end", "1", "--unit", "relu((",
        ],
        vec![
            "deep", "train", "--d", "2", "--widths", "4", "--t-end", "1", "--unit", "sign(z)",
        ],
    ] {
        let o = cli(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("--unit"), "{args:?}: {err}");
    }
    let o = cli(&["deep", "eval", "--d", "2", "--n", "3"]);
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stdout).contains("\"unit\""));
    let o = cli(&["deep", "eval", "--d", "2", "--n", "3", "--unit", "tanh(z)"]);
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["unit"], "tanh(z)");
    assert_eq!(j["truncation"]["bound_kind"], "estimate");
    let net = deep::init(2, 3, 2, Psi::Gd, 0);
    let e = general::evaluate(&unit("tanh(z)", general::DEFAULT_DEGREE), &net);
    assert_eq!(j["risk"], format!("{:.16e}", e.risk));
}
