//! `deep limit --layers 3` and `deep train --layers 3` (src/deep/limit3.rs, src/deep/train3.rs).
//!
//! - `deep limit --layers 3`: R_∞(t) by method A (reduced ODE in Γ1, Ω), the state Γ1, Ω, α, b,
//!   and three estimates per output time: `node_diff` (A refined), `step_diff` (A with the step
//!   halved), `diff_ab` (A − B, B the ideal particles of both layers on grids). With `--eta η`:
//!   the discrete map of Euler GD by method B with Euler steps, `node_diff` (B refined),
//!   `diff_ab` (ψ = id only: method A with Euler steps) and the flow's `risk_flow`.
//! - `deep train --layers 3`: the finite-width flow (RK4) or Euler GD of both trained layers
//!   against the limit (one limit run serves every width and draw), one row per time, width
//!   and draw: risk, limit risk, loss gap, edge gaps of both layers, node and readout gaps.

use super::{emit, emit_checked, ser, DeepFormat, LimitArgs, TrainArgs};
use crate::cli::CliError;
use crate::conventions::BoundKind;
use crate::deep::{limit, limit3, rates, train3, Psi};
use serde::Serialize;

#[derive(Serialize)]
struct Limit3Out {
    layers: usize,
    psi: &'static str,
    d: usize,
    /// The unit σ when it is not the default erf (kernels by 1-D quadrature).
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    /// "flow" (RK4) or "discrete" (Euler GD with step eta).
    map: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    eta: Option<f64>,
    times: Vec<f64>,
    risk: Vec<f64>,
    /// Method A's state (flow; discrete map for id): Γ1(t), Ω(t). Empty for the gd discrete
    /// map (method B has no push-forward state).
    gamma1: Vec<f64>,
    omega: Vec<f64>,
    /// α(t) = ⟨v̄, w*⟩ and b(t) of the common H2 node.
    alpha: Vec<f64>,
    b: Vec<f64>,
    /// Flow: method B's risk; discrete map: absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    risk_b: Option<Vec<f64>>,
    /// Flow: A − B; discrete map: B − A for ψ = id (A exact for id), absent for gd.
    #[serde(skip_serializing_if = "Option::is_none")]
    diff_ab: Option<Vec<f64>>,
    /// The main run minus the refined run (A for the flow, B for the discrete map).
    node_diff: Vec<f64>,
    /// Flow only: A minus A with the step halved.
    #[serde(skip_serializing_if = "Option::is_none")]
    step_diff: Option<Vec<f64>>,
    /// Discrete map only: the flow's R_∞ (method A, RK4) at the same times.
    #[serde(skip_serializing_if = "Option::is_none")]
    risk_flow: Option<Vec<f64>>,
    bound_kind: &'static str,
    table_check: f64,
    a_nodes: usize,
    dt: f64,
    b_particles: usize,
    b_dt: f64,
    version: &'static str,
}

fn diff(x: &[f64], y: &[f64]) -> Vec<f64> {
    x.iter().zip(y).map(|(u, v)| u - v).collect()
}

pub(super) fn run_limit(
    a: &LimitArgs,
    psi: Psi,
    d: usize,
    p: &limit::Params,
    pb: &limit::BParams,
    unit: limit::Unit,
) -> Result<(), CliError> {
    let (t_end, dt_out) = (a.t_end, a.dt_out);
    let name = match unit {
        limit::Unit::Erf => None,
        limit::Unit::General(u) => Some(u.source.clone()),
    };
    let flow_a = |q: &limit::Params| {
        limit3::method_a_with(q, unit, limit::Stepping::Rk4 { h: q.h }, t_end, dt_out)
    };
    let out = match a.eta {
        None => {
            let main = flow_a(p);
            let fine = flow_a(&p.refined());
            let half = flow_a(&p.halved());
            let b =
                limit3::method_b_with(pb, unit, limit::Stepping::Rk4 { h: pb.h }, t_end, dt_out);
            Limit3Out {
                layers: 3,
                psi: psi.name(),
                d,
                unit: name.clone(),
                map: "flow",
                eta: None,
                diff_ab: Some(diff(&main.risk, &b.risk)),
                risk_b: Some(b.risk),
                node_diff: diff(&main.risk, &fine.risk),
                step_diff: Some(diff(&main.risk, &half.risk)),
                risk_flow: None,
                bound_kind: BoundKind::Estimate.as_str(),
                table_check: main.table_check.max(fine.table_check),
                a_nodes: p.a_nodes,
                dt: p.h,
                b_particles: limit3::particles(pb),
                b_dt: pb.h,
                times: main.times,
                risk: main.risk,
                gamma1: main.gamma1,
                omega: main.omega,
                alpha: main.alpha,
                b: main.b,
                version: env!("CARGO_PKG_VERSION"),
            }
        }
        Some(eta) => {
            let euler = limit::Stepping::Euler { eta };
            let main = limit3::method_b_with(pb, unit, euler, t_end, dt_out);
            let fine = limit3::method_b_with(&limit3::refined_b(pb), unit, euler, t_end, dt_out);
            let by_a =
                (psi == Psi::Id).then(|| limit3::method_a_with(p, unit, euler, t_end, dt_out));
            let flow = flow_a(p);
            let (gamma1, omega) = match &by_a {
                Some(t) => (t.gamma1.clone(), t.omega.clone()),
                None => (Vec::new(), Vec::new()),
            };
            Limit3Out {
                layers: 3,
                psi: psi.name(),
                d,
                unit: name.clone(),
                map: "discrete",
                eta: Some(eta),
                diff_ab: by_a.map(|t| diff(&main.risk, &t.risk)),
                risk_b: None,
                node_diff: diff(&main.risk, &fine.risk),
                step_diff: None,
                risk_flow: Some(flow.risk),
                bound_kind: BoundKind::Estimate.as_str(),
                table_check: flow.table_check,
                a_nodes: pb.a_nodes,
                dt: eta,
                b_particles: limit3::particles(pb),
                b_dt: eta,
                times: main.times,
                risk: main.risk,
                gamma1,
                omega,
                alpha: main.alpha,
                b: main.b,
                version: env!("CARGO_PKG_VERSION"),
            }
        }
    };
    let opt = |v: &Option<Vec<f64>>| v.clone().unwrap_or_default();
    let all: Vec<f64> = [
        &out.risk,
        &out.gamma1,
        &out.omega,
        &out.alpha,
        &out.b,
        &opt(&out.risk_b),
        &opt(&out.diff_ab),
        &out.node_diff,
        &opt(&out.step_diff),
        &opt(&out.risk_flow),
        &vec![out.table_check],
    ]
    .iter()
    .flat_map(|v| v.iter().copied())
    .collect();
    let csv = || {
        let mut s = String::from(
            "t,risk,gamma1,omega,alpha,b,risk_b,diff_ab,node_diff,step_diff,bound_kind,risk_flow\n",
        );
        let cell = |v: &Option<Vec<f64>>, i: usize, e: bool| match v {
            Some(x) if e => format!("{:.3e}", x[i]),
            Some(x) => format!("{:.16e}", x[i]),
            None => String::new(),
        };
        let at = |v: &Vec<f64>, i: usize| v.get(i).map(|x| format!("{x:.16e}")).unwrap_or_default();
        for i in 0..out.times.len() {
            s += &format!(
                "{:.16e},{:.16e},{},{},{:.16e},{:.16e},{},{},{:.3e},{},{},{}\n",
                out.times[i],
                out.risk[i],
                at(&out.gamma1, i),
                at(&out.omega, i),
                out.alpha[i],
                out.b[i],
                cell(&out.risk_b, i, false),
                cell(&out.diff_ab, i, true),
                out.node_diff[i],
                cell(&out.step_diff, i, true),
                out.bound_kind,
                cell(&out.risk_flow, i, false),
            );
        }
        s
    };
    emit_checked(
        &all,
        "the L = 3 limit",
        &out,
        a.format,
        csv,
        a.out.as_deref(),
    )
}

/// Bytes of the largest width's run (the caller checks them against the machine before any
/// work); with `corr` the correlations' four N² arrays.
pub(super) fn train_bytes(
    nmax: usize,
    d: usize,
    t_end: f64,
    eta: Option<f64>,
    pb: &limit::BParams,
    corr: bool,
) -> f64 {
    match eta {
        None => train3::train_bytes_with(nmax, d, corr),
        Some(eta) => train3::euler_bytes(nmax, d, (t_end / eta).round() as usize, pb),
    }
}

/// `deep train --layers 3`. Without `--summary` (and so without `--corr-times`) the rows and
/// their format are those of [`train3::run`] (no function gap); with it every row carries the
/// function gap, and the summary file gets the fitted exponents of [`rates::summary3`] and the
/// correlation rows of [`train3::run_with`].
pub(super) fn run_train(
    a: &TrainArgs,
    psi: Psi,
    d: usize,
    lp: &limit::Params,
    pb: &limit::BParams,
) -> Result<(), CliError> {
    let lim = match a.eta {
        None => train3::flow_limit(lp, a.t_end, a.dt_out),
        Some(eta) => limit3::discrete_b(pb, eta, a.t_end, a.dt_out),
    };
    let rated = a.rates.summary.is_some();
    let extras = train3::Extras3 {
        corr_times: a.rates.corr_times.clone(),
    };
    let mut rows = Vec::new();
    let mut corr = Vec::new();
    for case in super::cases(a, psi, d) {
        match (a.eta, rated) {
            (None, false) => rows.extend(train3::run(&case, a.dt, &lim)),
            (Some(eta), false) => rows.extend(train3::run_euler(&case, eta, &lim)),
            (None, true) => {
                let o = train3::run_with(&case, a.dt, &lim, &extras);
                rows.extend(o.rows);
                corr.extend(o.corr);
            }
            (Some(eta), true) => rows.extend(train3::run_euler_with(&case, eta, &lim)),
        }
    }
    let all: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.values().into_iter().chain(r.function_gap))
        .chain(corr.iter().flat_map(|c| [c.finite, c.ideal, c.limit]))
        .collect();
    if !all.iter().all(|x| x.is_finite()) {
        return Err(CliError::Failure(
            "the flow produced a non-finite value".into(),
        ));
    }
    let text = match a.format {
        DeepFormat::Json => ser(&rows)?,
        DeepFormat::Csv => {
            let mut s = String::from(
                "t,n,draw,risk,risk_limit,loss_gap,edge_gap1,edge_gap2,node_gap,readout_gap",
            );
            s += if rated { ",function_gap\n" } else { "\n" };
            for r in &rows {
                s += &format!(
                    "{:.16e},{},{},{:.16e},{:.16e},{:.16e},{:.16e},{:.16e},{:.16e},{:.16e}",
                    r.t,
                    r.n,
                    r.draw,
                    r.risk,
                    r.risk_limit,
                    r.loss_gap,
                    r.edge_gap1,
                    r.edge_gap2,
                    r.node_gap,
                    r.readout_gap
                );
                if let Some(g) = r.function_gap {
                    s += &format!(",{g:.16e}");
                }
                s.push('\n');
            }
            s
        }
    };
    if let Some(path) = &a.rates.summary {
        let out = super::SummaryOut {
            layers: 3,
            psi: psi.name(),
            d,
            init: "iid",
            widths: a.widths.iter().map(|&w| w as usize).collect(),
            draws: a.draws as usize,
            summary: rates::summary3(&rows, false, psi),
            correlations: corr,
            version: env!("CARGO_PKG_VERSION"),
        };
        emit(&ser(&out)?, Some(path))?;
    }
    emit(&text, a.out.as_deref())
}
