//! Quadrature route for Hermite coefficients, in MPFR.
//!
//! c_k = ∫ f(x) φ(x) h_k(x) dx, φ the standard normal density, for every k ≤ K from one set
//! of function values. The real line is cut at the spec's kinks k_1 < … < k_m, and each piece
//! is mapped to the whole t-line, where the trapezoidal rule with step h converges
//! exponentially (the integrand is analytic in a strip around each open piece):
//!
//! - no kink: x = t (the plain trapezoidal rule; for f analytic in |Im x| < τ its error is
//!   O(e^{−2πτ/h}), and O(e^{−2π²/h²}) for entire f of Gaussian-dominated growth);
//! - [k, ∞): x = k + e^{t − e^{−t}} and (−∞, k]: x = k − e^{t − e^{−t}} (exp-sinh type: the
//!   weight vanishes double-exponentially at the kink, the Gaussian kills the other end);
//! - [a, b]: x = (a+b)/2 + (b−a)/2·tanh(π/2·sinh t) (tanh-sinh).
//!
//! Levels h = 2^{−ℓ}/2 are nested, so each halving reuses every earlier function value.
//! Nodes are cut off where Cramér's inequality |h_k(x)| ≤ 1.0865·e^{x²/4} (all k) shows that
//! no term can matter: a node is dropped when |w·f(x)|·1.0865·e^{x²/4} < 2^{−(p+16)}·scale.
//!
//! Accuracy contract (a-posteriori, Ziv style): levels ℓ = 0, 1, … are computed at precision
//! p until the last two agree to the target; the finest table T(ℓ, p) is returned. Level ℓ−1
//! is then recomputed independently at p + 32 bits. The bound of each coefficient is
//! |T(ℓ,p) − T(ℓ−1,p)| (discretisation: with exponential convergence the error at h/2 is
//! about the square of the error at h, so the difference over-estimates the finer error by a
//! wide margin) + |T(ℓ−1,p) − T(ℓ−1,p+32)| (rounding at p bits, measured) + R, R the
//! a-priori rounding bound 2^{−p}·(4K+16)·Σ_nodes |w f|·1.0865·e^{x²/4} of the level-ℓ sum.
//! This is an estimate, not an interval enclosure; it is checked against independent paths
//! in `tests/cross_check.rs` and by precision overlap in `tests/coefficients.rs`. The loop
//! raises p (and ℓ) until every coefficient has `digits` significant digits, or reports it
//! as unresolved at the limit.
//!
//! Proofs-note: `proofs-notes/quadrature.md`.

use crate::activation::eval::RugEvaluator;
use crate::activation::{analysis, Expr, Func, Parity, Spec};
use crate::coeffs::exact::{exact_coefficients, Surd};
use crate::hermite::NormalisedHermite;
use rug::float::Constant;
use rug::Float;
use rug::Rational;

/// Cramér's constant: |He_k(x)|·e^{−x²/4} ≤ K·√(k!) with K < 1.086435 for every k.
const CRAMER: f64 = 1.0865;

/// Coefficients c_0..c_K of one expression by quadrature, with a-posteriori error bounds.
#[derive(Clone, Debug)]
pub struct QuadTable {
    pub values: Vec<Float>,
    pub abs_error_bound: Vec<Float>,
    /// `resolved[k]`: the bound is below half a unit in the `digits`-th significant digit.
    pub resolved: Vec<bool>,
    /// `exact[k]`: c_k known exactly by (shifted) parity: f = p + g with p a polynomial and g
    /// even or odd, so for the k of the wrong parity c_k(f) = c_k(p) (often zero).
    pub exact: Vec<Option<Surd>>,
    /// Working precision of the final evaluation, in bits.
    pub prec: u32,
    /// Number of function evaluations in the final table.
    pub nodes: usize,
}

/// Limits of the Ziv loop.
#[derive(Clone, Copy, Debug)]
pub struct QuadLimits {
    pub max_prec: u32,
    pub max_level: u32,
}

impl QuadLimits {
    /// The default limits for a table of `digits` digits at degree `degree`: enough bits for
    /// the target plus the dynamic range of a fast-decaying table (coefficients far below the
    /// integrand's scale need extra bits), but not unbounded: a zero that no analysis proved
    /// is reported unresolved after a few doublings.
    pub fn for_target(digits: u32, degree: usize) -> Self {
        let target = (digits as f64 * std::f64::consts::LOG2_10).ceil() as u32;
        QuadLimits {
            max_prec: 3 * target + 4 * degree as u32 + 512,
            max_level: 9,
        }
    }
}

/// One piece of the real line and its map from t.
#[derive(Clone, Debug)]
enum Piece {
    Line,
    Right(Float),
    Left(Float),
    Segment(Float, Float),
}

impl Piece {
    /// A hard limit on |t|, far past where any weight matters: for the DE maps
    /// |t| = 12 puts x beyond e^{e^{11}}; on the plain line the Gaussian factor at |x| = 200 is
    /// e^{−20000} ≈ 2^{−28850}, below any working precision we allow.
    fn t_limit(&self) -> u32 {
        match self {
            Piece::Line => 200,
            _ => 12,
        }
    }

    /// x(t) and dx/dt at t.
    fn map(&self, t: &Float, prec: u32) -> (Float, Float) {
        match self {
            Piece::Line => (t.clone(), Float::with_val(prec, 1)),
            Piece::Right(k) | Piece::Left(k) => {
                // s = e^{t - e^{-t}}, ds/dt = (1 + e^{-t}) s
                let emt = Float::with_val(prec, -t).exp();
                let s = Float::with_val(prec, t - &emt).exp();
                let ds = Float::with_val(prec, &emt + 1u32) * &s;
                match self {
                    Piece::Right(_) => (Float::with_val(prec, k + &s), ds),
                    _ => (Float::with_val(prec, k - &s), ds),
                }
            }
            Piece::Segment(a, b) => {
                let half_pi = Float::with_val(prec, Constant::Pi) / 2u32;
                let u = Float::with_val(prec, t.sinh_ref()) * &half_pi;
                let c = Float::with_val(prec, t.cosh_ref()) * &half_pi;
                let mid = Float::with_val(prec, a + b) / 2u32;
                let rad = Float::with_val(prec, b - a) / 2u32;
                let x = Float::with_val(prec, u.tanh_ref()) * &rad + mid;
                let ch = Float::with_val(prec, u.cosh_ref());
                let dx = rad * c / ch.square();
                (x, dx)
            }
        }
    }
}

/// Running sums for one precision: S_k = Σ_j ω_j f(x_j) h_k(x_j) (ω_j without the step h),
/// and the rounding envelope Σ_j |ω_j f(x_j)|·CRAMER·e^{x_j²/4}.
struct Sums {
    s: Vec<Float>,
    envelope: Float,
    nodes: usize,
}

struct Integrator {
    eval: RugEvaluator,
    pieces: Vec<Piece>,
    degree: usize,
    prec: u32,
    herm: NormalisedHermite,
    /// Which k to accumulate (false for parity zeros).
    wanted: Vec<bool>,
    inv_sqrt_2pi: Float,
}

impl Integrator {
    fn new(spec: &Spec, pieces: Vec<Piece>, degree: usize, prec: u32, wanted: Vec<bool>) -> Self {
        let inv_sqrt_2pi = Float::with_val(prec, Constant::Pi) * 2u32;
        let inv_sqrt_2pi = inv_sqrt_2pi.sqrt().recip();
        Integrator {
            eval: RugEvaluator::new(&spec.expr, prec),
            pieces,
            degree,
            prec,
            herm: NormalisedHermite::new(degree, prec),
            wanted,
            inv_sqrt_2pi,
        }
    }

    /// ω(x)·f(x) at the node t of `piece`, and x itself.
    fn weighted_value(&self, piece: &Piece, t: &Float) -> (Float, Float) {
        let prec = self.prec;
        let (x, dxdt) = piece.map(t, prec);
        let x2 = Float::with_val(prec, x.square_ref());
        let phi = (-Float::with_val(prec, &x2 / 2u32)).exp() * &self.inv_sqrt_2pi;
        let omega = dxdt * phi;
        if omega.is_zero() {
            return (x, omega);
        }
        let f = self.eval.eval(&x);
        (x, omega * f)
    }

    /// Cramér envelope |ω f|·1.0865·e^{x²/4} of a node, in 53 bits.
    fn envelope(x: &Float, wf: &Float) -> Float {
        let growth = Float::with_val(53, x.square_ref()) / 4u32;
        Float::with_val(53, wf.abs_ref()) * growth.exp() * CRAMER
    }

    /// Adds the node at t (for one piece) to the sums; on the plain line t > 0 also adds the
    /// mirror node −t, sharing one Hermite recurrence through h_k(−x) = (−1)^k h_k(x).
    /// Returns the node's envelope (for the cut-off).
    fn add_node(&self, piece: &Piece, t: &Float, sums: &mut Sums, hk: &mut Vec<Float>) -> Float {
        let prec = self.prec;
        let (x, wf) = self.weighted_value(piece, t);
        let mut env = Self::envelope(&x, &wf);
        sums.nodes += 1;
        // even[k] multiplies h_k for even k, odd for odd k.
        let (even, odd) = if matches!(piece, Piece::Line) && !t.is_zero() {
            let (xm, wfm) = self.weighted_value(piece, &Float::with_val(prec, -t));
            env += Self::envelope(&xm, &wfm);
            sums.nodes += 1;
            (
                Float::with_val(prec, &wf + &wfm),
                Float::with_val(prec, &wf - &wfm),
            )
        } else {
            (wf.clone(), wf)
        };
        sums.envelope += &env;
        if even.is_zero() && odd.is_zero() {
            return env;
        }
        self.herm.values_into(&x, hk);
        let mut term = Float::new(prec);
        for k in 0..=self.degree {
            if self.wanted[k] {
                let w = if k % 2 == 0 { &even } else { &odd };
                term.assign_round_mul(w, &hk[k]);
                sums.s[k] += &term;
            }
        }
        env
    }

    /// Walks t = j·step for j = 0, 1, 2, … and j = −1, −2, … (or only odd j: the nodes new at
    /// this level), adding nodes until three consecutive envelopes fall below
    /// 2^{−(p+16)} times the largest envelope met on that walk.
    fn walk(&self, piece: &Piece, step: &Float, odd_only: bool, sums: &mut Sums) {
        let mut hk = Vec::with_capacity(self.degree + 1);
        let inc: i64 = if odd_only { 2 } else { 1 };
        let firsts: [i64; 2] = if odd_only { [1, -1] } else { [0, -1] };
        let directions = if matches!(piece, Piece::Line) { 1 } else { 2 };
        for (first, dir) in firsts.into_iter().zip([1i64, -1]).take(directions) {
            let mut j = first;
            let mut quiet = 0;
            let mut largest = Float::new(53);
            loop {
                let t = Float::with_val(self.prec, step * j);
                let env = self.add_node(piece, &t, sums, &mut hk);
                if env > largest {
                    largest = env.clone();
                }
                if env <= Float::with_val(53, &largest >> (self.prec + 16)) {
                    quiet += 1;
                } else {
                    quiet = 0;
                }
                if quiet >= 3 || t.clone().abs() > piece.t_limit() {
                    break;
                }
                j += dir * inc;
            }
        }
    }

    /// Sums at a given level ℓ (step h = 2^{-ℓ}/2), either all nodes or only the new ones.
    fn level_sums(&self, level: u32, only_new: bool, sums: &mut Sums) {
        let step = Float::with_val(self.prec, 0.5) >> level;
        for piece in &self.pieces {
            self.walk(piece, &step, only_new && level > 0, sums);
        }
    }

    fn empty_sums(&self) -> Sums {
        Sums {
            s: vec![Float::new(self.prec); self.degree + 1],
            envelope: Float::new(53),
            nodes: 0,
        }
    }

    /// The trapezoidal value h·S at level ℓ.
    fn values(&self, sums: &Sums, level: u32) -> Vec<Float> {
        let h = Float::with_val(self.prec, 0.5) >> level;
        sums.s
            .iter()
            .map(|s| Float::with_val(self.prec, s * &h))
            .collect()
    }
}

trait RoundMul {
    fn assign_round_mul(&mut self, a: &Float, b: &Float);
}
impl RoundMul for Float {
    fn assign_round_mul(&mut self, a: &Float, b: &Float) {
        use rug::Assign;
        self.assign(a * b);
    }
}

/// The pieces of the line cut at the kinks, at `prec` bits.
fn pieces_for(spec: &Spec, prec: u32) -> Vec<Piece> {
    let mut ks: Vec<Float> = spec.kinks().iter().map(|k| k.location(prec)).collect();
    ks.sort_by(|a, b| a.partial_cmp(b).expect("kink locations are finite"));
    ks.dedup();
    if ks.is_empty() {
        return vec![Piece::Line];
    }
    let mut pieces = vec![Piece::Left(ks[0].clone())];
    for w in ks.windows(2) {
        pieces.push(Piece::Segment(w[0].clone(), w[1].clone()));
    }
    pieces.push(Piece::Right(ks[ks.len() - 1].clone()));
    pieces
}

/// One table at fixed precision: levels 0, 1, … until successive levels agree to the target
/// for every wanted k, or `max_level`. Returns (values at the last level, the level,
/// the previous level's values, envelope, nodes).
struct Pass {
    values: Vec<Float>,
    /// T_{ℓ−1}, the previous level.
    previous: Vec<Float>,
    /// |T_ℓ − T_{ℓ−1}| per k, in 53 bits.
    level_diff: Vec<Float>,
    level: u32,
    /// Σ of the Cramér envelopes of the nodes of level ℓ.
    envelope: Float,
    nodes: usize,
}

fn converge_levels(int: &Integrator, target_bits: u32, min_level: u32, max_level: u32) -> Pass {
    let mut sums = int.empty_sums();
    int.level_sums(0, false, &mut sums);
    let mut prev = int.values(&sums, 0);
    let mut level = 0;
    loop {
        level += 1;
        int.level_sums(level, true, &mut sums);
        let cur = int.values(&sums, level);
        let level_diff: Vec<Float> = (0..=int.degree)
            .map(|k| Float::with_val(53, Float::with_val(int.prec, &cur[k] - &prev[k]).abs_ref()))
            .collect();
        let converged = (0..=int.degree).all(|k| {
            if !int.wanted[k] {
                return true;
            }
            let diff = &level_diff[k];
            let tol = Float::with_val(int.prec, cur[k].abs_ref()) >> target_bits;
            // Differences at the rounding level (the a-priori rounding bound of the module
            // doc, times 4) cannot shrink with more nodes.
            let noise =
                (Float::with_val(53, &sums.envelope) * ((16 * int.degree + 64) as u32)) >> int.prec;
            *diff <= tol || *diff <= noise
        });
        let previous = std::mem::replace(&mut prev, cur);
        if (converged && level >= min_level) || level >= max_level {
            return Pass {
                values: prev,
                previous,
                level_diff,
                level,
                envelope: sums.envelope.clone(),
                nodes: sums.nodes,
            };
        }
    }
}

/// c_k = E[f(Z) h_k(Z)], k = 0..=degree, each to `digits` significant digits; see the module
/// doc for the error bound. Coefficients that are zero by parity are returned as exact zeros.
pub fn quadrature_table(expr: &Expr, degree: usize, digits: u32) -> Result<QuadTable, String> {
    quadrature_table_with(expr, degree, digits, QuadLimits::for_target(digits, degree))
}

/// As [`quadrature_table`], with explicit limits.
pub fn quadrature_table_with(
    expr: &Expr,
    degree: usize,
    digits: u32,
    limits: QuadLimits,
) -> Result<QuadTable, String> {
    let spec = Spec {
        source: "(quadrature integrand)".to_string(),
        expr: expr.clone(),
    };
    let exact = parity_exact(expr, degree);
    let zero: Vec<bool> = exact.iter().map(|e| e.is_some()).collect();
    let target_bits = (digits as f64 * std::f64::consts::LOG2_10).ceil() as u32 + 4;
    // Start with the target plus room for the growth of the terms relative to the result.
    let mut prec = target_bits + 32 + (degree as u32) / 2;
    let mut min_level = 0;
    loop {
        let wanted: Vec<bool> = zero.iter().map(|z| !z).collect();
        let int1 = Integrator::new(&spec, pieces_for(&spec, prec), degree, prec, wanted.clone());
        let pass1 = converge_levels(&int1, target_bits + 8, min_level, limits.max_level);
        // Second, independent evaluation: level ℓ−1 again, with 32 more bits. Its distance to
        // the p-bit level ℓ−1 measures the rounding at p bits; the a-priori bound R of the
        // level-ℓ sum (module doc) covers the extra nodes of level ℓ.
        let prec2 = prec + 32;
        let int2 = Integrator::new(&spec, pieces_for(&spec, prec2), degree, prec2, wanted);
        let mut sums2 = int2.empty_sums();
        for l in 0..pass1.level {
            int2.level_sums(l, l > 0, &mut sums2);
        }
        let values2 = int2.values(&sums2, pass1.level - 1);
        let rounding = (Float::with_val(53, &pass1.envelope) * ((4 * degree + 16) as u32)) >> prec;
        let mut bounds = Vec::with_capacity(degree + 1);
        let mut resolved = Vec::with_capacity(degree + 1);
        let mut worst_deficit: i64 = 0;
        let mut indistinct = false;
        let mut distinct_unresolved = false;
        for k in 0..=degree {
            if zero[k] {
                bounds.push(Float::new(53));
                resolved.push(true);
                continue;
            }
            // discretisation: the last two levels at p bits; rounding: level ℓ−1 at p and at
            // p+32 bits, plus the a-priori rounding bound of level ℓ at p bits.
            let diff = Float::with_val(53, &pass1.previous[k] - &values2[k]).abs();
            let b = diff + &pass1.level_diff[k] + &rounding;
            // D significant digits are certain when b <= 0.5·10^{-D}·|c_k| (approximately
            // 2^{-target_bits}|c_k|, which is stricter).
            let value = &pass1.values[k];
            let tol = Float::with_val(53, value.abs_ref()) >> target_bits;
            let ok = b <= tol && !value.is_zero();
            if !ok && Float::with_val(53, value.abs_ref()) <= Float::with_val(53, &b * 2u32) {
                // Not yet told from zero: the bits needed are unknown, so double the precision
                // (a few steps reach the limit if it is a zero that no analysis proved).
                indistinct = true;
            } else if !ok {
                distinct_unresolved = true;
            }
            if !ok {
                let deficit = if value.is_zero() || tol.is_zero() {
                    64
                } else {
                    let r = Float::with_val(53, &b / &tol);
                    r.log2().to_f64().ceil() as i64 + 8
                };
                worst_deficit = worst_deficit.max(deficit.clamp(16, 2048));
            }
            bounds.push(b);
            resolved.push(ok);
        }
        let all_ok = resolved.iter().all(|r| *r);
        // At the precision limit, more levels can only help coefficients already told from
        // zero whose levels have not converged.
        let at_limit =
            prec >= limits.max_prec && (!distinct_unresolved || pass1.level >= limits.max_level);
        if all_ok || at_limit {
            return Ok(QuadTable {
                values: pass1
                    .values
                    .into_iter()
                    .enumerate()
                    .map(|(k, v)| match &exact[k] {
                        Some(c) => c.to_float(prec2),
                        None => v,
                    })
                    .collect(),
                abs_error_bound: bounds,
                resolved,
                exact,
                prec,
                nodes: pass1.nodes,
            });
        }
        // Ziv step: more bits, and one more level if the levels did not converge.
        prec = if indistinct {
            (2 * prec).min(limits.max_prec)
        } else {
            (prec + worst_deficit as u32).min(limits.max_prec)
        };
        if pass1.level < limits.max_level {
            min_level = pass1.level + 1;
        }
    }
}

/// c_k known exactly by (shifted) parity: f = p + g with p a polynomial and g even or odd,
/// so for the k of the wrong parity c_k(f) = c_k(p) (often zero); `None` for the others.
pub(crate) fn parity_exact(expr: &Expr, degree: usize) -> Vec<Option<Surd>> {
    match parity_split(expr) {
        Some((p, g)) => {
            let pc = exact_coefficients(
                &p.into_iter().map(Surd::from_rational).collect::<Vec<_>>(),
                degree,
            );
            pc.into_iter()
                .enumerate()
                .map(|(k, c)| match g {
                    GPar::Zero => Some(c),
                    GPar::Even if k % 2 == 1 => Some(c),
                    GPar::Odd if k % 2 == 0 => Some(c),
                    _ => None,
                })
                .collect()
        }
        None => vec![None; degree + 1],
    }
}

/// Parity of the part g in f = p + g.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GPar {
    /// g ≡ 0: f is the polynomial p.
    Zero,
    Even,
    Odd,
}

/// Writes f = p + g with p a polynomial with rational coefficients and g even or odd, when
/// simple rules prove it (`proofs-notes/quadrature.md`, "Shifted parity"):
/// a pure-parity expression has p = 0; a polynomial has g = 0; for u = a·z (a rational),
/// sigmoid(u) = ½ + odd and step(u) = ½ + odd (from σ(−u) = 1 − σ(u)), and
/// softplus(u), gelu(u), silu(u), relu(u) = u/2 + even (from f(−u) = f(u) − u); sums and
/// rational multiples combine when their g's have the same parity (or one is zero).
fn parity_split(e: &Expr) -> Option<(Vec<Rational>, GPar)> {
    match analysis::parity(e) {
        Parity::Even => return Some((vec![], GPar::Even)),
        Parity::Odd => return Some((vec![], GPar::Odd)),
        Parity::Neither => {}
    }
    if let Some(p) = rational_polynomial(e) {
        return Some((p, GPar::Zero));
    }
    let combine = |a: (Vec<Rational>, GPar), b: (Vec<Rational>, GPar), sign: i32| {
        let g = match (a.1, b.1) {
            (GPar::Zero, x) | (x, GPar::Zero) => x,
            (x, y) if x == y => x,
            _ => return None,
        };
        let n = a.0.len().max(b.0.len());
        let p = (0..n)
            .map(|i| {
                let x = a.0.get(i).cloned().unwrap_or_default();
                let y = b.0.get(i).cloned().unwrap_or_default();
                if sign > 0 {
                    x + y
                } else {
                    x - y
                }
            })
            .collect();
        Some((p, g))
    };
    match e {
        Expr::Add(a, b) => combine(parity_split(a)?, parity_split(b)?, 1),
        Expr::Sub(a, b) => combine(parity_split(a)?, parity_split(b)?, -1),
        Expr::Neg(a) => {
            let (p, g) = parity_split(a)?;
            Some((p.into_iter().map(|c| -c).collect(), g))
        }
        Expr::Mul(a, b) => {
            let (q, other) = match (analysis::fold_rational(a), analysis::fold_rational(b)) {
                (Some(q), _) => (q, b),
                (_, Some(q)) => (q, a),
                _ => return None,
            };
            let (p, g) = parity_split(other)?;
            Some((p.into_iter().map(|c| c * &q).collect(), g))
        }
        Expr::Div(a, b) => {
            let q = analysis::fold_rational(b)?;
            if q == 0 {
                return None;
            }
            let (p, g) = parity_split(a)?;
            Some((p.into_iter().map(|c| c / &q).collect(), g))
        }
        Expr::Call(f, u) => {
            let lin = rational_polynomial(u)?;
            // u = a·z exactly
            if lin.len() != 2 || lin[0] != 0 {
                return None;
            }
            let a = lin[1].clone();
            match f {
                Func::Sigmoid | Func::Step => Some((vec![Rational::from((1, 2))], GPar::Odd)),
                Func::Softplus | Func::Gelu | Func::Silu | Func::Relu => {
                    Some((vec![Rational::new(), a / 2u32], GPar::Even))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Monomial coefficients when `e` is a polynomial with rational coefficients.
fn rational_polynomial(e: &Expr) -> Option<Vec<Rational>> {
    analysis::as_polynomial(e)?
        .iter()
        .map(analysis::fold_rational)
        .collect()
}

/// E[f(Z)²] by the same quadrature applied to f², to `digits` digits (an independent route
/// to the norm that Parseval's identity compares Σ c_k² with).
pub fn norm_squared(expr: &Expr, digits: u32) -> Result<(Float, Float), String> {
    let sq = Expr::Pow(Box::new(expr.clone()), 2);
    let t = quadrature_table(&sq, 0, digits)?;
    Ok((t.values[0].clone(), t.abs_error_bound[0].clone()))
}
