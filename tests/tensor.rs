//! The tensor: constructors, shapes, access, display, shared storage.

use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::tensor::ShapeError;
use shortmem::{Shape, Tensor};

#[test]
fn constructors() {
    assert_eq!(Tensor::<f32>::zeros([2, 3]).data(), &[0.0; 6]);
    assert_eq!(Tensor::<f32>::ones([2]).data(), &[1.0, 1.0]);
    assert_eq!(Tensor::<f32>::full([3], 2.5).data(), &[2.5; 3]);
    let t = Tensor::<f32>::from_fn([2, 3], |i| (10 * i[0] + i[1]) as f32);
    assert_eq!(t.data(), &[0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
    assert_eq!(t.at(&[1, 2]), 12.0);
    assert_eq!(Tensor::<f64>::scalar(4.0).item(), 4.0);
    assert_eq!(Tensor::<f64>::scalar(4.0).rank(), 0);
}

#[test]
fn from_vec_checks_the_shape() {
    let err = Tensor::<f32>::try_from_vec([2, 2], vec![1.0; 3]).unwrap_err();
    assert_eq!(
        err,
        ShapeError {
            shape: Shape::new(&[2, 2]),
            len: 3
        }
    );
    assert_eq!(err.to_string(), "shape [2, 2] needs 4 values, got 3");
    assert!(Tensor::<f32>::try_from_vec([2, 2], vec![1.0; 4]).is_ok());
}

#[test]
fn random_constructors_are_seeded_and_have_the_right_statistics() {
    let a = Tensor::<f32>::randn([10000], 1.0, 2.0, &mut StdRng::seed_from_u64(3));
    let b = Tensor::<f32>::randn([10000], 1.0, 2.0, &mut StdRng::seed_from_u64(3));
    assert_eq!(a.data(), b.data());
    let n = a.numel() as f64;
    let mean = a.data().iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = a.data().iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    assert!((mean - 1.0).abs() < 0.06, "mean {mean}");
    assert!((var.sqrt() - 2.0).abs() < 0.06, "std {}", var.sqrt());
    let u = Tensor::<f32>::rand_uniform([10000], -0.5, 0.25, &mut StdRng::seed_from_u64(4));
    assert!(u.data().iter().all(|&x| (-0.5..0.25).contains(&x)));
    let mean = u.data().iter().map(|&x| x as f64).sum::<f64>() / n;
    assert!((mean + 0.125).abs() < 0.01, "mean {mean}");
    // f32 and f64 draws from one seed agree up to rounding.
    let d = Tensor::<f64>::randn([5], 0.0, 1.0, &mut StdRng::seed_from_u64(5));
    let s = Tensor::<f32>::randn([5], 0.0, 1.0, &mut StdRng::seed_from_u64(5));
    assert!(d.max_abs_diff(&s.cast()) < 1e-6);
}

#[test]
fn reshape_shares_storage_and_checks_counts() {
    let t = Tensor::<f32>::from_fn([2, 6], |i| (i[0] * 6 + i[1]) as f32);
    let r = t.reshape([3, 4]);
    assert!(r.shares_buffer(&t));
    assert_eq!(r.at(&[2, 1]), 9.0);
    let result = std::panic::catch_unwind(|| t.reshape([5, 2]));
    assert!(result.is_err());
}

#[test]
fn writes_copy_only_when_shared() {
    let mut a = Tensor::<f32>::zeros([3]);
    let b = a.clone();
    assert!(a.shares_buffer(&b));
    a.data_mut()[0] = 1.0;
    assert!(
        !a.shares_buffer(&b),
        "the write must not be seen through the clone"
    );
    assert_eq!(b.data(), &[0.0; 3]);
    let ptr = a.data().as_ptr();
    a.data_mut()[1] = 2.0;
    assert_eq!(a.data().as_ptr(), ptr, "an unshared buffer is written in place");
}

#[test]
fn display_is_compact() {
    let t = Tensor::<f32>::from_fn([2, 5], |i| i[1] as f32 * 0.5);
    assert_eq!(
        t.to_string(),
        "Tensor[2, 5] f32 [0.0000, 0.5000, 1.0000, 1.5000, 2.0000, 0.0000, … 4 more]"
    );
    assert_eq!(Tensor::<f64>::scalar(1.0).to_string(), "Tensor[] f64 [1.0000]");
}

#[test]
fn shape_helpers() {
    let s = Shape::new(&[2, 3, 4]);
    assert_eq!(s.numel(), 24);
    assert_eq!(s.last(), 4);
    assert_eq!(s.rows(), 6);
    assert_eq!(s.drop_last().dims(), &[2, 3]);
    assert_eq!(s.offset(&[1, 2, 3]), 23);
    assert_eq!(s.around(1), (2, 3, 4));
    assert_eq!(s.to_string(), "[2, 3, 4]");
}

/// Distance in units in the last place between two finite positive f32.
fn ulps(a: f32, b: f32) -> u32 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
}

#[test]
fn exp_f32_is_within_one_ulp() {
    use shortmem::tensor::exp_f32;
    // Every 64th f32 bit pattern between −87.3 and 88.7: about 35 million arguments
    // of both signs, against the f64 exponential rounded to f32.
    let mut worst = (0, 0.0f32);
    for bits in (0..u32::MAX).step_by(64) {
        let x = f32::from_bits(bits);
        if !x.is_finite() || !(-87.33..=88.72).contains(&x) {
            continue;
        }
        let want = (x as f64).exp() as f32;
        let got = exp_f32(x);
        let d = ulps(got, want);
        if d > worst.0 {
            worst = (d, x);
        }
    }
    assert!(worst.0 <= 1, "exp_f32({}) is {} ulp off", worst.1, worst.0);
}

#[test]
fn tanh_f32_is_within_two_ulp() {
    use shortmem::tensor::tanh_f32;
    // Every 64th f32 bit pattern of both signs (about 67 million arguments, the
    // tiny, the huge and everything between) against the f64 tanh rounded to f32.
    let mut worst = (0, 0.0f32);
    for bits in (0..u32::MAX).step_by(64) {
        let x = f32::from_bits(bits);
        if !x.is_finite() {
            continue;
        }
        let want = (x as f64).tanh() as f32;
        let d = ulps(tanh_f32(x), want);
        if d > worst.0 {
            worst = (d, x);
        }
    }
    assert!(worst.0 <= 2, "tanh_f32({}) is {} ulp off", worst.1, worst.0);
}

#[test]
fn tanh_f32_edges() {
    use shortmem::tensor::tanh_f32;
    assert_eq!(tanh_f32(0.0).to_bits(), 0.0f32.to_bits());
    assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(tanh_f32(f32::INFINITY), 1.0);
    assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
    assert_eq!(tanh_f32(50.0), 1.0);
    assert_eq!(tanh_f32(-1e30), -1.0);
    assert!(tanh_f32(f32::NAN).is_nan());
    // Odd exactly, and near the f64 value, on both sides of the switch at ½.
    for x in [1e-30f32, 1e-4, 0.25, 0.499_999_97, 0.5, 0.7, 3.0, 8.317_767, 9.0] {
        assert_eq!(tanh_f32(-x), -tanh_f32(x), "x = {x}");
        assert!(ulps(tanh_f32(x), (x as f64).tanh() as f32) <= 2, "x = {x}");
    }
}

#[test]
fn exp_f32_edges() {
    use shortmem::tensor::exp_f32;
    assert_eq!(exp_f32(0.0), 1.0);
    assert_eq!(exp_f32(-0.0), 1.0);
    assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    assert_eq!(exp_f32(-1000.0), 0.0);
    assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
    assert_eq!(exp_f32(89.0), f32::INFINITY);
    assert!(exp_f32(f32::NAN).is_nan());
    // The ends of the range: the largest finite and the smallest normal results.
    assert!(exp_f32(88.722_83).is_finite() && exp_f32(88.722_83) > 3.4e38);
    let low = exp_f32(-87.336_5);
    assert!((f32::MIN_POSITIVE..1.2e-38).contains(&low), "{low}");
    assert_eq!(exp_f32(1.0), std::f32::consts::E);
}
