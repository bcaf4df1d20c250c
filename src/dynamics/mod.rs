//! # Finite-width training on the exact population loss, with coupled ideal particles
//!
//! docs/conventions.md §3, §4 ("Coupled ideal particles") and §7. For every draw r (of `draws`), one
//! initial sample of the largest width N_max is drawn uniformly on S^{d−1} (ChaCha8, key
//! `seed`, stream r; [`crate::sampling`]); the network of width N is its first N neurons, so
//! widths are nested within a draw. θ = e_1, a_i = 1/N. Every network is trained by projected
//! GD on the exact population loss (the fast path, [`crate::fast`]), learning rate ηN, update
//! rule as chosen (default: the primary paper's Euclidean step then normalise); mean-field time
//! is t = steps·η.
//!
//! Neuron i starts at w_i(0) = α_i(0)θ + β_i(0)u_i. Its continuous ideal particle is
//! w̄_i(t) = cos φ̄_i(t) θ + sin φ̄_i(t) u_i, with φ̄_i following the exact reduced mean-field
//! flow (a test particle of [`crate::meanfield::flow`], driven by the flow's nodes, not by the
//! network); its discrete ideal particle follows the discrete mean-field map with the same η
//! and update rule. Gaps Δ_t(i) = w_i(t) − w̄_i(t).
//!
//! Per recorded step and per (width, draw), [`Row`]: the network's loss, the mean-field loss,
//! N·(mean_i ‖Δ(i)‖)², mean_i N‖Δ(i)‖², max_i √N‖Δ(i)‖, N·E_x(f_N − f_MF)² in closed form
//! (docs/conventions.md §4: (1/N²)Σ_ij κ(s_ij) − (2/N)Σ_i E[κ(α_iα' + β_iβ'z)] + E[κ(αα' + ββ'z)]),
//! and the same gap statistics against the discrete ideal particles.
//!
//! Accuracy contract: the network's numbers are those of the fast path (a-priori rounding
//! bound, [`crate::fast::error_bound`], plus the kernels' series truncation, zero for
//! polynomial activations); the ideal particles and mean-field numbers are those of the f64
//! flow at its tolerance and node layout. N·E_x(f_N − f_MF)² is a difference of O(1) terms
//! scaled by N: its rounding error is about N·1e−16 relative to the terms.
//!
//! With [`Run::with_linearised`] (`train --linearised`), two linear recursions ride along
//! the discrete ideal particles on the training grid ([`linear`]): the local one (the local
//! Hessian of the mean-field law alone) and the full one (the exact linearisation of the
//! training step at the ideal positions); [`Row::linear`] holds their columns.
//!
//! Determinism and checkpoints: every quantity is a deterministic function of the
//! configuration (the fast path and the flow are bit-identical for any thread count), and the
//! whole state at a step boundary (the weights of every network, both flows' states, the rows
//! so far) is what [`checkpoint`] saves; a resumed run continues to the same bits.

pub mod checkpoint;
mod ideal;
pub mod init;
pub mod lazy;
pub mod linear;
pub mod noise;
pub mod noisy_ideal;
pub mod noisy_run;
pub mod ziggurat;

use crate::activation::Spec;
use crate::fast;
use crate::meanfield::Model;
use crate::population::LossScale;
pub use ideal::Ideal;
pub use linear::{LinearColumns, LinearGaps, LocalStep};

/// Everything that defines a training run (and must match on `--resume`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Config {
    pub student: String,
    pub teacher: String,
    pub d: usize,
    /// Strictly increasing, all ≥ 1.
    pub widths: Vec<usize>,
    #[serde(serialize_with = "crate::output::finite")]
    pub eta: f64,
    #[serde(serialize_with = "crate::output::finite")]
    pub t_end: f64,
    pub draws: usize,
    pub seed: u64,
    /// "euclidean", "tangent" or "geodesic".
    pub update: String,
    /// "full" or "half".
    pub loss_scale: String,
    #[serde(serialize_with = "crate::output::finite")]
    pub noise_variance: f64,
    /// Series degree of non-polynomial kernels.
    pub degree: usize,
    /// Record a row every this many steps (and at the last step).
    pub record_every: usize,
    /// Record overlap and gap histograms every this many steps (and at the last step).
    pub histogram_every: usize,
    /// Panels per side of the flow's node layout.
    pub panels: usize,
    #[serde(serialize_with = "crate::output::finite")]
    pub rtol: f64,
    /// "uniform" (i.i.d. uniform on the sphere, the paper's) or "stratified" (overlaps at
    /// stratified quantile levels of the initial law, directions ⊥ θ uniform; see [`init`]).
    pub init: String,
}

use crate::conventions::usage;
/// Why a run cannot start (the crate's one error type).
pub use crate::conventions::Error as TrainError;

impl Config {
    /// Checks ranges; returns the parsed specs, the update rule and the loss scale.
    pub fn validate(&self) -> Result<(Spec, Spec, fast::Update, LossScale), TrainError> {
        let student = Spec::parse(&self.student).map_err(|e| usage(e.to_string()))?;
        let teacher = Spec::parse(&self.teacher).map_err(|e| usage(e.to_string()))?;
        if self.d < 3 {
            return Err(usage(format!(
                "--d {}: the mean-field reduction needs d >= 3",
                self.d
            )));
        }
        if self.widths.is_empty() || self.widths[0] == 0 {
            return Err(usage("--widths: every width must be at least 1"));
        }
        if self.widths.windows(2).any(|w| w[1] <= w[0]) {
            return Err(usage(
                "--widths must be strictly increasing (smaller networks are subsets of the largest)",
            ));
        }
        if !(self.eta.is_finite() && self.eta > 0.0) {
            return Err(usage("--eta must be a positive finite number"));
        }
        if !(self.t_end.is_finite() && self.t_end > 0.0) {
            return Err(usage("--t-end must be a positive finite number"));
        }
        if self.steps() == 0 || self.steps() > 10_000_000 {
            return Err(usage("--t-end/--eta must give between 1 and 10^7 steps"));
        }
        if self.draws == 0 {
            return Err(usage("--draws must be at least 1"));
        }
        if self.record_every == 0 || self.histogram_every == 0 {
            return Err(usage(
                "--record-every and --histogram-every must be at least 1",
            ));
        }
        if !(self.noise_variance.is_finite() && self.noise_variance >= 0.0) {
            return Err(usage("--noise-variance must be a finite number >= 0"));
        }
        if self.panels == 0 {
            return Err(usage("--panels must be at least 1"));
        }
        if !(self.rtol.is_finite() && self.rtol > 0.0 && self.rtol < 1.0) {
            return Err(usage("--rtol must be in (0, 1)"));
        }
        if !matches!(self.init.as_str(), "uniform" | "stratified") {
            return Err(usage(format!(
                "--init {}: expected uniform or stratified",
                self.init
            )));
        }
        let u = self.update.as_str();
        let update = fast::Update::from_name(u).ok_or_else(|| {
            usage(format!(
                "--update {u}: expected euclidean, tangent or geodesic"
            ))
        })?;
        let s = self.loss_scale.as_str();
        let scale = LossScale::from_name(s)
            .ok_or_else(|| usage(format!("--loss-scale {s}: expected full or half")))?;
        let n_max = *self.widths.last().expect("checked nonempty");
        if (n_max as u128) * (self.d as u128) * (self.draws as u128) > 1 << 31 {
            return Err(usage(
                "widths × d × draws is too large (more than 2^31 weights)",
            ));
        }
        Ok((student, teacher, update, scale))
    }

    /// Number of steps: t_end/η rounded to the nearest integer (at least 1).
    pub fn steps(&self) -> usize {
        let s = (self.t_end / self.eta).round();
        if s.is_finite() && (1.0..=1e12).contains(&s) {
            s as usize
        } else {
            0
        }
    }
}

/// One recorded step of one network.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub width: usize,
    pub draw: usize,
    pub step: usize,
    pub t: f64,
    pub loss: f64,
    pub mf_loss: f64,
    pub n_mean_gap_sq: f64,
    pub mean_n_gap_sq: f64,
    pub max_sqrt_n_gap: f64,
    pub n_function_gap: f64,
    pub mf_loss_discrete: f64,
    pub n_mean_gap_sq_discrete: f64,
    pub mean_n_gap_sq_discrete: f64,
    pub max_sqrt_n_gap_discrete: f64,
    /// The linearised-gap columns (`--linearised` only; [`linear`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear: Option<LinearColumns>,
}

impl Row {
    /// The header without `--linearised`.
    pub const HEADER: &'static str = "width,draw,step,t,loss,mf_loss,n_mean_gap_sq,mean_n_gap_sq,max_sqrt_n_gap,n_function_gap,mf_loss_discrete,n_mean_gap_sq_discrete,mean_n_gap_sq_discrete,max_sqrt_n_gap_discrete";

    /// The header of a run with or without `--linearised` (the latter is [`Row::HEADER`]).
    pub fn header(linearised: bool) -> String {
        if linearised {
            format!("{},{}", Self::HEADER, LinearColumns::HEADER)
        } else {
            Self::HEADER.to_string()
        }
    }

    /// One CSV line; numbers in Rust's shortest round-trip exponent form.
    pub fn csv(&self) -> String {
        let base = format!(
            "{},{},{},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e},{:e}",
            self.width,
            self.draw,
            self.step,
            self.t,
            self.loss,
            self.mf_loss,
            self.n_mean_gap_sq,
            self.mean_n_gap_sq,
            self.max_sqrt_n_gap,
            self.n_function_gap,
            self.mf_loss_discrete,
            self.n_mean_gap_sq_discrete,
            self.mean_n_gap_sq_discrete,
            self.max_sqrt_n_gap_discrete
        );
        match &self.linear {
            None => base,
            Some(l) => format!(
                "{base},{:e},{:e},{:e},{:e}",
                l.lin_mean_n_gap_sq,
                l.lin_full_mean_n_gap_sq,
                l.lin_rel_error,
                l.lin_full_rel_error
            ),
        }
    }
}

/// Histogram rows: (width, draw, step, t, quantity, bin_lo, bin_hi, fraction).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistRow {
    pub width: usize,
    pub draw: usize,
    pub step: usize,
    pub t: f64,
    pub quantity: String,
    pub lo: f64,
    pub hi: f64,
    pub fraction: f64,
}

impl HistRow {
    pub const HEADER: &'static str = "width,draw,step,t,quantity,bin_lo,bin_hi,fraction";
    pub fn csv(&self) -> String {
        format!(
            "{},{},{},{:e},{},{:e},{:e},{:e}",
            self.width,
            self.draw,
            self.step,
            self.t,
            self.quantity,
            self.lo,
            self.hi,
            self.fraction
        )
    }
}

/// The full state at a step boundary.
#[derive(Clone, Debug)]
pub struct State {
    /// Next step to take (0 at the start).
    pub step: usize,
    /// networks[r][w]: draw r, width index w, N×d row-major.
    pub networks: Vec<Vec<Vec<f64>>>,
    pub ideal: Ideal,
    pub rows: Vec<Row>,
    pub hist: Vec<HistRow>,
    /// linear[r][w]: the linearised gaps (`--linearised` only).
    pub linear: Option<Vec<Vec<LinearGaps>>>,
}

/// The fixed data of a run: initial sample, kernels, problem template.
pub struct Run {
    pub config: Config,
    pub model: Model,
    pub update: fast::Update,
    /// initial[r]: N_max×d.
    pub initial: Vec<Vec<f64>>,
    /// β_i(0) = ‖w_i(0) − α_i(0)θ‖ per draw.
    beta0: Vec<Vec<f64>>,
    theta: Vec<f64>,
    kernels: [fast::Kernel; 4],
    constant: f64,
    psi: Vec<f64>,
    /// `Some` with `--linearised`.
    linear: Option<linear::Setup>,
}

/// Number of bins of every histogram.
pub const BINS: usize = 40;

impl Run {
    /// Validates the configuration, builds the kernels and draws the initial samples.
    pub fn new(config: Config) -> Result<Run, TrainError> {
        Run::with_linearised(config, false)
    }

    /// [`Run::new`], with the linearised gaps ([`linear`]) carried along when `linearised`.
    pub fn with_linearised(config: Config, linearised: bool) -> Result<Run, TrainError> {
        let (student, teacher, update, scale) = config.validate()?;
        let model = Model::new(
            &student,
            &teacher,
            config.d,
            config.degree,
            25,
            scale,
            config.noise_variance,
        )
        .map_err(|e| usage(e.to_string()))?;
        let d = config.d;
        let n_max = *config.widths.last().expect("validated");
        let mut initial = Vec::new();
        let mut beta0 = Vec::new();
        for r in 0..config.draws {
            let rows = if config.init == "stratified" {
                init::stratified(config.seed, r as u64, n_max, d)
                    .map_err(|e| TrainError::Failure(e.to_string()))?
            } else {
                crate::sampling::sphere_rows_stream(config.seed, r as u64, n_max, d)
            };
            beta0.push(
                rows.iter()
                    .map(|w| w[1..].iter().map(|x| x * x).sum::<f64>().sqrt())
                    .collect(),
            );
            initial.push(rows.into_iter().flatten().collect());
        }
        let mut theta = vec![0.0; d];
        theta[0] = 1.0;
        let ser = |k: &crate::meanfield::SeriesKernel| fast::Kernel::PowerSeries(k.to_f64());
        let kernels = [
            ser(&model.kappa),
            ser(&model.psi),
            ser(&model.kappa_radial),
            ser(&model.psi_radial),
        ];
        let constant = model.teacher_norm.0.to_f64() + config.noise_variance;
        let psi = model.psi.to_f64();
        let linear = linearised.then(|| linear::Setup::new(&model));
        Ok(Run {
            config,
            model,
            update,
            initial,
            beta0,
            theta,
            kernels,
            constant,
            psi,
            linear,
        })
    }

    /// Whether the linearised gaps are carried.
    pub fn linearised(&self) -> bool {
        self.linear.is_some()
    }

    /// The state at step 0.
    pub fn start(&self) -> Result<State, TrainError> {
        let d = self.config.d;
        let networks = self
            .initial
            .iter()
            .map(|w0| {
                self.config
                    .widths
                    .iter()
                    .map(|&n| w0[..n * d].to_vec())
                    .collect()
            })
            .collect();
        let alpha0: Vec<f64> = self
            .initial
            .iter()
            .flat_map(|w0| w0.chunks(d).map(|w| w[0]).collect::<Vec<_>>())
            .collect();
        let ideal = Ideal::new(&self.model, &self.config, &alpha0)?;
        // δ_0 = Δ_0: zero in exact arithmetic, the rounding of w̄(0) = sin ϑ θ + cos ϑ u in f64.
        let linear = self.linear.as_ref().map(|_| {
            (0..self.config.draws)
                .map(|r| {
                    self.config
                        .widths
                        .iter()
                        .map(|&n| {
                            let wbar = self.ideal_positions(&ideal, r, n);
                            let gap: Vec<f64> = self.initial[r][..n * d]
                                .iter()
                                .zip(&wbar)
                                .map(|(a, b)| a - b)
                                .collect();
                            LinearGaps {
                                local: gap.clone(),
                                full: gap,
                            }
                        })
                        .collect()
                })
                .collect()
        });
        Ok(State {
            step: 0,
            networks,
            ideal,
            rows: Vec::new(),
            hist: Vec::new(),
            linear,
        })
    }

    /// The fast-path problem of the network `w` (N×d) with output weights `a`.
    /// The teacher direction θ (= e_1).
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    pub fn problem<'a>(&'a self, w: &'a [f64], a: &'a [f64]) -> fast::Problem<'a> {
        fast::Problem {
            w,
            n: a.len(),
            d: self.config.d,
            a,
            theta: &self.theta,
            kappa: self.kernels[0].clone(),
            psi: self.kernels[1].clone(),
            kappa_radial: self.kernels[2].clone(),
            psi_radial: self.kernels[3].clone(),
            constant: self.constant,
            loss_scale: self.model.loss_scale,
        }
    }

    /// Advances `state` by one step (recording first when the step is a recording step), or
    /// records the final row when the last step has been taken. Returns false when done.
    pub fn advance(&self, state: &mut State) -> Result<bool, TrainError> {
        let steps = self.config.steps();
        let k = state.step;
        if k > steps {
            return Ok(false);
        }
        let record = k % self.config.record_every == 0 || k == steps;
        let hist = k % self.config.histogram_every == 0 || k == steps;
        let t = k as f64 * self.config.eta;
        let n_max = *self.config.widths.last().expect("validated");
        // The linearised gaps: the local steps of every ideal particle under the law at step k
        // (before the flows advance), and per network Φ_N(W̄_k) and DΦ_N(W̄_k)δ^full_k, completed
        // with W̄_{k+1} once the discrete flow has stepped.
        let local: Option<Vec<Vec<LocalStep>>> = match &self.linear {
            Some(setup) if k < steps => Some(
                (0..self.config.draws)
                    .map(|r| {
                        linear::local_steps(
                            setup,
                            state.ideal.discrete_flow(),
                            state.ideal.discrete_latitudes(r * n_max, n_max),
                            self.config.eta,
                            self.update,
                        )
                    })
                    .collect(),
            ),
            _ => None,
        };
        let mut pending: Vec<(usize, usize, Vec<f64>, Vec<f64>)> = Vec::new();
        for r in 0..self.config.draws {
            for (wi, &n) in self.config.widths.iter().enumerate() {
                let a = vec![1.0 / n as f64; n];
                let w = &state.networks[r][wi];
                let p = self.problem(w, &a);
                let last = k == steps;
                let need_all = record || self.update == fast::Update::Euclidean;
                let ev = if need_all {
                    fast::evaluate(&p, fast::Route::Auto)
                } else {
                    // velocity only: the loss is not needed on this step
                    fast::velocity(&p, fast::Route::Auto).map(|v| fast::Evaluation {
                        route: fast::Route::Auto,
                        loss: f64::NAN,
                        tangent_gradient: v.iter().map(|x| -x / n as f64).collect(),
                        radial_gradient: Vec::new(),
                        velocity: v,
                    })
                }
                .map_err(|e| TrainError::Failure(e.to_string()))?;
                if record || hist {
                    let off = r * n_max;
                    let cont = state.ideal.continuous_alpha(off, n);
                    let disc = state.ideal.discrete_alpha(off, n);
                    let gc = self.gaps(w, r, n, &cont);
                    let gd = self.gaps(w, r, n, &disc);
                    if record {
                        let mut row = self.row(&state.ideal, w, n, r, k, t, ev.loss, &gc, &gd);
                        if let Some(lin) = &state.linear {
                            let wbar = self.ideal_positions(&state.ideal, r, n);
                            row.linear = Some(linear::columns(w, &wbar, &lin[r][wi], n));
                        }
                        state.rows.push(row);
                    }
                    if hist {
                        self.histograms(&mut state.hist, w, n, r, k, t, &gc);
                    }
                }
                if let (Some(lin), false) = (&state.linear, last) {
                    let wbar = self.ideal_positions(&state.ideal, r, n);
                    let phi = self.step_from(&wbar, n)?;
                    let jvp = self.full_jvp(&wbar, &lin[r][wi].full, n)?;
                    pending.push((r, wi, phi, jvp));
                }
                if !last {
                    state.networks[r][wi] =
                        fast::apply_update(&p, &ev, self.config.eta, self.update);
                }
            }
        }
        if k < steps {
            state.ideal.advance(k + 1, self.config.eta)?;
        }
        if let (Some(lin), Some(local)) = (state.linear.as_mut(), local) {
            let d = self.config.d;
            for (r, wi, phi, jvp) in pending {
                let n = self.config.widths[wi];
                let next = self.ideal_positions(&state.ideal, r, n);
                let lat = state.ideal.discrete_latitudes(r * n_max, n);
                let gaps = &mut lin[r][wi];
                let mut loc = vec![0.0; n * d];
                for i in 0..n {
                    let s = i * d..(i + 1) * d;
                    linear::apply_local(
                        &local[r][i],
                        lat[i],
                        &self.initial[r][s.clone()],
                        self.beta0[r][i],
                        &gaps.local[s.clone()],
                        &mut loc[s],
                    );
                }
                for x in 0..n * d {
                    let source = phi[x] - next[x];
                    gaps.local[x] = loc[x] + source;
                    gaps.full[x] = jvp[x] + source;
                }
            }
        }
        state.step = k + 1;
        Ok(state.step <= steps)
    }

    /// ‖Δ(i)‖ for the first n neurons of draw r against ideal overlaps `alpha` (cos φ̄).
    fn gaps(&self, w: &[f64], r: usize, n: usize, phi: &[(f64, f64)]) -> Vec<f64> {
        let d = self.config.d;
        let w0 = &self.initial[r];
        (0..n)
            .map(|i| {
                let (ca, sb) = phi[i];
                let b0 = self.beta0[r][i];
                let wi = &w[i * d..(i + 1) * d];
                let mut s = (wi[0] - ca) * (wi[0] - ca);
                // u_i = (w_i(0) − α_i(0)θ)/β_i(0); a neuron exactly at ±θ has no u: its ideal
                // particle stays at ±θ (β̄ = 0).
                let f = if b0 > 0.0 { sb / b0 } else { 0.0 };
                for l in 1..d {
                    let e = wi[l] - f * w0[i * d + l];
                    s += e * e;
                }
                s.sqrt()
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        ideal: &Ideal,
        w: &[f64],
        n: usize,
        r: usize,
        k: usize,
        t: f64,
        loss: f64,
        gc: &[f64],
        gd: &[f64],
    ) -> Row {
        let d = self.config.d;
        let nf = n as f64;
        let stats = |g: &[f64]| {
            let mean = g.iter().sum::<f64>() / nf;
            let mean_sq = g.iter().map(|x| x * x).sum::<f64>() / nf;
            let max = g.iter().fold(0.0f64, |m, &x| m.max(x));
            (nf * mean * mean, nf * mean_sq, nf.sqrt() * max)
        };
        let (a1, b1, c1) = stats(gc);
        let (a2, b2, c2) = stats(gd);
        // (1/N²)Σ_ij κ(s_ij) = L/scale − constant + 2Σ_i a_i ψ(α_i)
        let scale = self.model.scale();
        let horner = |c: &[f64], x: f64| c.iter().rev().fold(0.0f64, |acc, &ck| acc.mul_add(x, ck));
        let alphas: Vec<f64> = (0..n).map(|i| w[i * d]).collect();
        let psi_sum: f64 = alphas.iter().map(|&a| horner(&self.psi, a)).sum::<f64>() / nf;
        let ff = loss / scale - self.constant + 2.0 * psi_sum;
        let cross: f64 = ideal.kernel_means_at(&alphas).iter().sum::<f64>() / nf;
        let n_function_gap = nf * (ff - 2.0 * cross + ideal.self_kernel_mean());
        let _ = r;
        Row {
            width: n,
            draw: r,
            step: k,
            t,
            loss,
            mf_loss: ideal.continuous_loss(),
            n_mean_gap_sq: a1,
            mean_n_gap_sq: b1,
            max_sqrt_n_gap: c1,
            n_function_gap,
            mf_loss_discrete: ideal.discrete_loss(),
            n_mean_gap_sq_discrete: a2,
            mean_n_gap_sq_discrete: b2,
            max_sqrt_n_gap_discrete: c2,
            linear: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn histograms(
        &self,
        out: &mut Vec<HistRow>,
        w: &[f64],
        n: usize,
        r: usize,
        k: usize,
        t: f64,
        gaps: &[f64],
    ) {
        let d = self.config.d;
        let nf = n as f64;
        let mut push = |quantity: &str, values: &mut dyn Iterator<Item = f64>, lo: f64, hi: f64| {
            let mut counts = [0usize; BINS];
            for v in values {
                let b = (((v - lo) / (hi - lo)) * BINS as f64).floor();
                let b = if b.is_nan() {
                    0
                } else {
                    (b.max(0.0) as usize).min(BINS - 1)
                };
                counts[b] += 1;
            }
            for (b, c) in counts.iter().enumerate() {
                let width = (hi - lo) / BINS as f64;
                out.push(HistRow {
                    width: n,
                    draw: r,
                    step: k,
                    t,
                    quantity: quantity.to_string(),
                    lo: lo + b as f64 * width,
                    hi: lo + (b + 1) as f64 * width,
                    fraction: *c as f64 / nf,
                });
            }
        };
        push("overlap", &mut (0..n).map(|i| w[i * d]), -1.0, 1.0);
        let gmax = gaps.iter().fold(0.0f64, |m, &x| m.max(x));
        let top = if gmax > 0.0 { gmax } else { 1.0 };
        push("gap", &mut gaps.iter().copied(), 0.0, top);
        push(
            "sqrt_n_gap",
            &mut gaps.iter().map(|g| g * nf.sqrt()),
            0.0,
            top * nf.sqrt(),
        );
    }
}
