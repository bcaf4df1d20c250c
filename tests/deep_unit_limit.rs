//! Tests of the infinite-width limit and the finite-width flow for a general unit σ
//! (`deep limit --unit`, `deep train --unit`; src/deep/limit_unit.rs, src/deep/train_unit.rs,
//! `proofs-notes/deep-general-unit.md`), each against an independent method: the erf closed
//! forms, the Hermite series of `deep::general` and the relu closed forms for the kernels,
//! method B (ideal particles) for method A, the energy identity at t = 0, finite networks, and
//! the command line.

mod common;

use mforacle::activation::Spec;
use mforacle::deep::limit::{self, BParams, Params, Stepping, Unit};
use mforacle::deep::limit_unit::LimitUnit;
use mforacle::deep::{general, limit3, train, train_unit, Psi};
use std::f64::consts::PI;

fn unit(src: &str, k: usize) -> general::Unit {
    general::Unit::new(&Spec::parse(src).unwrap(), k).unwrap()
}

fn lunit(src: &str) -> LimitUnit {
    LimitUnit::new(&unit(src, 8))
}

use common::run as cli;

/// erf written so that it is not recognised as the default unit goes through the 1-D
/// quadrature; the erf path uses the closed forms k = (2/π)asin(…), d1k. Same a-rule (erf(c·z)
/// is odd, decided from the expression, so the half rule is used), same time steps: the
/// difference is the z-quadrature error (estimated by rule doubling, `panels_per_unit` 1 → 2)
/// plus rounding: the literal 0.7071067811865476 is within 1.2e−16 relative of 1/√2, and the
/// sums over ~600 z-nodes round at ≲ 1e−13. Tolerance: 10·|rule doubling| + 1e−13.
#[test]
fn general_erf_limit_equals_the_erf_closed_form_limit() {
    let lu = lunit("erf(0.7071067811865476*z)");
    assert!(lu.odd);
    for psi in [Psi::Gd, Psi::Id] {
        let mut p = Params::new(psi);
        p.a_nodes = 12;
        p.h = 0.05;
        let rk = Stepping::Rk4 { h: p.h };
        let erf = limit::method_a(&p, 1.0, 0.5, &[1.0, -0.5]);
        let gen = limit::method_a_with(&p, Unit::General(&lu), rk, 1.0, 0.5, &[1.0, -0.5]);
        let mut p2 = p;
        p2.panels_per_unit = 2;
        let gen2 = limit::method_a_with(&p2, Unit::General(&lu), rk, 1.0, 0.5, &[]);
        for i in 0..erf.times.len() {
            let tol = 10.0 * (gen.risk[i] - gen2.risk[i]).abs() + 1e-13;
            let d = (gen.risk[i] - erf.risk[i]).abs();
            assert!(d <= tol, "{psi:?} t={}: {d:e} > {tol:e}", erf.times[i]);
            for k in 0..2 {
                let da = (gen.alpha[i][k] - erf.alpha[i][k]).abs();
                assert!(da <= 1e-12, "{psi:?} alpha: {da:e}");
            }
        }
        assert!(erf.risk[2] < 0.2, "the risk moved");
    }
}

/// The four kernels of the limit (1-D rule split at 0) against independent values:
/// - tanh: the Hermite series of `general::node_table` (another rule on [−16, 16]) at ρ = ±1,
///   k(α, β) = Σ c_l(α)c_l(β), ∂_αk = Σ ∂_r c_l(α) c_l(β), k_t = Σ c_l(α) c_l(g),
///   d1k_t = Σ ∂_r c_l(α) c_l(g) (for α < 0, c_l(σ(αz)) = (−1)^l c_l(σ(|α|z))), within
///   the Cauchy–Schwarz tail √(R_α R_β) of the tables' Parseval remainders plus 1e−13;
/// - relu, closed forms (Z ~ N(0, 1), g = erf(·/√2), E Z g(Z) = E g'(Z) = 1/√π):
///   k(α, β) = αβ/2 if αβ > 0 else 0, ∂_αk = β/2 if αβ > 0 else 0, E relu(αZ)g(Z) = α/(2√π),
///   E Z 1{αZ > 0} g(Z) = 1/(2√π) (Z g(Z) is even); tolerance 1e−14 (the integrands are
///   polynomials times the Gaussian on each panel, the mass beyond 12 is 4e−33).
#[test]
fn limit_kernels_against_the_series_and_the_relu_closed_forms() {
    let k = 200;
    let tu = unit("tanh(z)", k);
    let lu = LimitUnit::new(&tu);
    let gt = general::node_table(&unit("erf(z/sqrt(2))", k), 1.0);
    let sgn = |l: usize, a: f64| if a < 0.0 && l % 2 == 1 { -1.0 } else { 1.0 };
    for (al, be) in [(0.3, 0.5), (0.8, 1.2), (-0.7, 0.4), (1.5, -1.1)] {
        let ta = general::node_table(&tu, f64::abs(al));
        let tb = general::node_table(&tu, f64::abs(be));
        let mut s = [0.0; 4];
        for l in 0..=k {
            let (ca, da) = (sgn(l, al) * ta.c[l], sgn(l + 1, al) * ta.dc[l]);
            let cb = sgn(l, be) * tb.c[l];
            s[0] += ca * cb;
            s[1] += da * cb;
            s[2] += ca * gt.c[l];
            s[3] += da * gt.c[l];
        }
        let q = lu.kernels(al, be, 1);
        let tails = [
            (ta.rem * tb.rem).sqrt(),
            (ta.rem_d * tb.rem).sqrt(),
            (ta.rem * gt.rem).sqrt(),
            (ta.rem_d * gt.rem).sqrt(),
        ];
        for m in 0..4 {
            let tol = tails[m] + 1e-13;
            assert!(
                (q[m] - s[m]).abs() <= tol,
                "tanh ({al}, {be}) kernel {m}: {} vs {} tol {tol:e}",
                q[m],
                s[m]
            );
        }
    }
    let relu = lunit("relu(z)");
    assert!(!relu.odd);
    let sp = PI.sqrt();
    for (al, be) in [(0.3, 0.5), (1.7, -0.4), (-0.6, -1.3), (-2.0, 0.9)] {
        let same = al * be > 0.0;
        let exact = [
            if same { al * be / 2.0 } else { 0.0 },
            if same { be / 2.0 } else { 0.0 },
            al / (2.0 * sp),
            1.0 / (2.0 * sp),
        ];
        let q = relu.kernels(al, be, 1);
        for m in 0..4 {
            assert!(
                (q[m] - exact[m]).abs() <= 1e-14,
                "relu ({al}, {be}) kernel {m}: {} vs {}",
                q[m],
                exact[m]
            );
        }
    }
}

/// Method A (push-forward, reduced ODE in Γ) against method B (ideal particles on a grid, no
/// push-forward) for tanh (odd: half a-rule) and relu (both halves), same a-rule and z-rule
/// (so the comparison isolates the push-forward and the ODE; the kernels are checked above).
/// Tolerance as for erf (`tests/deep.rs`): 2·|B_h − B_{h/2}| (B's RK4 error) + |A_h − A_{h/2}|
/// + 1e−12 (the (θ0, s) quadratures).
#[test]
fn tanh_and_relu_method_a_matches_method_b() {
    for (src, psi) in [("tanh(z)", Psi::Gd), ("relu(z)", Psi::Id)] {
        let lu = lunit(src);
        let un = Unit::General(&lu);
        let mut pa = Params::new(psi);
        pa.a_nodes = 8;
        pa.h = 0.025;
        let a = limit::method_a_with(&pa, un, Stepping::Rk4 { h: pa.h }, 1.0, 0.5, &[1.0]);
        let ah = limit::method_a_with(&pa, un, Stepping::Rk4 { h: pa.h / 2.0 }, 1.0, 0.5, &[]);
        let mut pb = BParams::new(psi);
        pb.a_nodes = 8;
        let b1 = limit::method_b_with(&pb, un, Stepping::Rk4 { h: 0.1 }, 1.0, 0.5, &[1.0]);
        let b2 = limit::method_b_with(&pb, un, Stepping::Rk4 { h: 0.05 }, 1.0, 0.5, &[1.0]);
        for i in 0..a.times.len() {
            let tol =
                2.0 * (b1.risk[i] - b2.risk[i]).abs() + (a.risk[i] - ah.risk[i]).abs() + 1e-12;
            let diff = (a.risk[i] - b2.risk[i]).abs();
            assert!(diff <= tol, "{src} t={}: {diff:e} > {tol:e}", a.times[i]);
            let da = (a.alpha[i][0] - b2.alpha[i][0]).abs();
            let tola = 2.0 * (b1.alpha[i][0] - b2.alpha[i][0]).abs() + 1e-11;
            assert!(
                da <= tola,
                "{src} alpha t={}: {da:e} > {tola:e}",
                a.times[i]
            );
        }
        assert!(a.risk[2] < 0.25, "{src}: the risk moved ({})", a.risk[2]);
    }
}

/// R_∞(0) = E g² = 1/3 (f̄ = 0 at t = 0) and the energy identity dR_∞/dt(0) = −E[(dθ̄/dt)²]:
/// at t = 0, α = 0, r = −g, V_s = −E[Z σ'(0) r(Z)] = σ'(0) E Z g(Z) = σ'(0)/√π, so for ψ = id
/// (E a² = E s² = 1) dR/dt(0) = −4σ'(0)²/π: −4/π for tanh, −1/π for relu (σ'(0) = step(0) = 1/2,
/// the one-sided limits of E Z 1{αZ > 0} g(Z) = 1/(2√π) as α → 0±). L = 3 (id, b(0) = 1,
/// e(0) = bσ(0)² − σ(0)E g = 0): dR/dt(0) = −4b(0)²σ'(0)²/π. Checked against the one-sided
/// second-order difference of method A with h = 1e−3; tolerance h²·max(|R'''|, 1)·2/3 + 1e−9 as in
/// `tests/deep.rs` (|R'''| from the run's own third difference).
#[test]
fn initial_risk_and_energy_identity() {
    let h = 1e-3;
    for (src, ds0) in [("tanh(z)", 1.0), ("relu(z)", 0.5)] {
        let lu = lunit(src);
        let un = Unit::General(&lu);
        let expected = -4.0 * ds0 * ds0 / PI;
        let p = Params::new(Psi::Id);
        let a = limit::method_a_with(&p, un, Stepping::Rk4 { h: p.h }, 3.0 * h, h, &[]);
        let l3 = limit3::method_a_with(&p, un, Stepping::Rk4 { h: p.h }, 3.0 * h, h);
        for (name, r) in [("L=2", &a.risk), ("L=3", &l3.risk)] {
            assert!(
                (r[0] - 1.0 / 3.0).abs() <= 1e-15,
                "{src} {name} R(0) = {}",
                r[0]
            );
            let slope = (-3.0 * r[0] + 4.0 * r[1] - r[2]) / (2.0 * h);
            let third = (r[3] - 3.0 * r[2] + 3.0 * r[1] - r[0]) / (h * h * h);
            let tol = h * h * third.abs().max(1.0) / 3.0 * 2.0 + 1e-9;
            assert!(
                (slope - expected).abs() <= tol,
                "{src} {name}: {slope} vs {expected}, tol {tol:e}"
            );
        }
        assert!((l3.b[0] - 1.0).abs() <= 1e-15);
    }
}

/// Finite width with tanh (`train_unit::run`, the general route's velocities with RK4) against
/// the tanh limit: the loss gap R_N − R_∞ has the frozen features' N^{−1/2} term
/// (`proofs-notes/deep-meanfield.md` §5d), so the mean over 6 draws of |R_N − R_∞| at t = 0.5
/// should fall by about 2 from N = 8 to N = 32. Tolerance: the N = 32 mean must be below 0.75 of
/// the N = 8 mean (a test that fails if the finite flow and the limit do not converge to each
/// other), and the node gap must fall too.
#[test]
fn tanh_finite_width_loss_gap_shrinks_with_n() {
    let gu = unit("tanh(z)", 32);
    let lu = LimitUnit::new(&gu);
    let mut lp = Params::new(Psi::Gd);
    lp.a_nodes = 12;
    lp.h = 0.05;
    let stat = |n: usize| -> (f64, f64) {
        let (mut g, mut node) = (0.0, 0.0);
        for draw in 0..6 {
            let c = train::Case {
                n,
                d: 2,
                psi: Psi::Gd,
                seed: 11,
                draw,
                t_end: 0.5,
                dt_out: 0.5,
            };
            let rows = train_unit::run(&c, 0.1, &lp, &gu, &lu, train::Init::Iid);
            g += rows[1].loss_gap.abs();
            node += rows[1].node_gap;
        }
        (g / 6.0, node / 6.0)
    };
    let (g8, n8) = stat(8);
    let (g32, n32) = stat(32);
    assert!(
        g32 < 0.75 * g8,
        "mean |loss gap| {g8:e} (N=8) -> {g32:e} (N=32)"
    );
    assert!(n32 < 0.75 * n8, "node gap {n8:e} -> {n32:e}");
}

/// The command line: `deep limit --unit` prints `unit` and the library's values; the default
/// unit prints no `unit`; `deep train --unit` rows carry the unit; step and bad specs exit 2;
/// --eta with a general unit in `train`, and an absurd ladder, exit 2 before any work.
#[test]
fn cli_limit_and_train_with_a_unit() {
    let o = cli(&[
        "deep",
        "limit",
        "--unit",
        "relu(z)",
        "--psi",
        "id",
        "--t-end",
        "0.2",
        "--dt-out",
        "0.1",
        "--a-nodes",
        "4",
        "--dt",
        "0.05",
        "--b-dt",
        "0.1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["unit"], "relu(z)");
    let lu = lunit("relu(z)");
    let mut p = Params::new(Psi::Id);
    p.a_nodes = 4;
    p.h = 0.05;
    let a = limit::method_a_with(
        &p,
        Unit::General(&lu),
        Stepping::Rk4 { h: 0.05 },
        0.2,
        0.1,
        &[0.5, 1.0, 3f64.sqrt()],
    );
    for i in 0..a.times.len() {
        assert_eq!(j["risk"][i].as_f64().unwrap(), a.risk[i]);
        assert_eq!(j["alpha"][i][1].as_f64().unwrap(), a.alpha[i][1]);
    }
    let o = cli(&[
        "deep",
        "limit",
        "--layers",
        "3",
        "--unit",
        "tanh(z)",
        "--t-end",
        "0.1",
        "--dt-out",
        "0.1",
        "--a-nodes",
        "4",
    ]);
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["unit"], "tanh(z)");
    let o = cli(&[
        "deep",
        "limit",
        "--t-end",
        "0.1",
        "--dt-out",
        "0.1",
        "--a-nodes",
        "4",
    ]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("\"unit\""));
    let o = cli(&[
        "deep", "train", "--unit", "tanh(z)", "--d", "2", "--widths", "4", "--t-end", "0.1",
        "--dt-out", "0.1", "--format", "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j[1]["unit"], "tanh(z)");
    assert!(j[1]["loss_gap"].is_number());
    for args in [
        vec!["deep", "limit", "--t-end", "1", "--unit", "step(z)"],
        vec!["deep", "limit", "--t-end", "1", "--unit", "relu(z"],
        vec![
            "deep", "train", "--d", "2", "--widths", "4", "--t-end", "1", "--unit", "step(z)",
        ],
        vec![
            "deep", "train", "--d", "2", "--widths", "4", "--t-end", "1", "--unit", "tanh(z)",
            "--eta", "0.5",
        ],
        vec![
            "deep", "train", "--d", "2", "--widths", "8192", "--draws", "100", "--t-end", "10",
            "--unit", "tanh(z)",
        ],
    ] {
        let o = cli(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}
