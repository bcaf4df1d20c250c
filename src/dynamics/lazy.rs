//! # The α-scaled (lazy) network: finite-width training towards the kernel limit
//!
//! proofs-notes/langevin-kernel.md §5. Width N (even), neurons (a_i, w_i), w_i ∈ S^{d−1},
//! f(x) = (α/N) Σ_i a_i σ(⟨w_i, x⟩), teacher σ*(⟨θ, x⟩) with θ = e_1, loss L = c·E(f − y)² on
//! the exact population (x ~ N(0, I_d)). Symmetric doubling start: N/2 directions w_p uniform
//! on the sphere (ChaCha8, key `seed`, stream `draw`), neurons 2p and 2p + 1 are (+1, w_p) and
//! (−1, w_p), so f_0 = 0 exactly. Learning rate ηN/α² on a and on w (tangent step, then
//! normalise), time t = k·η (so time is rescaled by α^{−2}). With
//! u_i = E[(f − y)σ(⟨w_i, x⟩)] = (α/N)Σ_j a_j κ(⟨w_i, w_j⟩) − ψ(⟨w_i, θ⟩) and
//! v_i = (α/N)Σ_j a_j κ'(⟨w_i, w_j⟩) w_j − ψ'(⟨w_i, θ⟩) θ, one step is
//! a_i ← a_i − (2cη/α) u_i (if a is trained), w_i ← normalise(w_i − (2cη/α) a_i P_{w_i} v_i)
//! (if w is trained), both from the old state. Risk R = (α/N)² Σ_ij a_i a_j κ_ij
//! − 2(α/N) Σ_i a_i ψ(s_i) + E σ*².
//!
//! As α → ∞ at fixed N the risk tends to that of the kernel flow with the empirical tangent
//! kernel; since the start is symmetric under a → −a (which is α → −α), R_{N,α} is even in
//! 1/α and approaches its limit as α^{−2}; as N → ∞ the empirical kernel tends to K_0
//! ([`crate::langevin::kernel`]) with fluctuations O(N^{−1/2}).
//!
//! Kernels: closed forms in f64 for relu/relu and erf(az)/erf(bz) pairs, otherwise the power
//! series of [`crate::meanfield::Model`] by Horner (the caller checks its truncation bounds).
//! Accuracy contract: plain f64 (no bound claimed beyond the kernels' truncation); rows are
//! computed independently and summed in index order, so the output bits do not depend on the
//! thread count. Tests: `tests/langevin_kernel.rs` (`alpha_exponent_is_two`,
//! `alpha_network_approaches_the_kernel_curve`).

use crate::kernel::{closed_kernel, ClosedKernel};
use crate::langevin::kernel::Trained;
use crate::meanfield::Model;
use rayon::prelude::*;

/// κ or ψ with its first derivative, in f64.
#[derive(Clone, Debug)]
enum Dual {
    Relu,
    /// (2/π) asin(C s)
    Erf(f64),
    Series(Vec<f64>),
}

impl Dual {
    fn new(closed: Option<ClosedKernel>, series: Vec<f64>) -> Dual {
        match closed {
            Some(ClosedKernel::ReluRelu) => Dual::Relu,
            Some(ClosedKernel::ErfErf(a, b)) => {
                let (a, b) = (a.to_f64(), b.to_f64());
                Dual::Erf(2.0 * a * b / ((1.0 + 2.0 * a * a) * (1.0 + 2.0 * b * b)).sqrt())
            }
            None => Dual::Series(series),
        }
    }

    /// (value, derivative) at s ∈ [−1, 1].
    fn eval(&self, s: f64) -> (f64, f64) {
        let pi = std::f64::consts::PI;
        match self {
            Dual::Relu => (
                crate::langevin::kernel_relu::kappa(s),
                (-s).acos() / (2.0 * pi),
            ),
            Dual::Erf(c) => (
                2.0 / pi * (c * s).asin(),
                2.0 / pi * c / (1.0 - c * c * s * s).sqrt(),
            ),
            Dual::Series(a) => {
                let (mut v, mut dv) = (0.0, 0.0);
                for ak in a.iter().rev() {
                    dv = dv * s + v;
                    v = v * s + ak;
                }
                (v, dv)
            }
        }
    }
}

/// One α-scaled run.
#[derive(Clone, Debug)]
pub struct LazyRun {
    pub d: usize,
    /// N (even).
    pub width: usize,
    pub alpha: f64,
    pub eta: f64,
    pub trained: Trained,
    /// Loss scale c.
    pub c: f64,
    kappa: Dual,
    psi: Dual,
    teacher_norm: f64,
}

/// The state: second-layer weights and directions.
#[derive(Clone, Debug)]
pub struct LazyState {
    pub a: Vec<f64>,
    pub w: Vec<Vec<f64>>,
}

impl LazyRun {
    /// The run of width `width` (even, ≥ 2) for the problem of `model`.
    pub fn new(model: &Model, width: usize, alpha: f64, eta: f64, trained: Trained) -> LazyRun {
        LazyRun {
            d: model.d,
            width,
            alpha,
            eta,
            trained,
            c: model.scale(),
            kappa: Dual::new(
                closed_kernel(&model.student, &model.student),
                model.kappa.to_f64(),
            ),
            psi: Dual::new(
                closed_kernel(&model.student, &model.teacher),
                model.psi.to_f64(),
            ),
            teacher_norm: model.teacher_norm.0.to_f64(),
        }
    }

    /// The doubled start of draw `draw`.
    pub fn start(&self, seed: u64, draw: u64) -> LazyState {
        let dirs = crate::sampling::sphere_rows_stream(seed, draw, self.width / 2, self.d);
        let mut a = Vec::with_capacity(self.width);
        let mut w = Vec::with_capacity(self.width);
        for p in dirs {
            a.push(1.0);
            w.push(p.clone());
            a.push(-1.0);
            w.push(p);
        }
        LazyState { a, w }
    }

    /// Per neuron: (Σ_j a_j κ_ij, Σ_j a_j κ'_ij w_j) with the scale α/N applied.
    fn sums(&self, st: &LazyState) -> Vec<(f64, Vec<f64>)> {
        let scale = self.alpha / self.width as f64;
        let d = self.d;
        let grad = self.trained != Trained::A;
        (0..self.width)
            .into_par_iter()
            .map(|i| {
                let mut k = 0.0;
                let mut v = vec![0.0; d];
                for j in 0..self.width {
                    let s: f64 = st.w[i]
                        .iter()
                        .zip(&st.w[j])
                        .map(|(x, y)| x * y)
                        .sum::<f64>()
                        .clamp(-1.0, 1.0);
                    let (kv, kd) = self.kappa.eval(s);
                    k += st.a[j] * kv;
                    if grad {
                        let f = st.a[j] * kd;
                        for (vi, wj) in v.iter_mut().zip(&st.w[j]) {
                            *vi += f * wj;
                        }
                    }
                }
                (scale * k, v.iter().map(|x| scale * x).collect())
            })
            .collect()
    }

    /// The population risk E(f − y)² of a state.
    pub fn risk(&self, st: &LazyState) -> f64 {
        let scale = self.alpha / self.width as f64;
        let sums = self.sums(st);
        let mut quad = 0.0;
        let mut cross = 0.0;
        for i in 0..self.width {
            quad += st.a[i] * sums[i].0;
            cross += st.a[i] * self.psi.eval(st.w[i][0].clamp(-1.0, 1.0)).0;
        }
        scale * quad - 2.0 * scale * cross + self.teacher_norm
    }

    /// One step of size η (time η), from the old state.
    pub fn step(&self, st: &mut LazyState) {
        let sums = self.sums(st);
        let lr = 2.0 * self.c * self.eta / self.alpha;
        let (train_a, train_w) = match self.trained {
            Trained::A => (true, false),
            Trained::W => (false, true),
            Trained::Aw => (true, true),
        };
        let old_a = st.a.clone();
        for i in 0..self.width {
            let s = st.w[i][0].clamp(-1.0, 1.0);
            let (p, dp) = self.psi.eval(s);
            if train_a {
                st.a[i] -= lr * (sums[i].0 - p);
            }
            if train_w {
                let mut v = sums[i].1.clone();
                v[0] -= dp;
                let w = &st.w[i];
                let along: f64 = v.iter().zip(w).map(|(x, y)| x * y).sum();
                let mut next: Vec<f64> = w
                    .iter()
                    .zip(&v)
                    .map(|(wi, vi)| wi - lr * old_a[i] * (vi - along * wi))
                    .collect();
                let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
                for x in &mut next {
                    *x /= norm;
                }
                st.w[i] = next;
            }
        }
    }

    /// Risks at steps 0, `every`, 2·`every`, … and the last of `steps`: (t, R).
    pub fn risk_curve(&self, seed: u64, draw: u64, steps: usize, every: usize) -> Vec<(f64, f64)> {
        let mut st = self.start(seed, draw);
        let mut out = vec![(0.0, self.risk(&st))];
        for k in 1..=steps {
            self.step(&mut st);
            if k % every == 0 || k == steps {
                out.push((k as f64 * self.eta, self.risk(&st)));
            }
        }
        out
    }
}
