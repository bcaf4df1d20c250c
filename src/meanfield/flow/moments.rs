//! The interaction through moments of the law (f64).
//!
//! For a power series κ(s) = Σ_m a_m s^m and two independent particles of the reduced law,
//! ⟨w, w'⟩ = αα' + ββ'z with z independent of (α, α'), E z^{odd} = 0 and
//! μ_{2j} = E z^{2j} = Π_{i<j} (2i+1)/(d−1+2i). Expanding binomially,
//!
//!   E_{α',z}[κ(αα' + ββ'z)] = Σ_m a_m Σ_{l even} C(m,l) μ_l P_{m−l,l} α^{m−l} β^l,
//!
//! with the node sums P_{q,e} = Σ_j w_j α_j^q β_j^e (only even e occur). With b_m = (m+1)a_{m+1}
//! the coefficients of κ',
//!
//!   A(α) = E[κ'(·) α'] = Σ_m b_m Σ_{l even} C(m,l) μ_l P_{m−l+1,l} α^{m−l} β^l,
//!   B(α) = E[κ'(·) β'z] = Σ_m b_m Σ_{l odd} C(m,l) μ_{l+1} P_{m−l,l+1} α^{m−l} β^l,
//!
//! and g/(2·scale) = ψ'(α)β − Aβ + Bα is a polynomial Σ D_{p,q} α^p β^q with q odd only, whose
//! coefficients D are linear in P. Cost per right-hand side: the P (M nodes × the needed
//! (q, e) pairs, ≤ (K+1)²/4), then D (≤ K²/2 terms), then one bivariate Horner evaluation per
//! particle (≤ K²/4 multiply-adds): O(M K²), no M² loop. Every term is bounded by
//! |a_m| C(m,l)|α|^{m−l}|β|^l μ_l |P_{m−l,l}| and Σ_l C(m,l)|αα'|^{m−l}|ββ'|^l E|z|^l ≤ 1
//! (Cauchy–Schwarz), so no term is larger than Σ|a_m|: no cancellation blow-up.
//! Derivation: `proofs-notes/meanfield-reduction.md` §2–§3.

/// A polynomial Σ_{p,j} H[j][p] α^p (β²)^j; the functions of the flow are β^parity times one
/// of these (parity 1 for g, 0 for the kernel means).
#[derive(Clone, Debug)]
pub(crate) struct Bivariate {
    /// Degree in α + 1.
    pub np: usize,
    /// Number of β² powers.
    pub nj: usize,
    /// H[j·np + p].
    pub h: Vec<f64>,
}

impl Bivariate {
    fn new(np: usize, nj: usize) -> Self {
        Bivariate {
            np,
            nj,
            h: vec![0.0; np * nj],
        }
    }

    /// The values at many points (the same operations as [`Bivariate::eval`], point by point,
    /// arranged so that the loop over points is innermost).
    pub fn eval_many(&self, a: &[f64], b2: &[f64], out: &mut [f64]) {
        let mut r = [0.0f64; CHUNK];
        for ((ac, bc), oc) in a
            .chunks(CHUNK)
            .zip(b2.chunks(CHUNK))
            .zip(out.chunks_mut(CHUNK))
        {
            let n = ac.len();
            oc.fill(0.0);
            for j in (0..self.nj).rev() {
                let row = &self.h[j * self.np..(j + 1) * self.np];
                r[..n].fill(0.0);
                for c in row.iter().rev() {
                    for i in 0..n {
                        r[i] = r[i] * ac[i] + c;
                    }
                }
                for i in 0..n {
                    oc[i] = oc[i] * bc[i] + r[i];
                }
            }
        }
    }

    /// Σ H[j][p] α^p (β²)^j at (α, β² = `b2`), by Horner in α inside Horner in β².
    #[inline]
    pub fn eval(&self, a: f64, b2: f64) -> f64 {
        let mut acc = 0.0;
        for j in (0..self.nj).rev() {
            let row = &self.h[j * self.np..(j + 1) * self.np];
            let mut r = 0.0;
            for c in row.iter().rev() {
                r = r * a + c;
            }
            acc = acc * b2 + r;
        }
        acc
    }
}

/// Points per block of the vectorised loops.
pub(crate) const CHUNK: usize = 64;

/// One term coef·P[slot]·α^p β^l (l of the stated parity).
#[derive(Clone, Copy, Debug)]
struct Term {
    p: usize,
    l: usize,
    coef: f64,
    slot: usize,
}

/// The static part of the expansion for one problem (kernels and d).
#[derive(Clone, Debug)]
pub(crate) struct Expansion {
    /// Needed node sums P_{q,e}: (q, e) per slot; g's come first.
    pairs: Vec<(usize, usize)>,
    /// Number of slots g needs.
    g_slots: usize,
    /// Terms of g/(2 scale) − ψ'(α)β (output monomial α^p β^l, l odd).
    g_terms: Vec<Term>,
    /// The static part ψ'(α)β of g/(2 scale): ψ' coefficients.
    psi_prime: Vec<f64>,
    g_np: usize,
    g_nj: usize,
    /// A and B terms (monomial α^p β^l).
    a_terms: Vec<Term>,
    b_terms: Vec<Term>,
    /// E κ(αα'+ββ'z) terms (monomial α^p β^l, l even).
    kappa_terms: Vec<Term>,
    kappa_np: usize,
    kappa_nj: usize,
    /// E κ_rad(αα'+ββ'z) terms.
    radial_terms: Vec<Term>,
    radial_np: usize,
    radial_nj: usize,
    pub psi: Vec<f64>,
    pub psi_radial: Vec<f64>,
}

pub(crate) use crate::poly::trim;

/// E z^l for z = ⟨u, u'⟩, u, u' uniform on S^{d−2}: 0 for odd l, Π_{i<l/2}(2i+1)/(d−1+2i).
#[allow(clippy::needless_range_loop)] // l is the power, as in the formula
pub fn z_moments(d: usize, lmax: usize) -> Vec<f64> {
    let mut mu = vec![0.0; lmax + 1];
    let mut v = 1.0;
    for l in 0..=lmax {
        if l % 2 == 0 {
            mu[l] = v;
            let i = (l / 2) as f64;
            v *= (2.0 * i + 1.0) / (d as f64 - 1.0 + 2.0 * i);
        }
    }
    mu
}

/// Horner value of Σ c_k x^k.
#[inline]
pub(crate) fn horner(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, ci| acc * x + ci)
}

struct Slots {
    k: usize,
    index: Vec<Option<usize>>,
    pairs: Vec<(usize, usize)>,
}

impl Slots {
    fn get(&mut self, q: usize, e: usize) -> usize {
        let i = q * (self.k + 2) + e;
        if let Some(s) = self.index[i] {
            return s;
        }
        let s = self.pairs.len();
        self.pairs.push((q, e));
        self.index[i] = Some(s);
        s
    }
}

impl Expansion {
    /// From the f64 series coefficients (index = power of s) of κ, ψ, κ_rad, ψ_rad.
    pub fn new(
        kappa: &[f64],
        psi: &[f64],
        kappa_radial: &[f64],
        psi_radial: &[f64],
        d: usize,
    ) -> Expansion {
        let kappa = trim(kappa.to_vec());
        let kappa_radial = trim(kappa_radial.to_vec());
        let k = kappa.len().max(kappa_radial.len()).max(1);
        let mu = z_moments(d, k + 2);
        // Binomials C(m, l), m ≤ k, by Pascal's rule.
        let mut binom = vec![vec![0.0f64; k + 1]; k + 1];
        for m in 0..=k {
            binom[m][0] = 1.0;
            for l in 1..=m {
                binom[m][l] = binom[m - 1][l - 1] + if l < m { binom[m - 1][l] } else { 0.0 };
            }
        }
        let mut slots = Slots {
            k,
            index: vec![None; (k + 2) * (k + 2)],
            pairs: Vec::new(),
        };
        // κ' coefficients b_m = (m+1) a_{m+1}.
        let b: Vec<f64> = (0..kappa.len().saturating_sub(1))
            .map(|m| (m + 1) as f64 * kappa[m + 1])
            .collect();
        let (mut g_terms, mut a_terms, mut b_terms) = (Vec::new(), Vec::new(), Vec::new());
        for (m, &bm) in b.iter().enumerate() {
            if bm == 0.0 {
                continue;
            }
            for l in 0..=m {
                if l % 2 == 0 {
                    let coef = bm * binom[m][l] * mu[l];
                    let slot = slots.get(m - l + 1, l);
                    a_terms.push(Term {
                        p: m - l,
                        l,
                        coef,
                        slot,
                    });
                    // −Aβ → α^{m−l} β^{l+1}
                    g_terms.push(Term {
                        p: m - l,
                        l: l + 1,
                        coef: -coef,
                        slot,
                    });
                } else {
                    let coef = bm * binom[m][l] * mu[l + 1];
                    let slot = slots.get(m - l, l + 1);
                    b_terms.push(Term {
                        p: m - l,
                        l,
                        coef,
                        slot,
                    });
                    // Bα → α^{m−l+1} β^l
                    g_terms.push(Term {
                        p: m - l + 1,
                        l,
                        coef,
                        slot,
                    });
                }
            }
        }
        let g_slots = slots.pairs.len();
        let psi = trim(psi.to_vec());
        let psi_prime: Vec<f64> = (1..psi.len()).map(|m| m as f64 * psi[m]).collect();
        let mean_terms = |c: &[f64], slots: &mut Slots| -> Vec<Term> {
            let mut t = Vec::new();
            for (m, &cm) in c.iter().enumerate() {
                if cm == 0.0 {
                    continue;
                }
                for l in (0..=m).step_by(2) {
                    t.push(Term {
                        p: m - l,
                        l,
                        coef: cm * binom[m][l] * mu[l],
                        slot: slots.get(m - l, l),
                    });
                }
            }
            t
        };
        let kappa_terms = mean_terms(&kappa, &mut slots);
        let radial_terms = mean_terms(&kappa_radial, &mut slots);
        let dims = |t: &[Term], extra_p: usize| -> (usize, usize) {
            let np = t.iter().map(|x| x.p + 1).max().unwrap_or(1).max(extra_p);
            let nj = t.iter().map(|x| x.l / 2 + 1).max().unwrap_or(1);
            (np, nj)
        };
        let (g_np, g_nj) = dims(&g_terms, psi_prime.len().max(1));
        let (kappa_np, kappa_nj) = dims(&kappa_terms, 1);
        let (radial_np, radial_nj) = dims(&radial_terms, 1);
        let pairs = slots.pairs;
        Expansion {
            pairs,
            g_slots,
            g_terms,
            psi_prime,
            g_np,
            g_nj,
            a_terms,
            b_terms,
            kappa_terms,
            kappa_np,
            kappa_nj,
            radial_terms,
            radial_np,
            radial_nj,
            psi,
            psi_radial: trim(psi_radial.to_vec()),
        }
    }

    /// The node sums P_{q,e} = Σ_j w_j α_j^q β_j^e for all needed pairs (e even: β_j² is
    /// formed as β_j·β_j from the carried β_j).
    pub fn moments(&self, alpha: &[f64], beta: &[f64], w: &[f64]) -> Vec<f64> {
        self.moments_upto(alpha, beta, w, self.pairs.len())
    }

    /// The node sums needed by g only (the first slots), zeros for the others.
    pub fn g_moments(&self, alpha: &[f64], beta: &[f64], w: &[f64]) -> Vec<f64> {
        self.moments_upto(alpha, beta, w, self.g_slots)
    }

    /// The first `ns` node sums, in a fixed order: chunks of [`CHUNK`] nodes in node order,
    /// four interleaved partial sums per chunk position (j mod 4), combined as
    /// (s0 + s1) + (s2 + s3) at the end (deterministic, vectorisable).
    fn moments_upto(&self, alpha: &[f64], beta: &[f64], w: &[f64], ns: usize) -> Vec<f64> {
        let pairs = &self.pairs[..ns];
        let qmax = pairs.iter().map(|x| x.0).max().unwrap_or(0);
        let jmax = pairs.iter().map(|x| x.1 / 2).max().unwrap_or(0);
        let mut acc = vec![[0.0f64; 4]; ns];
        let mut apow = vec![[0.0f64; CHUNK]; qmax + 1];
        let mut bpow = vec![[0.0f64; CHUNK]; jmax + 1];
        for ((ac, bc), wc) in alpha
            .chunks(CHUNK)
            .zip(beta.chunks(CHUNK))
            .zip(w.chunks(CHUNK))
        {
            let n = ac.len();
            apow[0][..n].copy_from_slice(wc);
            for q in 1..=qmax {
                let (lo, hi) = apow.split_at_mut(q);
                for i in 0..n {
                    hi[0][i] = lo[q - 1][i] * ac[i];
                }
            }
            if jmax > 0 {
                for i in 0..n {
                    bpow[0][i] = 1.0;
                    bpow[1][i] = bc[i] * bc[i];
                }
                for j in 2..=jmax {
                    let (lo, hi) = bpow.split_at_mut(j);
                    for i in 0..n {
                        hi[0][i] = lo[j - 1][i] * lo[1][i];
                    }
                }
            }
            for (slot, &(q, e)) in pairs.iter().enumerate() {
                let ap = &apow[q];
                let lanes = &mut acc[slot];
                if e == 0 {
                    for i in 0..n {
                        lanes[i % 4] += ap[i];
                    }
                } else {
                    let bp = &bpow[e / 2];
                    for i in 0..n {
                        lanes[i % 4] += ap[i] * bp[i];
                    }
                }
            }
        }
        let mut out: Vec<f64> = acc.iter().map(|l| (l[0] + l[1]) + (l[2] + l[3])).collect();
        out.resize(self.pairs.len(), 0.0);
        out
    }

    /// G = g/(2·scale·β) = ψ'(α) − A(α) + αB(α)/β as a polynomial in (α, β²), for the law
    /// with node sums `p`.
    pub fn g_polynomial(&self, p: &[f64]) -> Bivariate {
        let mut h = Bivariate::new(self.g_np, self.g_nj);
        for (i, c) in self.psi_prime.iter().enumerate() {
            h.h[i] += c;
        }
        for t in &self.g_terms {
            h.h[(t.l / 2) * self.g_np + t.p] += t.coef * p[t.slot];
        }
        h
    }

    fn mean_polynomial(&self, terms: &[Term], np: usize, nj: usize, p: &[f64]) -> Bivariate {
        let mut h = Bivariate::new(np, nj);
        for t in terms {
            h.h[(t.l / 2) * np + t.p] += t.coef * p[t.slot];
        }
        h
    }

    /// α ↦ E_{α',z}[κ(αα' + ββ'z)] as a bivariate polynomial.
    pub fn kappa_mean_polynomial(&self, p: &[f64]) -> Bivariate {
        self.mean_polynomial(&self.kappa_terms, self.kappa_np, self.kappa_nj, p)
    }

    /// α ↦ E_{α',z}[κ_rad(αα' + ββ'z)] as a bivariate polynomial.
    pub fn radial_mean_polynomial(&self, p: &[f64]) -> Bivariate {
        self.mean_polynomial(&self.radial_terms, self.radial_np, self.radial_nj, p)
    }

    /// E[κ(αα' + ββ'z)] for α, α' independent from the law: Σ coef·P_{q,e}².
    pub fn self_kappa_mean(&self, p: &[f64]) -> f64 {
        self.kappa_terms
            .iter()
            .map(|t| t.coef * p[t.slot] * p[t.slot])
            .sum()
    }

    fn term_sum(terms: &[Term], p: &[f64], a: f64, b: f64) -> f64 {
        terms
            .iter()
            .map(|t| t.coef * p[t.slot] * a.powi(t.p as i32) * b.powi(t.l as i32))
            .sum()
    }

    /// (A(α), B(α)) at (α, β).
    pub fn interaction(&self, p: &[f64], a: f64, b: f64) -> (f64, f64) {
        (
            Self::term_sum(&self.a_terms, p, a, b),
            Self::term_sum(&self.b_terms, p, a, b),
        )
    }

    /// (dA/dα, dB/dα) along the sphere (β = √(1−α²), dβ/dα = −α/β), law fixed; |α| < 1.
    pub fn interaction_derivatives(&self, p: &[f64], a: f64, b: f64) -> (f64, f64) {
        let d = |terms: &[Term]| -> f64 {
            terms
                .iter()
                .map(|t| {
                    let (pp, l) = (t.p as i32, t.l as i32);
                    let mut v = 0.0;
                    if pp > 0 {
                        v += pp as f64 * a.powi(pp - 1) * b.powi(l);
                    }
                    if l > 0 {
                        v -= l as f64 * a.powi(pp + 1) * b.powi(l - 2);
                    }
                    t.coef * p[t.slot] * v
                })
                .sum()
        };
        (d(&self.a_terms), d(&self.b_terms))
    }

    /// ψ'(α).
    pub fn psi_prime(&self, a: f64) -> f64 {
        horner(&self.psi_prime, a)
    }
}
