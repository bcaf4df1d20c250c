//! Width rates of a ladder of finite-width runs: per output time and quantity, a statistic over
//! the draws at every width, its fitted exponent in N (least squares of log|stat| on log N) and
//! the exponent's bootstrap standard error.
//!
//! Bootstrap: B resamples; in each, the draws of every width are resampled with replacement
//! (independently per width), the statistic is recomputed at every width and the exponent
//! refitted; the standard error is the sample standard deviation of the B exponents. The
//! resampling indices come from ChaCha8 keyed by a fixed seed, consumed in a fixed order, so the
//! summary is a deterministic function of the rows. The standard error is an **estimate** (of
//! the sampling spread of the fitted exponent over draws); it does not cover a pre-asymptotic
//! bias of the power law (proofs-note §5d). Checked on synthetic power laws in
//! `tests/deep_rates.rs` (`bootstrap_recovers_the_exponent`).

use super::train::Row;
use super::train3::Row3;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Quantities of the summary: name, statistic over draws, and the predicted exponent for the
/// i.i.d. and the stratified frozen features (proofs-note §5d; `None`: no single power law).
pub const QUANTITIES: [(&str, Stat, Option<f64>, Option<f64>); 6] = [
    ("loss_gap_sd", Stat::Sd, Some(-0.5), Some(-1.0)),
    ("loss_gap_mean", Stat::Mean, Some(-1.0), Some(-1.0)),
    ("loss_gap_mean_abs", Stat::MeanAbs, None, Some(-1.0)),
    ("edge_gap", Stat::Mean, Some(-1.0), Some(-1.0)),
    ("node_gap", Stat::Mean, Some(-1.0), Some(-1.0)),
    // Stratified: the coherent term (1/N) Σ_i s_i u_{i⊥} is removed by the orthogonalisation,
    // what is left is the average over j of independent node errors, √d/N in f (§5d).
    ("function_gap", Stat::Mean, Some(-1.0), Some(-2.0)),
];

/// Resamples of the bootstrap.
pub const RESAMPLES: usize = 1000;
/// Key of the bootstrap's generator.
pub const BOOTSTRAP_SEED: u64 = 0x0b00_7572_a9;

/// A statistic over the per-draw values at one width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// Sample standard deviation (n − 1).
    Sd,
    Mean,
    /// Mean of absolute values.
    MeanAbs,
}

impl Stat {
    /// The statistic's name in summaries.
    pub fn label(self) -> &'static str {
        match self {
            Stat::Sd => "sd over draws",
            Stat::Mean => "mean over draws",
            Stat::MeanAbs => "mean of |.| over draws",
        }
    }

    pub fn eval(self, x: &[f64]) -> f64 {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        match self {
            Stat::Mean => mean,
            Stat::MeanAbs => x.iter().map(|v| v.abs()).sum::<f64>() / n,
            Stat::Sd => {
                if x.len() < 2 {
                    return f64::NAN;
                }
                (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            }
        }
    }
}

/// Least-squares line through (x, y): (slope, intercept).
pub fn ols(x: &[f64], y: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let s = sxy / sxx;
    (s, my - s * mx)
}

/// Exponent fit of |stat| against N: `groups[w]` = (N, per-draw values).
#[derive(Clone, Debug, serde::Serialize)]
pub struct PowerFit {
    /// The statistic at every width.
    #[serde(serialize_with = "crate::output::finite_vec")]
    pub values: Vec<f64>,
    /// Fitted exponent p in |stat| ≈ C N^p (None: a statistic is zero or not finite, or fewer
    /// than two widths).
    pub exponent: Option<f64>,
    pub prefactor: Option<f64>,
    /// Bootstrap standard error of the exponent (None with fewer than two draws).
    pub exponent_se: Option<f64>,
    /// Resamples in which some statistic was zero or not finite (left out of the s.e.).
    pub resamples_left_out: usize,
}

fn fit_logs(ns: &[f64], vals: &[f64]) -> Option<(f64, f64)> {
    if ns.len() < 2 || vals.iter().any(|v| !(v.is_finite() && *v != 0.0)) {
        return None;
    }
    let x: Vec<f64> = ns.iter().map(|n| n.ln()).collect();
    let y: Vec<f64> = vals.iter().map(|v| v.abs().ln()).collect();
    let (s, c) = ols(&x, &y);
    Some((s, c.exp()))
}

/// Fits |stat| ≈ C N^p over `groups` with a bootstrap standard error (`resamples`, generator
/// keyed by `seed`).
pub fn power_fit(groups: &[(f64, Vec<f64>)], stat: Stat, resamples: usize, seed: u64) -> PowerFit {
    let ns: Vec<f64> = groups.iter().map(|g| g.0).collect();
    let values: Vec<f64> = groups.iter().map(|g| stat.eval(&g.1)).collect();
    let fit = fit_logs(&ns, &values);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut slopes = Vec::with_capacity(resamples);
    let mut left_out = 0;
    let draws_ok = groups.iter().all(|g| g.1.len() >= 2);
    if fit.is_some() && draws_ok {
        let mut buf = Vec::new();
        for _ in 0..resamples {
            let vals: Vec<f64> = groups
                .iter()
                .map(|(_, x)| {
                    buf.clear();
                    for _ in 0..x.len() {
                        buf.push(x[(rng.next_u64() % x.len() as u64) as usize]);
                    }
                    stat.eval(&buf)
                })
                .collect();
            match fit_logs(&ns, &vals) {
                Some((s, _)) => slopes.push(s),
                None => left_out += 1,
            }
        }
    }
    let se = (slopes.len() >= 2).then(|| {
        let m = slopes.iter().sum::<f64>() / slopes.len() as f64;
        (slopes.iter().map(|s| (s - m).powi(2)).sum::<f64>() / (slopes.len() - 1) as f64).sqrt()
    });
    PowerFit {
        values,
        exponent: fit.map(|f| f.0),
        prefactor: fit.map(|f| f.1),
        exponent_se: se,
        resamples_left_out: left_out,
    }
}

/// One summary line: a quantity at one output time over the widths.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SummaryRow {
    pub t: f64,
    pub quantity: &'static str,
    pub statistic: &'static str,
    pub widths: Vec<usize>,
    pub draws: usize,
    #[serde(flatten)]
    pub fit: PowerFit,
    /// Exponent predicted by the proofs-note (§5d) for this initialisation, if a single power
    /// law is predicted.
    pub predicted: Option<f64>,
    /// Kind of the standard error `exponent_se` (`estimate`).
    pub bound_kind: &'static str,
    /// How the standard error is obtained.
    pub se_method: &'static str,
}

/// The summary of `rows` (every width with the same draws and output times): one line per
/// output time and quantity. `stratified` selects the predicted exponents.
pub fn summary(rows: &[Row], stratified: bool) -> Vec<SummaryRow> {
    let points: Vec<Point> = rows
        .iter()
        .map(|r| {
            let q = [
                r.loss_gap,
                r.loss_gap,
                r.loss_gap,
                r.edge_gap,
                r.node_gap,
                r.function_gap,
            ];
            (r.t, r.n, q.to_vec())
        })
        .collect();
    summary_of(&points, &QUANTITIES, stratified)
}

/// Quantities of the L = 3 summary (proofs-note §7): name, statistic over draws, predicted
/// exponent for i.i.d. and stratified frozen features (`None`: no single power law).
pub const QUANTITIES3: [(&str, Stat, Option<f64>, Option<f64>); 8] = [
    ("loss_gap_sd", Stat::Sd, Some(-0.5), Some(-1.0)),
    ("loss_gap_mean", Stat::Mean, Some(-1.0), Some(-1.0)),
    ("loss_gap_mean_abs", Stat::MeanAbs, None, Some(-1.0)),
    ("edge_gap1", Stat::Mean, Some(-1.0), Some(-1.0)),
    ("edge_gap2", Stat::Mean, Some(-1.0), Some(-1.0)),
    ("node_gap", Stat::Mean, Some(-1.0), Some(-1.0)),
    ("readout_gap", Stat::Mean, Some(-1.0), Some(-1.0)),
    // Stratified: −2 for ψ = id only (the coherent term of v_j is (1/N) Σ_i m(s_i) u_{i⊥}
    // with m(s) = E[ψ(θ̄1) | s] linear in s for id, removed by the orthogonalisation; for gd its
    // nonlinear part leaves a small d/N term): see [`predicted3`].
    ("function_gap", Stat::Mean, Some(-1.0), Some(-2.0)),
];

/// The L = 3 summary of `rows` (every width with the same draws and output times, rows with
/// the function gap: [`super::train3::run_with`]); `stratified` selects the predicted
/// exponents, `psi` matters for the stratified function gap only ([`predicted3`]).
pub fn summary3(rows: &[Row3], stratified: bool, psi: super::Psi) -> Vec<SummaryRow> {
    let points: Vec<Point> = rows
        .iter()
        .map(|r| {
            let q = [
                r.loss_gap,
                r.loss_gap,
                r.loss_gap,
                r.edge_gap1,
                r.edge_gap2,
                r.node_gap,
                r.readout_gap,
                r.function_gap.unwrap_or(f64::NAN),
            ];
            (r.t, r.n, q.to_vec())
        })
        .collect();
    let mut out = summary_of(&points, &QUANTITIES3, stratified);
    for s in &mut out {
        s.predicted = predicted3(s.quantity, stratified, psi);
    }
    out
}

/// The predicted L = 3 exponent of `quantity` (proofs-note §7): the table [`QUANTITIES3`],
/// except the stratified function gap for ψ = gd, where no single power law is predicted
/// (None: −2 from the independent node errors until the d/N term of the nonlinear part of
/// m(s) takes over).
pub fn predicted3(quantity: &str, stratified: bool, psi: super::Psi) -> Option<f64> {
    if stratified && quantity == "function_gap" && psi == super::Psi::Gd {
        return None;
    }
    QUANTITIES3
        .iter()
        .find(|q| q.0 == quantity)
        .and_then(|q| if stratified { q.3 } else { q.2 })
}

/// (t, N, the per-quantity values of one row).
type Point = (f64, usize, Vec<f64>);

/// The summary of `points` for `quantities` (value q of a point is quantity q's input).
fn summary_of(
    points: &[Point],
    quantities: &[(&'static str, Stat, Option<f64>, Option<f64>)],
    stratified: bool,
) -> Vec<SummaryRow> {
    let mut widths: Vec<usize> = points.iter().map(|r| r.1).collect();
    widths.sort_unstable();
    widths.dedup();
    let mut times: Vec<f64> = Vec::new();
    for r in points {
        if !times
            .iter()
            .any(|t| (t - r.0).abs() <= 1e-9 * r.0.abs().max(1.0))
        {
            times.push(r.0);
        }
    }
    let mut out = Vec::new();
    for &t in &times {
        let at: Vec<&Point> = points
            .iter()
            .filter(|r| (r.0 - t).abs() <= 1e-9 * t.abs().max(1.0))
            .collect();
        let draws = at.iter().filter(|r| r.1 == widths[0]).count();
        for (qi, (name, stat, p_iid, p_strat)) in quantities.iter().enumerate() {
            let groups: Vec<(f64, Vec<f64>)> = widths
                .iter()
                .map(|&n| {
                    let xs = at.iter().filter(|r| r.1 == n).map(|r| r.2[qi]).collect();
                    (n as f64, xs)
                })
                .collect();
            let seed = BOOTSTRAP_SEED ^ ((qi as u64) << 32) ^ t.to_bits();
            out.push(SummaryRow {
                t,
                quantity: name,
                statistic: stat.label(),
                widths: widths.clone(),
                draws,
                fit: power_fit(&groups, *stat, RESAMPLES, seed),
                predicted: if stratified { *p_strat } else { *p_iid },
                bound_kind: crate::conventions::BoundKind::Estimate.as_str(),
                se_method: "bootstrap over draws",
            });
        }
    }
    out
}
