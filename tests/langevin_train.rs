//! Noisy training (`mforacle train --beta`) against the reduced Langevin flow and the Gibbs
//! fixed point (proofs-notes/langevin.md §10). Statistical tests: the tolerance is
//! 5 standard errors over independent draws plus two stated allowances, finite width
//! (A_N = 2cκ(1)/N for the loss, 2/N for moments of s) and step size (A_η = 2η, the O(η) bias
//! of the projected Euler–Maruyama step, an allowance and not a bound); they fail on a wrong
//! noise constant (test `wrong_noise_constant_is_detected`).

use mforacle::activation::Spec;
use mforacle::langevin::{fast, flow};
use mforacle::meanfield::Model;
use mforacle::population::LossScale;
use std::process::Command;

const STUDENT: &str = "he1+he2";
const TEACHER: &str = "he1";
const D: usize = 4;
const BETA: f64 = 1.5;

fn model() -> Model {
    let s = Spec::parse(STUDENT).unwrap();
    let t = Spec::parse(TEACHER).unwrap();
    Model::new(&s, &t, D, 20, 20, LossScale::Full, 0.0).unwrap()
}

/// Rows (t, loss, mean_s2, mean_abs_s) per draw from `train --beta`.
fn train(
    beta: f64,
    n: usize,
    eta: f64,
    t_end: f64,
    draws: usize,
    every: usize,
    threads: &str,
) -> (Vec<u8>, Vec<Vec<[f64; 4]>>) {
    let o = Command::new(env!("CARGO_BIN_EXE_mforacle"))
        .env("RAYON_NUM_THREADS", threads)
        .args([
            "train",
            "--student",
            STUDENT,
            "--teacher",
            TEACHER,
            "--d",
            &D.to_string(),
            "--widths",
            &n.to_string(),
            "--eta",
            &eta.to_string(),
            "--t-end",
            &t_end.to_string(),
            "--draws",
            &draws.to_string(),
            "--beta",
            &beta.to_string(),
            "--record-every",
            &every.to_string(),
            "--seed",
            "7",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "width,draw,step,t,loss,risk,mean_s,mean_s2,mean_abs_s,gap,ideal_loss,ideal_mean_s,ideal_mean_s2,ideal_mean_abs_s,flow_loss,flow_mean_s,flow_mean_s2"
    );
    let mut rows = vec![Vec::new(); draws];
    for l in lines {
        let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
        rows[v[1] as usize].push([v[3], v[4], v[7], v[8]]);
    }
    (o.stdout, rows)
}

fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

#[test]
fn noisy_training_loss_tracks_langevin_flow() {
    let (n, eta, draws) = (1000, 0.0025, 8);
    let (_, rows) = train(BETA, n, eta, 2.0, draws, 200, "2");
    let m = model();
    let p = flow::Problem::new(&m, BETA, 1e-12).unwrap();
    let times: Vec<f64> = rows[0].iter().map(|r| r[0]).collect();
    assert_eq!(times, vec![0.0, 0.5, 1.0, 1.5, 2.0]);
    let f = flow::flow(&p, &times, 1e-10).unwrap();
    let kappa1 = 2.0; // κ(t) = t + t² for he1 + he2
    for (k, t) in times.iter().enumerate() {
        let losses: Vec<f64> = rows.iter().map(|r| r[k][1]).collect();
        let (mean, se) = mean_se(&losses);
        let reference = f.values[k][1].value;
        let tol = 5.0 * se + 2.0 * kappa1 / n as f64 + 2.0 * eta;
        assert!(
            (mean - reference).abs() <= tol,
            "t={t}: mean loss {mean} ± {se} vs flow {reference} (tol {tol})"
        );
    }
}

/// E s² and E|s| of the empirical law at t_end, averaged over neurons and draws, against p*.
fn stationary_gap(beta_train: f64) -> Vec<(f64, f64, f64)> {
    let (n, eta, draws) = (1000, 0.0025, 8);
    let (_, rows) = train(beta_train, n, eta, 5.0, draws, 2000, "2");
    let g = fast::gibbs(&model(), BETA, 2, 1e-12).unwrap();
    let last: Vec<[f64; 4]> = rows.iter().map(|r| *r.last().unwrap()).collect();
    assert_eq!(last[0][0], 5.0);
    [(2, g.mean_s2.value), (3, g.mean_abs_s.value)]
        .iter()
        .map(|&(q, star)| {
            let (mean, se) = mean_se(&last.iter().map(|r| r[q]).collect::<Vec<_>>());
            let tol = 5.0 * se + 2.0 / n as f64 + 2.0 * eta;
            ((mean - star).abs(), tol, mean)
        })
        .collect()
}

#[test]
fn noisy_training_reaches_the_gibbs_law() {
    // relaxation: the linear rate is ≥ (d − 1)/β = 2, so t = 5 leaves ≈ e^{−10}.
    for (gap, tol, mean) in stationary_gap(BETA) {
        assert!(gap <= tol, "empirical {mean}: gap {gap} > tol {tol}");
    }
}

#[test]
fn wrong_noise_constant_is_detected() {
    // √(4η/β) = √(2η/(β/2)): training at β/2 is the wrong constant at β; the same statistic
    // must reject it (E s² of p* moves by ≈ 0.036 between β and β/2 here).
    let gaps = stationary_gap(BETA / 2.0);
    assert!(
        gaps.iter().any(|(gap, tol, _)| gap > tol),
        "the wrong constant was not detected: {gaps:?}"
    );
}

#[test]
fn noisy_training_is_thread_independent_and_nested() {
    let (a, _) = train(BETA, 64, 0.01, 0.5, 2, 10, "1");
    let (b, _) = train(BETA, 64, 0.01, 0.5, 2, 10, "2");
    assert_eq!(a, b);
}
