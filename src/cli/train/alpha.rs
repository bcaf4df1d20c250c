//! `mforacle train --alpha A`: the α-scaled network with trainable a and/or w, from the
//! symmetric doubling start (f_0 = 0), learning rate ηN/α², time t = steps·η (rescaled by
//! α^{−2}); see [`crate::dynamics::lazy`]. Writes one CSV row per recorded step, width and draw:
//! `t,width,draw,alpha,risk,kernel_risk,kernel_risk_bound,kernel_risk_bound_kind`, with R_K(t) the kernel-flow risk of
//! the infinite-width limit (`langevin kernel`, its bound an estimate).

use super::{Args, CliError};
use crate::activation::Spec;
use crate::conventions::usage;
use crate::dynamics::lazy::LazyRun;
use crate::langevin::kernel::Trained;
use crate::meanfield::Model;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TrainedArg {
    A,
    W,
    Aw,
}

/// The flags of the α-scaled mode.
#[derive(clap::Args, Debug)]
pub struct AlphaArgs {
    /// α-scaled network f = (α/N) Σ a_i σ(<w_i, x>), a_i(0) = ±1 in symmetric pairs, learning
    /// rate ηN/α² (the kernel limit as α → ∞; see `langevin kernel`).
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: Option<f64>,
    /// With --alpha: the trained parameters (a, w or both).
    #[arg(long, value_enum, default_value_t = TrainedArg::Aw, requires = "alpha")]
    pub trained: TrainedArg,
}

pub fn run(args: &Args, alpha: f64) -> Result<(), CliError> {
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(usage(format!(
            "--alpha {alpha}: must be a finite number > 0"
        )));
    }
    if args.linearised || args.resume || args.noise_variance != 0.0 {
        return Err(usage(
            "--alpha runs the alpha-scaled network alone: --linearised, --resume and --noise-variance do not apply",
        ));
    }
    if args.d < 3 {
        return Err(usage(format!(
            "--d {}: the kernel limit needs d >= 3",
            args.d
        )));
    }
    if args.widths.is_empty() || args.widths.iter().any(|&n| n < 2 || n % 2 == 1) {
        return Err(usage(
            "--widths: with --alpha every width must be even and >= 2 (symmetric doubling start)",
        ));
    }
    if !(args.eta.is_finite() && args.eta > 0.0 && args.t_end.is_finite() && args.t_end > 0.0) {
        return Err(usage("--eta and --t-end must be positive finite numbers"));
    }
    let steps = (args.t_end / args.eta).round();
    if !(1.0..=1e7).contains(&steps) || args.draws == 0 || args.record_every == 0 {
        return Err(usage(
            "--t-end/--eta must give between 1 and 10^7 steps, --draws and --record-every >= 1",
        ));
    }
    let steps = steps as usize;
    let n_max = *args.widths.iter().max().expect("nonempty");
    crate::memory::check(
        "train --alpha",
        crate::memory::Bytes::items(n_max, 8 * (args.d as u64 + 2)).times(4),
    )
    .map_err(CliError::Usage)?;
    let student = Spec::parse(&args.pair.student).map_err(|e| usage(e.to_string()))?;
    let teacher = Spec::parse(args.pair.teacher_source()).map_err(|e| usage(e.to_string()))?;
    let trained = match args.alpha.trained {
        TrainedArg::A => Trained::A,
        TrainedArg::W => Trained::W,
        TrainedArg::Aw => Trained::Aw,
    };
    let lim = crate::langevin::kernel::build(
        &student,
        &teacher,
        args.d,
        args.degree
            .clamp(2, crate::meanfield::model::MAX_SERIES_DEGREE - 2),
        args.loss_scale,
        trained,
        2000,
        1e-10,
    )
    .map_err(|e| usage(e.to_string()))?;
    let model = Model::new(
        &student,
        &teacher,
        args.d,
        args.degree
            .clamp(2, crate::meanfield::model::MAX_SERIES_DEGREE - 2),
        20,
        args.loss_scale,
        0.0,
    )
    .map_err(|e| usage(e.to_string()))?;
    let mut csv = String::from(
        "t,width,draw,alpha,risk,kernel_risk,kernel_risk_bound,kernel_risk_bound_kind\n",
    );
    for &n in &args.widths {
        let run = LazyRun::new(&model, n, alpha, args.eta, trained);
        for draw in 0..args.draws {
            for (t, r) in run.risk_curve(args.seed, draw as u64, steps, args.record_every) {
                let k = lim.risk(t, 0.0);
                csv += &format!(
                    "{t},{n},{draw},{alpha},{r:.16e},{:.16e},{:.3e},{}\n",
                    k.value,
                    k.bound,
                    k.kind.as_str()
                );
            }
        }
    }
    match &args.out {
        None => super::super::emit(&csv, None),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::Failure(format!("cannot create {}: {e}", dir.display())))?;
            super::super::emit(&csv, Some(&dir.join("train_alpha.csv")))
        }
    }
}
