//! The f64 reduced flow (src/meanfield/flow) against the independent MPFR oracle flow
//! (src/meanfield/oracle): two implementations that share only the kernels' coefficients
//! (src/meanfield/model.rs), with different node rules (the f64 flow places its Gauss–Legendre
//! nodes in the latitude, the oracle in α), different integrators (Dormand–Prince 5(4) against
//! Gragg–Bulirsch–Stoer) and different state variables. Their losses must agree within the sum
//! of their measured errors: for the f64 flow, the change under dividing the tolerance by 100
//! (the global error of Dormand–Prince with error-per-step control falls like tol^{≈1}, so this
//! difference is ≥ 0.9 of the error; halving the tolerance would capture only about 0.4 of it)
//! and under doubling the panels; for the oracle, its own `err_total` (steps halved, +64 bits,
//! panels doubled, kernel truncation); plus the f64 rounding of the state, one ulp per step
//! accumulated over fewer than 200 steps of an O(1) loss: 4e−14.
//!
//! Odd d only: for even d the initial density (1 − α²)^{(d−3)/2} has a half-integer power at
//! ±1, the oracle's Gauss–Legendre panels in α converge algebraically there, and its
//! panels-doubled estimate is then not conservative (measured at d = 8: estimate 1.1e−12,
//! error 1.2e−12 at t = 0). The f64 flow places its nodes in the latitude and is smooth.

use mforacle::activation::Spec;
use mforacle::meanfield::flow::{Flow, Layout, Tolerance};
use mforacle::meanfield::oracle::{self, OracleOptions};
use mforacle::meanfield::Model;
use mforacle::population::LossScale;

fn model(s: &str, t: &str, d: usize, scale: LossScale) -> Model {
    Model::new(
        &Spec::parse(s).unwrap(),
        &Spec::parse(t).unwrap(),
        d,
        10,
        40,
        scale,
        0.0,
    )
    .unwrap()
}

fn f64_losses(m: &Model, panels: usize, tol: f64, times: &[f64]) -> Vec<f64> {
    let layout = Layout {
        panels,
        ..Layout::default()
    };
    let mut f = Flow::new(m, layout, Tolerance::new(tol)).unwrap();
    times
        .iter()
        .map(|&t| {
            f.advance_to(t).unwrap();
            f.loss()
        })
        .collect()
}

fn compare(m: &Model, panels: usize, t_end: f64, dt: f64, target: f64) {
    let opts = OracleOptions {
        layout: oracle::Layout {
            panels,
            ..oracle::Layout::default()
        },
        digits: 20,
        t_end,
        dt_out: dt,
        ..OracleOptions::default()
    };
    let curve = oracle::run(m, &opts).unwrap();
    let times: Vec<f64> = curve.rows.iter().map(|r| r.t.to_f64()).collect();
    let a = f64_losses(m, panels, 1e-11, &times);
    let b = f64_losses(m, panels, 1e-13, &times);
    let c = f64_losses(m, 2 * panels, 1e-11, &times);
    for (i, r) in curve.rows.iter().enumerate() {
        let f64_err = (a[i] - b[i]).abs() + (a[i] - c[i]).abs();
        let allowed = r.err_total + f64_err + 4e-14;
        let diff = (a[i] - r.loss.to_f64()).abs();
        assert!(
            diff <= allowed,
            "t = {}: f64 {} oracle {} diff {diff:e} > {allowed:e}",
            times[i],
            a[i],
            r.loss.to_f64()
        );
        assert!(
            diff < target,
            "t = {}: diff {diff:e} above {target:e}",
            times[i]
        );
    }
}

/// h_4, d = 16, to t = 3 (particles escape from t ≈ 1): coarse layouts, seconds.
#[test]
fn f64_flow_matches_oracle_he4_d16() {
    compare(
        &model("he4", "he4", 16, LossScale::Full),
        40,
        3.0,
        0.5,
        1e-7,
    );
}

/// A misspecified pair with the half loss scale (ψ ≠ κ, and ψ odd + even parts: no symmetry).
#[test]
fn f64_flow_matches_oracle_misspecified_half() {
    compare(
        &model("he3+he4", "0.5*he3+0.8*he4", 9, LossScale::Half),
        30,
        2.0,
        0.5,
        1e-7,
    );
}

/// The target: h_4, d = 32, t = 15, default layouts: within 1e−9 (several minutes:
/// `cargo test --release --test meanfield_agreement -- --ignored`).
#[test]
#[ignore]
fn f64_flow_matches_oracle_he4_d32_t15() {
    compare(
        &model("he4", "he4", 32, LossScale::Full),
        200,
        15.0,
        1.0,
        1e-9,
    );
}
