//! Tests of the width-rate machinery of the deep model (src/deep/train.rs stratified features,
//! function gap and correlations; src/deep/rates.rs summary and bootstrap), each against an
//! independent method: Monte Carlo over x or over ideal particles, synthetic power laws with a
//! known exponent, and the rates predicted in proofs-notes/deep-meanfield.md §5d.

mod common;

use mforacle::deep::limit::{self, Params};
use mforacle::deep::rates::{self, Stat};
use mforacle::deep::train::{self, Case, Extras, Init};
use mforacle::deep::Psi;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    mforacle::sampling::gaussians(rng, 1)[0]
}

fn g(z: f64) -> f64 {
    libm::erf(z / std::f64::consts::SQRT_2)
}

/// Synthetic data with exponent p: at width N, draws y = C N^p (1 + 0.3 ξ), ξ ~ N(0, 1). Over
/// 200 data sets the fitted exponent lies within one bootstrap s.e. of p in about 68 % of them
/// (a normal sampling law of the estimate: binomial(200, 0.683) has sd 6.6, so [110, 160]
/// is a 4-sd window), and within 3 s.e. in at least 97 %. A mis-scaled s.e. (too small by 2, or
/// too large by 2) falls outside these windows.
#[test]
fn bootstrap_recovers_the_exponent() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let widths = [64.0, 128.0, 256.0, 512.0, 1024.0];
    for (p, stat) in [(-1.0, Stat::Mean), (-0.5, Stat::Sd), (-0.5, Stat::MeanAbs)] {
        let (mut within1, mut within3) = (0, 0);
        for k in 0..200 {
            let groups: Vec<(f64, Vec<f64>)> = widths
                .iter()
                .map(|&n: &f64| {
                    let xs = (0..12)
                        .map(|_| {
                            let xi = normal(&mut rng);
                            match stat {
                                // Mean-zero draws whose sd is ∝ N^p.
                                Stat::Sd | Stat::MeanAbs => 2.0 * n.powf(p) * xi,
                                Stat::Mean => 2.0 * n.powf(p) * (1.0 + 0.3 * xi),
                            }
                        })
                        .collect();
                    (n, xs)
                })
                .collect();
            let f = rates::power_fit(&groups, stat, 400, 1000 + k);
            let (e, se) = (f.exponent.unwrap(), f.exponent_se.unwrap());
            within1 += ((e - p).abs() <= se) as usize;
            within3 += ((e - p).abs() <= 3.0 * se) as usize;
        }
        println!("{stat:?}: {within1}/200 within 1 s.e., {within3}/200 within 3 s.e.");
        assert!((110..=160).contains(&within1), "{stat:?}: {within1}");
        assert!(within3 >= 194, "{stat:?}: {within3}");
    }
}

/// The bootstrap is a deterministic function of its input and seed.
#[test]
fn bootstrap_is_deterministic() {
    let groups = vec![(10.0, vec![1.0, 2.0, 1.5]), (20.0, vec![0.6, 0.4, 0.55])];
    let a = rates::power_fit(&groups, Stat::Mean, 300, 5);
    let b = rates::power_fit(&groups, Stat::Mean, 300, 5);
    assert_eq!(
        a.exponent_se.unwrap().to_bits(),
        b.exponent_se.unwrap().to_bits()
    );
}

/// The closed-form function gap E_x(f_N − f_∞)² against Monte Carlo over x with erf evaluated
/// directly (no arcsine kernel): f_N = (1/N)Σ a_j g(⟨v_j,x⟩), f_∞(x) = Σ_l w_l a_l g(α(a_l)x₁)
/// on the same a-rule. 4e5 samples; tolerance 5 standard errors of the sample mean.
#[test]
fn function_gap_matches_monte_carlo() {
    let (n, d) = (7, 3);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let v: Vec<f64> = (0..n * d).map(|_| 0.8 * normal(&mut rng) + 0.2).collect();
    let a: Vec<f64> = (0..n).map(|_| rng.gen_range(-1.7..1.7)).collect();
    let grid = limit::a_rule(24);
    let alpha: Vec<f64> = grid.x.iter().map(|x| 0.9 * x - 0.1 * x * x * x).collect();
    let risk = mforacle::deep::finite::readout(&v, &a, n, d).risk;
    let closed = train::function_gap(&v, &a, risk, d, &alpha, &grid);
    let m = 400_000;
    let (mut s1, mut s2) = (0.0, 0.0);
    for _ in 0..m {
        let x = mforacle::sampling::gaussians(&mut rng, d);
        let fnx: f64 = (0..n)
            .map(|j| a[j] * g((0..d).map(|k| v[j * d + k] * x[k]).sum()))
            .sum::<f64>()
            / n as f64;
        let finf: f64 = (0..grid.x.len())
            .map(|l| grid.w[l] * grid.x[l] * g(alpha[l] * x[0]))
            .sum();
        let e = (fnx - finf).powi(2);
        s1 += e;
        s2 += e * e;
    }
    common::assert_matches_monte_carlo(closed, s1, s2, m);
}

/// The limit correlations (quadrature) against Monte Carlo over pairs of ideal particles
/// sharing s (input class) or a (output class), Γ(a) = 1.3a − 0.2a³, ψ = gd and id: 4e5
/// pairs, tolerance 5 standard errors of the pair-product mean divided by the variance.
#[test]
fn limit_correlations_match_monte_carlo() {
    let grid = limit::a_rule(48);
    let gam = |a: f64| 1.3 * a - 0.2 * a * a * a;
    let gamma: Vec<f64> = grid.x.iter().map(|&a| gam(a)).collect();
    let r3 = 3f64.sqrt();
    for psi in [Psi::Gd, Psi::Id] {
        let lim = train::limit_correlations(psi, &grid, &gamma);
        let delta = |t0: f64, s: f64, a: f64| match psi {
            Psi::Gd => libm::asinh(libm::sinh(t0) + s * gam(a)) - t0,
            Psi::Id => s * gam(a),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let m = 400_000;
        for (fi, sq) in [false, true].into_iter().enumerate() {
            let f = |x: f64| if sq { x * x } else { x };
            for (ci, share_s) in [true, false].into_iter().enumerate() {
                let (mut m1, mut m2, mut p, mut p2) = (0.0, 0.0, 0.0, 0.0);
                for _ in 0..m {
                    let z = mforacle::sampling::gaussians(&mut rng, 4);
                    let (t0, t1, s0) = (z[0], z[1], z[2]);
                    let s1 = if share_s { s0 } else { z[3] };
                    let a0 = rng.gen_range(-r3..r3);
                    let a1 = if share_s { rng.gen_range(-r3..r3) } else { a0 };
                    let (x, y) = (f(delta(t0, s0, a0)), f(delta(t1, s1, a1)));
                    m1 += x + y;
                    m2 += x * x + y * y;
                    p += x * y;
                    p2 += (x * y).powi(2);
                }
                let mf = m as f64;
                let mean = m1 / (2.0 * mf);
                let var = m2 / (2.0 * mf) - mean * mean;
                let corr = (p / mf - mean * mean) / var;
                let se = ((p2 / mf - (p / mf).powi(2)) / mf).sqrt() / var;
                println!(
                    "{psi:?} f{fi} class{ci}: quadrature {:.5}, Monte Carlo {corr:.5} ± {se:.1e}",
                    lim[ci][fi]
                );
                assert!(
                    (lim[ci][fi] - corr).abs() <= 5.0 * se,
                    "{psi:?} f{fi} class{ci}: {} vs {corr} ± {se}",
                    lim[ci][fi]
                );
            }
        }
    }
}

/// Runs `widths` × `draws` of ψ = id, d = 2, to t = 1 (RK4 h = 0.1) with `init` and returns
/// the summary at t = 1.
fn ladder(widths: &[usize], draws: usize, init: Init) -> Vec<rates::SummaryRow> {
    let lp = Params::new(Psi::Id);
    let mut rows = Vec::new();
    for &n in widths {
        for r in 0..draws {
            let c = Case {
                n,
                d: 2,
                psi: Psi::Id,
                seed: 41,
                draw: r,
                t_end: 1.0,
                dt_out: 1.0,
            };
            let x = Extras {
                init,
                corr_times: vec![],
            };
            rows.extend(train::run_with(&c, 0.1, &lp, &x).rows);
        }
    }
    rates::summary(&rows, init == Init::Stratified)
        .into_iter()
        .filter(|s| s.t == 1.0)
        .collect()
}

/// The rates of proofs-notes/deep-meanfield.md §5d on N = 32…256, 12 draws, ψ = id, d = 2,
/// t = 1. Stated tolerance: |fitted − predicted| ≤ 3 s.e. + 0.25 (3 bootstrap s.e. for the
/// draw-to-draw spread, 0.25 for the next-order term of each expansion over a factor 8 in N).
/// Checked: the edge and node gaps (−1), the function gap (−1 i.i.d., −2 stratified), the sd
/// over draws of the loss gap (−1/2 for i.i.d. features, −1 for stratified ones). The two inits differ by 1/2 in the last
/// exponent, more than the tolerance at the measured s.e., so swapping the predictions fails.
/// The mean loss gap (and its mean absolute value), −1, is checked for stratified features,
/// where the first-order N^{−1/2} term is removed and the mean is resolved (measured
/// −1.11 ± 0.08: the prediction −1/2 would fail). For i.i.d. features it is not asserted: the
/// mean c/N sits under the draw noise σN^{−1/2}/√12 of the first-order term on this ladder (the
/// fit gives −0.48 ± 0.21, which cannot tell −1 from −1/2; proofs-note §5d).
#[test]
fn finite_width_rates_match_the_predictions() {
    let widths = [32, 64, 128, 256];
    for init in [Init::Iid, Init::Stratified] {
        for s in ladder(&widths, 12, init) {
            let (e, se) = (s.fit.exponent.unwrap(), s.fit.exponent_se.unwrap());
            println!(
                "{:?} {:<18} exponent {e:+.3} ± {se:.3} (predicted {:?})",
                init, s.quantity, s.predicted
            );
            let strat_mean = init == Init::Stratified
                && ["loss_gap_mean", "loss_gap_mean_abs"].contains(&s.quantity);
            if strat_mean
                || ["edge_gap", "node_gap", "function_gap", "loss_gap_sd"].contains(&s.quantity)
            {
                let p = s.predicted.unwrap();
                assert!(
                    (e - p).abs() <= 3.0 * se + 0.25,
                    "{init:?} {}: {e} ± {se}, predicted {p}",
                    s.quantity
                );
            }
        }
    }
}

use common::run as cli;

/// Bad --init and --corr-times exit 2 with one line before any work; a good run writes the
/// summary file with one line per output time and quantity and the correlation rows
/// (2 classes × 2 functions per width and draw), and its rows carry the function gap.
#[test]
fn cli_init_corr_times_and_summary() {
    let dir = std::env::temp_dir().join(format!("deep_rates_cli_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sum = dir.join("s.json");
    let base = [
        "deep", "train", "--widths", "8,16", "--d", "2", "--t-end", "0.5", "--dt-out", "0.25",
        "--draws", "2", "--psi", "id",
    ];
    let bad: Vec<Vec<&str>> = vec![
        vec!["--init", "sobol"],
        vec!["--corr-times", "0.5"],
        vec!["--corr-times", "0.3", "--summary", sum.to_str().unwrap()],
        vec!["--corr-times", "2", "--summary", sum.to_str().unwrap()],
    ];
    for extra in bad {
        let args: Vec<&str> = base.iter().copied().chain(extra.clone()).collect();
        let o = cli(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr)
                .trim_end()
                .lines()
                .count(),
            1
        );
        assert!(o.stdout.is_empty() && !sum.exists());
    }
    let args: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--init", "stratified", "--corr-times", "0.5", "--summary"])
        .chain([sum.to_str().unwrap()])
        .collect();
    let o = cli(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.lines().next().unwrap().ends_with(",function_gap"));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sum).unwrap()).unwrap();
    assert_eq!(s["init"], "stratified");
    assert_eq!(s["summary"].as_array().unwrap().len(), 3 * 6);
    assert_eq!(s["correlations"].as_array().unwrap().len(), 2 * 2 * 4);
    std::fs::remove_dir_all(&dir).ok();
}
