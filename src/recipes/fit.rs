//! Power-law fits of recipe measurements: the ordinary least-squares slope of ln y against
//! ln x, and the delete-one jackknife standard error of any statistic of independent draws.
//!
//! Accuracy contract: the slope is the exact least-squares solution up to rounding (centred
//! sums, a few ulps relative to the spread of ln x); the jackknife standard error is a
//! statistical *estimate* (`bound_kind = estimate`), valid for statistics that are smooth
//! functions of means over independent draws. It accounts for correlations between the
//! points of one draw (nested widths share neurons), which the least-squares formula for the
//! slope's error would not. Tests: `tests/reproduce_dimension_free.rs` (a synthetic power law
//! with a known exponent, the jackknife of a mean against s/√n).

/// The least-squares fit ln y = a + b ln x: `(b, a)`. `None` with fewer than two points, a
/// non-positive or non-finite value, or all x equal.
pub fn loglog_fit(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let ok = |v: &f64| v.is_finite() && *v > 0.0;
    if !x.iter().all(ok) || !y.iter().all(ok) {
        return None;
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = lx.len() as f64;
    let mx = lx.iter().sum::<f64>() / n;
    let my = ly.iter().sum::<f64>() / n;
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let b = sxy / sxx;
    Some((b, my - b * mx))
}

/// The statistic on all `n` draws and its delete-one jackknife standard error:
/// `stat(None)` uses every draw, `stat(Some(r))` every draw but r;
/// se² = (n − 1)/n · Σ_r (θ_(r) − θ̄)². `None` when a value is not finite or n < 2.
pub fn jackknife(n: usize, stat: &dyn Fn(Option<usize>) -> Option<f64>) -> Option<(f64, f64)> {
    let full = stat(None).filter(|v| v.is_finite())?;
    if n < 2 {
        return None;
    }
    let loo: Vec<f64> = (0..n)
        .map(|r| stat(Some(r)).filter(|v| v.is_finite()))
        .collect::<Option<_>>()?;
    let m = loo.iter().sum::<f64>() / n as f64;
    let ss: f64 = loo.iter().map(|v| (v - m) * (v - m)).sum();
    Some((full, ((n as f64 - 1.0) / n as f64 * ss).sqrt()))
}

/// Mean and sample standard deviation (n − 1) of `v` (sd 0 for one value).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}
