//! The population oracle: exact population loss, gradients, mean-field velocity and one
//! projected-GD step of a one-hidden-layer network against a Gaussian (multi-)index teacher,
//! in arbitrary precision (rug/MPFR), every number with a rigorous error bound.
//!
//! Conventions are those of docs/conventions.md §1–§4: x ~ N(0, I_d), student
//! f(x) = Σ_i a_i σ(⟨w_i, x⟩) with unit w_i, teacher y = Σ_r σ*_r(⟨θ_r, x⟩) + ε with unit θ_r
//! and independent noise of variance ν², loss L = E[(f − y)²] (no ½; [`LossScale::Half`] gives
//! ½E[(f − y)²] and halves every gradient and the velocity), learning rate ηN, one step is
//! mean-field time η.
//!
//! ## Formulas
//! With s_ij = ⟨w_i, w_j⟩ (s_ii = 1 exactly), t_ir = ⟨w_i, θ_r⟩, u_rr' = ⟨θ_r, θ_r'⟩,
//! κ = κ_{σ,σ}, ψ_r = κ_{σ,σ*_r}, P_i = I − w_i w_iᵀ, and the dual kernels of
//! [`crate::kernel`]:
//! - loss L = Σ_ij a_i a_j κ(s_ij) − 2 Σ_i a_i Σ_r ψ_r(t_ir) + Σ_rr' κ_{σ*_r,σ*_r'}(u_rr') + ν²;
//! - the x-gradient of the true loss at unit w_i, G_i = 2a_i E[(f − y) σ'(⟨w_i,x⟩) x], split as
//!   G_i = g_i + ρ_i w_i with
//!   - tangent g_i = P_i G_i = 2a_i P_i [Σ_{j≠i} a_j κ'(s_ij) w_j − Σ_r ψ_r'(t_ir) θ_r]
//!     (the j = i term is killed by P_i),
//!   - radial ρ_i = ⟨w_i, G_i⟩ = 2a_i [Σ_j a_j κ_{zσ',σ}(s_ij) − Σ_r κ_{zσ',σ*_r}(t_ir)],
//!     j = i included (⟨w_i, x⟩σ'(⟨w_i, x⟩) is the function zσ' of one Gaussian coordinate;
//!     differentiating κ(⟨w_i,w_j⟩) off the sphere would give a wrong radial part, see
//!     proofs-notes/population.md §2);
//! - velocity v_i = 2P_i [Σ_r ψ_r'(t_ir) θ_r − Σ_j a_j κ'(s_ij) w_j], so that g_i = −a_i v_i
//!   exactly (both scales), and with a_j = 1/N the step w_i ← w_i − ηN g_i moves w_i by η v_i.
//!
//! Updates ([`Update`], learning rate ηN): `Euclidean` w ← (w − ηN(g + ρw))/‖·‖ (the primary
//! paper's code), `Tangent` w ← (w − ηN g)/‖·‖, `Geodesic` w ← cos(φ)w − ηN·sinc(φ)·g with
//! φ = ηN‖g‖ (the exponential map, renormalised against rounding drift). All three move w
//! along the same great circle; Euclidean and Tangent differ at O(η²), Tangent and Geodesic
//! at O(η³) (proofs-notes/population.md §4).
//!
//! ## Inputs
//! Rows of W and every θ_r must be unit vectors within 1e−12 (|‖row‖ − 1| ≤ 1e−12), finite, of
//! the same length d ≥ 2; N ≥ 1. They are then normalised: the oracle's truth is the population
//! quantity at the exactly normalised rows w̄_i = w_i/‖w_i‖, θ̄_r = θ_r/‖θ_r‖, with the given
//! a_i, ν² and η taken as exact.
//!
//! ## Accuracy contract
//! Every returned value comes with `abs_error_bound` ≥ |value − truth|. All arithmetic after
//! the kernels is ball arithmetic (midpoint at the working precision p = bits(digits) + 64,
//! radius rounded upward), so the bound accounts for: the normalisation of the rows, the
//! rounding of every overlap s (a ball of radius δ of order d·2^{−p}, clamped to [−1, 1];
//! exactly ±1 for identical or opposite input rows and s_ii), the kernels' own bounds
//! (coefficient errors, series tails, closed-form rounding; [`crate::kernel::series`]), the
//! effect of the overlap's radius on a kernel value, and every later rounding. The effect of
//! δ on κ^{(r)} is δ·sup|κ^{(r+1)}| over the ball, with the sup bounded by, in order:
//! a finite sum when one side is a polynomial (its expansion stops at its degree), the
//! Cauchy–Schwarz bound √(E[σ^{(r+1)}²]E[τ^{(r+1)}²]) when both derivatives are in L², closed
//! bounds for relu–relu and erf–erf, and for |s| + δ < 1 the geometric bound
//! √(Eσ² Eτ²)·(r+1)!/(1 − |s| − δ)^{r+2}; for relu–relu κ' it is the Hölder modulus
//! |acos ξ − acos s|/(2π) ≤ √(δ/2)/2. The bound is therefore *conditional* only in the sense
//! of [`crate::kernel`]: on the coefficient tables' and the norms' bounds being correct. When
//! no bound exists (a derivative of order r + 1 not in L² at |s| = 1 with a non-closed pair,
//! or a series tail that cannot be bounded) the call fails with [`PopulationError::Kernel`]
//! rather than return an unbounded number.
//!
//! How small the bounds are depends on the activations: polynomials (`he<k>` combinations)
//! give exact kernels and bounds far below 10^{−digits} (loss bound ~1e−47 at 30 digits);
//! relu–relu and erf–erf use closed forms; other pairs are truncated series whose tails are
//! bounded at `degree` (tanh coefficients decay slowly, c_100 ≈ 2e−7: tanh–tanh at degree 100
//! gives a loss bound ~1e−22 with overlaps ≤ 0.9, and worse as overlaps approach ±1). Values at
//! s = 1 of symmetric pairs use exact identities instead of the series:
//! κ_{σ,σ}(1) = E σ², κ'_{σ,σ}(1) = E σ'², κ_{zσ',σ}(1) = ½(E[(Zσ)²] − E σ²).
//!
//! Cost: 3N(N−1)/2 + 3NR kernel calls and O(N²d) ball operations per evaluation; at 30 digits,
//! N = 16, d = 64, one evaluation takes 35–130 ms (h-polynomials, relu, tanh at degree 100) on a
//! busy core, after a construction of < 1 ms (polynomials, and relu–relu, whose kernels are all
//! closed forms: no table is built) to < 1 s (tanh, enclosed tables and norms).
//!
//! ## API
//! [`Oracle::new`]`(student, teacher_specs, degree, digits)` precomputes the coefficient tables
//! of σ, z·σ' and every σ*_r that a series kernel reads, and the kernels' constants; [`Oracle::with_loss_scale`];
//! [`Oracle::evaluate`]`(a, w, teacher) -> `[`PopulationResult`] (loss, tangent gradient,
//! radial gradient, velocity, each a [`Bounded`] value); [`Oracle::step`]`(a, w, teacher, η,
//! update) -> `[`StepResult`] (new rows with a bound per entry). [`Teacher`] holds the ridge
//! terms (σ*_r, θ_r) and ν²; errors are [`PopulationError`], naming field and row.
//!
//! Layout: this file holds the types and the shared helpers; `setup.rs` builds the oracle
//! (tables, pair kernels, their constants), `eval.rs` evaluates (kernels at ball overlaps, the
//! formulas, the step), `ball.rs` is the ball arithmetic.
//!
//! Proofs-note: `proofs-notes/population.md`. Tests: `tests/population.rs`.

// Index loops mirror the formulas (i, j over neurons, r over teacher terms, k over coordinates).
#![allow(clippy::needless_range_loop)]

use crate::activation::{Expr, Func, Spec};
use crate::conventions::BoundKind;
use crate::kernel::{ClosedKernel, KernelError, Side};
use rug::Float;

/// Precision of every radius (rounded upward).
const RB: u32 = 64;

pub use crate::conventions::{LossScale, Update};

/// The teacher y = Σ_r σ*_r(⟨θ_r, x⟩) + ε, Var ε = ν². The single-index case is one term.
#[derive(Clone, Debug)]
pub struct Teacher {
    /// (σ*_r, θ_r), θ_r unit.
    pub terms: Vec<(Spec, Vec<Float>)>,
    /// ν² ≥ 0.
    pub noise_variance: Float,
}

impl Teacher {
    /// σ*(⟨θ, x⟩), noise-free.
    pub fn single_index(spec: Spec, theta: Vec<Float>) -> Teacher {
        Teacher {
            terms: vec![(spec, theta)],
            noise_variance: Float::new(53),
        }
    }

    /// The activations σ*_r, in order.
    pub fn specs(&self) -> Vec<Spec> {
        self.terms.iter().map(|(s, _)| s.clone()).collect()
    }
}

/// A value with a bound on |value − truth|.
#[derive(Clone, Debug)]
pub struct Bounded {
    pub value: Float,
    pub abs_error_bound: Float,
}

/// The result of [`Oracle::evaluate`].
#[derive(Clone, Debug)]
pub struct PopulationResult {
    /// The kind of the loss's bound; the gradients' and the velocity's is `gradient_kind`.
    /// Both come from the kernels they use ([`Oracle::loss_kind`], [`Oracle::gradient_kind`]).
    pub loss_kind: BoundKind,
    pub gradient_kind: BoundKind,
    pub loss: Bounded,
    /// N rows of d: g_i = P_i G_i.
    pub tangent_gradient: Vec<Vec<Bounded>>,
    /// N: ρ_i = ⟨w_i, G_i⟩.
    pub radial_gradient: Vec<Bounded>,
    /// N rows of d: v_i (g_i = −a_i v_i).
    pub velocity: Vec<Vec<Bounded>>,
}

/// The result of [`Oracle::step`]: the new unit rows and a bound per entry.
#[derive(Clone, Debug)]
pub struct StepResult {
    /// The kind of the bounds (that of the gradients).
    pub kind: BoundKind,
    pub w: Vec<Vec<Float>>,
    pub abs_error_bound: Vec<Vec<Float>>,
}

/// Why the oracle cannot give a number; input errors name the field and the row.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PopulationError {
    #[error("N = 0: the network has no neurons")]
    NoNeurons,
    #[error("d = {0}: the dimension must be at least 2")]
    SmallDimension(usize),
    #[error("field `{field}` row {row} has {got} entries, expected {expected}")]
    Dimension {
        field: &'static str,
        row: usize,
        expected: usize,
        got: usize,
    },
    #[error("field `{field}` has a NaN or infinite entry at row {row}")]
    NotFinite { field: &'static str, row: usize },
    #[error("field `{field}` row {row} is not a unit vector: |‖row‖ − 1| = {deviation} > 1e-12")]
    NotUnit {
        field: &'static str,
        row: usize,
        deviation: String,
    },
    #[error("field `{field}` must be nonnegative")]
    Negative { field: &'static str },
    #[error("teacher term {index} is {got:?}, but the oracle was built for {expected:?}")]
    TeacherMismatch {
        index: usize,
        expected: String,
        got: String,
    },
    #[error("the student activation {0:?} has no derivative (it jumps): gradients are undefined")]
    NoDerivative(String),
    #[error("--degree {0} is too small: the radial kernels need degree ≥ 2")]
    Degree(usize),
    #[error("{what}: {source}")]
    Kernel { what: String, source: KernelError },
    #[error("{0}")]
    Unresolved(String),
    #[error("{0}")]
    Coefficients(String),
}

mod ball;
use ball::*;

// ---------------------------------------------------------------------------------------------
// Kernels.

/// Which side a kernel series reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SideId {
    Sigma,
    ZdSigma,
    Teacher(usize),
}

#[derive(Clone, Debug)]
enum How {
    Closed(ClosedKernel),
    Series(SideId, SideId),
}

/// One dual kernel κ_{A,B} as used by the formulas, with what is needed to bound the effect of
/// an overlap's rounding.
#[derive(Clone, Debug)]
struct PairKernel {
    name: String,
    how: How,
    /// Upper bounds on sup_{|s|≤1} |κ^{(q)}(s)|, q = 0, 1, 2 (None: not known to be finite).
    sup: [Option<Float>; 3],
    /// Upper bound on √(E A² E B²) (series pairs), for the geometric bound inside (−1, 1).
    sqrt_n0: Option<Float>,
    /// (value, bound) of κ^{(r)}(1), r = 0, 1, from an exact identity.
    at_one: [Option<(Float, Float)>; 2],
    /// The kind of every bound above and of the kernel values: `Enclosure` for a closed form;
    /// for a series, the weakest kind of the two sides' coefficients and norms, rounded (the
    /// `at_one` values are sides' norms, or κ_{zσ',σ}(1), whose kind is joined in by
    /// `Oracle::new`).
    kind: BoundKind,
}

/// A side with what the oracle knows about it beyond the table.
#[derive(Clone)]
struct SideInfo {
    side: Side,
    /// Degree when the function is a polynomial (its expansion stops there).
    poly: Option<usize>,
}

/// The population oracle for one student activation and a list of teacher activations.
pub struct Oracle {
    student: Spec,
    teacher_specs: Vec<Spec>,
    digits: u32,
    prec: u32,
    scale: LossScale,
    /// The sides (tables and norms) are built only when a series kernel reads them: None when
    /// every kernel that would read the side has a closed form (relu against relu).
    sigma: Option<SideInfo>,
    /// None when z σ'(z) = σ(z) (relu): the σ side is used.
    zdsigma: Option<SideInfo>,
    teachers: Vec<Option<SideInfo>>,
    kk: PairKernel,
    kr: PairKernel,
    psi: Vec<PairKernel>,
    psir: Vec<PairKernel>,
    tt: Vec<Vec<PairKernel>>,
}

fn is_relu(s: &Spec) -> bool {
    s.expr == Expr::Call(Func::Relu, Box::new(Expr::Z))
}

fn poly_degree(s: &Spec) -> Option<usize> {
    s.as_polynomial().map(|c| c.len().saturating_sub(1))
}

fn kerr(what: String) -> impl FnOnce(KernelError) -> PopulationError {
    move |source| PopulationError::Kernel { what, source }
}

/// k(k−1)…(k−q+1).
fn falling(k: usize, q: usize) -> u64 {
    (0..q).map(|i| k.saturating_sub(i) as u64).product()
}

/// (value + bound), rounded up, of a norm E f² as a 64-bit upper bound.
fn norm_up(n: &Option<(Float, Float)>) -> Option<Float> {
    n.as_ref().map(|(v, b)| up_add(&abs_up(v), b))
}

/// Safety factor 1 + 2^{−40} for bounds computed with round-to-nearest at ≥ 64 bits through a
/// few hundred operations at most.
fn inflate(x: Float) -> Float {
    let e = Float::with_val(RB, &x >> 40u32);
    up_add(&x, &e)
}

struct Computed {
    w: Vec<Vec<Ball>>,
    loss: Ball,
    tangent: Vec<Vec<Ball>>,
    radial: Vec<Ball>,
    velocity: Vec<Vec<Ball>>,
}

mod eval;
mod setup;
