//! The oracle's construction: coefficient tables of σ, z·σ' and every σ*_r, the kernels of
//! every pair with the constants that bound the effect of an overlap's rounding (sups of the
//! derivatives, exact values at s = 1).
//!
//! Accuracy contract: that of the module ([`super`]); the constants built here are upper
//! bounds (rounded upward) conditional on the tables' and the norms' bounds.

#![allow(clippy::needless_range_loop)]

use super::*;
use crate::activation::{Expr, Spec};
use crate::coeffs::{self, Coefficient, CoefficientTable};
use crate::kernel::{self, closed_kernel, ClosedKernel, Side};
use rug::float::{Constant, Round};
use rug::Float;

impl Oracle {
    /// Precomputes the coefficient tables (to `degree`, `digits` digits) of σ, z·σ' and every
    /// σ*_r, their derivative norms, and the kernels' constants. For a polynomial spec of degree
    /// m the degree is raised to m + 2 and its table is computed to 2·digits + 10 digits (cheap,
    /// exact coefficients), so that series against it carry no spurious tail.
    ///
    /// Only the sides a series kernel reads are built (a closed form reads none: relu against
    /// relu builds no table and no norm), and a teacher term with the student's spec shares the
    /// student's side (the same spec, degree and digits give the same table and norms); neither
    /// changes a value or a bound.
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
        let relu = is_relu(student);
        let zd = if relu { SideId::Sigma } else { SideId::ZdSigma };
        let lhs = if relu { student } else { &deriv };
        // The sides the series kernels read (closed forms read none): only these are built.
        let mut reads = Vec::new();
        let mut read = |a_spec: &Spec, b_spec: &Spec, a: SideId, b: SideId| {
            if closed_for(a_spec, b_spec, a).is_none() {
                reads.extend([a, b]);
            }
        };
        read(student, student, SideId::Sigma, SideId::Sigma);
        read(lhs, student, zd, SideId::Sigma);
        for (r, ts) in teacher_specs.iter().enumerate() {
            read(student, ts, SideId::Sigma, SideId::Teacher(r));
            read(lhs, ts, zd, SideId::Teacher(r));
            for (q, tq) in teacher_specs.iter().enumerate() {
                read(ts, tq, SideId::Teacher(r), SideId::Teacher(q));
            }
        }
        // z·σ' is built from σ's table
        let sigma = if reads.contains(&SideId::Sigma) || reads.contains(&SideId::ZdSigma) {
            Some(info(student)?)
        } else {
            None
        };
        let mut teachers = Vec::with_capacity(teacher_specs.len());
        for (r, ts) in teacher_specs.iter().enumerate() {
            teachers.push(match &sigma {
                _ if !reads.contains(&SideId::Teacher(r)) => None,
                // the same spec at the same degree and digits: the same side
                Some(sg) if ts == student => Some(sg.clone()),
                _ => Some(info(ts)?),
            });
        }
        let zdsigma = match &sigma {
            Some(sg) if !relu => Some(zdsigma_side(&deriv, sg, digits)?),
            _ => None,
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
        // (norms at s = 1 are read by series kernels only, whose sides are built)
        let norms = |s: &Option<SideInfo>| match s {
            Some(s) => [s.side.norms[0].clone(), s.side.norms[1].clone()],
            None => [None, None],
        };
        let [sig_norm, sig_norm1] = norms(&o.sigma);
        o.kk = o.pair(
            "κ_{σ,σ}",
            student,
            student,
            SideId::Sigma,
            SideId::Sigma,
            [sig_norm.clone(), sig_norm1.clone()],
        );
        let (kr_one, kr_one_kind) = if relu {
            ([None, None], BoundKind::Exact)
        } else {
            let (v, k) = radial_at_one(student, o.side(SideId::Sigma), digits, prec)?;
            ([Some(v), None], k)
        };
        o.kr = o.pair("κ_{zσ',σ}", lhs, student, zd, SideId::Sigma, kr_one.clone());
        // κ_{zσ',σ}(1) is read from the identity: its kind joins the kernel's
        o.kr.kind = o.kr.kind.weakest(kr_one_kind);
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
            let mut k = o.pair(
                &format!("κ_{{zσ',σ*_{r}}}"),
                lhs,
                ts,
                zd,
                SideId::Teacher(r),
                one,
            );
            if same {
                k.kind = k.kind.weakest(kr_one_kind);
            }
            o.psir.push(k);
        }
        for (r, ts) in teacher_specs.iter().enumerate() {
            let mut row = Vec::new();
            for (q, tq) in teacher_specs.iter().enumerate() {
                let one = if ts.expr == tq.expr {
                    norms(&o.teachers[r])
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

    /// The side a series kernel reads ([`Oracle::new`] builds every such side).
    pub(super) fn side(&self, id: SideId) -> &SideInfo {
        let side = match id {
            SideId::Sigma => &self.sigma,
            SideId::ZdSigma if self.zdsigma.is_some() => &self.zdsigma,
            SideId::ZdSigma => &self.sigma,
            SideId::Teacher(r) => &self.teachers[r],
        };
        side.as_ref()
            .expect("Oracle::new builds every side that a series kernel reads")
    }

    /// Builds one pair kernel: closed form when the kernel module knows one for (a_spec,
    /// b_spec) — `a_spec` is σ' for a z·σ' side, which never has one, except for relu where
    /// z·σ' = σ — otherwise the series of the two sides.
    pub(super) fn pair(
        &self,
        name: &str,
        a_spec: &Spec,
        b_spec: &Spec,
        a: SideId,
        b: SideId,
        at_one: [Option<(Float, Float)>; 2],
    ) -> PairKernel {
        let prec = self.prec;
        if let Some(ck) = closed_for(a_spec, b_spec, a) {
            let sup = closed_sups(&ck, prec);
            return PairKernel {
                name: name.into(),
                how: How::Closed(ck),
                sup,
                sqrt_n0: None,
                at_one: [None, None],
                kind: BoundKind::Enclosure,
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
        let kind = sa
            .side
            .kind(kmax, 2)
            .weakest(sb.side.kind(kmax, 2))
            .rounded();
        PairKernel {
            name: name.into(),
            how: How::Series(a, b),
            sup,
            sqrt_n0,
            at_one,
            kind,
        }
    }

    /// The kind of the loss's bound: the weakest of the kernels κ_{σ,σ}, ψ_r and κ_{σ*_r,σ*_q}
    /// it is computed from (ball arithmetic adds only outward-rounded operations).
    pub fn loss_kind(&self) -> BoundKind {
        let tt = self.tt.iter().flatten();
        BoundKind::weakest_of(
            std::iter::once(&self.kk)
                .chain(&self.psi)
                .chain(tt)
                .map(|k| k.kind),
        )
    }

    /// The kind of the gradients', the velocity's and a step's bounds: the loss's kernels and
    /// the radial ones κ_{zσ',σ}, κ_{zσ',σ*_r}.
    pub fn gradient_kind(&self) -> BoundKind {
        let radial = std::iter::once(&self.kr).chain(&self.psir).map(|k| k.kind);
        BoundKind::weakest_of(radial).weakest(self.loss_kind())
    }
}

/// The closed form of the kernel κ_{A,B} read from side `a`, if any: a z·σ' side never has
/// one (for relu, z·σ' = σ is read from the σ side and does).
fn closed_for(a_spec: &Spec, b_spec: &Spec, a: SideId) -> Option<ClosedKernel> {
    if a == SideId::ZdSigma {
        None
    } else {
        closed_kernel(a_spec, b_spec)
    }
}

pub(super) fn dummy_kernel() -> PairKernel {
    PairKernel {
        name: String::new(),
        how: How::Closed(ClosedKernel::ReluRelu),
        sup: [None, None, None],
        sqrt_n0: None,
        at_one: [None, None],
        kind: BoundKind::Estimate,
    }
}

/// The side of z·σ'(z): coefficients c_j(zσ') = j c_j + √((j+1)(j+2)) c_{j+2} from σ's table
/// (degree K − 2), norms E[(zσ')²] and of its derivatives by quadrature/exact Parseval of the
/// spec z·σ'(z) (an independent integrand).
pub(super) fn zdsigma_side(
    deriv: &Spec,
    sigma: &SideInfo,
    digits: u32,
) -> Result<SideInfo, PopulationError> {
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
                bound_kind: kv.kind,
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
    // (value, bound) and kind of E[f²]; a norm that cannot be computed is left out (None),
    // which only removes a tail route, with kind `Exact` so that it weakens nothing.
    let norm = |f: Option<&Spec>| match f.map(|f| coeffs::norm_enclosure(f, dig)) {
        Some(Ok((v, b, k))) => (Some((v, b)), k),
        _ => (None, coeffs::BoundKind::Exact),
    };
    let (n0, k0) = match coeffs::norm_enclosure(&spec, dig) {
        Ok((v, b, k)) => ((v, b), k),
        Err(e) => return Err(PopulationError::Coefficients(e)),
    };
    let d1 = spec.derivative();
    let (n1, k1) = norm(d1.as_ref());
    let d2 = d1.as_ref().and_then(|d| d.derivative());
    let (n2, k2) = norm(d2.as_ref());
    Ok(SideInfo {
        side: Side {
            table,
            norms: [Some(n0), n1, n2],
            norm_kinds: [k0, k1, k2],
        },
        poly: sigma.poly,
    })
}

/// κ_{zσ',σ}(1) = E[Zσ'(Z)σ(Z)] = ½(E[(Zσ)²] − E[σ²]) (Stein applied to σ²/2), with the
/// kind of its bound (the weakest of the two norms', rounded).
pub(super) fn radial_at_one(
    student: &Spec,
    sigma: &SideInfo,
    digits: u32,
    prec: u32,
) -> Result<((Float, Float), BoundKind), PopulationError> {
    let spec = Spec {
        source: format!("z*({})", student.source),
        expr: Expr::Mul(Box::new(Expr::Z), Box::new(student.expr.clone())),
    };
    let dig = if sigma.poly.is_some() {
        (2 * digits + 10).min(coeffs::MAX_DIGITS)
    } else {
        digits
    };
    let (zv, zb, zk) = coeffs::norm_enclosure(&spec, dig).map_err(PopulationError::Coefficients)?;
    let (sv, sb) = sigma.side.norms[0]
        .clone()
        .expect("E σ² is always computed");
    let p = prec.max(zv.prec()).max(sv.prec());
    let v = Float::with_val(p, &zv - &sv) / 2u32;
    let b = up_add(&up_add(&zb, &sb), &ulp(&v));
    let b = Float::with_val_round(RB, &b / 2u32, Round::Up).0;
    let b = up_add(&b, &ulp(&v));
    let kind = zk.weakest(sigma.side.norm_kinds[0]).rounded();
    Ok(((v, b), kind))
}

/// sup_{|s|≤1} |κ^{(q)}| for the closed forms, q = 0, 1, 2.
pub(super) fn closed_sups(ck: &ClosedKernel, prec: u32) -> [Option<Float>; 3] {
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

#[cfg(test)]
mod tests {
    //! The lazy construction: which sides [`Oracle::new`] builds, and that a shared side gives
    //! the same bits as one built on its own.
    use super::*;

    fn spec(s: &str) -> Spec {
        Spec::parse(s).expect("valid spec")
    }

    fn built(o: &Oracle) -> (bool, bool, Vec<bool>) {
        (
            o.sigma.is_some(),
            o.zdsigma.is_some(),
            o.teachers.iter().map(Option::is_some).collect(),
        )
    }

    #[test]
    fn sides_are_built_only_for_series_kernels() {
        let o = |s: &str, t: &[&str]| {
            let t: Vec<Spec> = t.iter().map(|x| spec(x)).collect();
            Oracle::new(&spec(s), &t, 8, 20).expect("oracle")
        };
        // relu–relu: every kernel (κ, κ_{zσ',σ} as z·relu' = relu, ψ, κ_{σ*,σ*}) is closed
        assert_eq!(built(&o("relu", &["relu"])), (false, false, vec![false]));
        // relu against he4: ψ is a series (σ and σ* read); κ_{σ*,σ*} alone would need no σ
        assert_eq!(built(&o("relu", &["he4"])), (true, false, vec![true]));
        // two ridge terms: κ_{relu,he2} (ψ_1 and the cross term κ_{σ*_0,σ*_1}) reads both
        assert_eq!(
            built(&o("relu", &["relu", "he2"])),
            (true, false, vec![true, true])
        );
        assert_eq!(
            built(&o("relu", &["relu", "relu"])),
            (false, false, vec![false, false])
        );
        // erf: κ and ψ closed, but κ_{zσ',σ} is a series of z·σ' and σ
        assert_eq!(built(&o("erf", &["erf"])), (true, true, vec![true]));
    }

    #[test]
    fn a_shared_teacher_side_gives_the_same_bits() {
        // "tanh(z)" is the same function as "tanh" but not the same spec: its side is built on
        // its own, the teacher "tanh" shares the student's
        let (deg, dig) = (12, 15);
        let shared = Oracle::new(&spec("tanh"), &[spec("tanh")], deg, dig).expect("oracle");
        let own = Oracle::new(&spec("tanh"), &[spec("tanh(z)")], deg, dig).expect("oracle");
        let (a, b) = (
            &shared.side(SideId::Teacher(0)).side,
            &own.side(SideId::Teacher(0)).side,
        );
        for (x, y) in a.table.coefficients.iter().zip(&b.table.coefficients) {
            assert_eq!(
                (&x.value, &x.abs_error_bound, x.bound_kind),
                (&y.value, &y.abs_error_bound, y.bound_kind)
            );
        }
        assert_eq!(a.norms, b.norms);
        assert_eq!(a.norm_kinds, b.norm_kinds);
        let p = shared.precision();
        let w: Vec<Vec<Float>> = [[0.6, 0.8, 0.0], [0.0, 0.6, -0.8]]
            .iter()
            .map(|r| r.iter().map(|x| Float::with_val(p, *x)).collect())
            .collect();
        let a = [Float::with_val(p, 0.5), Float::with_val(p, -0.25)];
        let theta: Vec<Float> = [0.0, 0.0, 1.0]
            .iter()
            .map(|x| Float::with_val(p, *x))
            .collect();
        let r1 = shared
            .evaluate(&a, &w, &Teacher::single_index(spec("tanh"), theta.clone()))
            .expect("evaluate");
        let r2 = own
            .evaluate(&a, &w, &Teacher::single_index(spec("tanh(z)"), theta))
            .expect("evaluate");
        let bits = |r: &PopulationResult| {
            let mut v = vec![r.loss.clone()];
            v.extend(r.radial_gradient.iter().cloned());
            v.extend(r.velocity.iter().flatten().cloned());
            v.extend(r.tangent_gradient.iter().flatten().cloned());
            v.into_iter()
                .map(|b| (b.value, b.abs_error_bound))
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&r1), bits(&r2));
        assert_eq!(
            (r1.loss_kind, r1.gradient_kind),
            (r2.loss_kind, r2.gradient_kind)
        );
    }
}
