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
        let (kr_one, kr_one_kind) = if relu {
            ([None, None], BoundKind::Exact)
        } else {
            let (v, k) = radial_at_one(student, &o.sigma, digits, prec)?;
            ([Some(v), None], k)
        };
        o.kr = o.pair(
            "κ_{zσ',σ}",
            if relu { student } else { &deriv },
            student,
            zd,
            SideId::Sigma,
            kr_one.clone(),
        );
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
            let lhs = if relu { student } else { &deriv };
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

    pub(super) fn side(&self, id: SideId) -> &SideInfo {
        match id {
            SideId::Sigma => &self.sigma,
            SideId::ZdSigma => self.zdsigma.as_ref().unwrap_or(&self.sigma),
            SideId::Teacher(r) => &self.teachers[r],
        }
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
