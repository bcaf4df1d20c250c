//! The command line: argument parsing, dispatch and exit codes.
//!
//! Exit codes: 0 success; 2 usage errors (bad flags, malformed specs, values out of range,
//! unreadable or malformed input files); 1 other failures (an output file that cannot be
//! written). Every error is one line on stderr; nothing is written to an output file unless
//! the whole result is ready (files are written atomically).

mod bench;
mod coeffs;
mod concordance;
mod deep;
mod golden;
mod kernel;
mod langevin;
mod meanfield;
mod merge;
mod pair;
mod population;
mod reproduce;
mod train;
mod two_timescale;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// A failure of a command: the crate's one error type; its exit code is decided here.
pub use crate::conventions::Error as CliError;

impl crate::conventions::Error {
    /// The command line's exit code: 2 for bad input, 1 for any other failure.
    pub fn code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failure(_) => 1,
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "mforacle",
    version,
    about = "Verified numbers for the mean-field dynamics of one-hidden-layer networks on Gaussian single-index models",
    long_about = crate::conventions::SUMMARY
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Csv,
    Table,
}

use crate::conventions::LossScale;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Hermite coefficients c_0..c_K of an activation, each with an error bound.
    Coeffs {
        /// The activation, e.g. tanh, 'relu(z-0.25)', '5*(z^2*exp(-z^2)-sqrt(3)/9)'.
        spec: String,
        /// Largest degree K.
        #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
        degree: usize,
        /// Significant digits of every coefficient.
        #[arg(long, default_value_t = 40, allow_negative_numbers = true)]
        digits: u32,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also print exact values (as sums of rationals times square roots) where known.
        #[arg(long)]
        exact: bool,
        /// Proven enclosures (bound kind `enclosure`) for the analytic and piecewise-analytic
        /// specs the enclosure theorem covers; other specs keep their `estimate` bounds.
        #[arg(long)]
        enclose: bool,
        /// Write to this file (atomically) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Dual kernel κ(s) = Σ c_k(σ) c_k(τ) s^k and its first two derivatives, with bounds.
    Kernel {
        /// σ
        spec: String,
        /// τ (default: σ)
        spec2: Option<String>,
        /// Overlaps s in [-1, 1], comma separated (exact decimals).
        #[arg(
            long,
            value_delimiter = ',',
            allow_hyphen_values = true,
            required = true
        )]
        s: Vec<String>,
        /// Significant digits asked of every value.
        #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
        digits: u32,
        /// Degree of the series (the tail beyond it is bounded, not ignored).
        #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
        degree: usize,
        /// Norm-dependent kernel: the norms r[,r'] (exact decimals in (0, 100]; r' = r when
        /// omitted) of v and v', giving κ(r, r', ρ) = E[σ(<v,x>) τ(<v',x>)] at ρ = cos∠(v, v') =
        /// each --s, and its ρ-derivatives; computed as the unit kernel of σ(r·) and τ(r'·).
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        radii: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write to this file (atomically) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Exact population loss, gradients (tangent and radial) and velocity of a network against
    /// a single-index teacher: the oracle (arbitrary precision, default) or the fast f64 path.
    Population {
        #[arg(long)]
        student: String,
        #[arg(long)]
        teacher: String,
        /// JSON {"theta": [...], "w": [[...], ...], "a": [...]} (a optional, default 1/N).
        #[arg(long, conflicts_with = "random")]
        weights: Option<PathBuf>,
        /// N,d: random unit rows (normalised Gaussians), theta = e_1, a = 1/N.
        #[arg(long)]
        random: Option<String>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The arbitrary-precision oracle (the default).
        #[arg(long, conflicts_with = "fast")]
        oracle: bool,
        /// The fast f64 path.
        #[arg(long)]
        fast: bool,
        /// Significant digits (oracle).
        #[arg(long, default_value_t = 30, allow_negative_numbers = true)]
        digits: u32,
        /// Degree of the kernel series (the oracle bounds the tail; the fast path truncates at
        /// min(K, 64) and reports the truncation bound of the loss).
        #[arg(long, default_value_t = 60, allow_negative_numbers = true)]
        degree: usize,
        #[arg(long, value_enum, default_value_t = LossScale::Full)]
        loss_scale: LossScale,
        /// Label-noise variance ν².
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        noise_variance: f64,
        /// Write to this file (atomically) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Writes golden files (inputs, oracle values, tolerances; JSON and .npy) of a suite for
    /// checking other backends.
    Golden {
        /// The suite (hermite, kernel, population, step, meanfield, concordance).
        #[arg(long)]
        suite: String,
        /// The directory to write (replaced if it is a golden directory).
        #[arg(long)]
        out: PathBuf,
    },
    /// Checks a backend's results (RESULTS_DIR/<case>/<quantity>.npy or results.json) against
    /// a suite: exit 1 if a quantity is out of tolerance, 2 if the results are malformed.
    Check {
        #[arg(long)]
        suite: String,
        /// RESULTS_DIR, laid out like the golden directory.
        results: PathBuf,
        /// Compare with this golden directory instead of recomputing the suite.
        #[arg(long)]
        golden: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Times the fast path on the standard cases (N = 4096, d ∈ {256, 1024} on 1 and 2
    /// threads; h_4 at N = 16384, d = 32, automatic route against the tiled one), each with the
    /// GEMM throughput measured in the same run on the same shape.
    Bench {
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
    /// Finite-width projected GD on the exact population loss, every neuron coupled to its
    /// ideal mean-field particle (continuous and discrete), with the propagation-of-chaos
    /// diagnostics of docs/conventions.md §4 and §7.
    Train(train::Args),
    /// The exact reduced mean-field flow for a uniform start (docs/conventions.md §4) in f64: loss, risk,
    /// E|α|, escaped fraction, quantiles, tracked particles and escape times, with the
    /// node-convergence difference measured on request.
    Meanfield(meanfield::Args),
    /// The self-concordance constants of docs/conventions.md §5 (local Hessians R1, R2, ∫‖H‖, growth and
    /// Grönwall factors) along the reduced flow for a list of d, with fits in d and an optional
    /// certified bound on sup R2.
    Concordance(concordance::Args),
    /// Runs a recipe of the primary paper's experiments (default: poc-he4-d32-quick) and writes
    /// its data (CSV), figures (SVG, PNG) and manifest; `--shard i/n` runs a part for `merge`.
    Reproduce(reproduce::Args),
    /// Noisy mean-field (mean-field Langevin) dynamics on the sphere: `langevin gibbs` (the
    /// unique Gibbs fixed point of the free energy L + KL/β, f64 or oracle), `langevin flow` (the
    /// reduced flow from the uniform start by two discretisations) and `langevin kernel` (the
    /// kernel limit: tangent-kernel spectrum, kernel-flow risk, kernel ridge regression).
    Langevin(langevin::Args),
    /// The deep mean-field model (L = 2, 3 inner layers, erf units): `limit` (infinite-width
    /// risk and reduced state), `eval` (finite-N risk and velocities, f64 or oracle) and `train`
    /// (the finite-width flow coupled to ideal particles).
    Deep(deep::Args),
    /// Joins the outputs of `reproduce --shard i/n` (i = 0..n) into one directory, byte-identical
    /// to an unsharded run.
    Merge(merge::Args),
    /// Two-timescale mean-field Langevin with a kernel-ridge readout (Takakura–Suzuki):
    /// `eval` gives the objective, readout, degrees of freedom, alignments and drifts on given
    /// data and particles (f64, or the MPFR oracle with --oracle).
    #[command(name = "two-timescale")]
    TwoTimescale(two_timescale::Args),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let (code, error) = execute(std::env::args_os());
    if let Some(line) = error {
        eprintln!("{line}");
    }
    code
}

thread_local! {
    /// Standard output of [`run_captured`] while it runs on this thread (`None`: the real one).
    static CAPTURED: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs the command line in-process on `args` (without the program name) and returns
/// `(exit code, standard output, error line)`: the same bytes and exit code as the binary,
/// with what `emit` would print to standard output collected instead (files given with
/// `--out` are still written). The error line is the binary's one-line message (with its
/// newline), empty on success; progress notes that some commands print to standard error go
/// to the real standard error. Used by the Python package.
pub fn run_captured<I, T>(args: I) -> (i32, String, String)
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let argv = std::iter::once(std::ffi::OsString::from("mforacle"))
        .chain(args.into_iter().map(Into::into));
    CAPTURED.with(|c| *c.borrow_mut() = Some(String::new()));
    let (code, error) = execute(argv);
    let out = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (code, out, error.map(|l| l + "\n").unwrap_or_default())
}

/// Parses and runs; returns the exit code and the one-line error message, if any.
fn execute<I, T>(args: I) -> (i32, Option<String>)
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            if !e.use_stderr() {
                // --help and --version
                if CAPTURED.with(|c| c.borrow().is_some()) {
                    let _ = emit(&e.to_string(), None);
                } else {
                    let _ = e.print();
                }
                return (0, None);
            }
            // One line: clap's first line ("error: ..."), without the usage block.
            let text = e.to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("usage error");
            return (
                2,
                Some(format!("mforacle: {}", first.trim_start_matches("error: "))),
            );
        }
    };
    match run(cli) {
        Ok(()) => (0, None),
        Err(e) => (e.code(), Some(format!("mforacle: {}", e.message()))),
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Coeffs {
            spec,
            degree,
            digits,
            format,
            exact,
            enclose,
            out,
        } => coeffs::run(
            &spec,
            degree,
            digits,
            format,
            exact,
            enclose,
            out.as_deref(),
        ),
        Command::Kernel {
            spec,
            spec2,
            s,
            digits,
            degree,
            radii,
            format,
            out,
        } => kernel::run(
            &spec,
            spec2.as_deref(),
            &s,
            &radii,
            digits,
            degree,
            format,
            out.as_deref(),
        ),
        Command::Bench { format } => bench::run(format),
        Command::Train(args) => train::run(args),
        Command::Meanfield(args) => meanfield::run(args),
        Command::Concordance(args) => concordance::run(args),
        Command::Reproduce(args) => reproduce::run(args),
        Command::Merge(args) => merge::run(args),
        Command::TwoTimescale(args) => two_timescale::run(args),
        Command::Langevin(args) => langevin::run(args),
        Command::Deep(args) => deep::run(args),
        Command::Golden { suite, out } => golden::run_golden(&suite, &out),
        Command::Check {
            suite,
            results,
            golden,
            format,
        } => golden::run_check(&suite, &results, golden.as_deref(), format),
        Command::Population {
            student,
            teacher,
            weights,
            random,
            seed,
            oracle: _,
            fast,
            digits,
            degree,
            loss_scale,
            noise_variance,
            out,
        } => population::run(population::Args {
            student: &student,
            teacher: &teacher,
            weights: weights.as_deref(),
            random: random.as_deref(),
            seed,
            fast,
            digits,
            degree,
            loss_scale,
            noise_variance,
            out: out.as_deref(),
        }),
    }
}

/// Pretty JSON with a final newline; a serialisation failure (e.g. a non-finite number) is a
/// `Failure` ("JSON: ...").
pub(crate) use crate::recipes::manifest::json;

/// Prints to stdout or writes `out` atomically.
pub(crate) fn emit(text: &str, out: Option<&std::path::Path>) -> Result<(), CliError> {
    match out {
        None if CAPTURED.with(|c| c.borrow().is_some()) => {
            CAPTURED.with(|c| c.borrow_mut().as_mut().map(|s| s.push_str(text)));
            Ok(())
        }
        None => {
            use std::io::Write;
            let mut so = std::io::stdout().lock();
            so.write_all(text.as_bytes())
                .and_then(|_| so.flush())
                .map_err(|e| CliError::Failure(format!("cannot write to standard output: {e}")))
        }
        Some(p) => crate::output::write_atomic(p, text.as_bytes())
            .map_err(|e| CliError::Failure(format!("cannot write {}: {e}", p.display()))),
    }
}
