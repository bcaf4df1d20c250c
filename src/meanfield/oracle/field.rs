//! The reduced mean-field vector field in MPFR, through node moment sums.
//!
//! With κ(s) = Σ_k a_k s^k, ψ(s) = Σ_k b_k s^k (the [`Model`]'s truncated series), the state
//! (α_j, β_j) of M particles with weights w_j, the moment sums P_{p,l} = Σ_j w_j α_j^p β_j^l and
//! the z-moments m_l = E z^l, the binomial expansion of κ'(αα' + ββ'z) gives (docs/conventions.md §4)
//!
//! - A(α, β) = Σ_k k a_k Σ_{l even ≤ k−1} C(k−1, l) m_l P_{k−l,l} α^{k−1−l} β^l,
//! - B(α, β) = Σ_k k a_k Σ_{l odd ≤ k−1} C(k−1, l) m_{l+1} P_{k−1−l,l+1} α^{k−1−l} β^l,
//! - g(α, β) = 2·scale·[(ψ'(α) − A)β + Bα] = Σ_{p + l = k, l odd} γ_{p,l} α^p β^l with
//!   γ_{k−l,l} = 2·scale·k·[a_k C(k−1, l) m_{l+1} P_{k−1−l,l+1} − a_k C(k−1, l−1) m_{l−1}
//!   P_{k−l+1,l−1} + b_k [l = 1]] (the first term only for l ≤ k − 1),
//! - L = scale·(Σ_k a_k Σ_{l even ≤ k} C(k, l) m_l P_{k−l,l}² − 2 Σ_k b_k P_{k,0} + E σ*² + ν²),
//! - g' = dg/dα along the sphere at fixed law (dβ/dα = −α/β), term by term from the γ-polynomial:
//!   d(α^p β^l)/dα = pα^{p−1}β^l − lα^{p+1}β^{l−2} ([`Field::velocity_and_derivative`], for the
//!   local Hessian λ_e = βg', λ_⊥ = −αg/β of `crate::hessian::symmetric`; proofs-note
//!   proofs-notes/local-hessian.md §1).
//!
//! Only P_{p,l} with l even and p + l a degree of κ or ψ are needed. A and B are evaluated by
//! their own formulas ([`Field::interaction`]), independently of the combined γ-polynomial of
//! [`Field::velocity`], so that tests can compare the two.
//!
//! Parallel evaluation: the nodes are cut into fixed chunks of [`CHUNK`] nodes (independent of
//! the number of threads); each chunk sums its nodes in order and the chunk sums are added in
//! chunk order, so every result is bit-identical for any number of rayon threads.

use crate::meanfield::oracle::quadrature::z_moments;
use crate::meanfield::Model;
use rayon::prelude::*;
use rug::ops::Pow;
use rug::{Assign, Float, Integer};

/// Nodes per rayon task (a fixed partition).
pub const CHUNK: usize = 64;

/// One coefficient γ_{p,l} = constant + Σ factor·P[index].
#[derive(Clone, Debug)]
struct Gamma {
    l: usize,
    constant: Float,
    parts: Vec<(Float, usize)>,
}

/// The γ's of one power α^p.
#[derive(Clone, Debug)]
struct Group {
    p: usize,
    terms: Vec<Gamma>,
}

/// A term coefficient·P[index]·α^p β^l of A or B.
#[derive(Clone, Debug)]
struct Term {
    p: usize,
    l: usize,
    coefficient: Float,
    index: usize,
}

/// The moment sums P_{p,l} of a state (in the order of [`Field::moment_indices`]).
#[derive(Clone, Debug)]
pub struct Moments {
    pub values: Vec<Float>,
}

/// The vector field of the reduced flow at a fixed working precision.
#[derive(Clone, Debug)]
pub struct Field {
    prec: u32,
    /// Highest degree with a nonzero coefficient in κ or ψ.
    degree: usize,
    moments: Vec<(usize, usize)>,
    groups: Vec<Group>,
    a_terms: Vec<Term>,
    b_terms: Vec<Term>,
    /// (a_k C(k,l) m_l, index of P_{k−l,l}).
    loss_kappa: Vec<(Float, usize)>,
    /// (b_k, index of P_{k,0}).
    loss_psi: Vec<(Float, usize)>,
    /// k b_k, for ψ'.
    psi_deriv: Vec<Float>,
    scale: Float,
    constant: Float,
    /// Half-node mode: the state holds only the nodes with α_0 > 0 of a mirrored law that stays
    /// mirrored (ψ even); P_{p,l} = 2·(half sum) for even p and exactly 0 for odd p.
    symmetric: bool,
    /// Largest powers of α and β in the γ-polynomial and in the moment sums.
    g_pmax: usize,
    g_lmax: usize,
    m_pmax: usize,
    m_lmax: usize,
    /// Σ_k k|a_k| and Σ_k k|b_k| (bounds of |κ'|, |ψ'| on [−1, 1]).
    pub kappa_deriv_abs: f64,
    pub psi_deriv_abs: f64,
}

fn binomial(n: usize, k: usize, prec: u32) -> Float {
    Float::with_val(prec, Integer::from(Integer::binomial_u(n as u32, k as u32)))
}

impl Field {
    /// The field of `model` at `prec` bits (coefficients rounded to `prec`).
    pub fn new(model: &Model, prec: u32) -> Field {
        let a: Vec<Float> = model
            .kappa
            .coefficients
            .iter()
            .map(|c| Float::with_val(prec, c))
            .collect();
        let b: Vec<Float> = model
            .psi
            .coefficients
            .iter()
            .map(|c| Float::with_val(prec, c))
            .collect();
        let nz =
            |v: &[Float]| -> Vec<usize> { (0..v.len()).filter(|&k| !v[k].is_zero()).collect() };
        let (ka, kb) = (nz(&a), nz(&b));
        let degree = ka.iter().chain(&kb).copied().max().unwrap_or(0);
        let m = z_moments(model.d, degree + 1, prec);
        let scale = Float::with_val(prec, model.scale());
        let two_scale = Float::with_val(prec, 2.0 * model.scale());

        // The moment set.
        let mut moments: Vec<(usize, usize)> = Vec::new();
        let index_of = |p: usize, l: usize, moments: &mut Vec<(usize, usize)>| -> usize {
            if let Some(i) = moments.iter().position(|&x| x == (p, l)) {
                i
            } else {
                moments.push((p, l));
                moments.len() - 1
            }
        };
        let mut loss_kappa = Vec::new();
        for &k in &ka {
            for l in (0..=k).step_by(2) {
                let i = index_of(k - l, l, &mut moments);
                let mut c = Float::with_val(prec, &a[k] * &m[l]);
                c *= binomial(k, l, prec);
                loss_kappa.push((c, i));
            }
        }
        let mut loss_psi = Vec::new();
        for &k in &kb {
            let i = index_of(k, 0, &mut moments);
            loss_psi.push((b[k].clone(), i));
        }

        // A and B, term by term.
        let mut a_terms = Vec::new();
        let mut b_terms = Vec::new();
        for &k in ka.iter().filter(|&&k| k >= 1) {
            let ka_k = Float::with_val(prec, &a[k] * k as u32);
            for l in 0..k {
                let mut c = Float::with_val(prec, &ka_k * &binomial(k - 1, l, prec));
                if l % 2 == 0 {
                    c *= &m[l];
                    let index = index_of(k - l, l, &mut moments);
                    a_terms.push(Term {
                        p: k - 1 - l,
                        l,
                        coefficient: c,
                        index,
                    });
                } else {
                    c *= &m[l + 1];
                    let index = index_of(k - 1 - l, l + 1, &mut moments);
                    b_terms.push(Term {
                        p: k - 1 - l,
                        l,
                        coefficient: c,
                        index,
                    });
                }
            }
        }

        // γ_{p,l}, l odd, p + l = k.
        let mut gammas: Vec<(usize, Gamma)> = Vec::new();
        let gamma_at = |p: usize, l: usize, gammas: &mut Vec<(usize, Gamma)>| -> usize {
            if let Some(i) = gammas.iter().position(|(q, g)| *q == p && g.l == l) {
                i
            } else {
                gammas.push((
                    p,
                    Gamma {
                        l,
                        constant: Float::new(prec),
                        parts: Vec::new(),
                    },
                ));
                gammas.len() - 1
            }
        };
        for &k in ka.iter().filter(|&&k| k >= 1) {
            let f = Float::with_val(prec, &a[k] * &two_scale) * k as u32;
            for l in (1..=k).step_by(2) {
                let g = gamma_at(k - l, l, &mut gammas);
                // −A β: −k a_k C(k−1, l−1) m_{l−1} P_{k−l+1, l−1}
                let mut c = Float::with_val(prec, -&f);
                c *= binomial(k - 1, l - 1, prec);
                c *= &m[l - 1];
                let i = index_of(k - l + 1, l - 1, &mut moments);
                gammas[g].1.parts.push((c, i));
                // B α: k a_k C(k−1, l) m_{l+1} P_{k−1−l, l+1}
                if l < k {
                    let mut c = Float::with_val(prec, &f * &binomial(k - 1, l, prec));
                    c *= &m[l + 1];
                    let i = index_of(k - 1 - l, l + 1, &mut moments);
                    gammas[g].1.parts.push((c, i));
                }
            }
        }
        let mut psi_deriv = vec![Float::new(prec); degree.max(1)];
        for &k in kb.iter().filter(|&&k| k >= 1) {
            let kb_k = Float::with_val(prec, &b[k] * k as u32);
            psi_deriv[k - 1].assign(&kb_k);
            let g = gamma_at(k - 1, 1, &mut gammas);
            gammas[g].1.constant += Float::with_val(prec, &kb_k * &two_scale);
        }
        let mut groups: Vec<Group> = Vec::new();
        gammas.sort_by_key(|(p, g)| (*p, g.l));
        for (p, g) in gammas {
            match groups.last_mut() {
                Some(gr) if gr.p == p => gr.terms.push(g),
                _ => groups.push(Group { p, terms: vec![g] }),
            }
        }

        let mut constant = Float::with_val(prec, &model.teacher_norm.0);
        constant += Float::with_val(prec, model.noise_variance);
        let sum_abs = |v: &[Float]| -> f64 {
            v.iter()
                .enumerate()
                .map(|(k, c)| k as f64 * c.to_f64().abs())
                .sum::<f64>()
        };
        let g_pmax = groups.iter().map(|g| g.p).max().unwrap_or(0);
        let g_lmax = groups
            .iter()
            .flat_map(|g| g.terms.iter().map(|t| t.l))
            .max()
            .unwrap_or(0);
        let m_pmax = moments.iter().map(|m| m.0).max().unwrap_or(0);
        let m_lmax = moments.iter().map(|m| m.1).max().unwrap_or(0);
        Field {
            prec,
            degree,
            g_pmax,
            g_lmax,
            m_pmax,
            m_lmax,
            moments,
            groups,
            a_terms,
            b_terms,
            loss_kappa,
            loss_psi,
            psi_deriv,
            symmetric: false,
            scale,
            constant,
            kappa_deriv_abs: sum_abs(&a),
            psi_deriv_abs: sum_abs(&b),
        }
    }

    /// True when ψ has no odd-degree term: then g(−α, β) = −g(α, β) under a mirrored law (the
    /// odd-degree terms of κ meet only odd-p moments, which vanish), so a mirrored law stays
    /// mirrored and half the nodes suffice.
    pub fn psi_is_even(&self) -> bool {
        self.loss_psi
            .iter()
            .all(|(_, i)| self.moments[*i].0 % 2 == 0)
    }

    /// Switches the half-node mode on (requires [`Field::psi_is_even`]) or off.
    pub fn with_symmetry(mut self, on: bool) -> Field {
        assert!(!on || self.psi_is_even(), "half-node mode needs an even ψ");
        self.symmetric = on;
        self
    }

    /// Whether the half-node mode is on.
    pub fn symmetric(&self) -> bool {
        self.symmetric
    }

    /// Working precision in bits.
    pub fn prec(&self) -> u32 {
        self.prec
    }

    /// The (p, l) of every moment sum, in storage order.
    pub fn moment_indices(&self) -> &[(usize, usize)] {
        &self.moments
    }

    /// Highest nonzero degree of κ or ψ.
    pub fn degree(&self) -> usize {
        self.degree
    }

    /// Loss sensitivity Λ = 2·scale·(2 sup|κ'| + sup|ψ'|) with sup|κ'| ≤ Σk|a_k|, sup|ψ'| ≤
    /// Σk|b_k| on [−1, 1]: to first order |δL| ≤ Λ·Σ_j w_j max(|δα_j|, |δβ_j|) for a perturbation
    /// of a state on the unit circle (proofs-note §5).
    pub fn loss_sensitivity(&self) -> f64 {
        2.0 * self.scale.to_f64() * (2.0 * self.kappa_deriv_abs + self.psi_deriv_abs)
    }

    /// P_{p,l} of the interleaved state y = (α_0, β_0, α_1, β_1, …) with weights w (in the
    /// half-node mode, y and w are the α_0 > 0 half).
    pub(crate) fn moments_interleaved(&self, y: &[Float], w: &[Float]) -> Moments {
        let prec = self.prec;
        let deg = self.degree;
        let ns = self.moments.len();
        let partial: Vec<Vec<Float>> = y
            .par_chunks(2 * CHUNK)
            .zip(w.par_chunks(CHUNK))
            .map(|(yc, wc)| {
                let mut acc = vec![Float::new(prec); ns];
                let mut wa = vec![Float::new(prec); deg + 1];
                let mut be = vec![Float::new(prec); deg / 2 + 1];
                let mut b2 = Float::new(prec);
                let mut tmp = Float::new(prec);
                for (j, wj) in wc.iter().enumerate() {
                    let (a, b) = (&yc[2 * j], &yc[2 * j + 1]);
                    wa[0].assign(wj);
                    for p in 1..=self.m_pmax {
                        let (lo, hi) = wa.split_at_mut(p);
                        hi[0].assign(&lo[p - 1] * a);
                    }
                    b2.assign(b.square_ref());
                    if self.m_lmax >= 2 {
                        be[1].assign(&b2);
                        for i in 2..=self.m_lmax / 2 {
                            let (lo, hi) = be.split_at_mut(i);
                            hi[0].assign(&lo[i - 1] * &b2);
                        }
                    }
                    for (s, &(p, l)) in self.moments.iter().enumerate() {
                        if l == 0 {
                            acc[s] += &wa[p];
                        } else {
                            // mul then add: two roundings, but mpfr_fma is ~2x slower.
                            tmp.assign(&wa[p] * &be[l / 2]);
                            acc[s] += &tmp;
                        }
                    }
                }
                acc
            })
            .collect();
        let mut values = vec![Float::new(prec); ns];
        for part in &partial {
            for (v, x) in values.iter_mut().zip(part) {
                *v += x;
            }
        }
        if self.symmetric {
            for (v, &(p, _)) in values.iter_mut().zip(&self.moments) {
                if p % 2 == 1 {
                    v.assign(0u32);
                } else {
                    *v *= 2u32;
                }
            }
        }
        Moments { values }
    }

    /// P_{p,l} of a state given as separate α, β and weights (convenience for tests and
    /// cross-checks; same arithmetic as the flow).
    pub fn moments(&self, alpha: &[Float], beta: &[Float], weights: &[Float]) -> Moments {
        let y = interleave(alpha, beta, self.prec);
        self.moments_interleaved(&y, weights)
    }

    /// The values of γ_{p,l} for the moments `mo`, grouped as in `self.groups`.
    fn gammas(&self, mo: &Moments) -> Vec<Vec<Float>> {
        self.groups
            .iter()
            .map(|gr| {
                gr.terms
                    .iter()
                    .map(|g| {
                        let mut v = g.constant.clone();
                        for (c, i) in &g.parts {
                            v += c * &mo.values[*i];
                        }
                        v
                    })
                    .collect()
            })
            .collect()
    }

    /// g at one point, with preallocated scratch (powers of α and β, an accumulator).
    fn g_point(&self, gam: &[Vec<Float>], a: &Float, b: &Float, sc: &mut Scratch, out: &mut Float) {
        // Only the powers that occur: α^p up to the largest group p, β^l up to the largest l.
        for p in 1..=self.g_pmax {
            let (lo, hi) = sc.ap.split_at_mut(p);
            hi[0].assign(&lo[p - 1] * a);
        }
        for l in 1..=self.g_lmax {
            let (lo, hi) = sc.bp.split_at_mut(l);
            hi[0].assign(&lo[l - 1] * b);
        }
        out.assign(0u32);
        for (gr, vals) in self.groups.iter().zip(gam) {
            sc.inner.assign(0u32);
            for (g, v) in gr.terms.iter().zip(vals) {
                sc.tmp.assign(v * &sc.bp[g.l]);
                sc.inner += &sc.tmp;
            }
            sc.tmp.assign(&sc.ap[gr.p] * &sc.inner);
            *out += &sc.tmp;
        }
    }

    /// The midpoint update with the right-hand side f(z) = (β_j g_j, −α_j g_j) of the
    /// interleaved state z: target += c·f(z), i.e. target_α += β·(c g), target_β −= α·(c g), with
    /// c folded into the γ's (one evaluation of the field).
    pub(crate) fn add_scaled_rhs(&self, z: &[Float], w: &[Float], c: &Float, target: &mut [Float]) {
        let mo = self.moments_interleaved(z, w);
        let mut gam = self.gammas(&mo);
        for v in gam.iter_mut().flatten() {
            *v *= c;
        }
        target
            .par_chunks_mut(2 * CHUNK)
            .zip(z.par_chunks(2 * CHUNK))
            .for_each(|(tc, zc)| {
                let mut sc = Scratch::new(self.degree, self.prec);
                let mut g = Float::new(self.prec);
                for j in 0..zc.len() / 2 {
                    let (a, b) = (&zc[2 * j], &zc[2 * j + 1]);
                    self.g_point(&gam, a, b, &mut sc, &mut g);
                    sc.tmp.assign(b * &g);
                    tc[2 * j] += &sc.tmp;
                    sc.tmp.assign(a * &g);
                    tc[2 * j + 1] -= &sc.tmp;
                }
            });
    }

    /// g_j for every node of the interleaved state z, written into `out` (one per node).
    pub(crate) fn g_into(&self, z: &[Float], w: &[Float], out: &mut [Float]) {
        let mo = self.moments_interleaved(z, w);
        let gam = self.gammas(&mo);
        out.par_chunks_mut(CHUNK)
            .zip(z.par_chunks(2 * CHUNK))
            .for_each(|(oc, zc)| {
                let mut sc = Scratch::new(self.degree, self.prec);
                for (j, o) in oc.iter_mut().enumerate() {
                    self.g_point(&gam, &zc[2 * j], &zc[2 * j + 1], &mut sc, o);
                }
            });
    }

    /// The velocity coefficient g(α, β) = 2·scale·[(ψ'(α) − A)β + Bα] of a particle at (α, β)
    /// under the law whose moment sums are `mo` (the combined γ-polynomial).
    pub fn velocity(&self, mo: &Moments, alpha: &Float, beta: &Float) -> Float {
        let gam = self.gammas(mo);
        let mut sc = Scratch::new(self.degree, self.prec);
        let mut g = Float::new(self.prec);
        let a = Float::with_val(self.prec, alpha);
        let b = Float::with_val(self.prec, beta);
        self.g_point(&gam, &a, &b, &mut sc, &mut g);
        g
    }

    /// (g, g') of a particle at (α, β) under the law whose moment sums are `mo`, where
    /// g' = dg/dα along the sphere with the law held fixed (dβ/dα = −α/β), from the
    /// γ-polynomial g = Σ γ_{p,l} α^p β^l (l odd ≥ 1) and, term by term,
    ///
    ///   d(α^p β^l)/dα = p α^{p−1} β^l − l α^{p+1} β^{l−2}
    ///
    /// (β^{−1} for l = 1). Exact formula; every operation rounds to nearest at the working
    /// precision, so each of g, g' is within (number of operations)·2^{−prec} of the sum of the
    /// absolute values of its terms. β ≠ 0 is required (g' ∝ 1/β at the poles); α, β are used as
    /// given (no β = √(1 − α²) is substituted). This is what the local Hessian needs
    /// (`crate::hessian::symmetric::with_interaction_rug`: λ_e = βg', λ_⊥ = −αg/β, ‖v‖ = |g|).
    /// Test: tests/hessian.rs `oracle_g_prime_matches_dual` (against dual numbers applied to the
    /// term-by-term A, B formula).
    pub fn velocity_and_derivative(
        &self,
        mo: &Moments,
        alpha: &Float,
        beta: &Float,
    ) -> (Float, Float) {
        let prec = self.prec;
        let gam = self.gammas(mo);
        let a = Float::with_val(prec, alpha);
        let b = Float::with_val(prec, beta);
        // α^0 … α^{pmax+1}, β^0 … β^{lmax}, β^{−1}.
        let mut ap = vec![Float::with_val(prec, 1u32); self.g_pmax + 2];
        for p in 1..ap.len() {
            let (lo, hi) = ap.split_at_mut(p);
            hi[0].assign(&lo[p - 1] * &a);
        }
        let mut bp = vec![Float::with_val(prec, 1u32); self.g_lmax + 1];
        for l in 1..bp.len() {
            let (lo, hi) = bp.split_at_mut(l);
            hi[0].assign(&lo[l - 1] * &b);
        }
        let binv = Float::with_val(prec, 1u32 / &b);
        let mut g = Float::new(prec);
        let mut gp = Float::new(prec);
        let mut tmp = Float::new(prec);
        for (gr, vals) in self.groups.iter().zip(&gam) {
            // inner = Σ_l γ β^l, inner2 = Σ_l γ l β^{l−2}.
            let mut inner = Float::new(prec);
            let mut inner2 = Float::new(prec);
            for (t, v) in gr.terms.iter().zip(vals) {
                tmp.assign(v * &bp[t.l]);
                inner += &tmp;
                let bl2 = if t.l >= 2 { &bp[t.l - 2] } else { &binv };
                tmp.assign(v * bl2);
                tmp *= t.l as u32;
                inner2 += &tmp;
            }
            tmp.assign(&ap[gr.p] * &inner);
            g += &tmp;
            if gr.p > 0 {
                tmp.assign(&ap[gr.p - 1] * &inner);
                tmp *= gr.p as u32;
                gp += &tmp;
            }
            tmp.assign(&ap[gr.p + 1] * &inner2);
            gp -= &tmp;
        }
        (g, gp)
    }

    /// (A(α, β), B(α, β)) by their own term-by-term formulas.
    pub fn interaction(&self, mo: &Moments, alpha: &Float, beta: &Float) -> (Float, Float) {
        let eval = |terms: &[Term]| -> Float {
            let mut s = Float::new(self.prec);
            for t in terms {
                let mut x = Float::with_val(self.prec, &t.coefficient * &mo.values[t.index]);
                x *= Float::with_val(self.prec, alpha.pow(t.p as u32));
                x *= Float::with_val(self.prec, beta.pow(t.l as u32));
                s += &x;
            }
            s
        };
        (eval(&self.a_terms), eval(&self.b_terms))
    }

    /// ψ'(α) by Horner's rule.
    pub fn psi_derivative(&self, alpha: &Float) -> Float {
        let mut s = Float::new(self.prec);
        for c in self.psi_deriv.iter().rev() {
            s *= alpha;
            s += c;
        }
        s
    }

    /// The loss L = scale·(E κ(αα' + ββ'z) − 2E ψ(α) + E σ*² + ν²) of the law with moments `mo`.
    pub fn loss(&self, mo: &Moments) -> Float {
        let mut s = self.constant.clone();
        for (c, i) in &self.loss_kappa {
            let p = &mo.values[*i];
            s += Float::with_val(self.prec, c * p) * p;
        }
        for (c, i) in &self.loss_psi {
            s -= Float::with_val(self.prec, c * &mo.values[*i]) * 2u32;
        }
        s * &self.scale
    }
}

struct Scratch {
    ap: Vec<Float>,
    bp: Vec<Float>,
    inner: Float,
    tmp: Float,
}

impl Scratch {
    fn new(deg: usize, prec: u32) -> Scratch {
        Scratch {
            ap: (0..=deg).map(|_| Float::with_val(prec, 1u32)).collect(),
            bp: (0..=deg).map(|_| Float::with_val(prec, 1u32)).collect(),
            inner: Float::new(prec),
            tmp: Float::new(prec),
        }
    }
}

/// (α_0, β_0, α_1, β_1, …) at `prec`.
pub(crate) fn interleave(alpha: &[Float], beta: &[Float], prec: u32) -> Vec<Float> {
    assert_eq!(alpha.len(), beta.len());
    let mut y = Vec::with_capacity(2 * alpha.len());
    for (a, b) in alpha.iter().zip(beta) {
        y.push(Float::with_val(prec, a));
        y.push(Float::with_val(prec, b));
    }
    y
}
