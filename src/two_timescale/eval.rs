//! The f64 evaluation on given data and particles: the n × n route.
//!
//! H = tanh(X U ᵀ + 1bᵀ) (n × m), K = HHᵀ/m, A = K + nλ̄_a I = LLᵀ (Cholesky),
//! c = A^{-1}y by two triangular solves, a = Hᵀc, f(X) = Kc, U = (λ̄_a/2)yᵀc,
//! reg = (λ̄_w/2)(1/m)Σ|w_i|², dof = tr KA^{-1} = ‖L^{-1}H‖²_F/m (a sum of squares: no
//! cancellation), drift ∇δG/δμ(w_i) = −λ̄_a a_i Σ_j c_j(1 − H_ji²)(x_j, 1) + λ̄_w w_i.
//!
//! Accuracy contract: with u = 2^{-53}, κ = κ₂(A) ≤ 1 + tr K/(nλ̄_a), each printed quantity
//! is within C·κ·(n + m + d)·u of the exact value relative to its scale (the largest
//! magnitude among its entries, or the terms it is a sum of), with C a small constant
//! (tested with C = 64 against the MPFR oracle).
//!
//! Parallel loops (rayon) only split independent outputs (rows of H and K, particles of the
//! drift, columns of L^{-1}H); every sum runs in a fixed order, so the bits do not depend on
//! the number of threads.

use super::{Input, ParamsF64, Target};
use rayon::prelude::*;

/// The quantities of one particle set that the others are built from.
pub struct Core {
    pub n: usize,
    pub m: usize,
    /// n × m, H_ji = h(x_j; w_i).
    pub h: Vec<f64>,
    /// m × n, Hᵀ.
    pub ht: Vec<f64>,
    /// n × n.
    pub k: Vec<f64>,
    /// n × n lower-triangular Cholesky factor of K + nλ̄_a I (row-major, upper part zero).
    pub l: Vec<f64>,
    /// c = (K + nλ̄_a I)^{-1} y.
    pub c: Vec<f64>,
    /// a(w_i) = Σ_j H_ji c_j.
    pub a: Vec<f64>,
    pub u: f64,
    pub reg: f64,
    pub objective: f64,
}

/// The state after one particle update.
#[derive(Clone, Debug)]
pub struct Step {
    pub objective: f64,
    pub degrees_of_freedom: f64,
    /// None when undefined (zero Gram or zero target).
    pub alignment: Option<f64>,
    /// m × (d + 1), row-major.
    pub w: Vec<f64>,
}

/// The label-noise quantities of one draw ε̃.
#[derive(Clone, Debug)]
pub struct LabelNoise {
    /// ∇_w δG_ε̃/δμ at each particle, m × (d + 1).
    pub drift: Vec<f64>,
    /// G_ε̃ = (1/2n)|y − Kc̃|² + (λ̄_a/2)c̃ᵀKc̃ + reg, c̃ = A^{-1}(y + ε̃).
    pub objective: f64,
    /// E_ε̃ G_ε̃ = G + σ̃²·dof/(6n) for ε̃ ~ Unif[−σ̃, σ̃]^n.
    pub expected_objective: f64,
}

/// Every quantity of `two-timescale eval`.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub objective: f64,
    pub u: f64,
    pub reg: f64,
    pub readout: Vec<f64>,
    pub second_layer: Vec<f64>,
    pub predictions: Vec<f64>,
    pub test_predictions: Option<Vec<f64>>,
    pub degrees_of_freedom: f64,
    pub alignment: Option<f64>,
    pub alignment_labels: Option<f64>,
    pub alignment_test: Option<f64>,
    pub alignment_centred: Option<f64>,
    pub trace_k: f64,
    pub frobenius_k: f64,
    pub train_mse: f64,
    pub test_mse: Option<f64>,
    pub second_layer_l2: f64,
    pub first_variation: Vec<f64>,
    /// m × (d + 1), row-major.
    pub drift: Vec<f64>,
    pub label_noise: Option<LabelNoise>,
    pub after_gd_step: Step,
    pub after_langevin_step: Option<Step>,
    pub after_label_noise_step: Option<Step>,
}

impl Evaluation {
    /// (name, values) of every numeric output, in print order; absent (None) quantities are
    /// left out. The names are the JSON field names (`after_gd_step.objective` for nested
    /// ones).
    pub fn named(&self) -> Vec<(String, Vec<f64>)> {
        let mut v: Vec<(String, Vec<f64>)> = vec![
            ("objective".into(), vec![self.objective]),
            ("U".into(), vec![self.u]),
            ("reg".into(), vec![self.reg]),
            ("readout".into(), self.readout.clone()),
            ("second_layer".into(), self.second_layer.clone()),
            ("predictions".into(), self.predictions.clone()),
        ];
        let mut opt = |name: &str, x: Option<Vec<f64>>| {
            if let Some(x) = x {
                v.push((name.to_string(), x));
            }
        };
        opt("test_predictions", self.test_predictions.clone());
        opt("degrees_of_freedom", Some(vec![self.degrees_of_freedom]));
        opt("alignment", self.alignment.map(|x| vec![x]));
        opt("alignment_labels", self.alignment_labels.map(|x| vec![x]));
        opt("alignment_test", self.alignment_test.map(|x| vec![x]));
        opt("alignment_centred", self.alignment_centred.map(|x| vec![x]));
        opt("trace_K", Some(vec![self.trace_k]));
        opt("frobenius_K", Some(vec![self.frobenius_k]));
        opt("train_mse", Some(vec![self.train_mse]));
        opt("test_mse", self.test_mse.map(|x| vec![x]));
        opt("second_layer_l2", Some(vec![self.second_layer_l2]));
        opt("first_variation", Some(self.first_variation.clone()));
        opt("drift", Some(self.drift.clone()));
        if let Some(ln) = &self.label_noise {
            opt("label_noise_drift", Some(ln.drift.clone()));
            opt("objective_label_noise", Some(vec![ln.objective]));
            opt(
                "expected_objective_label_noise",
                Some(vec![ln.expected_objective]),
            );
        }
        let steps = [
            ("after_gd_step", Some(&self.after_gd_step)),
            ("after_langevin_step", self.after_langevin_step.as_ref()),
            (
                "after_label_noise_step",
                self.after_label_noise_step.as_ref(),
            ),
        ];
        for (name, s) in steps {
            if let Some(s) = s {
                v.push((format!("{name}.objective"), vec![s.objective]));
                v.push((
                    format!("{name}.degrees_of_freedom"),
                    vec![s.degrees_of_freedom],
                ));
                if let Some(al) = s.alignment {
                    v.push((format!("{name}.alignment"), vec![al]));
                }
                v.push((format!("{name}.w"), s.w.clone()));
            }
        }
        v
    }
}

/// tanh(u_i·x_j + b_i) for rows x_j of `x` (count × d) and particles `w` (m × (d + 1)):
/// count × m, row-major.
pub fn hidden(x: &[f64], d: usize, w: &[f64], m: usize) -> Vec<f64> {
    let count = x.len() / d;
    let mut h = vec![0.0; count * m];
    h.par_chunks_mut(m.max(1)).enumerate().for_each(|(j, row)| {
        let xj = &x[j * d..(j + 1) * d];
        for (i, out) in row.iter_mut().enumerate() {
            let wi = &w[i * (d + 1)..(i + 1) * (d + 1)];
            let mut s = wi[d];
            for k in 0..d {
                s += wi[k] * xj[k];
            }
            *out = s.tanh();
        }
    });
    let _ = count;
    h
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// G = (1/m) H Hᵀ for H count × m (row-major): count × count, symmetric bit for bit.
pub fn gram(h: &[f64], count: usize, m: usize) -> Vec<f64> {
    let mut k = vec![0.0; count * count];
    k.par_chunks_mut(count).enumerate().for_each(|(j, row)| {
        let hj = &h[j * m..(j + 1) * m];
        for (l, out) in row.iter_mut().enumerate().take(j + 1) {
            *out = dot(hj, &h[l * m..(l + 1) * m]) / m as f64;
        }
    });
    for j in 0..count {
        for l in j + 1..count {
            k[j * count + l] = k[l * count + j];
        }
    }
    k
}

/// Lower Cholesky factor of the symmetric n × n matrix `a` (row-major), row by row
/// (Cholesky–Banachiewicz). Err when a pivot is not positive.
pub fn cholesky(a: &[f64], n: usize) -> Result<Vec<f64>, String> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s = a[i * n + j] - dot(&l[i * n..i * n + j], &l[j * n..j * n + j]);
            if i == j {
                if s.is_nan() || s <= 0.0 {
                    return Err(format!(
                        "K + nλ̄_a I is not numerically positive definite (pivot {i} = {s:e}); \
                         the ridge nλλ_a is too small for f64"
                    ));
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Ok(l)
}

/// Solves L z = b (forward substitution).
pub fn forward(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - dot(&l[i * n..i * n + i], &z[..i])) / l[i * n + i];
    }
    z
}

/// Solves Lᵀ x = z (backward substitution).
pub fn backward(l: &[f64], n: usize, z: &[f64]) -> Vec<f64> {
    let mut x = z.to_vec();
    for i in (0..n).rev() {
        x[i] /= l[i * n + i];
        let xi = x[i];
        for j in 0..i {
            x[j] -= l[i * n + j] * xi;
        }
    }
    x
}

fn solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    backward(l, n, &forward(l, n, b))
}

pub fn transpose(h: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = h[r * cols + c];
        }
    }
    t
}

/// The core quantities at particles `w`.
pub fn core(input: &Input, p: &ParamsF64, w: &[f64]) -> Result<Core, String> {
    let (n, d, m) = (input.n, input.d, input.m);
    let lam_a = p.lambda * p.lambda_a;
    let lam_w = p.lambda * p.lambda_w;
    let h = hidden(&input.x, d, w, m);
    let ht = transpose(&h, n, m);
    let k = gram(&h, n, m);
    let mut a_mat = k.clone();
    for j in 0..n {
        a_mat[j * n + j] += n as f64 * lam_a;
    }
    let l = cholesky(&a_mat, n)?;
    let c = solve(&l, n, &input.y);
    let a: Vec<f64> = (0..m).map(|i| dot(&ht[i * n..(i + 1) * n], &c)).collect();
    let u = 0.5 * lam_a * dot(&input.y, &c);
    let reg = 0.5 * lam_w * w.iter().map(|x| x * x).sum::<f64>() / m as f64;
    Ok(Core {
        n,
        m,
        h,
        ht,
        k,
        l,
        c,
        a,
        u,
        reg,
        objective: u + reg,
    })
}

/// dof = tr K(K + nλ̄_a I)^{-1} = ‖L^{-1}H‖²_F/m.
pub fn degrees_of_freedom(core: &Core) -> f64 {
    let (n, m) = (core.n, core.m);
    let norms: Vec<f64> = (0..m)
        .into_par_iter()
        .map(|i| {
            let z = forward(&core.l, n, &core.ht[i * n..(i + 1) * n]);
            dot(&z, &z)
        })
        .collect();
    norms.iter().sum::<f64>() / m as f64
}

/// f° at the rows of `x` (count × d).
pub fn target_values(t: &Target, x: &[f64], d: usize) -> Option<Vec<f64>> {
    match t {
        Target::Labels => None,
        Target::Product(idx) => Some(
            x.chunks(d)
                .map(|r| idx.iter().map(|&k| r[k]).product())
                .collect(),
        ),
    }
}

/// tᵀKt/(|t|²‖K‖_F); None when the denominator is 0.
pub fn alignment(k: &[f64], t: &[f64]) -> Option<f64> {
    let n = t.len();
    let kt: Vec<f64> = (0..n).map(|j| dot(&k[j * n..(j + 1) * n], t)).collect();
    let num = dot(t, &kt);
    let den = dot(t, t) * k.iter().map(|x| x * x).sum::<f64>().sqrt();
    (den > 0.0).then(|| num / den)
}

/// The centred alignment t̃ᵀ(PKP)t̃/(|t̃|²‖PKP‖_F), P = I − 11ᵀ/n, t̃ = Pt.
pub fn alignment_centred(k: &[f64], t: &[f64]) -> Option<f64> {
    let n = t.len();
    let nf = n as f64;
    let mean = t.iter().sum::<f64>() / nf;
    let tc: Vec<f64> = t.iter().map(|x| x - mean).collect();
    let r: Vec<f64> = (0..n)
        .map(|j| k[j * n..(j + 1) * n].iter().sum::<f64>() / nf)
        .collect();
    let s = r.iter().sum::<f64>() / nf;
    let mut kc = vec![0.0; n * n];
    for j in 0..n {
        for l in 0..n {
            kc[j * n + l] = k[j * n + l] - r[j] - r[l] + s;
        }
    }
    alignment(&kc, &tc)
}

/// ∇_w of −(λ̄_a/2)Σ_t s_t (h(X;w)·v_t)² + (λ̄_w/2)|w|² at every particle, for terms
/// (s_t, v_t) with coefficients α_{t,i} = h(X;w_i)·v_t given.
fn drift_terms(
    input: &Input,
    p: &ParamsF64,
    w: &[f64],
    core: &Core,
    terms: &[(f64, &[f64], &[f64])],
) -> Vec<f64> {
    let (n, d, m) = (input.n, input.d, input.m);
    let dp = d + 1;
    let lam_a = p.lambda * p.lambda_a;
    let lam_w = p.lambda * p.lambda_w;
    let mut out = vec![0.0; m * dp];
    out.par_chunks_mut(dp).enumerate().for_each(|(i, g)| {
        let hi = &core.ht[i * n..(i + 1) * n];
        let mut v = vec![0.0; dp];
        for j in 0..n {
            let mut coef = 0.0;
            for (s, alpha, vt) in terms {
                coef += s * alpha[i] * vt[j];
            }
            coef *= 1.0 - hi[j] * hi[j];
            let xj = &input.x[j * d..(j + 1) * d];
            for k in 0..d {
                v[k] += coef * xj[k];
            }
            v[d] += coef;
        }
        for k in 0..dp {
            g[k] = -lam_a * v[k] + lam_w * w[i * dp + k];
        }
    });
    out
}

fn step(
    input: &Input,
    p: &ParamsF64,
    w: &[f64],
    drift: &[f64],
    xi: Option<&[f64]>,
    clean: &[f64],
) -> Result<Step, String> {
    let s = (2.0 * p.eta * p.lambda).sqrt();
    let w2: Vec<f64> = (0..w.len())
        .map(|k| {
            let mut v = w[k] - p.eta * drift[k];
            if let Some(xi) = xi {
                v += s * xi[k];
            }
            v
        })
        .collect();
    let c = core(input, p, &w2)?;
    Ok(Step {
        objective: c.objective,
        degrees_of_freedom: degrees_of_freedom(&c),
        alignment: alignment(&c.k, clean),
        w: w2,
    })
}

/// Every quantity of `two-timescale eval` (f64). Err only when K + nλ̄_a I is not
/// numerically positive definite.
pub fn evaluate(input: &Input, p: &ParamsF64) -> Result<Evaluation, String> {
    let (n, d, m) = (input.n, input.d, input.m);
    let nf = n as f64;
    let lam_a = p.lambda * p.lambda_a;
    let lam_w = p.lambda * p.lambda_w;
    let w = &input.w;
    let co = core(input, p, w)?;
    let dof = degrees_of_freedom(&co);
    let clean = target_values(&input.f_star, &input.x, d).unwrap_or_else(|| input.y.clone());
    let predictions: Vec<f64> = (0..n)
        .map(|j| dot(&co.k[j * n..(j + 1) * n], &co.c))
        .collect();
    let train_mse = predictions
        .iter()
        .zip(&input.y)
        .map(|(f, y)| (f - y) * (f - y))
        .sum::<f64>()
        / nf;
    let trace_k = (0..n).map(|j| co.k[j * n + j]).sum::<f64>();
    let frobenius_k = co.k.iter().map(|x| x * x).sum::<f64>().sqrt();
    let second_layer_l2 = co.a.iter().map(|x| x * x).sum::<f64>() / m as f64;
    let first_variation: Vec<f64> = (0..m)
        .map(|i| {
            let wi = &w[i * (d + 1)..(i + 1) * (d + 1)];
            -0.5 * lam_a * co.a[i] * co.a[i] + 0.5 * lam_w * dot(wi, wi)
        })
        .collect();
    let drift = drift_terms(input, p, w, &co, &[(1.0, &co.a, &co.c)]);

    let (mut test_predictions, mut test_mse, mut alignment_test) = (None, None, None);
    if let Some((xt, nt)) = &input.x_test {
        let ht = hidden(xt, d, w, m);
        let f: Vec<f64> = (0..*nt)
            .map(|j| dot(&ht[j * m..(j + 1) * m], &co.a) / m as f64)
            .collect();
        if let Some(ft) = target_values(&input.f_star, xt, d) {
            test_mse = Some(
                f.iter()
                    .zip(&ft)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    / *nt as f64,
            );
            alignment_test = alignment(&gram(&ht, *nt, m), &ft);
        }
        test_predictions = Some(f);
    }

    let label_noise = match &input.eps {
        None => None,
        Some(eps) => {
            let e = solve(&co.l, n, eps);
            let ae: Vec<f64> = (0..m)
                .map(|i| dot(&co.ht[i * n..(i + 1) * n], &e))
                .collect();
            let ct: Vec<f64> = co.c.iter().zip(&e).map(|(a, b)| a + b).collect();
            let at: Vec<f64> = co.a.iter().zip(&ae).map(|(a, b)| a + b).collect();
            let fit = (0..n)
                .map(|j| {
                    let f = dot(&co.k[j * n..(j + 1) * n], &ct);
                    (input.y[j] - f) * (input.y[j] - f)
                })
                .sum::<f64>()
                / (2.0 * nf);
            let pen = 0.5 * lam_a * at.iter().map(|x| x * x).sum::<f64>() / m as f64;
            let drift = drift_terms(input, p, w, &co, &[(1.0, &co.a, &co.c), (-1.0, &ae, &e)]);
            Some(LabelNoise {
                drift,
                objective: fit + pen + co.reg,
                expected_objective: co.objective + p.sigma_tilde * p.sigma_tilde * dof / (6.0 * nf),
            })
        }
    };

    let after_gd_step = step(input, p, w, &drift, None, &clean)?;
    let after_langevin_step = match &input.xi {
        Some(xi) => Some(step(input, p, w, &drift, Some(xi), &clean)?),
        None => None,
    };
    let after_label_noise_step = match &label_noise {
        Some(ln) => Some(step(input, p, w, &ln.drift, input.xi.as_deref(), &clean)?),
        None => None,
    };

    Ok(Evaluation {
        objective: co.objective,
        u: co.u,
        reg: co.reg,
        readout: co.c.clone(),
        second_layer: co.a.clone(),
        predictions,
        test_predictions,
        degrees_of_freedom: dof,
        alignment: alignment(&co.k, &clean),
        alignment_labels: alignment(&co.k, &input.y),
        alignment_test,
        alignment_centred: alignment_centred(&co.k, &clean),
        trace_k,
        frobenius_k,
        train_mse,
        test_mse,
        second_layer_l2,
        first_variation,
        drift,
        label_noise,
        after_gd_step,
        after_langevin_step,
        after_label_noise_step,
    })
}
