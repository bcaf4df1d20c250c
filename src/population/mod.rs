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
//! busy core, after a construction of < 1 ms (polynomials) to < 1 s (tanh, quadrature).
//!
//! ## API
//! [`Oracle::new`]`(student, teacher_specs, degree, digits)` precomputes the coefficient tables
//! of σ, z·σ' and every σ*_r and the kernels' constants; [`Oracle::with_loss_scale`];
//! [`Oracle::evaluate`]`(a, w, teacher) -> `[`PopulationResult`] (loss, tangent gradient,
//! radial gradient, velocity, each a [`Bounded`] value); [`Oracle::step`]`(a, w, teacher, η,
//! update) -> `[`StepResult`] (new rows with a bound per entry). [`Teacher`] holds the ridge
//! terms (σ*_r, θ_r) and ν²; errors are [`PopulationError`], naming field and row.
//!
//! Proofs-note: `proofs-notes/population.md`. Tests: `tests/population.rs`.

// Index loops mirror the formulas (i, j over neurons, r over teacher terms, k over coordinates).
#![allow(clippy::needless_range_loop)]

use crate::activation::{Expr, Func, Spec};
use crate::coeffs::{self, Coefficient, CoefficientTable};
use crate::kernel::{self, closed_kernel, closed_value, series, ClosedKernel, KernelError, Side};
use rug::float::{Constant, Round};
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
}

/// A side with what the oracle knows about it beyond the table.
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
    sigma: SideInfo,
    /// None when z σ'(z) = σ(z) (relu): the σ side is used.
    zdsigma: Option<SideInfo>,
    teachers: Vec<SideInfo>,
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

impl Oracle {
    /// Precomputes the coefficient tables (to `degree`, `digits` digits) of σ, z·σ' and every
    /// σ*_r, their derivative norms, and the kernels' constants. For a polynomial spec of degree
    /// m the degree is raised to m + 2 and its table is computed to 2·digits + 10 digits (cheap,
    /// exact coefficients), so that series against it carry no spurious tail.
    pub fn new(
        student: &Spec,
        teacher_specs: &[Spec],
        degree: usize,
        digits: u32,
    ) -> Result<Oracle, PopulationError> {
        if degree < 2 {
            return Err(PopulationError::Degree(degree));
        }
        let deriv = student
            .derivative()
            .ok_or_else(|| PopulationError::NoDerivative(student.source.clone()))?;
        let prec = coeffs::digits_to_bits(digits) + 64;
        let info = |spec: &Spec| -> Result<SideInfo, PopulationError> {
            let poly = poly_degree(spec);
            let (deg, dig) = match poly {
                Some(m) => (degree.max(m + 2), (2 * digits + 10).min(coeffs::MAX_DIGITS)),
                None => (degree, digits),
            };
            let side =
                Side::new(spec, deg, dig).map_err(kerr(format!("side of {:?}", spec.source)))?;
            Ok(SideInfo { side, poly })
        };
        let sigma = info(student)?;
        let teachers = teacher_specs
            .iter()
            .map(info)
            .collect::<Result<Vec<_>, _>>()?;
        let relu = is_relu(student);
        let zdsigma = if relu {
            None
        } else {
            Some(zdsigma_side(&deriv, &sigma, digits)?)
        };
        let mut o = Oracle {
            student: student.clone(),
            teacher_specs: teacher_specs.to_vec(),
            digits,
            prec,
            scale: LossScale::Full,
            sigma,
            zdsigma,
            teachers,
            kk: dummy_kernel(),
            kr: dummy_kernel(),
            psi: Vec::new(),
            psir: Vec::new(),
            tt: Vec::new(),
        };
        let zd = if relu { SideId::Sigma } else { SideId::ZdSigma };
        let sig_norm = o.sigma.side.norms[0].clone();
        let sig_norm1 = o.sigma.side.norms[1].clone();
        o.kk = o.pair(
            "κ_{σ,σ}",
            student,
            student,
            SideId::Sigma,
            SideId::Sigma,
            [sig_norm.clone(), sig_norm1.clone()],
        );
        let kr_one = if relu {
            [None, None]
        } else {
            [Some(radial_at_one(student, &o.sigma, digits, prec)?), None]
        };
        o.kr = o.pair(
            "κ_{zσ',σ}",
            if relu { student } else { &deriv },
            student,
            zd,
            SideId::Sigma,
            kr_one.clone(),
        );
        for (r, ts) in teacher_specs.iter().enumerate() {
            let same = ts.expr == student.expr;
            let one = if same {
                [sig_norm.clone(), sig_norm1.clone()]
            } else {
                [None, None]
            };
            let k = o.pair(
                &format!("ψ_{r} = κ_{{σ,σ*_{r}}}"),
                student,
                ts,
                SideId::Sigma,
                SideId::Teacher(r),
                one,
            );
            o.psi.push(k);
            let one = if same { kr_one.clone() } else { [None, None] };
            let lhs = if relu { student } else { &deriv };
            let k = o.pair(
                &format!("κ_{{zσ',σ*_{r}}}"),
                lhs,
                ts,
                zd,
                SideId::Teacher(r),
                one,
            );
            o.psir.push(k);
        }
        for (r, ts) in teacher_specs.iter().enumerate() {
            let mut row = Vec::new();
            for (q, tq) in teacher_specs.iter().enumerate() {
                let one = if ts.expr == tq.expr {
                    [
                        o.teachers[r].side.norms[0].clone(),
                        o.teachers[r].side.norms[1].clone(),
                    ]
                } else {
                    [None, None]
                };
                row.push(o.pair(
                    &format!("κ_{{σ*_{r},σ*_{q}}}"),
                    ts,
                    tq,
                    SideId::Teacher(r),
                    SideId::Teacher(q),
                    one,
                ));
            }
            o.tt.push(row);
        }
        Ok(o)
    }

    /// The same oracle with another loss scale.
    pub fn with_loss_scale(mut self, scale: LossScale) -> Oracle {
        self.scale = scale;
        self
    }

    /// The working precision in bits (digits_to_bits(digits) + 64).
    pub fn precision(&self) -> u32 {
        self.prec
    }

    /// The requested number of digits.
    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// The student activation.
    pub fn student(&self) -> &Spec {
        &self.student
    }

    fn side(&self, id: SideId) -> &SideInfo {
        match id {
            SideId::Sigma => &self.sigma,
            SideId::ZdSigma => self.zdsigma.as_ref().unwrap_or(&self.sigma),
            SideId::Teacher(r) => &self.teachers[r],
        }
    }

    /// Builds one pair kernel: closed form when the kernel module knows one for (a_spec,
    /// b_spec) — `a_spec` is σ' for a z·σ' side, which never has one, except for relu where
    /// z·σ' = σ — otherwise the series of the two sides.
    fn pair(
        &self,
        name: &str,
        a_spec: &Spec,
        b_spec: &Spec,
        a: SideId,
        b: SideId,
        at_one: [Option<(Float, Float)>; 2],
    ) -> PairKernel {
        let prec = self.prec;
        let closed = if a == SideId::ZdSigma {
            None
        } else {
            closed_kernel(a_spec, b_spec)
        };
        if let Some(ck) = closed {
            let sup = closed_sups(&ck, prec);
            return PairKernel {
                name: name.into(),
                how: How::Closed(ck),
                sup,
                sqrt_n0: None,
                at_one: [None, None],
            };
        }
        let (sa, sb) = (self.side(a), self.side(b));
        let kmax = sa.side.table.degree.min(sb.side.table.degree);
        let finite = match (sa.poly, sb.poly) {
            (Some(m), _) | (_, Some(m)) if m <= kmax => Some(m),
            _ => None,
        };
        let sup = [0usize, 1, 2].map(|q| {
            if let Some(m) = finite {
                let mut acc = Float::new(RB);
                for k in q..=m {
                    let ca = &sa.side.table.coefficients[k];
                    let cb = &sb.side.table.coefficients[k];
                    let x = up_add(&abs_up(&ca.value), &ca.abs_error_bound);
                    let y = up_add(&abs_up(&cb.value), &cb.abs_error_bound);
                    let t = up_mul(&up_mul(&x, &y), &Float::with_val(RB, falling(k, q)));
                    acc = up_add(&acc, &t);
                }
                return Some(acc);
            }
            match (norm_up(&sa.side.norms[q]), norm_up(&sb.side.norms[q])) {
                (Some(x), Some(y)) => {
                    Some(Float::with_val_round(RB, up_mul(&x, &y).sqrt_ref(), Round::Up).0)
                }
                _ => None,
            }
        });
        let sqrt_n0 = match (norm_up(&sa.side.norms[0]), norm_up(&sb.side.norms[0])) {
            (Some(x), Some(y)) => {
                Some(Float::with_val_round(RB, up_mul(&x, &y).sqrt_ref(), Round::Up).0)
            }
            _ => None,
        };
        PairKernel {
            name: name.into(),
            how: How::Series(a, b),
            sup,
            sqrt_n0,
            at_one,
        }
    }

    /// κ^{(r)} at the ball s (clamped to [−1, 1]), as a ball.
    fn kernel(&self, k: &PairKernel, s: &Ball, r: usize) -> Result<Ball, PopulationError> {
        let p = self.prec;
        if s.rad.is_zero() && s.mid == 1 {
            if let Some((v, b)) = &k.at_one[r] {
                return Ok(Ball::with(Float::with_val(p, v), b.clone()));
            }
        }
        let what = || {
            format!(
                "{}^({r}) at s = {}",
                k.name,
                s.mid.to_string_radix(10, Some(20))
            )
        };
        let v = match &k.how {
            How::Closed(ck) => closed_value(ck, &s.mid, r, p),
            How::Series(a, b) => series(&self.side(*a).side, &self.side(*b).side, &s.mid, r),
        }
        .map_err(|source| PopulationError::Kernel {
            what: what(),
            source,
        })?;
        let mut rad = abs_up(&v.abs_error_bound);
        if !s.rad.is_zero() {
            let m = modulus(k, &s.mid, &s.rad, r).ok_or_else(|| PopulationError::Kernel {
                what: what(),
                source: KernelError::Unbounded {
                    order: r + 1,
                    why: format!(
                        "the rounding radius {} of the overlap cannot be propagated: no bound on the derivative of order {} near |s| = 1",
                        s.rad.to_string_radix(10, Some(3)),
                        r + 1
                    ),
                },
            })?;
            rad = up_add(&rad, &m);
        }
        Ok(Ball::with(Float::with_val(p, &v.value), rad))
    }

    /// Validates and normalises rows; identical input rows are recorded so that their overlaps
    /// are exactly ±1.
    fn prepare(
        &self,
        field: &'static str,
        rows: &[Vec<Float>],
        d: usize,
    ) -> Result<Vec<Vec<Ball>>, PopulationError> {
        let p = self.prec;
        let tol = Float::with_val(64, 1e-12);
        let mut out = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if row.len() != d {
                return Err(PopulationError::Dimension {
                    field,
                    row: i,
                    expected: d,
                    got: row.len(),
                });
            }
            if row.iter().any(|x| !x.is_finite()) {
                return Err(PopulationError::NotFinite { field, row: i });
            }
            let exact: Vec<Ball> = row.iter().map(|x| Ball::exact(x.clone())).collect();
            let n = dot(&exact, &exact, p).sqrt(p);
            let dev = Float::with_val(64, &n.mid - 1u32).abs();
            if dev > tol {
                return Err(PopulationError::NotUnit {
                    field,
                    row: i,
                    deviation: dev.to_string_radix(10, Some(3)),
                });
            }
            let normalised: Vec<Ball> = exact
                .iter()
                .map(|x| x.div(&n, p).expect("norm ≈ 1"))
                .collect();
            out.push(normalised);
        }
        Ok(out)
    }

    fn check_teacher(&self, teacher: &Teacher) -> Result<(), PopulationError> {
        if teacher.terms.len() != self.teacher_specs.len() {
            return Err(PopulationError::Dimension {
                field: "teacher",
                row: 0,
                expected: self.teacher_specs.len(),
                got: teacher.terms.len(),
            });
        }
        for (r, ((spec, _), expected)) in teacher.terms.iter().zip(&self.teacher_specs).enumerate()
        {
            if spec.expr != expected.expr {
                return Err(PopulationError::TeacherMismatch {
                    index: r,
                    expected: expected.source.clone(),
                    got: spec.source.clone(),
                });
            }
        }
        if !teacher.noise_variance.is_finite() {
            return Err(PopulationError::NotFinite {
                field: "noise_variance",
                row: 0,
            });
        }
        if teacher.noise_variance < 0 {
            return Err(PopulationError::Negative {
                field: "noise_variance",
            });
        }
        Ok(())
    }

    /// Loss, tangent and radial gradients and velocity of every neuron, each with its bound.
    /// `a`: output weights (N, exact); `w`: N unit rows of length d; `teacher`: the same
    /// activations, in the same order, as given to [`Oracle::new`].
    pub fn evaluate(
        &self,
        a: &[Float],
        w: &[Vec<Float>],
        teacher: &Teacher,
    ) -> Result<PopulationResult, PopulationError> {
        let c = self.compute(a, w, teacher)?;
        let rows = |m: &Vec<Vec<Ball>>| {
            m.iter()
                .map(|r| r.iter().map(Ball::bounded).collect())
                .collect()
        };
        Ok(PopulationResult {
            loss: c.loss.bounded(),
            tangent_gradient: rows(&c.tangent),
            radial_gradient: c.radial.iter().map(Ball::bounded).collect(),
            velocity: rows(&c.velocity),
        })
    }

    /// One update of every neuron with learning rate ηN (η ≥ 0 exact), from the same
    /// quantities as [`Oracle::evaluate`]; the bounds cover the gradients' bounds and the
    /// rounding of the update (ball arithmetic through the normalisation).
    pub fn step(
        &self,
        a: &[Float],
        w: &[Vec<Float>],
        teacher: &Teacher,
        eta: &Float,
        update: Update,
    ) -> Result<StepResult, PopulationError> {
        if !eta.is_finite() {
            return Err(PopulationError::NotFinite {
                field: "eta",
                row: 0,
            });
        }
        if *eta < 0 {
            return Err(PopulationError::Negative { field: "eta" });
        }
        let p = self.prec;
        let c = self.compute(a, w, teacher)?;
        let n = w.len();
        // ηN, rounded once.
        let lr = Ball::with(Float::with_val(p, eta * n as u32), Float::new(RB));
        let mut out = StepResult {
            w: Vec::with_capacity(n),
            abs_error_bound: Vec::with_capacity(n),
        };
        for i in 0..n {
            let wi = &c.w[i];
            let g = &c.tangent[i];
            let x: Vec<Ball> = match update {
                Update::Euclidean => {
                    // (1 − ηNρ) w − ηN g
                    let shrink =
                        Ball::exact(Float::with_val(p, 1)).sub(&lr.mul(&c.radial[i], p), p);
                    wi.iter()
                        .zip(g)
                        .map(|(wk, gk)| shrink.mul(wk, p).sub(&lr.mul(gk, p), p))
                        .collect()
                }
                Update::Tangent => wi
                    .iter()
                    .zip(g)
                    .map(|(wk, gk)| wk.sub(&lr.mul(gk, p), p))
                    .collect(),
                Update::Geodesic => {
                    // cos(φ) w − ηN sinc(φ) g, φ = ηN‖g‖ (sinc is 1/2-Lipschitz: |sinc'| ≤ 0.44).
                    let phi = lr.mul(&dot(g, g, p).sqrt(p), p);
                    let cos = Ball::with(Float::with_val(p, phi.mid.cos_ref()), phi.rad.clone());
                    let sinc = if phi.mid.is_zero() {
                        Float::with_val(p, 1)
                    } else {
                        Float::with_val(p, phi.mid.sin_ref()) / &phi.mid
                    };
                    // sin and the division: two correctly rounded operations on an exact φ̃.
                    let sinc_rad = up_add(&(phi.rad.clone() >> 1u32), &(ulp(&sinc) << 1u32));
                    let sinc = Ball::with(sinc, sinc_rad);
                    let coef = lr.mul(&sinc, p);
                    wi.iter()
                        .zip(g)
                        .map(|(wk, gk)| cos.mul(wk, p).sub(&coef.mul(gk, p), p))
                        .collect()
                }
            };
            let y = normalise(&x, p).ok_or_else(|| {
                PopulationError::Unresolved(format!(
                    "step of neuron {i}: the updated row is not resolved from zero (η too large for the bounds)"
                ))
            })?;
            out.w.push(y.iter().map(|b| b.mid.clone()).collect());
            out.abs_error_bound
                .push(y.iter().map(|b| b.rad.clone()).collect());
        }
        Ok(out)
    }

    fn compute(
        &self,
        a: &[Float],
        w: &[Vec<Float>],
        teacher: &Teacher,
    ) -> Result<Computed, PopulationError> {
        let p = self.prec;
        let n = w.len();
        if n == 0 {
            return Err(PopulationError::NoNeurons);
        }
        let d = w[0].len();
        if d < 2 {
            return Err(PopulationError::SmallDimension(d));
        }
        if a.len() != n {
            return Err(PopulationError::Dimension {
                field: "a",
                row: 0,
                expected: n,
                got: a.len(),
            });
        }
        if let Some(i) = a.iter().position(|x| !x.is_finite()) {
            return Err(PopulationError::NotFinite { field: "a", row: i });
        }
        self.check_teacher(teacher)?;
        let wb = self.prepare("w", w, d)?;
        let thetas: Vec<Vec<Float>> = teacher.terms.iter().map(|(_, t)| t.clone()).collect();
        let tb = self.prepare("theta", &thetas, d)?;
        let m = tb.len();
        let ab: Vec<Ball> = a.iter().map(|x| Ball::exact(x.clone())).collect();

        // Overlaps: exact ±1 for identical/opposite input rows, else balls clamped to [−1, 1].
        let overlap = |x: &[Float], y: &[Float], bx: &[Ball], by: &[Ball]| -> Ball {
            if x == y {
                return Ball::exact(Float::with_val(p, 1));
            }
            if x.iter().zip(y).all(|(u, v)| *u == -v.clone()) {
                return Ball::exact(Float::with_val(p, -1));
            }
            dot(bx, by, p).clamp_unit()
        };

        // Pair kernels (symmetric in i, j).
        let mut k0 = vec![vec![Ball::exact(Float::new(p)); n]; n];
        let mut k1 = k0.clone();
        let mut kr = k0.clone();
        let one = Ball::exact(Float::with_val(p, 1));
        for i in 0..n {
            k0[i][i] = self.kernel(&self.kk, &one, 0)?;
            kr[i][i] = self.kernel(&self.kr, &one, 0)?;
            for j in i + 1..n {
                let s = overlap(&w[i], &w[j], &wb[i], &wb[j]);
                let v0 = self.kernel(&self.kk, &s, 0)?;
                let v1 = self.kernel(&self.kk, &s, 1)?;
                let vr = self.kernel(&self.kr, &s, 0)?;
                k0[j][i] = v0.clone();
                k0[i][j] = v0;
                k1[j][i] = v1.clone();
                k1[i][j] = v1;
                kr[j][i] = vr.clone();
                kr[i][j] = vr;
            }
        }
        // Teacher kernels.
        let mut p0 = Vec::with_capacity(n);
        let mut p1 = Vec::with_capacity(n);
        let mut pr = Vec::with_capacity(n);
        for i in 0..n {
            let (mut a0, mut a1, mut ar) = (Vec::new(), Vec::new(), Vec::new());
            for r in 0..m {
                let t = overlap(&w[i], &thetas[r], &wb[i], &tb[r]);
                a0.push(self.kernel(&self.psi[r], &t, 0)?);
                a1.push(self.kernel(&self.psi[r], &t, 1)?);
                ar.push(self.kernel(&self.psir[r], &t, 0)?);
            }
            p0.push(a0);
            p1.push(a1);
            pr.push(ar);
        }
        let half = Float::with_val(p, 0.5);
        let apply_scale = |b: Ball| match self.scale {
            LossScale::Full => b,
            LossScale::Half => b.scale(&half, p),
        };

        // Loss.
        let mut loss = Ball::exact(Float::new(p));
        for i in 0..n {
            let mut row = Ball::exact(Float::new(p));
            for j in 0..n {
                row = row.add(&ab[j].mul(&k0[i][j], p), p);
            }
            for r in 0..m {
                row = row.sub(&p0[i][r].scale(&Float::with_val(p, 2), p), p);
            }
            loss = loss.add(&ab[i].mul(&row, p), p);
        }
        for r in 0..m {
            for q in 0..m {
                let u = if r == q {
                    one.clone()
                } else {
                    overlap(&thetas[r], &thetas[q], &tb[r], &tb[q])
                };
                loss = loss.add(&self.kernel(&self.tt[r][q], &u, 0)?, p);
            }
        }
        loss = loss.add(&Ball::exact(teacher.noise_variance.clone()), p);
        let loss = apply_scale(loss);

        // Gradients and velocity.
        let two = Float::with_val(p, 2);
        let mut tangent = Vec::with_capacity(n);
        let mut velocity = Vec::with_capacity(n);
        let mut radial = Vec::with_capacity(n);
        for i in 0..n {
            // S_i = Σ_{j≠i} a_j κ'(s_ij) w_j − Σ_r ψ_r'(t_ir) θ_r
            let mut sv = vec![Ball::exact(Float::new(p)); d];
            for j in 0..n {
                if j == i {
                    continue;
                }
                let c = ab[j].mul(&k1[i][j], p);
                for k in 0..d {
                    sv[k] = sv[k].add(&c.mul(&wb[j][k], p), p);
                }
            }
            for r in 0..m {
                for k in 0..d {
                    sv[k] = sv[k].sub(&p1[i][r].mul(&tb[r][k], p), p);
                }
            }
            let c = dot(&wb[i], &sv, p);
            let ps: Vec<Ball> = (0..d).map(|k| sv[k].sub(&c.mul(&wb[i][k], p), p)).collect();
            let ga = ab[i].scale(&two, p);
            tangent.push(
                ps.iter()
                    .map(|x| apply_scale(ga.mul(x, p)))
                    .collect::<Vec<_>>(),
            );
            velocity.push(
                ps.iter()
                    .map(|x| apply_scale(x.scale(&two, p).neg()))
                    .collect::<Vec<_>>(),
            );
            // ρ_i = 2a_i (Σ_j a_j κ_{zσ',σ}(s_ij) − Σ_r κ_{zσ',σ*_r}(t_ir))
            let mut rs = Ball::exact(Float::new(p));
            for j in 0..n {
                rs = rs.add(&ab[j].mul(&kr[i][j], p), p);
            }
            for r in 0..m {
                rs = rs.sub(&pr[i][r], p);
            }
            radial.push(apply_scale(ga.mul(&rs, p)));
        }
        Ok(Computed {
            w: wb,
            loss,
            tangent,
            radial,
            velocity,
        })
    }
}

struct Computed {
    w: Vec<Vec<Ball>>,
    loss: Ball,
    tangent: Vec<Vec<Ball>>,
    radial: Vec<Ball>,
    velocity: Vec<Vec<Ball>>,
}

fn dummy_kernel() -> PairKernel {
    PairKernel {
        name: String::new(),
        how: How::Closed(ClosedKernel::ReluRelu),
        sup: [None, None, None],
        sqrt_n0: None,
        at_one: [None, None],
    }
}

/// The side of z·σ'(z): coefficients c_j(zσ') = j c_j + √((j+1)(j+2)) c_{j+2} from σ's table
/// (degree K − 2), norms E[(zσ')²] and of its derivatives by quadrature/exact Parseval of the
/// spec z·σ'(z) (an independent integrand).
fn zdsigma_side(deriv: &Spec, sigma: &SideInfo, digits: u32) -> Result<SideInfo, PopulationError> {
    let spec = Spec {
        source: format!("z*({})", deriv.source),
        expr: Expr::Mul(Box::new(Expr::Z), Box::new(deriv.expr.clone())),
    };
    let t = &sigma.side.table;
    let vals = kernel::z_dsigma_coefficients(t);
    let coefficients: Vec<Coefficient> = vals
        .into_iter()
        .enumerate()
        .map(|(j, kv)| {
            let zero = t.coefficients[j].exact_zero && t.coefficients[j + 2].exact_zero;
            // resolved: the bound certifies the table's digits (as in `coeffs`).
            let tol = Float::with_val(53, kv.value.abs_ref()) >> coeffs::digits_to_bits(t.digits);
            let resolved = zero || (!kv.value.is_zero() && kv.abs_error_bound <= tol);
            Coefficient {
                k: j,
                value: kv.value,
                abs_error_bound: kv.abs_error_bound,
                exact: None,
                exact_zero: zero,
                resolved,
                bound_kind: coeffs::BoundKind::Estimate,
            }
        })
        .collect();
    let table = CoefficientTable {
        spec: spec.source.clone(),
        degree: coefficients.len() - 1,
        digits: t.digits,
        coefficients,
        routes: t.routes.clone(),
    };
    let dig = if sigma.poly.is_some() {
        (2 * digits + 10).min(coeffs::MAX_DIGITS)
    } else {
        digits
    };
    let n0 = coeffs::norm_squared(&spec, dig).map_err(PopulationError::Coefficients)?;
    let d1 = spec.derivative();
    let n1 = d1.as_ref().and_then(|d| coeffs::norm_squared(d, dig).ok());
    let n2 = d1
        .as_ref()
        .and_then(|d| d.derivative())
        .and_then(|d| coeffs::norm_squared(&d, dig).ok());
    Ok(SideInfo {
        side: Side {
            table,
            norms: [Some(n0), n1, n2],
        },
        poly: sigma.poly,
    })
}

/// κ_{zσ',σ}(1) = E[Zσ'(Z)σ(Z)] = ½(E[(Zσ)²] − E[σ²]) (Stein applied to σ²/2).
fn radial_at_one(
    student: &Spec,
    sigma: &SideInfo,
    digits: u32,
    prec: u32,
) -> Result<(Float, Float), PopulationError> {
    let spec = Spec {
        source: format!("z*({})", student.source),
        expr: Expr::Mul(Box::new(Expr::Z), Box::new(student.expr.clone())),
    };
    let dig = if sigma.poly.is_some() {
        (2 * digits + 10).min(coeffs::MAX_DIGITS)
    } else {
        digits
    };
    let (zv, zb) = coeffs::norm_squared(&spec, dig).map_err(PopulationError::Coefficients)?;
    let (sv, sb) = sigma.side.norms[0]
        .clone()
        .expect("E σ² is always computed");
    let p = prec.max(zv.prec()).max(sv.prec());
    let v = Float::with_val(p, &zv - &sv) / 2u32;
    let b = up_add(&up_add(&zb, &sb), &ulp(&v));
    let b = Float::with_val_round(RB, &b / 2u32, Round::Up).0;
    let b = up_add(&b, &ulp(&v));
    Ok((v, b))
}

/// sup_{|s|≤1} |κ^{(q)}| for the closed forms, q = 0, 1, 2.
fn closed_sups(ck: &ClosedKernel, prec: u32) -> [Option<Float>; 3] {
    match ck {
        // κ ∈ [0, 1/2], κ' ∈ [0, 1/2], κ'' = 1/(2π√(1−s²)) unbounded.
        ClosedKernel::ReluRelu => [
            Some(Float::with_val(RB, 0.5)),
            Some(Float::with_val(RB, 0.5)),
            None,
        ],
        ClosedKernel::ErfErf(a, b) => {
            let wp = prec + 16;
            let pi = Float::with_val(wp, Constant::Pi);
            let a = Float::with_val(wp, a);
            let b = Float::with_val(wp, b);
            let da = Float::with_val(wp, a.square_ref()) * 2u32 + 1u32;
            let db = Float::with_val(wp, b.square_ref()) * 2u32 + 1u32;
            let c = (Float::with_val(wp, &a * &b) * 2u32 / (da * db).sqrt()).abs();
            let q = Float::with_val(wp, 1 - Float::with_val(wp, c.square_ref()));
            let tp = Float::with_val(wp, 2u32) / &pi;
            let s1 = Float::with_val(wp, &tp * &c) / Float::with_val(wp, q.sqrt_ref());
            let c3 = Float::with_val(wp, c.square_ref()) * &c;
            let q3 = Float::with_val(wp, q.square_ref()) * &q;
            let s2 = tp * c3 / q3.sqrt();
            [
                Some(Float::with_val(RB, 1)),
                Some(inflate(Float::with_val_round(RB, &s1, Round::Up).0)),
                Some(inflate(Float::with_val_round(RB, &s2, Round::Up).0)),
            ]
        }
    }
}

/// A bound on sup |κ^{(r)}(ξ) − κ^{(r)}(s̃)| over ξ ∈ [−1, 1] with |ξ − s̃| ≤ δ, or None.
fn modulus(k: &PairKernel, s: &Float, delta: &Float, r: usize) -> Option<Float> {
    let q = r + 1;
    let mut best: Option<Float> = k.sup.get(q).cloned().flatten().map(|m| up_mul(&m, delta));
    let mut take = |c: Float| {
        best = Some(match best.take() {
            Some(b) if b <= c => b,
            _ => c,
        })
    };
    // x = |s̃| + δ rounded up, 1 − x rounded down (enough bits for 1 − x to be exact-ish).
    let wp = s.prec() + RB + 8;
    let x = Float::with_val_round(wp, Float::with_val(wp, s.abs_ref()) + delta, Round::Up).0;
    let gap = Float::with_val_round(wp, 1 - &x, Round::Down).0;
    match &k.how {
        How::Closed(ClosedKernel::ReluRelu) if q == 2 => {
            // |acos ξ − acos s| ≤ π√(|ξ − s|/2), so |κ'(ξ) − κ'(s)| ≤ √(δ/2)/2.
            let h =
                Float::with_val_round(RB, Float::with_val(RB, delta >> 1u32).sqrt_ref(), Round::Up)
                    .0
                    >> 1u32;
            take(inflate(h));
            if gap > 0 {
                // κ'' = 1/(2π√(1−ξ²)) is increasing in |ξ| ≤ x: δ/(2π√((1−x)(1+x))).
                let onepx = Float::with_val(wp, 1 + &x);
                let den = Float::with_val(RB, Float::with_val(wp, &gap * &onepx).sqrt())
                    * 2u32
                    * Float::with_val(RB, Constant::Pi);
                let v = Float::with_val_round(RB, delta / &den, Round::Up).0;
                take(inflate(inflate(v)));
            }
        }
        How::Series(..) if gap > 0 => {
            if let Some(n0) = &k.sqrt_n0 {
                // |κ^{(q)}(ξ)| ≤ √(Eσ²Eτ²) Σ_k k^{(q)} x^{k−q} = √(Eσ²Eτ²) q!/(1−x)^{q+1}.
                let fact: u32 = (1..=q as u32).product();
                let g = Float::with_val_round(RB, &gap, Round::Down).0;
                let mut den = g.clone();
                for _ in 0..q {
                    den = Float::with_val_round(RB, &den * &g, Round::Down).0;
                }
                let num = up_mul(&up_mul(n0, delta), &Float::with_val(RB, fact));
                take(Float::with_val_round(RB, &num / &den, Round::Up).0);
            }
        }
        _ => {}
    }
    best
}
