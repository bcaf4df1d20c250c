//! The MPFR route to the Gibbs fixed point: Newton on the node values of φ.
//!
//! Independent of [`super::fast`] (no Gegenbauer moments, no Funk–Hecke coefficients):
//! - s nodes: on each half [0, 1] and [−1, 0], Gauss–Jacobi for the weight (1 − |s|)^{(d−3)/2}
//!   with the smooth factor (1 + |s|)^{(d−3)/2} put into the weights (so that the kink of |s|
//!   sits at an end point), computed in MPFR (Newton on the orthonormal recurrence from f64
//!   starting guesses, Christoffel weights);
//! - the interaction kernel K̄(s_i, s_j) = E_z κ(s_i s_j + r_i r_j z), r = √(1 − s²), z with
//!   density ∝ (1 − z²)^{(d−4)/2}, by Gauss–Jacobi in z of κ itself: the closed form for
//!   relu/relu and erf(az)/erf(bz) pairs, otherwise the power series of
//!   [`crate::meanfield::Model`] (its truncation bound must be ≤ 10^{−digits});
//! - unknowns u_i = φ(s_i); G(u)_i = u_i − 2c[Σ_j π_j K̄_ij − ψ(s_i)], π_j = w_j e^{−βu_j}/Z;
//!   Jacobian δ_ik + 2cβ π_k (K̄_ik − Σ_j π_j K̄_ij); Gaussian elimination in MPFR, damped.
//!
//! Error estimate (never an enclosure): |A − B|, A at the requested digits and n nodes, B at
//! twice the digits and ⌈1.25n⌉ nodes, plus the kernel-truncation terms of [`crate::langevin`].

use super::gauss::gauss_jacobi;
use super::{check_inputs, BoundKind, Gibbs, LangevinError, Quantity};
use crate::coeffs::digits_to_bits;
use crate::kernel::{self, ClosedKernel};
use crate::meanfield::Model;
use rayon::prelude::*;
use rug::Float;

/// Largest number of nodes of the oracle.
pub const MAX_ORACLE_NODES: usize = 400;

/// Default node count for `digits` digits at inverse temperature β: digits + 16 (at least
/// 24), plus ⌈4√β⌉ for the width ~ β^{-1/2} of the Gibbs law when it concentrates, capped at
/// [`MAX_ORACLE_NODES`] (the run's own precision-doubling estimate then says whether the cap
/// was enough).
pub fn default_nodes(digits: u32, beta: f64) -> usize {
    ((digits as usize + 16).max(24) + (4.0 * beta.max(0.0).sqrt()).ceil().min(300.0) as usize)
        .min(MAX_ORACLE_NODES)
}

/// κ or ψ as evaluated by the oracle.
#[derive(Clone)]
struct KernelEval {
    closed: Option<ClosedKernel>,
    series: Vec<Float>,
    /// sup-norm truncation bound (0 for a closed form).
    tail: f64,
}

/// A kernel evaluator at a fixed precision (constants of the closed forms precomputed).
enum Evaluator<'a> {
    /// (2/π) asin(C t)
    Erf {
        c: Float,
        two_over_pi: Float,
    },
    /// (√(1 − t²) + (π − acos t) t)/(2π)
    Relu {
        pi: Float,
    },
    Series(&'a [Float]),
}

impl KernelEval {
    fn new(closed: Option<ClosedKernel>, s: &crate::meanfield::SeriesKernel) -> KernelEval {
        let tail = if closed.is_some() {
            0.0
        } else {
            s.tail[0] + s.bound.iter().map(|b| b.to_f64()).sum::<f64>()
        };
        KernelEval {
            closed,
            series: s.coefficients.clone(),
            tail,
        }
    }

    fn at(&self, prec: u32) -> Evaluator<'_> {
        let wp = prec + 16;
        match &self.closed {
            Some(ClosedKernel::ErfErf(a, b)) => {
                let a = Float::with_val(wp, a);
                let b = Float::with_val(wp, b);
                let da = Float::with_val(wp, a.square_ref()) * 2u32 + 1u32;
                let db = Float::with_val(wp, b.square_ref()) * 2u32 + 1u32;
                let c = Float::with_val(wp, &a * &b) * 2u32 / (da * db).sqrt();
                let pi = Float::with_val(wp, rug::float::Constant::Pi);
                Evaluator::Erf {
                    c,
                    two_over_pi: Float::with_val(wp, 2u32) / pi,
                }
            }
            Some(ClosedKernel::ReluRelu) => Evaluator::Relu {
                pi: Float::with_val(wp, rug::float::Constant::Pi),
            },
            None => Evaluator::Series(&self.series),
        }
    }

    /// The closed form through `crate::kernel` (used to check [`Evaluator`]).
    #[cfg(test)]
    fn reference(&self, t: &Float, prec: u32) -> Float {
        match &self.closed {
            Some(ck) => kernel::closed_value(ck, t, 0, prec).unwrap().value,
            None => self.at(prec).eval(t, prec),
        }
    }
}

impl Evaluator<'_> {
    fn eval(&self, t: &Float, prec: u32) -> Float {
        let wp = prec + 16;
        let mut t = Float::with_val(wp, t);
        if t > 1 {
            t = Float::with_val(wp, 1);
        } else if t < -1 {
            t = Float::with_val(wp, -1);
        }
        let v = match self {
            Evaluator::Erf { c, two_over_pi } => Float::with_val(wp, c * &t).asin() * two_over_pi,
            Evaluator::Relu { pi } => {
                let root = (Float::with_val(wp, 1) - Float::with_val(wp, t.square_ref())).sqrt();
                let ac = Float::with_val(wp, t.acos_ref());
                (root + Float::with_val(wp, pi - ac) * &t) / Float::with_val(wp, pi * 2u32)
            }
            Evaluator::Series(c) => {
                let mut acc = Float::new(wp);
                for ck in c.iter().rev() {
                    acc *= &t;
                    acc += ck;
                }
                acc
            }
        };
        Float::with_val(prec, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Spec;
    use crate::population::LossScale;

    #[test]
    fn fast_closed_forms_match_kernel_module() {
        for (st, te) in [("relu", "relu"), ("erf", "erf(2*z)")] {
            let s = Spec::parse(st).unwrap();
            let t = Spec::parse(te).unwrap();
            let m = Model::new(&s, &t, 5, 10, 20, LossScale::Full, 0.0).unwrap();
            let k = KernelEval::new(kernel::closed_kernel(&s, &t), &m.psi);
            assert!(k.closed.is_some());
            let prec = 200;
            let ev = k.at(prec);
            for i in 0..=20 {
                let x = Float::with_val(prec, i as i32 - 10) / 10u32;
                let diff = Float::with_val(prec, ev.eval(&x, prec) - k.reference(&x, prec)).abs();
                assert!(diff < 1e-55, "{st}/{te} at {x}: {diff}");
            }
        }
    }
}

/// Gauss–Jacobi rule in MPFR for ∝ (1 − x)^α (1 + x)^β (α, β in f64, exactly representable).
fn gauss_jacobi_mp(n: usize, alpha: f64, beta: f64, prec: u32) -> (Vec<Float>, Vec<Float>) {
    let (x0, _) = gauss_jacobi(n, alpha, beta);
    let al = Float::with_val(prec, alpha);
    let be = Float::with_val(prec, beta);
    let ab = Float::with_val(prec, &al + &be);
    let symmetric = alpha == beta;
    let mut a = Vec::with_capacity(n);
    let mut b = vec![Float::new(prec)]; // b[0] unused
    for k in 0..n {
        if symmetric {
            a.push(Float::new(prec));
        } else if k == 0 {
            a.push(Float::with_val(prec, &be - &al) / Float::with_val(prec, &ab + 2u32));
        } else {
            let s = Float::with_val(prec, &ab + (2 * k) as u32);
            let num =
                Float::with_val(prec, be.square_ref()) - Float::with_val(prec, al.square_ref());
            a.push(num / (Float::with_val(prec, &s * Float::with_val(prec, &s + 2u32))));
        }
        if k >= 1 {
            let kf = Float::with_val(prec, k as u32);
            let b2 = if symmetric && k == 1 {
                Float::with_val(prec, 1u32) / (Float::with_val(prec, &al * 2u32) + 3u32)
            } else if symmetric {
                let s = Float::with_val(prec, &al * 2u32) + (2 * k) as u32;
                Float::with_val(prec, &kf * (Float::with_val(prec, &al * 2u32) + k as u32))
                    / (Float::with_val(prec, &s + 1u32) * Float::with_val(prec, &s - 1u32))
            } else {
                let s = Float::with_val(prec, &ab + (2 * k) as u32);
                let num = Float::with_val(prec, &kf * 4u32)
                    * Float::with_val(prec, &kf + &al)
                    * Float::with_val(prec, &kf + &be)
                    * Float::with_val(prec, &kf + &ab);
                num / (Float::with_val(prec, s.square_ref())
                    * Float::with_val(prec, &s + 1u32)
                    * Float::with_val(prec, &s - 1u32))
            };
            b.push(b2.sqrt());
        }
    }
    // p_0..p_{n−1} orthonormal and the monic-scaled q_n = (x − a_{n−1})p_{n−1} − b_{n−1}p_{n−2},
    // with derivatives.
    let eval = |x: &Float| -> (Float, Float, Float) {
        let mut pm = Float::new(prec);
        let mut p = Float::with_val(prec, 1);
        let mut dpm = Float::new(prec);
        let mut dp = Float::new(prec);
        let mut sum = Float::with_val(prec, 1);
        for k in 0..n {
            let xa = Float::with_val(prec, x - &a[k]);
            let mut q = Float::with_val(prec, &xa * &p);
            let mut dq = Float::with_val(prec, &xa * &dp) + &p;
            if k >= 1 {
                q -= Float::with_val(prec, &b[k] * &pm);
                dq -= Float::with_val(prec, &b[k] * &dpm);
            }
            if k + 1 == n {
                return (q, dq, sum);
            }
            q /= &b[k + 1];
            dq /= &b[k + 1];
            sum += Float::with_val(prec, q.square_ref());
            pm = std::mem::replace(&mut p, q);
            dpm = std::mem::replace(&mut dp, dq);
        }
        unreachable!("n >= 1")
    };
    let mut xs = Vec::with_capacity(n);
    let mut ws = Vec::with_capacity(n);
    let tol = Float::with_val(prec, Float::with_val(prec, 1) >> (prec - 8));
    for &g in &x0 {
        let mut x = Float::with_val(prec, g);
        for _ in 0..60 {
            let (q, dq, _) = eval(&x);
            let step = Float::with_val(prec, &q / &dq);
            x -= &step;
            if step.abs() <= tol {
                break;
            }
        }
        // The Christoffel sum Σ_{k<n} p_k² at the final node.
        let (_, _, sum) = eval(&x);
        ws.push(Float::with_val(prec, 1) / sum);
        xs.push(x);
    }
    let total = ws.iter().fold(Float::new(prec), |acc, w| acc + w);
    for w in &mut ws {
        *w /= &total;
    }
    (xs, ws)
}

/// One oracle solve: values in a fixed order and moments.
struct Solve {
    values: Vec<Float>,
    moments: Vec<Float>,
    iterations: usize,
    residual: f64,
}

struct Problem<'a> {
    model: &'a Model,
    beta: f64,
    kappa: KernelEval,
    psi: KernelEval,
}

fn solve(pb: &Problem, prec: u32, n: usize, l_out: usize) -> Result<Solve, LangevinError> {
    let d = pb.model.d;
    let a = (d as f64 - 3.0) / 2.0;
    let kappa = pb.kappa.at(prec);
    let psi_ev = pb.psi.at(prec);
    // s nodes: a Gauss–Jacobi rule (1 − y)^a on each half, s = ±(1 + y)/2, the smooth factor
    // (1 + s)^a in the weight; normalised to total mass 1.
    let half = n.div_ceil(2);
    let (y, wy) = gauss_jacobi_mp(half, a, 0.0, prec);
    let af = Float::with_val(prec, a);
    let mut x = Vec::with_capacity(2 * half);
    let mut w = Vec::with_capacity(2 * half);
    for (yi, wi) in y.iter().zip(&wy) {
        let s = Float::with_val(prec, yi + 1u32) / 2u32;
        let f = Float::with_val(prec, Float::with_val(prec, &s + 1u32).ln() * &af).exp() * wi;
        x.push(Float::with_val(prec, -&s));
        w.push(f.clone());
        x.push(s);
        w.push(f);
    }
    let total = w.iter().fold(Float::new(prec), |acc, v| acc + v);
    for wi in &mut w {
        *wi /= &total;
    }
    let n_z = n;
    let n = x.len();
    let (z, v) = gauss_jacobi_mp(n_z, (d as f64 - 4.0) / 2.0, (d as f64 - 4.0) / 2.0, prec);
    let c = Float::with_val(prec, pb.model.scale());
    let beta = Float::with_val(prec, pb.beta);
    let two_c = Float::with_val(prec, &c * 2u32);
    let root = |s: &Float| -> Float {
        let one_m = Float::with_val(prec, 1) - Float::with_val(prec, s.square_ref());
        if one_m <= 0 {
            Float::new(prec)
        } else {
            one_m.sqrt()
        }
    };
    let r: Vec<Float> = x.iter().map(root).collect();
    // K̄(s, s') = Σ_q v_q κ(s s' + r r' z_q)
    let kbar = |s: &Float, rs: &Float, t: &Float, rt: &Float| -> Float {
        let ss = Float::with_val(prec, s * t);
        let rr = Float::with_val(prec, rs * rt);
        let mut acc = Float::new(prec);
        for (zq, vq) in z.iter().zip(&v) {
            let arg = Float::with_val(prec, &rr * zq) + &ss;
            acc += kappa.eval(&arg, prec) * vq;
        }
        acc
    };
    // Upper triangle, rows in parallel (each entry is computed alone: the same bits for any
    // number of threads).
    let upper: Vec<Vec<Float>> = (0..n)
        .into_par_iter()
        .map(|i| (i..n).map(|j| kbar(&x[i], &r[i], &x[j], &r[j])).collect())
        .collect();
    let mut km = vec![vec![Float::new(prec); n]; n];
    for (i, row) in upper.into_iter().enumerate() {
        for (off, k) in row.into_iter().enumerate() {
            km[i + off][i] = k.clone();
            km[i][i + off] = k;
        }
    }
    let psi: Vec<Float> = x.iter().map(|s| psi_ev.eval(s, prec)).collect();
    // masses π ∝ w e^{−βu}
    let masses = |u: &[Float]| -> Vec<Float> {
        let min = u.iter().min_by(|p, q| p.total_cmp(q)).unwrap().clone();
        let mut pi: Vec<Float> = (0..n)
            .map(|i| {
                let e = Float::with_val(prec, &u[i] - &min) * &beta;
                Float::with_val(prec, -e).exp() * &w[i]
            })
            .collect();
        let total = pi.iter().fold(Float::new(prec), |acc, p| acc + p);
        for p in &mut pi {
            *p /= &total;
        }
        pi
    };
    let field = |pi: &[Float]| -> Vec<Float> {
        (0..n)
            .map(|i| {
                let mut acc = Float::new(prec);
                for j in 0..n {
                    acc += Float::with_val(prec, &pi[j] * &km[i][j]);
                }
                acc
            })
            .collect()
    };
    let residual_of = |u: &[Float]| -> (Vec<Float>, Vec<Float>, Vec<Float>) {
        let pi = masses(u);
        let kp = field(&pi);
        let g: Vec<Float> = (0..n)
            .map(|i| {
                Float::with_val(prec, &u[i])
                    - Float::with_val(prec, &two_c * Float::with_val(prec, &kp[i] - &psi[i]))
            })
            .collect();
        (g, pi, kp)
    };
    let maxabs = |g: &[Float]| -> Float {
        g.iter().fold(Float::new(prec), |acc, x| {
            acc.max(&Float::with_val(prec, x.abs_ref()))
        })
    };
    let mut u: Vec<Float> = psi
        .iter()
        .map(|p| Float::with_val(prec, -Float::with_val(prec, &two_c * p)))
        .collect();
    let (mut g, mut pi, mut kp) = residual_of(&u);
    let target = Float::with_val(prec, Float::with_val(prec, 1) >> (prec - 24));
    let mut iterations = 0;
    loop {
        let res = maxabs(&g);
        if res <= target || iterations >= 100 {
            break;
        }
        iterations += 1;
        let coef = Float::with_val(prec, &two_c * &beta);
        let mut m: Vec<Vec<Float>> = (0..n)
            .map(|i| {
                let mut row: Vec<Float> = (0..n)
                    .map(|k| {
                        let mut e = Float::with_val(prec, &km[i][k] - &kp[i]) * &pi[k] * &coef;
                        if i == k {
                            e += 1u32;
                        }
                        e
                    })
                    .collect();
                row.push(Float::with_val(prec, -&g[i]));
                row
            })
            .collect();
        let delta = solve_linear(&mut m, prec).ok_or_else(|| {
            LangevinError::NoConvergence("singular Newton matrix on the nodes".into())
        })?;
        let mut t = Float::with_val(prec, 1);
        let mut accepted = false;
        for _ in 0..30 {
            let trial: Vec<Float> = (0..n)
                .map(|i| Float::with_val(prec, &delta[i] * &t) + &u[i])
                .collect();
            let (g2, pi2, kp2) = residual_of(&trial);
            if maxabs(&g2) < res {
                u = trial;
                g = g2;
                pi = pi2;
                kp = kp2;
                accepted = true;
                break;
            }
            t >>= 1;
        }
        if !accepted {
            break;
        }
    }
    let residual = maxabs(&g).to_f64();
    let tiny = Float::with_val(prec, Float::with_val(prec, 1) >> (prec / 2));
    if maxabs(&g) > tiny {
        return Err(LangevinError::NoConvergence(format!(
            "Newton on the nodes stopped at residual {residual:.3e} after {iterations} iterations"
        )));
    }
    // Functionals.
    let min = u.iter().min_by(|p, q| p.total_cmp(q)).unwrap().clone();
    // As in the f64 route: KL/β = −E_π Δ − (log Z')/β with Δ = u − min u, Z' = Σ w e^{−βΔ},
    // log Z' by ln_1p(Σ w expm1(−βΔ)) when Z' > ½ (accurate as β → 0).
    let mut zs = Float::new(prec);
    let mut zm1 = Float::new(prec);
    for i in 0..n {
        let e = Float::with_val(prec, &u[i] - &min) * &beta;
        zs += Float::with_val(prec, -&e).exp() * &w[i];
        zm1 += Float::with_val(prec, -e).exp_m1() * &w[i];
    }
    let log_zs = if zs > 0.5 { zm1.ln_1p() } else { zs.ln() };
    let log_z = Float::with_val(prec, -Float::with_val(prec, &beta * &min)) + &log_zs;
    let sum = |f: &dyn Fn(usize) -> Float| -> Float {
        (0..n).fold(Float::new(prec), |acc, i| {
            acc + Float::with_val(prec, &pi[i] * f(i))
        })
    };
    let e_delta = sum(&|i| Float::with_val(prec, &u[i] - &min));
    let kl_over_beta = Float::with_val(prec, -e_delta) - Float::with_val(prec, &log_zs / &beta);
    let kl = Float::with_val(prec, &kl_over_beta * &beta);
    let interaction = sum(&|i| kp[i].clone());
    let e_psi = sum(&|i| psi[i].clone());
    let teacher = Float::with_val(prec, &pb.model.teacher_norm.0);
    let risk =
        Float::with_val(prec, &interaction - Float::with_val(prec, &e_psi * 2u32)) + &teacher;
    let loss = Float::with_val(prec, &risk * &c);
    let free = Float::with_val(prec, &kl_over_beta + &loss);
    let mean_s = sum(&|i| x[i].clone());
    let mean_s2 = sum(&|i| Float::with_val(prec, x[i].square_ref()));
    // Gegenbauer moments by the recurrence at the nodes.
    let mut moments = vec![Float::new(prec); l_out + 1];
    for i in 0..n {
        let (mut pm, mut p) = (Float::with_val(prec, 1), x[i].clone());
        moments[0] += &pi[i];
        if l_out >= 1 {
            moments[1] += Float::with_val(prec, &pi[i] * &p);
        }
        for l in 1..l_out {
            let next = (Float::with_val(prec, &x[i] * &p) * ((2 * l + d - 2) as u32)
                - Float::with_val(prec, &pm * l as u32))
                / ((l + d - 2) as u32);
            moments[l + 1] += Float::with_val(prec, &pi[i] * &next);
            pm = std::mem::replace(&mut p, next);
        }
    }
    // E|s|: the rule has the kink of |s| at an end point of each half.
    let mean_abs = sum(&|i| Float::with_val(prec, x[i].abs_ref()));
    Ok(Solve {
        values: vec![
            free,
            loss,
            risk,
            kl,
            log_z,
            mean_s,
            mean_s2,
            mean_abs,
            interaction,
        ],
        moments,
        iterations,
        residual,
    })
}

/// Gaussian elimination with partial pivoting on [A | b] in MPFR.
fn solve_linear(m: &mut [Vec<Float>], prec: u32) -> Option<Vec<Float>> {
    let n = m.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| {
            Float::with_val(prec, m[i][col].abs_ref())
                .total_cmp(&Float::with_val(prec, m[j][col].abs_ref()))
        })?;
        if m[piv][col].is_zero() {
            return None;
        }
        m.swap(col, piv);
        let (top, bottom) = m.split_at_mut(col + 1);
        let prow = &top[col];
        for row in bottom {
            let f = Float::with_val(prec, &row[col] / &prow[col]);
            if f.is_zero() {
                continue;
            }
            for (x, p) in row[col..].iter_mut().zip(&prow[col..]) {
                *x -= Float::with_val(prec, &f * p);
            }
        }
    }
    let mut x = vec![Float::new(prec); n];
    for r in (0..n).rev() {
        let mut s = m[r][n].clone();
        for k in r + 1..n {
            s -= Float::with_val(prec, &m[r][k] * &x[k]);
        }
        x[r] = s / &m[r][r];
    }
    Some(x)
}

/// The Gibbs fixed point by the oracle at `digits` digits with `nodes` nodes (s, z and the
/// half rules), with the precision-doubling estimate.
pub fn gibbs(
    model: &Model,
    beta: f64,
    digits: u32,
    nodes: usize,
    l_out: usize,
) -> Result<Gibbs<Float>, LangevinError> {
    check_inputs(model, beta)?;
    if !(2..=MAX_ORACLE_NODES).contains(&nodes) {
        return Err(LangevinError::Kernel(format!(
            "nodes = {nodes}: out of range (2..={MAX_ORACLE_NODES})"
        )));
    }
    let pb = Problem {
        model,
        beta,
        kappa: KernelEval::new(
            kernel::closed_kernel(&model.student, &model.student),
            &model.kappa,
        ),
        psi: KernelEval::new(
            kernel::closed_kernel(&model.student, &model.teacher),
            &model.psi,
        ),
    };
    let need = 10f64.powi(-(digits as i32));
    for (name, k) in [("kappa", &pb.kappa), ("psi", &pb.psi)] {
        if k.tail.is_nan() || k.tail > need {
            return Err(LangevinError::Kernel(format!(
                "the series of {name} at degree {} is bounded only to {:.3e} > 1e-{digits}: raise --degree or lower --digits",
                model.degree, k.tail
            )));
        }
    }
    let prec = digits_to_bits(digits) + 32;
    let a = solve(&pb, prec, nodes, l_out)?;
    let nodes_b = (5 * nodes).div_ceil(4);
    let b = solve(&pb, 2 * prec, nodes_b, l_out)?;
    let tails = [pb.kappa.tail, pb.psi.tail];
    let kappa1 = pb
        .kappa
        .at(prec)
        .eval(&Float::with_val(prec, 1), prec)
        .to_f64()
        .abs();
    let psi_sup = model
        .psi
        .coefficients
        .iter()
        .map(|x| x.to_f64().abs())
        .sum::<f64>();
    // Kernel-truncation terms ([`super::Truncation`]).
    let tr = super::Truncation {
        c: model.scale(),
        beta,
        tails,
        sup_kernel: kappa1,
        sup_psi: psi_sup,
    };
    let (resp, sup_phi) = (tr.resp(), tr.sup_phi());
    let ulp = 2f64.powi(-(prec as i32) + 8);
    let diff = |x: &Float, y: &Float| Float::with_val(64, x - y).abs().to_f64();
    let q = |k: usize, trunc: f64| Quantity {
        value: Float::with_val(prec, &a.values[k]),
        bound: diff(&a.values[k], &b.values[k]) + trunc + ulp * (1.0 + a.values[k].to_f64().abs()),
        kind: BoundKind::Estimate,
    };
    let t = tr.terms();
    let moments = super::gegenbauer_moments(l_out, Float::with_val(prec, 1), |l| Quantity {
        value: a.moments[l].clone(),
        bound: diff(&a.moments[l], &b.moments[l]) + resp + ulp,
        kind: BoundKind::Estimate,
    });
    Ok(Gibbs::from_parts(
        std::array::from_fn(|k| q(k, t[k])),
        moments,
        a.iterations,
        a.residual,
        // g_i = u_i − 2c(κ_i − ψ_i) at `prec` bits, with |u| ≤ β·sup|φ|: a few ulps of that.
        ulp * (1.0 + beta * sup_phi),
        nodes,
        tails,
    ))
}
