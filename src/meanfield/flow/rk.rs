//! The Dormand–Prince 5(4) embedded Runge–Kutta pair (FSAL), one step at a time.
//!
//! Tableau: J. R. Dormand, P. J. Prince, "A family of embedded Runge–Kutta formulae",
//! J. Comput. Appl. Math. 6 (1980), as in Hairer–Nørsett–Wanner, Solving ODE I, Table 5.2.
//! The 5th-order solution is propagated (local extrapolation); the difference to the embedded
//! 4th-order solution is the error estimate. Its order is checked in tests/meanfield.rs
//! (`dormand_prince_order`).

const C2: f64 = 1.0 / 5.0;
const C3: f64 = 3.0 / 10.0;
const C4: f64 = 4.0 / 5.0;
const C5: f64 = 8.0 / 9.0;
const A21: f64 = 1.0 / 5.0;
const A31: f64 = 3.0 / 40.0;
const A32: f64 = 9.0 / 40.0;
const A41: f64 = 44.0 / 45.0;
const A42: f64 = -56.0 / 15.0;
const A43: f64 = 32.0 / 9.0;
const A51: f64 = 19372.0 / 6561.0;
const A52: f64 = -25360.0 / 2187.0;
const A53: f64 = 64448.0 / 6561.0;
const A54: f64 = -212.0 / 729.0;
const A61: f64 = 9017.0 / 3168.0;
const A62: f64 = -355.0 / 33.0;
const A63: f64 = 46732.0 / 5247.0;
const A64: f64 = 49.0 / 176.0;
const A65: f64 = -5103.0 / 18656.0;
const B1: f64 = 35.0 / 384.0;
const B3: f64 = 500.0 / 1113.0;
const B4: f64 = 125.0 / 192.0;
const B5: f64 = -2187.0 / 6784.0;
const B6: f64 = 11.0 / 84.0;
// e = b − b̂ (5th minus embedded 4th order weights).
const E1: f64 = 71.0 / 57600.0;
const E3: f64 = -71.0 / 16695.0;
const E4: f64 = 71.0 / 1920.0;
const E5: f64 = -17253.0 / 339200.0;
const E6: f64 = 22.0 / 525.0;
const E7: f64 = -1.0 / 40.0;

/// Work buffers of one step, and an optional projection applied to the new solution before
/// its right-hand side (the first stage of the next step) is evaluated.
#[derive(Clone, Debug, Default)]
pub struct Stepper {
    pub project: Option<fn(&mut [f64])>,
    k2: Vec<f64>,
    k3: Vec<f64>,
    k4: Vec<f64>,
    k5: Vec<f64>,
    k6: Vec<f64>,
    tmp: Vec<f64>,
}

impl Stepper {
    /// A stepper that applies `project` to every new solution.
    pub fn with_projection(project: fn(&mut [f64])) -> Stepper {
        Stepper {
            project: Some(project),
            ..Stepper::default()
        }
    }

    /// One step of size h from (t, y) with f0 = f(t, y): writes the 5th-order solution
    /// (projected by `project` if set) to `y1`, f(t + h, y1) to `f1` (first stage of the next step) and the error estimate
    /// (5th − 4th order) to `err`. `rhs(t, y, out)` evaluates the right-hand side.
    #[allow(clippy::too_many_arguments)]
    pub fn step<F: FnMut(f64, &[f64], &mut [f64])>(
        &mut self,
        rhs: &mut F,
        t: f64,
        y: &[f64],
        f0: &[f64],
        h: f64,
        y1: &mut [f64],
        f1: &mut [f64],
        err: &mut [f64],
    ) {
        let n = y.len();
        for v in [
            &mut self.k2,
            &mut self.k3,
            &mut self.k4,
            &mut self.k5,
            &mut self.k6,
            &mut self.tmp,
        ] {
            v.resize(n, 0.0);
        }
        let k1 = f0;
        for i in 0..n {
            self.tmp[i] = y[i] + h * A21 * k1[i];
        }
        rhs(t + C2 * h, &self.tmp, &mut self.k2);
        for i in 0..n {
            self.tmp[i] = y[i] + h * (A31 * k1[i] + A32 * self.k2[i]);
        }
        rhs(t + C3 * h, &self.tmp, &mut self.k3);
        for i in 0..n {
            self.tmp[i] = y[i] + h * (A41 * k1[i] + A42 * self.k2[i] + A43 * self.k3[i]);
        }
        rhs(t + C4 * h, &self.tmp, &mut self.k4);
        for i in 0..n {
            self.tmp[i] =
                y[i] + h * (A51 * k1[i] + A52 * self.k2[i] + A53 * self.k3[i] + A54 * self.k4[i]);
        }
        rhs(t + C5 * h, &self.tmp, &mut self.k5);
        for i in 0..n {
            self.tmp[i] = y[i]
                + h * (A61 * k1[i]
                    + A62 * self.k2[i]
                    + A63 * self.k3[i]
                    + A64 * self.k4[i]
                    + A65 * self.k5[i]);
        }
        rhs(t + h, &self.tmp, &mut self.k6);
        for i in 0..n {
            y1[i] = y[i]
                + h * (B1 * k1[i]
                    + B3 * self.k3[i]
                    + B4 * self.k4[i]
                    + B5 * self.k5[i]
                    + B6 * self.k6[i]);
        }
        if let Some(p) = self.project {
            p(y1);
        }
        rhs(t + h, y1, f1);
        for i in 0..n {
            err[i] = h
                * (E1 * k1[i]
                    + E3 * self.k3[i]
                    + E4 * self.k4[i]
                    + E5 * self.k5[i]
                    + E6 * self.k6[i]
                    + E7 * f1[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Stepper;

    /// y' = −2ty (y = exp(−t²)) over [0, 1] with n fixed steps: the global error falls by
    /// ≈ 2^5 per halving (5th order), and the error estimate by ≈ 2^5 per halving of h too
    /// (it is the local error of the 4th-order solution, O(h^5)).
    #[test]
    #[allow(clippy::type_complexity)]
    fn dormand_prince_order() {
        let mut rhs = |t: f64, y: &[f64], o: &mut [f64]| o[0] = -2.0 * t * y[0];
        let run = |n: usize, rhs: &mut dyn FnMut(f64, &[f64], &mut [f64])| {
            let mut st = Stepper::default();
            let h = 1.0 / n as f64;
            let (mut y, mut f) = (vec![1.0], vec![0.0]);
            rhs(0.0, &y, &mut f);
            let (mut y1, mut f1, mut e) = (vec![0.0], vec![0.0], vec![0.0]);
            let mut emax: f64 = 0.0;
            for k in 0..n {
                let mut r = |t: f64, y: &[f64], o: &mut [f64]| rhs(t, y, o);
                st.step(&mut r, k as f64 * h, &y, &f, h, &mut y1, &mut f1, &mut e);
                emax = emax.max(e[0].abs());
                std::mem::swap(&mut y, &mut y1);
                std::mem::swap(&mut f, &mut f1);
            }
            ((y[0] - (-1.0f64).exp()).abs(), emax)
        };
        let (g1, l1) = run(20, &mut rhs);
        let (g2, l2) = run(40, &mut rhs);
        let (g3, _) = run(80, &mut rhs);
        let p1 = (g1 / g2).log2();
        let p2 = (g2 / g3).log2();
        assert!(p1 > 4.6 && p2 > 4.6, "global order {p1}, {p2}");
        let q = (l1 / l2).log2();
        assert!(q > 4.5, "error estimate order {q}");
    }
}
