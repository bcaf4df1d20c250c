//! Insta snapshots of the deep row (decimal strings at a fixed number of digits, in
//! `snapshots/`; CI runs with INSTA_UPDATE=no): `deep eval --oracle --digits 25` at N = 4,
//! d = 3, seed 1 (L = 2 with ψ = gd and id, L = 3 with gd: the risk and the first four
//! velocities of each trained layer), and `deep limit` R_∞ at t = 0, 1, 2 (L = 2 and 3, ψ = gd,
//! default discretisation, 10 significant digits).
//!
//! A snapshot is a regression guard; its values are reviewed against an independent
//! computation on every run, before the comparison, so that a new snapshot cannot be accepted
//! with a value the independent route disagrees with:
//! - oracle (MPFR, `deep::oracle`) against the f64 closed forms (`deep::finite`, written
//!   separately) within the golden suite's derived tolerance 512·u·M, M the f64 route's
//!   magnitude of each entry (`golden::deep::magnitudes`, proofs-notes/deep-meanfield.md §8);
//!   the oracle's own error estimate must be below 1e−20 relative (the printed digits beyond
//!   the f64 check are the oracle's, guarded by precision doubling);
//! - the limit (method A, the reduced ODE) against method B (the ideal particles on
//!   quadrature grids, no push-forward: the command's `risk_b` at the default step, and the
//!   library's method B run here at half of it), within 2|B(h) − B(h/2)| + |A(h) − A(h/2)| + |A − A refined| + 1e−12 plus half
//!   a unit in the last printed digit.

mod common;

use mforacle::deep::{self, finite, limit, limit3, Psi};
use mforacle::golden::{self, deep as gdeep};

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

fn json(args: &[&str]) -> serde_json::Value {
    let o = common::run(args);
    assert!(o.status.success(), "{args:?}: {}", common::stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn parse(s: &str) -> f64 {
    s.parse().unwrap()
}

/// The snapshot text of `deep eval --oracle` for (L, ψ), after reviewing every printed value
/// against the f64 closed forms.
fn eval_text(layers: usize, psi: Psi) -> String {
    let (n, d, seed) = (4usize, 3usize, 1u64);
    let args = [
        "deep",
        "eval",
        "--oracle",
        "--digits",
        "25",
        "--layers",
        &layers.to_string(),
        "--psi",
        psi.name(),
        "--n",
        &n.to_string(),
        "--d",
        &d.to_string(),
        "--seed",
        &seed.to_string(),
    ];
    let out = json(&args);
    assert_eq!(out["bound_kind"], "estimate");
    let net = deep::init(layers, n, d, psi, seed);
    let f = finite::evaluate(&net);
    let m = gdeep::magnitudes(&net);
    let tol = |mag: f64| golden::ULPS * golden::UNIT_ROUNDOFF * mag;
    let review = |name: &str, printed: &str, err: &str, f64_value: f64, mag: f64| {
        let x = parse(printed);
        let e = parse(err);
        assert!(
            (x - f64_value).abs() <= tol(mag),
            "{name}: oracle {printed} vs f64 {f64_value:e}, beyond {:e}",
            tol(mag)
        );
        assert!(
            e <= 1e-20 * x.abs().max(1e-300),
            "{name}: oracle error {err}"
        );
    };
    let risk = out["risk"].as_str().unwrap().to_string();
    review(
        "risk",
        &risk,
        out["risk_err"].as_str().unwrap(),
        f.risk,
        m.risk,
    );
    let mut text = format!(
        "deep eval --oracle --digits 25 --layers {layers} --psi {} --n {n} --d {d} --seed {seed}\nrisk: {risk}\n",
        psi.name()
    );
    let layer_vel = [("vel1", &f.vel1, &m.vel1), ("vel2", &f.vel2, &m.vel2)];
    for (name, fv, mv) in layer_vel {
        if fv.is_empty() {
            assert!(out[name].as_array().unwrap().is_empty());
            continue;
        }
        let vals = strings(&out[name]);
        let errs = strings(&out[format!("{name}_err")]);
        assert_eq!(vals.len(), n * n);
        for e in 0..n * n {
            review(&format!("{name}[{e}]"), &vals[e], &errs[e], fv[e], mv[e]);
        }
        // The first four (row j = 0: edges i = 0..3 into node 0).
        text.push_str(&format!("{name}[0..4]: {}\n", vals[..4].join(" ")));
    }
    text
}

#[test]
fn snapshot_deep_eval_oracle_l2_gd() {
    let text = eval_text(2, Psi::Gd);
    settings().bind(|| insta::assert_snapshot!("deep_eval_oracle_l2_gd", text));
}

#[test]
fn snapshot_deep_eval_oracle_l2_id() {
    let text = eval_text(2, Psi::Id);
    settings().bind(|| insta::assert_snapshot!("deep_eval_oracle_l2_id", text));
}

#[test]
fn snapshot_deep_eval_oracle_l3_gd() {
    let text = eval_text(3, Psi::Gd);
    settings().bind(|| insta::assert_snapshot!("deep_eval_oracle_l3_gd", text));
}

/// The snapshot text of `deep limit --layers L` at t = 0, 1, 2, after reviewing every value
/// against method B run here at its step and half of it.
fn limit_text(layers: usize) -> String {
    let out = json(&[
        "deep",
        "limit",
        "--layers",
        &layers.to_string(),
        "--t-end",
        "2",
        "--dt-out",
        "1",
    ]);
    let arr = |k: &str| -> Vec<f64> {
        out[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (times, risk) = (arr("times"), arr("risk"));
    let (step_diff, node_diff) = (arr("step_diff"), arr("node_diff"));
    assert_eq!(times, vec![0.0, 1.0, 2.0]);
    // Method B at the command's step (its `risk_b`) and, run here, at half of it.
    let b1 = arr("risk_b");
    let mut pb = limit::BParams::new(Psi::Gd);
    pb.h /= 2.0;
    let b2 = if layers == 3 {
        limit3::method_b(&pb, 2.0, 1.0).risk
    } else {
        limit::method_b(&pb, 2.0, 1.0, &[]).risk
    };
    let mut text = format!("deep limit --layers {layers} --psi gd --t-end 2 --dt-out 1\n");
    for k in 0..3 {
        let printed = format!("{:.9e}", risk[k]);
        let x = parse(&printed);
        let half_unit = 0.5e-9 * 10f64.powi(x.abs().log10().floor() as i32);
        let tol = 2.0 * (b1[k] - b2[k]).abs()
            + step_diff[k].abs()
            + node_diff[k].abs()
            + 1e-12
            + half_unit;
        assert!(
            (x - b2[k]).abs() <= tol,
            "L = {layers}, t = {}: printed {printed}, method B {:e}, beyond {tol:e}",
            times[k],
            b2[k]
        );
        text.push_str(&format!("R_inf(t = {}): {printed}\n", times[k]));
    }
    text
}

#[test]
fn snapshot_deep_limit_l2() {
    let text = limit_text(2);
    settings().bind(|| insta::assert_snapshot!("deep_limit_l2", text));
}

#[test]
fn snapshot_deep_limit_l3() {
    let text = limit_text(3);
    settings().bind(|| insta::assert_snapshot!("deep_limit_l3", text));
}
