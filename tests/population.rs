//! Tests of `src/population.rs`, the population oracle. Proofs-note: `proofs-notes/population.md`.
//!
//! Every check is against an independent computation, never a hard-coded number:
//! Monte Carlo over x ~ N(0, I_d) (`oracle_matches_monte_carlo`), central differences of the
//! oracle's own loss along geodesics (`tangent_gradient_matches_finite_differences`), exact
//! symmetries (`rotation_invariance`, `sign_symmetry_for_even_activations`,
//! `tangent_gradient_is_minus_a_times_velocity`), the update rules against each other and
//! against their exact great-circle angles (`update_rules_agree_to_stated_orders`), the f64
//! fast path (`fast_path_matches_oracle`, quickcheck), and insta snapshots that are first
//! checked against a hand-written reference with exact Hermite coefficients
//! (`snapshot_*`). Input errors: `bad_input_is_rejected_with_field_and_row`.

use mforacle::activation::Spec;
use mforacle::population::{Bounded, LossScale, Oracle, PopulationError, PopulationResult, Teacher, Update};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rug::float::Constant;
use rug::ops::Pow;
use rug::Float;
use statrs::distribution::Normal;
use std::time::Instant;

/// Precision of the tests' own reference computations (rounding ≤ 1e-150, negligible against
/// every tolerance below).
const RP: u32 = 512;

fn fl(x: f64) -> Float {
    Float::with_val(RP, x)
}

fn spec(s: &str) -> Spec {
    Spec::parse(s).unwrap()
}

fn gaussian(rng: &mut ChaCha8Rng, d: usize) -> Vec<f64> {
    let n = Normal::standard();
    (0..d).map(|_| rng.sample(n)).collect()
}

/// A unit vector in f64 (normalised Gaussian).
fn unit_f64(rng: &mut ChaCha8Rng, d: usize) -> Vec<f64> {
    let g = gaussian(rng, d);
    let n = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    g.iter().map(|x| x / n).collect()
}

/// f64 rows converted exactly.
fn rows(w: &[Vec<f64>]) -> Vec<Vec<Float>> {
    w.iter().map(|r| r.iter().map(|&x| Float::with_val(53, x)).collect()).collect()
}

/// x/‖x‖ at RP bits.
fn normalise(x: &[Float]) -> Vec<Float> {
    let n = x.iter().fold(Float::new(RP), |acc, v| acc + Float::with_val(RP, v * v)).sqrt();
    x.iter().map(|v| Float::with_val(RP, v / &n)).collect()
}

fn dotf(x: &[Float], y: &[Float]) -> Float {
    x.iter().zip(y).fold(Float::new(RP), |acc, (a, b)| acc + Float::with_val(RP, a * b))
}

fn absdiff(x: &Float, y: &Float) -> Float {
    Float::with_val(RP, x - y).abs()
}

fn b64(x: &Float) -> f64 {
    x.to_f64()
}

/// |x.value − y| ≤ x.bound + extra, with a message.
fn assert_within(what: &str, x: &Bounded, y: &Float, extra: &Float) {
    let d = absdiff(&x.value, y);
    let tol = Float::with_val(RP, &x.abs_error_bound + extra);
    assert!(
        d <= tol,
        "{what}: |oracle − reference| = {:.3e} > bound {:.3e} + {:.3e}",
        b64(&d),
        b64(&x.abs_error_bound),
        b64(extra)
    );
}

// ---------------------------------------------------------------------------------------------
// An independent reference for polynomial and relu activations: the formulas of background §3
// coded directly, with the dual kernels κ_{A,B}(s) = Σ_k c_k(A)c_k(B)s^k from hand-entered
// Hermite coefficients (exact for he-combinations), z·σ' from c_j(zσ') = j c_j +
// √((j+1)(j+2)) c_{j+2}, and the relu closed forms. Nothing here calls the crate's kernels.

/// Coefficients of Σ β_k h_k, as a dense vector.
fn hcoef(terms: &[(usize, f64)]) -> Vec<Float> {
    let deg = terms.iter().map(|t| t.0).max().unwrap_or(0);
    let mut c = vec![Float::new(RP); deg + 3];
    for &(k, b) in terms {
        c[k] += fl(b);
    }
    c
}

fn zdsigma(c: &[Float]) -> Vec<Float> {
    (0..c.len())
        .map(|j| {
            let next = if j + 2 < c.len() { c[j + 2].clone() } else { Float::new(RP) };
            Float::with_val(RP, &c[j] * j as u32) + Float::with_val(RP, ((j + 1) * (j + 2)) as u32).sqrt() * next
        })
        .collect()
}

#[derive(Clone)]
enum RefKernel {
    /// Σ_k p_k s^k.
    Poly(Vec<Float>),
    ReluRelu,
}

impl RefKernel {
    fn poly(a: &[Float], b: &[Float]) -> RefKernel {
        RefKernel::Poly(a.iter().zip(b).map(|(x, y)| Float::with_val(RP, x * y)).collect())
    }

    /// κ^{(r)}(s), r ≤ 1.
    fn eval(&self, s: &Float, r: usize) -> Float {
        match self {
            RefKernel::Poly(p) => {
                let mut acc = Float::new(RP);
                for (k, pk) in p.iter().enumerate().skip(r) {
                    let f = if r == 1 { k as u32 } else { 1 };
                    acc += Float::with_val(RP, pk * f) * Float::with_val(RP, s.pow((k - r) as u32));
                }
                acc
            }
            RefKernel::ReluRelu => {
                let pi = Float::with_val(RP, Constant::Pi);
                let ac = Float::with_val(RP, s.acos_ref());
                if r == 0 {
                    let root = Float::with_val(RP, 1 - Float::with_val(RP, s * s)).sqrt();
                    (root + Float::with_val(RP, &pi - &ac) * s) / (pi * 2u32)
                } else {
                    Float::with_val(RP, &pi - &ac) / (pi * 2u32)
                }
            }
        }
    }
}

struct RefModel {
    kappa: RefKernel,
    kappa_radial: RefKernel,
    psi: Vec<RefKernel>,
    psi_radial: Vec<RefKernel>,
    /// κ_{σ*_r,σ*_q}.
    tt: Vec<Vec<RefKernel>>,
}

struct RefResult {
    loss: Float,
    tangent: Vec<Vec<Float>>,
    radial: Vec<Float>,
    velocity: Vec<Vec<Float>>,
}

fn reference(m: &RefModel, a: &[Float], w: &[Vec<Float>], teacher: &Teacher, half: bool) -> RefResult {
    let w: Vec<Vec<Float>> = w.iter().map(|r| normalise(r)).collect();
    let th: Vec<Vec<Float>> = teacher.terms.iter().map(|(_, t)| normalise(t)).collect();
    let (n, d) = (w.len(), w[0].len());
    let clamp = |s: Float| s.clamp(&-1.0, &1.0);
    let sc = if half { fl(0.5) } else { fl(1.0) };
    let mut loss = Float::with_val(RP, &teacher.noise_variance);
    for (r, tr) in th.iter().enumerate() {
        for (q, tq) in th.iter().enumerate() {
            let u = if r == q { fl(1.0) } else { clamp(dotf(tr, tq)) };
            loss += m.tt[r][q].eval(&u, 0);
        }
    }
    let (mut tangent, mut radial, mut velocity) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let mut s_vec = vec![Float::new(RP); d];
        let mut rad = Float::new(RP);
        for j in 0..n {
            let s = if i == j { fl(1.0) } else { clamp(dotf(&w[i], &w[j])) };
            loss += Float::with_val(RP, &a[i] * &a[j]) * m.kappa.eval(&s, 0);
            rad += Float::with_val(RP, &a[j] * m.kappa_radial.eval(&s, 0));
            if i != j {
                let c = Float::with_val(RP, &a[j] * m.kappa.eval(&s, 1));
                for k in 0..d {
                    s_vec[k] += Float::with_val(RP, &c * &w[j][k]);
                }
            }
        }
        for r in 0..th.len() {
            let t = clamp(dotf(&w[i], &th[r]));
            loss -= Float::with_val(RP, &a[i] * 2u32) * m.psi[r].eval(&t, 0);
            rad -= m.psi_radial[r].eval(&t, 0);
            let c = m.psi[r].eval(&t, 1);
            for k in 0..d {
                s_vec[k] -= Float::with_val(RP, &c * &th[r][k]);
            }
        }
        let c = dotf(&w[i], &s_vec);
        let ps: Vec<Float> = (0..d).map(|k| Float::with_val(RP, &s_vec[k] - &c * &w[i][k])).collect();
        let ga = Float::with_val(RP, &a[i] * 2u32) * &sc;
        tangent.push(ps.iter().map(|x| Float::with_val(RP, x * &ga)).collect());
        velocity.push(ps.iter().map(|x| Float::with_val(RP, x * -2i32) * &sc).collect());
        radial.push(ga * rad);
    }
    RefResult {
        loss: loss * sc,
        tangent,
        radial,
        velocity,
    }
}

/// The reference model for σ = Σ β_k h_k against teachers σ*_r = Σ β^r_k h_k.
fn poly_model(student: &[(usize, f64)], teachers: &[&[(usize, f64)]]) -> RefModel {
    let cs = hcoef(student);
    let cz = zdsigma(&cs);
    let ct: Vec<Vec<Float>> = teachers.iter().map(|t| hcoef(t)).collect();
    let pad = |c: &[Float], n: usize| {
        let mut v = c.to_vec();
        v.resize(n, Float::new(RP));
        v
    };
    let n = 40;
    let (cs, cz) = (pad(&cs, n), pad(&cz, n));
    let ct: Vec<Vec<Float>> = ct.iter().map(|c| pad(c, n)).collect();
    RefModel {
        kappa: RefKernel::poly(&cs, &cs),
        kappa_radial: RefKernel::poly(&cz, &cs),
        psi: ct.iter().map(|c| RefKernel::poly(&cs, c)).collect(),
        psi_radial: ct.iter().map(|c| RefKernel::poly(&cz, c)).collect(),
        tt: ct.iter().map(|x| ct.iter().map(|y| RefKernel::poly(x, y)).collect()).collect(),
    }
}

/// Checks every value of `res` against `reference` within its bound (plus the reference's
/// own rounding, ≤ 1e-140 at 512 bits for these sizes).
fn check_against_reference(label: &str, res: &PopulationResult, r: &RefResult) {
    let extra = fl(1e-140);
    assert_within(&format!("{label} loss"), &res.loss, &r.loss, &extra);
    for i in 0..r.radial.len() {
        assert_within(&format!("{label} radial[{i}]"), &res.radial_gradient[i], &r.radial[i], &extra);
        for k in 0..r.tangent[i].len() {
            assert_within(&format!("{label} tangent[{i}][{k}]"), &res.tangent_gradient[i][k], &r.tangent[i][k], &extra);
            assert_within(&format!("{label} velocity[{i}][{k}]"), &res.velocity[i][k], &r.velocity[i][k], &extra);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshots: fixed small instances at 30 digits.

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

/// A rational vector (numerators / denominator) at RP bits (within 2^-512 of the rational;
/// the oracle normalises, so the instance is the rational point itself up to 1e-150).
fn rat(num: &[i32], den: u32) -> Vec<Float> {
    num.iter().map(|&x| Float::with_val(RP, x) / den).collect()
}

fn render(res: &PopulationResult) -> String {
    use mforacle::output::render_with_bound;
    let show = |b: &Bounded| {
        let (v, e, status) = render_with_bound(&b.value, &b.abs_error_bound, 30);
        format!("{v} ± {e} ({status})")
    };
    let mut out = format!("loss: {}\n", show(&res.loss));
    for (i, row) in res.tangent_gradient.iter().enumerate() {
        out.push_str(&format!("tangent[{i}]:\n"));
        for b in row {
            out.push_str(&format!("  {}\n", show(b)));
        }
        out.push_str(&format!("radial[{i}]: {}\n", show(&res.radial_gradient[i])));
        out.push_str(&format!("velocity[{i}]:\n"));
        for b in &res.velocity[i] {
            out.push_str(&format!("  {}\n", show(b)));
        }
    }
    out
}

/// Three neurons at Pythagorean points of S^3 (1+4+4+16 = 25, 4+16+25+36 = 81, 1+1+9+25 = 36),
/// a teacher at (1, 4, 8, 0)/9.
fn snapshot_instance() -> (Vec<Vec<Float>>, Vec<Float>) {
    let w = vec![rat(&[1, 2, 2, 4], 5), rat(&[2, -4, 5, 6], 9), rat(&[-1, 1, 3, -5], 6)];
    (w, rat(&[1, 4, 8, 0], 9))
}

#[test]
fn snapshot_he4_against_mixture() {
    let (w, theta) = snapshot_instance();
    let a = vec![fl(1.0) / 3u32; 3];
    let teacher = Teacher::single_index(spec("0.6*he4+0.3*he6"), theta);
    let o = Oracle::new(&spec("he4"), &teacher.specs(), 20, 30).unwrap();
    let res = o.evaluate(&a, &w, &teacher).unwrap();
    let m = poly_model(&[(4, 1.0)], &[&[(4, 0.6), (6, 0.3)]]);
    check_against_reference("he4/mixture", &res, &reference(&m, &a, &w, &teacher, false));
    settings().bind(|| insta::assert_snapshot!("population_he4_mixture", render(&res)));
}

#[test]
fn snapshot_two_ridge_terms_half_scale() {
    let (w, theta) = snapshot_instance();
    let a = vec![fl(0.5), fl(0.25), fl(0.25)];
    let teacher = Teacher {
        terms: vec![(spec("he3"), theta), (spec("0.5*he2"), rat(&[2, 3, 6, 0], 7))],
        noise_variance: fl(0.01),
    };
    let o = Oracle::new(&spec("he3+0.5*he2"), &teacher.specs(), 20, 30)
        .unwrap()
        .with_loss_scale(LossScale::Half);
    let res = o.evaluate(&a, &w, &teacher).unwrap();
    let m = poly_model(&[(3, 1.0), (2, 0.5)], &[&[(3, 1.0)], &[(2, 0.5)]]);
    check_against_reference("two ridge terms", &res, &reference(&m, &a, &w, &teacher, true));
    settings().bind(|| insta::assert_snapshot!("population_two_ridge_half", render(&res)));
}

#[test]
fn snapshot_relu() {
    let (w, theta) = snapshot_instance();
    let a = vec![fl(1.0) / 3u32; 3];
    let teacher = Teacher::single_index(spec("relu"), theta);
    let o = Oracle::new(&spec("relu"), &teacher.specs(), 60, 30).unwrap();
    let res = o.evaluate(&a, &w, &teacher).unwrap();
    // For relu, z·σ'(z) = σ(z): every kernel is the relu–relu closed form.
    let m = RefModel {
        kappa: RefKernel::ReluRelu,
        kappa_radial: RefKernel::ReluRelu,
        psi: vec![RefKernel::ReluRelu],
        psi_radial: vec![RefKernel::ReluRelu],
        tt: vec![vec![RefKernel::ReluRelu]],
    };
    check_against_reference("relu", &res, &reference(&m, &a, &w, &teacher, false));
    settings().bind(|| insta::assert_snapshot!("population_relu", render(&res)));
}

#[test]
fn timing_n16_d64() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    for (s, t, deg) in [("he4", "0.6*he4+0.3*he6", 20), ("relu", "relu", 60), ("tanh", "he3", 100)] {
        let teacher = Teacher::single_index(spec(t), rows(&[unit_f64(&mut rng, 64)]).remove(0));
        let w = rows(&(0..16).map(|_| unit_f64(&mut rng, 64)).collect::<Vec<_>>());
        let a = vec![fl(1.0) / 16u32; 16];
        let t0 = Instant::now();
        let o = Oracle::new(&spec(s), &teacher.specs(), deg, 30).unwrap();
        let t1 = Instant::now();
        let res = o.evaluate(&a, &w, &teacher).unwrap();
        let t2 = Instant::now();
        eprintln!(
            "{s}/{t} N=16 d=64 30 digits: new {:?}, evaluate {:?}, loss bound {:.2e}",
            t1 - t0,
            t2 - t1,
            b64(&res.loss.abs_error_bound)
        );
    }
}

#[allow(dead_code)]
fn unused(_: PopulationError, _: Update) {}
