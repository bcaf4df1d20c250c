//! The MPFR oracle of the two-timescale evaluation: the m × m route, written independently of
//! the f64 code in [`super::eval`].
//!
//! The second layer is computed as the minimiser of F(a, μ) over a ∈ R^m: the normal
//! equations (HᵀH/(nm) + λ̄_a I_m) a = Hᵀy/n, solved by Gaussian elimination with partial
//! pivoting. Then f(X) = Ha/m, the readout c = (y − f(X))/(nλ̄_a) (the stationarity
//! condition), G = F(a, μ) from its definition (1/2n)|f(X) − y|² + (λ̄_a/2)(1/m)|a|² + reg,
//! dof = tr[(HᵀH/(nm))(HᵀH/(nm) + λ̄_a I)^{-1}] (the nonzero spectra of HHᵀ/m and HᵀH/m
//! coincide), and the Gram quantities through HᵀH: tr K = (1/m)ΣH², ‖K‖_F = ‖HᵀH‖_F/m,
//! tᵀKt = |Hᵀt|²/m. The hyper-parameters are exact decimals read at the working precision;
//! the data are the binary64 values of the input, taken exactly.
//!
//! Error: every value is computed at p and 2p bits (p = ⌈3.33·digits⌉ + 64); the value at 2p
//! is reported with the bound |v_2p − v_p| + 2^{-p}|v_2p|. This is an **estimate** (it
//! assumes the error at 2p is below the error at p), not an enclosure.

use super::{Input, Params, Target};
use rug::Float;

/// Largest n, m and n_test the oracle accepts (its cost is O((n + n_test)m² + m³) MPFR
/// operations, twice).
pub const MAX_SIZE: usize = 128;
/// Largest number of significant digits asked of the oracle.
pub const MAX_DIGITS: u32 = 200;

/// How a quantity is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Scalar,
    Vector,
    /// Rows of this many columns.
    Matrix(usize),
}

/// One output quantity: values at 2p bits and their estimated error bounds.
#[derive(Clone, Debug)]
pub struct Field {
    /// JSON name; `after_gd_step.objective` for nested ones.
    pub name: String,
    pub shape: Shape,
    pub values: Vec<Float>,
    pub bounds: Vec<Float>,
}

struct Hyper {
    lam: Float,
    lam_a: Float,
    lam_w: Float,
    eta: Float,
    sigma_tilde: Float,
}

fn hyper(p: &Params, prec: u32) -> Result<Hyper, String> {
    let f = |s: &str, flag: &str| {
        Float::parse(s)
            .map(|v| Float::with_val(prec, v))
            .map_err(|e| format!("--{flag} {s}: {e}"))
    };
    let lambda = f(&p.lambda, "lambda")?;
    Ok(Hyper {
        lam_a: Float::with_val(prec, &lambda * &f(&p.lambda_a, "lambda-a")?),
        lam_w: Float::with_val(prec, &lambda * &f(&p.lambda_w, "lambda-w")?),
        lam: lambda,
        eta: f(&p.eta, "eta")?,
        sigma_tilde: f(&p.sigma_tilde, "sigma-tilde")?,
    })
}

fn z(prec: u32) -> Float {
    Float::new(prec)
}

/// Σ a_k b_k at `prec`.
fn inner(a: &[Float], b: &[Float], prec: u32) -> Float {
    let mut s = z(prec);
    for (x, y) in a.iter().zip(b) {
        s += Float::with_val(prec, x * y);
    }
    s
}

/// Columns of h(·; w_i) at the rows of x: returns rows H_j (count rows, m entries).
fn neurons(x: &[f64], d: usize, w: &[Float], m: usize, prec: u32) -> Vec<Vec<Float>> {
    x.chunks(d)
        .map(|xj| {
            (0..m)
                .map(|i| {
                    let wi = &w[i * (d + 1)..(i + 1) * (d + 1)];
                    let mut s = Float::with_val(prec, &wi[d]);
                    for k in 0..d {
                        s += Float::with_val(prec, &wi[k] * xj[k]);
                    }
                    s.tanh()
                })
                .collect()
        })
        .collect()
}

/// Hᵀv (m entries) for rows H.
fn h_t_times(h: &[Vec<Float>], v: &[Float], m: usize, prec: u32) -> Vec<Float> {
    (0..m)
        .map(|i| {
            let mut s = z(prec);
            for (row, vj) in h.iter().zip(v) {
                s += Float::with_val(prec, &row[i] * vj);
            }
            s
        })
        .collect()
}

/// HᵀH (m × m) for rows H.
fn h_t_h(h: &[Vec<Float>], m: usize, prec: u32) -> Vec<Vec<Float>> {
    let mut g = vec![vec![z(prec); m]; m];
    for row in h {
        for i in 0..m {
            for k in 0..m {
                g[i][k] += Float::with_val(prec, &row[i] * &row[k]);
            }
        }
    }
    g
}

/// Solves B X = R by Gaussian elimination with partial pivoting; R given as columns.
#[allow(clippy::needless_range_loop)] // rows i and col of one matrix
fn gauss(
    mut b: Vec<Vec<Float>>,
    mut r: Vec<Vec<Float>>,
    prec: u32,
) -> Result<Vec<Vec<Float>>, String> {
    let m = b.len();
    for col in 0..m {
        let piv = (col..m)
            .max_by(|&i, &j| {
                b[i][col]
                    .cmp_abs(&b[j][col])
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .unwrap();
        if b[piv][col].is_zero() {
            return Err("the normal equations are singular".into());
        }
        b.swap(col, piv);
        for rc in r.iter_mut() {
            rc.swap(col, piv);
        }
        for i in col + 1..m {
            let f = Float::with_val(prec, &b[i][col] / &b[col][col]);
            for k in col..m {
                let t = Float::with_val(prec, &f * &b[col][k]);
                b[i][k] -= t;
            }
            for rc in r.iter_mut() {
                let t = Float::with_val(prec, &f * &rc[col]);
                rc[i] -= t;
            }
        }
    }
    for rc in r.iter_mut() {
        for i in (0..m).rev() {
            let mut s = rc[i].clone();
            for k in i + 1..m {
                s -= Float::with_val(prec, &b[i][k] * &rc[k]);
            }
            rc[i] = Float::with_val(prec, &s / &b[i][i]);
        }
    }
    Ok(r)
}

/// What one particle set gives: H, the normal matrix B, a, c, f(X), U, reg, G.
struct State {
    h: Vec<Vec<Float>>,
    hth: Vec<Vec<Float>>,
    b: Vec<Vec<Float>>,
    a: Vec<Float>,
    c: Vec<Float>,
    f: Vec<Float>,
    u: Float,
    reg: Float,
    g: Float,
}

fn state(input: &Input, hp: &Hyper, w: &[Float], prec: u32) -> Result<State, String> {
    let (n, d, m) = (input.n, input.d, input.m);
    let nm = Float::with_val(prec, n as f64 * m as f64);
    let h = neurons(&input.x, d, w, m, prec);
    let hth = h_t_h(&h, m, prec);
    let mut b: Vec<Vec<Float>> = hth
        .iter()
        .map(|r| r.iter().map(|x| Float::with_val(prec, x / &nm)).collect())
        .collect();
    for (i, row) in b.iter_mut().enumerate() {
        row[i] += &hp.lam_a;
    }
    let y: Vec<Float> = input.y.iter().map(|v| Float::with_val(prec, *v)).collect();
    let rhs: Vec<Float> = h_t_times(&h, &y, m, prec)
        .into_iter()
        .map(|v| v / n as u32)
        .collect();
    let a = gauss(b.clone(), vec![rhs], prec)?.remove(0);
    let f: Vec<Float> = h
        .iter()
        .map(|row| inner(row, &a, prec) / m as u32)
        .collect();
    let nl = Float::with_val(prec, &hp.lam_a * n as u32);
    let c: Vec<Float> = y
        .iter()
        .zip(&f)
        .map(|(yj, fj)| Float::with_val(prec, yj - fj) / &nl)
        .collect();
    let mut fit = z(prec);
    for (fj, yj) in f.iter().zip(&y) {
        fit += Float::with_val(prec, fj - yj).square();
    }
    fit /= 2 * n as u32;
    let a2 = Float::with_val(prec, inner(&a, &a, prec) / m as u32);
    let u = fit + Float::with_val(prec, &hp.lam_a * &a2) / 2u32;
    let w2 = inner(w, w, prec);
    let reg = Float::with_val(prec, &hp.lam_w * &w2) / (2 * m as u32);
    let g = Float::with_val(prec, &u + &reg);
    Ok(State {
        h,
        hth,
        b,
        a,
        c,
        f,
        u,
        reg,
        g,
    })
}

/// dof = tr[B^{-1} HᵀH/(nm)].
fn dof(s: &State, n: usize, m: usize, prec: u32) -> Result<Float, String> {
    let nm = Float::with_val(prec, n as f64 * m as f64);
    let cols: Vec<Vec<Float>> = (0..m)
        .map(|k| {
            (0..m)
                .map(|i| Float::with_val(prec, &s.hth[i][k] / &nm))
                .collect()
        })
        .collect();
    let x = gauss(s.b.clone(), cols, prec)?;
    let mut t = z(prec);
    for (k, col) in x.iter().enumerate() {
        t += &col[k];
    }
    Ok(t)
}

/// ‖HᵀH‖_F/m = ‖HHᵀ/m‖_F.
fn frob(hth: &[Vec<Float>], m: usize, prec: u32) -> Float {
    let mut s = z(prec);
    for r in hth {
        for v in r {
            s += Float::with_val(prec, v.square_ref());
        }
    }
    s.sqrt() / m as u32
}

/// |Hᵀt|²/(m|t|²‖HHᵀ/m‖_F), None when a factor of the denominator is 0.
fn align(h: &[Vec<Float>], hth: &[Vec<Float>], t: &[Float], m: usize, prec: u32) -> Option<Float> {
    let ht = h_t_times(h, t, m, prec);
    let num = inner(&ht, &ht, prec) / m as u32;
    let den = inner(t, t, prec) * frob(hth, m, prec);
    if den.is_zero() {
        None
    } else {
        Some(num / den)
    }
}

fn target(t: &Target, x: &[f64], d: usize, prec: u32) -> Option<Vec<Float>> {
    match t {
        Target::Labels => None,
        Target::Product(idx) => Some(
            x.chunks(d)
                .map(|r| {
                    let mut p = Float::with_val(prec, 1);
                    for &k in idx {
                        p *= r[k];
                    }
                    p
                })
                .collect(),
        ),
    }
}

/// ∇_w[−(λ̄_a/2)Σ_t s_t (h(X;w)·v_t)² + (λ̄_w/2)|w|²] at the particles, α_t = Hᵀv_t.
#[allow(clippy::needless_range_loop)] // v and the row of x share k
fn grad(
    input: &Input,
    hp: &Hyper,
    s: &State,
    w: &[Float],
    terms: &[(i32, &[Float], &[Float])],
    prec: u32,
) -> Vec<Float> {
    let (d, m) = (input.d, input.m);
    let mut out = Vec::with_capacity(m * (d + 1));
    for i in 0..m {
        let mut v = vec![z(prec); d + 1];
        for (j, row) in s.h.iter().enumerate() {
            let mut coef = z(prec);
            for (sg, alpha, vt) in terms {
                coef += Float::with_val(prec, &alpha[i] * &vt[j]) * *sg;
            }
            let one_minus = Float::with_val(prec, 1) - Float::with_val(prec, row[i].square_ref());
            coef *= one_minus;
            for k in 0..d {
                v[k] += Float::with_val(prec, &coef * input.x[j * input.d + k]);
            }
            v[d] += &coef;
        }
        for k in 0..=d {
            let g = Float::with_val(prec, &hp.lam_w * &w[i * (d + 1) + k])
                - Float::with_val(prec, &hp.lam_a * &v[k]);
            out.push(g);
        }
    }
    out
}

/// G(μ_W) at particles `w` (m × (d + 1)) given in MPFR, at `prec` bits.
pub fn objective(input: &Input, params: &Params, w: &[Float], prec: u32) -> Result<Float, String> {
    let hp = hyper(params, prec)?;
    Ok(state(input, &hp, w, prec)?.g)
}

/// The drift ∇δG/δμ(w_i) (m × (d + 1)) at particles `w` in MPFR, at `prec` bits.
pub fn drift(input: &Input, params: &Params, w: &[Float], prec: u32) -> Result<Vec<Float>, String> {
    let hp = hyper(params, prec)?;
    let s = state(input, &hp, w, prec)?;
    Ok(grad(input, &hp, &s, w, &[(1, &s.a, &s.c)], prec))
}

/// For a draw ε̃: the second layer fitted to ε̃ alone (by linearity of the readout), its
/// readout e = A^{-1}ε̃, and G_ε̃ from its definition
/// (1/2n)|y − Hã/m|² + (λ̄_a/2)(1/m)|ã|² + reg with ã = a + a_ε̃.
fn label_noise(
    input: &Input,
    hp: &Hyper,
    s: &State,
    eps: &[f64],
    prec: u32,
) -> Result<(Vec<Float>, Vec<Float>, Float), String> {
    let (n, m) = (input.n, input.m);
    let e: Vec<Float> = eps.iter().map(|v| Float::with_val(prec, *v)).collect();
    let y: Vec<Float> = input.y.iter().map(|v| Float::with_val(prec, *v)).collect();
    let rhs: Vec<Float> = h_t_times(&s.h, &e, m, prec)
        .into_iter()
        .map(|v| v / n as u32)
        .collect();
    let ae = gauss(s.b.clone(), vec![rhs], prec)?.remove(0);
    let nl = Float::with_val(prec, &hp.lam_a * n as u32);
    let ec: Vec<Float> = e
        .iter()
        .zip(&s.h)
        .map(|(ej, r)| (Float::with_val(prec, ej - inner(r, &ae, prec) / m as u32)) / &nl)
        .collect();
    let at: Vec<Float> =
        s.a.iter()
            .zip(&ae)
            .map(|(x, y)| Float::with_val(prec, x + y))
            .collect();
    let mut fit = z(prec);
    for (r, yj) in s.h.iter().zip(&y) {
        let f = inner(r, &at, prec) / m as u32;
        fit += Float::with_val(prec, &f - yj).square();
    }
    fit /= 2 * n as u32;
    let pen = Float::with_val(prec, &hp.lam_a * inner(&at, &at, prec)) / (2 * m as u32);
    let g_eps = fit + pen + &s.reg;
    Ok((ae, ec, g_eps))
}

/// G_ε̃(μ_W) for the draw `input.eps` at particles `w` in MPFR, at `prec` bits.
pub fn objective_label_noise(
    input: &Input,
    params: &Params,
    w: &[Float],
    prec: u32,
) -> Result<Float, String> {
    let hp = hyper(params, prec)?;
    let s = state(input, &hp, w, prec)?;
    let eps = input.eps.as_ref().ok_or("no label-noise draw `eps`")?;
    Ok(label_noise(input, &hp, &s, eps, prec)?.2)
}

fn push(v: &mut Vec<(String, Shape, Vec<Float>)>, name: &str, shape: Shape, x: Vec<Float>) {
    v.push((name.to_string(), shape, x));
}

/// Every quantity of `two-timescale eval` at `prec` bits, in the order and with the names of
/// the f64 path.
pub fn evaluate_at(
    input: &Input,
    params: &Params,
    prec: u32,
) -> Result<Vec<(String, Shape, Vec<Float>)>, String> {
    let (n, d, m) = (input.n, input.d, input.m);
    let dp = d + 1;
    let hp = hyper(params, prec)?;
    let w: Vec<Float> = input.w.iter().map(|v| Float::with_val(prec, *v)).collect();
    let s = state(input, &hp, &w, prec)?;
    let dof0 = dof(&s, n, m, prec)?;
    let y: Vec<Float> = input.y.iter().map(|v| Float::with_val(prec, *v)).collect();
    let clean = target(&input.f_star, &input.x, d, prec).unwrap_or_else(|| y.clone());
    let mut out = Vec::new();
    use Shape::*;
    push(&mut out, "objective", Scalar, vec![s.g.clone()]);
    push(&mut out, "U", Scalar, vec![s.u.clone()]);
    push(&mut out, "reg", Scalar, vec![s.reg.clone()]);
    push(&mut out, "readout", Vector, s.c.clone());
    push(&mut out, "second_layer", Vector, s.a.clone());
    push(&mut out, "predictions", Vector, s.f.clone());
    if let Some((xt, nt)) = &input.x_test {
        let ht = neurons(xt, d, &w, m, prec);
        let ft: Vec<Float> = ht.iter().map(|r| inner(r, &s.a, prec) / m as u32).collect();
        push(&mut out, "test_predictions", Vector, ft.clone());
        let _ = nt;
    }
    push(&mut out, "degrees_of_freedom", Scalar, vec![dof0.clone()]);
    if let Some(al) = align(&s.h, &s.hth, &clean, m, prec) {
        push(&mut out, "alignment", Scalar, vec![al]);
    }
    if let Some(al) = align(&s.h, &s.hth, &y, m, prec) {
        push(&mut out, "alignment_labels", Scalar, vec![al]);
    }
    let mut test_mse = None;
    if let Some((xt, nt)) = &input.x_test {
        if let Some(tt) = target(&input.f_star, xt, d, prec) {
            let ht = neurons(xt, d, &w, m, prec);
            let htht = h_t_h(&ht, m, prec);
            if let Some(al) = align(&ht, &htht, &tt, m, prec) {
                push(&mut out, "alignment_test", Scalar, vec![al]);
            }
            let mut e = z(prec);
            for (r, t) in ht.iter().zip(&tt) {
                let f = inner(r, &s.a, prec) / m as u32;
                e += Float::with_val(prec, &f - t).square();
            }
            test_mse = Some(e / *nt as u32);
        }
    }
    {
        // centred: PH (columns of H centred over the samples) and Pt
        let mean = |v: &[Float]| {
            let mut s = z(prec);
            for x in v {
                s += x;
            }
            s / v.len() as u32
        };
        let tm = mean(&clean);
        let tc: Vec<Float> = clean
            .iter()
            .map(|t| Float::with_val(prec, t - &tm))
            .collect();
        let colmean: Vec<Float> = (0..m)
            .map(|i| mean(&s.h.iter().map(|r| r[i].clone()).collect::<Vec<_>>()))
            .collect();
        let hc: Vec<Vec<Float>> =
            s.h.iter()
                .map(|r| {
                    r.iter()
                        .zip(&colmean)
                        .map(|(x, c)| Float::with_val(prec, x - c))
                        .collect()
                })
                .collect();
        let hchc = h_t_h(&hc, m, prec);
        if let Some(al) = align(&hc, &hchc, &tc, m, prec) {
            push(&mut out, "alignment_centred", Scalar, vec![al]);
        }
    }
    let mut tr = z(prec);
    for r in &s.h {
        for v in r {
            tr += Float::with_val(prec, v.square_ref());
        }
    }
    push(&mut out, "trace_K", Scalar, vec![tr / m as u32]);
    push(&mut out, "frobenius_K", Scalar, vec![frob(&s.hth, m, prec)]);
    let mut mse = z(prec);
    for (f, yj) in s.f.iter().zip(&y) {
        mse += Float::with_val(prec, f - yj).square();
    }
    push(&mut out, "train_mse", Scalar, vec![mse / n as u32]);
    if let Some(t) = test_mse {
        push(&mut out, "test_mse", Scalar, vec![t]);
    }
    push(
        &mut out,
        "second_layer_l2",
        Scalar,
        vec![inner(&s.a, &s.a, prec) / m as u32],
    );
    let fv: Vec<Float> = (0..m)
        .map(|i| {
            let wi = &w[i * dp..(i + 1) * dp];
            Float::with_val(prec, &hp.lam_w * &inner(wi, wi, prec)) / 2u32
                - Float::with_val(
                    prec,
                    &hp.lam_a * &Float::with_val(prec, s.a[i].square_ref()),
                ) / 2u32
        })
        .collect();
    push(&mut out, "first_variation", Vector, fv);
    let dr = grad(input, &hp, &s, &w, &[(1, &s.a, &s.c)], prec);
    push(&mut out, "drift", Matrix(dp), dr.clone());

    let mut ln_drift = None;
    if let Some(eps) = &input.eps {
        let (ae, ec, g_eps) = label_noise(input, &hp, &s, eps, prec)?;
        let ld = grad(input, &hp, &s, &w, &[(1, &s.a, &s.c), (-1, &ae, &ec)], prec);
        push(&mut out, "label_noise_drift", Matrix(dp), ld.clone());
        push(&mut out, "objective_label_noise", Scalar, vec![g_eps]);
        let pen_dof = Float::with_val(prec, hp.sigma_tilde.square_ref()) * &dof0 / (6 * n as u32);
        push(
            &mut out,
            "expected_objective_label_noise",
            Scalar,
            vec![Float::with_val(prec, &s.g + &pen_dof)],
        );
        ln_drift = Some(ld);
    }

    let sq = Float::with_val(prec, Float::with_val(prec, &hp.eta * &hp.lam) * 2u32).sqrt();
    let xi: Option<Vec<Float>> = input
        .xi
        .as_ref()
        .map(|x| x.iter().map(|v| Float::with_val(prec, *v)).collect());
    let mut after =
        |name: &str, drift: &[Float], noise: Option<&Vec<Float>>| -> Result<(), String> {
            let w2: Vec<Float> = (0..w.len())
                .map(|k| {
                    let mut v =
                        Float::with_val(prec, &w[k] - Float::with_val(prec, &hp.eta * &drift[k]));
                    if let Some(xi) = noise {
                        v += Float::with_val(prec, &sq * &xi[k]);
                    }
                    v
                })
                .collect();
            let s2 = state(input, &hp, &w2, prec)?;
            push(
                &mut out,
                &format!("{name}.objective"),
                Scalar,
                vec![s2.g.clone()],
            );
            push(
                &mut out,
                &format!("{name}.degrees_of_freedom"),
                Scalar,
                vec![dof(&s2, n, m, prec)?],
            );
            if let Some(al) = align(&s2.h, &s2.hth, &clean, m, prec) {
                push(&mut out, &format!("{name}.alignment"), Scalar, vec![al]);
            }
            push(&mut out, &format!("{name}.w"), Matrix(dp), w2);
            Ok(())
        };
    after("after_gd_step", &dr, None)?;
    if xi.is_some() {
        after("after_langevin_step", &dr, xi.as_ref())?;
    }
    if let Some(ld) = &ln_drift {
        after("after_label_noise_step", ld, xi.as_ref())?;
    }
    Ok(out)
}

/// Working precision for `digits` significant digits.
pub fn precision(digits: u32) -> u32 {
    (digits as f64 * std::f64::consts::LOG2_10).ceil() as u32 + 64
}

/// Every quantity at 2p bits with its precision-doubling error estimate.
/// Errors: `Usage` for an input beyond the oracle's size limit, `Failure` for a computation
/// that cannot be completed (singular normal equations, a quantity defined at one precision
/// only).
pub fn evaluate(
    input: &Input,
    params: &Params,
    digits: u32,
) -> Result<Vec<Field>, crate::conventions::Error> {
    use crate::conventions::{failure, usage};
    if input.n > MAX_SIZE
        || input.m > MAX_SIZE
        || input.x_test.as_ref().is_some_and(|t| t.1 > MAX_SIZE)
    {
        return Err(usage(format!(
            "the oracle takes n, m, n_test <= {MAX_SIZE} (here n = {}, m = {}, n_test = {})",
            input.n,
            input.m,
            input.x_test.as_ref().map_or(0, |t| t.1)
        )));
    }
    let p = precision(digits);
    let lo = evaluate_at(input, params, p).map_err(failure)?;
    let hi = evaluate_at(input, params, 2 * p).map_err(failure)?;
    if lo.len() != hi.len() || lo.iter().zip(&hi).any(|(a, b)| a.0 != b.0) {
        return Err(failure("a quantity is defined at one precision and not the other (a zero denominator within rounding)"));
    }
    Ok(hi
        .into_iter()
        .zip(lo)
        .map(|((name, shape, values), (_, _, low))| {
            let bounds = values
                .iter()
                .zip(&low)
                .map(|(v, l)| {
                    let diff = Float::with_val(64, Float::with_val(2 * p, v - l).abs());
                    let floor = Float::with_val(64, v.abs_ref()) >> p;
                    diff + floor
                })
                .collect();
            Field {
                name,
                shape,
                values,
                bounds,
            }
        })
        .collect())
}
