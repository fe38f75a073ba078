//! The statistics of the judge: the Mann-Whitney U test (two independent
//! samples, average ranks for ties, the normal approximation with the tie
//! correction of the variance and a continuity correction), as Kayenta's
//! NetflixACAJudge applies it to canary and stable samples of one metric.
//! Pure arithmetic: no I/O, no knowledge of metrics or thresholds.

/// What the test says about "x tends to be greater than y".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of x: the pairs (x_i, y_j) with x_i > y_j, ties counting one half.
    pub u: f64,
    /// Its mean and standard deviation under the null hypothesis (tie-corrected).
    pub mean: f64,
    pub sd: f64,
    /// The standard score, continuity-corrected (0 when every value ties).
    pub z: f64,
    /// One-sided p-value of "x greater than y" (1 when every value ties).
    pub p_greater: f64,
}

/// Ranks (from 1) of `values`, ties sharing their average rank; and Σ(t³ − t) over tie groups.
pub fn ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // Positions i..=j (ranks i+1..=j+1) share their average.
        let average = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[order[k]] = average;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (ranks, ties)
}

/// The Mann-Whitney U test of `x` against `y`; None when either is empty.
/// NaN values must be removed first (they have no rank).
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let n = n1 + n2;
    let all: Vec<f64> = x.iter().chain(y).copied().collect();
    let (ranks, ties) = ranks(&all);
    let r1: f64 = ranks[..x.len()].iter().sum();
    let u = r1 - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if variance <= 0.0 || !variance.is_finite() {
        return Some(MannWhitney { u, mean, sd: 0.0, z: 0.0, p_greater: 1.0 });
    }
    let sd = variance.sqrt();
    let z = (u - mean - 0.5) / sd;
    Some(MannWhitney { u, mean, sd, z, p_greater: upper_tail(z) })
}

/// P(Z > z) for a standard normal Z.
pub fn upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function; absolute error below 1.5e-7
/// (Abramowitz and Stegun, formula 7.1.26).
pub fn erfc(x: f64) -> f64 {
    const P: f64 = 0.327_591_1;
    const A: [f64; 5] = [0.254_829_592, -0.284_496_736, 1.421_413_741, -1.453_152_027, 1.061_405_429];
    let ax = x.abs();
    let t = 1.0 / (1.0 + P * ax);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let tail = poly * (-ax * ax).exp();
    if x >= 0.0 {
        tail
    } else {
        2.0 - tail
    }
}

/// The median (NaN for no values).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn ties_share_their_average_rank() {
        let (r, ties) = ranks(&[3.0, 1.0, 3.0, 2.0, 3.0]);
        assert_eq!(r, [4.0, 1.0, 4.0, 2.0, 4.0]);
        assert_eq!(ties, 24.0, "one group of three: 27 - 3");
    }

    #[test]
    fn u_counts_pairs_where_x_wins_and_ties_count_half() {
        // By hand: x=[1,2,3] vs y=[4,5,6]: x wins no pair; reversed, all 9.
        assert_eq!(mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap().u, 0.0);
        assert_eq!(mann_whitney(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]).unwrap().u, 9.0);
        // x=[1,2] vs y=[2,3]: (1,2) 0, (1,3) 0, (2,2) ½, (2,3) 0.
        assert_eq!(mann_whitney(&[1.0, 2.0], &[2.0, 3.0]).unwrap().u, 0.5);
    }

    #[test]
    fn normal_approximation_with_continuity_correction_matches_the_hand_computation() {
        // x = [19,22,16,29,24], y = [20,11,17,12]: x wins 3+4+2+4+4 = 17 of 20 pairs.
        // No ties: mean 10, variance 5·4·10/12 = 16.667, sd 4.0825,
        // z = (17 - 10 - 0.5)/4.0825 = 1.5922, P(Z > z) = 0.05567.
        let t = mann_whitney(&[19.0, 22.0, 16.0, 29.0, 24.0], &[20.0, 11.0, 17.0, 12.0]).unwrap();
        assert_eq!((t.u, t.mean), (17.0, 10.0));
        assert!(close(t.sd, 4.082_483, 1e-6), "{t:?}");
        assert!(close(t.z, 1.592_168, 1e-6), "{t:?}");
        assert!(close(t.p_greater, 0.055_67, 2e-5), "{t:?}");
    }

    #[test]
    fn ties_shrink_the_variance() {
        // x = [1,2,2,3], y = [2,3,3,4]: ranks 1; 2,2,2 → 3; 3,3,3 → 6; 4 → 8.
        // R1 = 1+3+3+6 = 13, U = 13 - 10 = 3; mean 8.
        // Ties Σ(t³-t) = 24 + 24 = 48; variance = 16/12 · (9 - 48/56) = 10.857, sd 3.2950.
        // z = (3 - 8 - 0.5)/3.2950 = -1.6692; P(Z > z) = 0.95246.
        let t = mann_whitney(&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 3.0, 4.0]).unwrap();
        assert_eq!(t.u, 3.0);
        assert!(close(t.sd, 3.295_017, 1e-5), "{t:?}");
        assert!(close(t.z, -1.669_186, 1e-5), "{t:?}");
        assert!(close(t.p_greater, 0.952_46, 2e-5), "{t:?}");
    }

    #[test]
    fn samples_that_all_tie_give_no_evidence() {
        let t = mann_whitney(&[0.0; 6], &[0.0; 6]).unwrap();
        assert_eq!((t.sd, t.p_greater), (0.0, 1.0));
        assert!(mann_whitney(&[], &[1.0]).is_none());
    }

    #[test]
    fn a_clearly_worse_canary_is_significant_and_an_equal_one_is_not() {
        let stable = [0.0; 10];
        let canary = [0.3; 10];
        let worse = mann_whitney(&canary, &stable).unwrap();
        // Two tie groups of ten: variance 100/12·(21 - 1980/380) = 131.58; z = (100-50-0.5)/11.471 = 4.315.
        assert!(close(worse.z, 4.315_2, 1e-3), "{worse:?}");
        assert!(worse.p_greater < 1e-4, "{worse:?}");
        let same = mann_whitney(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!(same.p_greater > 0.5, "{same:?}");
    }

    #[test]
    fn the_normal_tail_and_erfc_are_accurate() {
        assert!(close(upper_tail(0.0), 0.5, 1e-7));
        assert!(close(upper_tail(1.644_854), 0.05, 1e-6));
        assert!(close(upper_tail(-1.959_964), 0.975, 1e-6));
        assert!(close(erfc(1.0), 0.157_299_207, 2e-7));
        assert!(close(erfc(-0.5), 1.520_499_878, 2e-7));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
