//! §3.2 step 3, choosing the next token, and the n-gram baselines' smoothing:
//! draws against the softmax formula, probabilities against counts done by hand.

use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::models::{NGram, Smoothing};
use shortmem::sample::Sampling;

/// How often each id comes out of `draws` choices.
fn frequencies(how: Sampling, logits: &[f32], draws: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut counts = vec![0usize; logits.len()];
    for _ in 0..draws {
        counts[how.choose(logits, &mut rng).expect("finite logits")] += 1;
    }
    counts.into_iter().map(|c| c as f64 / draws as f64).collect()
}

/// Every frequency within 4.5 binomial standard deviations of its probability
/// (a false alarm about once in 150,000 comparisons).
fn assert_matches(name: &str, got: &[f64], want: &[f64], draws: usize) {
    for (i, (&f, &p)) in got.iter().zip(want).enumerate() {
        let sd = (p * (1.0 - p) / draws as f64).sqrt();
        assert!(
            (f - p).abs() <= 4.5 * sd + 1e-12,
            "{name}: id {i} drawn with frequency {f:.4}, expected {p:.4} (sd {sd:.4})"
        );
    }
}

#[test]
fn step_3_2_temperature_draws_follow_softmax_of_logits_over_t() {
    let logits = [2.0f32, 1.0, 0.0, -1.0];
    let draws = 200_000;
    // softmax(z / T) by hand: weights e^{z_i / T} over their sum.
    for (t, want) in [
        // T = 1: e², e, 1, e⁻¹ over 11.4752
        (1.0, [0.643_914, 0.236_883, 0.087_144, 0.032_059]),
        // T = 0.5: e⁴, e², 1, e⁻² over 63.1225 (sharper)
        (0.5, [0.864_955, 0.117_059, 0.015_842, 0.002_144]),
        // T = 2: e, e^½, 1, e^-½ over 5.9735 (flatter)
        (2.0, [0.455_054, 0.276_004, 0.167_405, 0.101_536]),
    ] {
        let got = frequencies(Sampling::Temperature(t), &logits, draws, 1);
        assert_matches(&format!("temperature {t}"), &got, &want, draws);
    }
}

#[test]
fn step_3_2_top_k_draws_only_the_k_largest_renormalised() {
    let logits = [0.0f32, 2.0, -1.0, 1.0, 0.5];
    let draws = 200_000;
    // k = 2 keeps ids 1 and 3 (logits 2 and 1): e/(e + 1) and 1/(e + 1) at T = 1.
    let got = frequencies(
        Sampling::TopK {
            k: 2,
            temperature: 1.0,
        },
        &logits,
        draws,
        2,
    );
    assert_eq!((got[0], got[2], got[4]), (0.0, 0.0, 0.0), "{got:?}");
    assert_matches("top-2", &got, &[0.0, 0.731_059, 0.0, 0.268_941, 0.0], draws);
    // k = 3 at T = 0.5 keeps 1, 3, 4: e⁴, e², e¹ over 64.7055.
    let got = frequencies(
        Sampling::TopK {
            k: 3,
            temperature: 0.5,
        },
        &logits,
        draws,
        3,
    );
    assert_matches(
        "top-3 at 0.5",
        &got,
        &[0.0, 0.843_795, 0.0, 0.114_195, 0.042_010],
        draws,
    );
    // k = 1 is greedy; k past the vocabulary is the whole vocabulary.
    let mut rng = StdRng::seed_from_u64(4);
    for _ in 0..100 {
        assert_eq!(
            Sampling::TopK {
                k: 1,
                temperature: 3.0
            }
            .choose(&logits, &mut rng),
            Some(1)
        );
    }
    let all = frequencies(
        Sampling::TopK {
            k: 99,
            temperature: 1.0,
        },
        &logits,
        draws,
        5,
    );
    let plain = frequencies(Sampling::Temperature(1.0), &logits, draws, 5);
    assert_eq!(all, plain, "top-99 of 5 must draw exactly as plain sampling");
}

#[test]
fn step_3_2_greedy_takes_the_first_largest_and_bad_logits_are_refused() {
    let mut rng = StdRng::seed_from_u64(6);
    assert_eq!(Sampling::Greedy.choose(&[0.5, 3.0, 3.0, -1.0], &mut rng), Some(1));
    for how in [
        Sampling::Greedy,
        Sampling::Temperature(0.8),
        Sampling::TopK {
            k: 2,
            temperature: 1.0,
        },
    ] {
        assert_eq!(how.choose(&[0.0, f32::NAN, 1.0], &mut rng), None, "{how}");
        assert_eq!(how.choose(&[0.0, f32::INFINITY], &mut rng), None, "{how}");
    }
}

/// "abab" over the vocabulary {a, b, c} (ids 0, 1, 2), counted by hand:
/// order 0: 4 characters, a 2, b 2 (2 distinct); after "a": 2, all b (1
/// distinct); after "b": 1, an a (1 distinct); "c" never seen as a context.
fn abab() -> NGram {
    NGram::fit(&[0, 1, 0, 1], 3, 1)
}

#[test]
fn add_one_smoothing_equals_hand_counts() {
    let m = abab();
    let p = |ctx: &[usize], next| m.prob(ctx, next, 1, Smoothing::AddOne);
    // (C(h c) + 1) / (C(h) + V)
    assert!((p(&[0], 1) - 3.0 / 5.0).abs() < 1e-12); // (2 + 1) / (2 + 3)
    assert!((p(&[0], 0) - 1.0 / 5.0).abs() < 1e-12); // (0 + 1) / (2 + 3)
    assert!((p(&[1], 2) - 1.0 / 4.0).abs() < 1e-12); // (0 + 1) / (1 + 3)
    assert!((p(&[2], 0) - 1.0 / 3.0).abs() < 1e-12); // unseen: (0 + 1) / (0 + 3)
    // order 0: (2 + 1) / (4 + 3)
    assert!((m.prob(&[], 0, 1, Smoothing::AddOne) - 3.0 / 7.0).abs() < 1e-12);
}

#[test]
fn witten_bell_smoothing_equals_hand_counts() {
    let m = abab();
    let p = |ctx: &[usize], next| m.prob(ctx, next, 1, Smoothing::WittenBell);
    // order 0 over the uniform 1/3: (C(c) + T·1/3) / (4 + T), T = 2:
    // a and b (2 + 2/3)/6 = 4/9, c (0 + 2/3)/6 = 1/9.
    // after "a" (C = 2, T = 1): b (2 + 4/9)/3 = 22/27, a (0 + 4/9)/3 = 4/27, c (1/9)/3 = 1/27.
    for (next, want) in [(1, 22.0 / 27.0), (0, 4.0 / 27.0), (2, 1.0 / 27.0)] {
        assert!((p(&[0], next) - want).abs() < 1e-12, "P({next} | a)");
    }
    // after "b" (C = 1, T = 1): a (1 + 4/9)/2 = 13/18, b (4/9)/2 = 2/9, c (1/9)/2 = 1/18.
    for (next, want) in [(0, 13.0 / 18.0), (1, 2.0 / 9.0), (2, 1.0 / 18.0)] {
        assert!((p(&[1], next) - want).abs() < 1e-12, "P({next} | b)");
    }
    // An unseen context falls back to order 0.
    assert!((p(&[2], 0) - 4.0 / 9.0).abs() < 1e-12);
    assert!((p(&[2], 2) - 1.0 / 9.0).abs() < 1e-12);
}
