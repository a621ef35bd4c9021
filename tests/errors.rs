//! Bad shapes and ids fail at the op, with a message naming the op and the shapes.

use shortmem::kernels::Gemm;
use shortmem::{Graph, Tensor, Var};

fn z(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape)
}

#[test]
#[should_panic(expected = "matmul: lhs [2, 3] and rhs [4, 5]: inner dimensions 3 and 4 differ")]
fn matmul_inner_dimensions() {
    let g = Graph::new();
    g.constant(z(&[2, 3])).matmul(g.constant(z(&[4, 5])));
}

#[test]
#[should_panic(expected = "matmul_t: lhs [2, 3] and rhs [4, 5]: inner dimensions 3 and 5 differ")]
fn matmul_t_inner_dimensions() {
    let g = Graph::new();
    g.constant(z(&[2, 3])).matmul_t(g.constant(z(&[4, 5])));
}

#[test]
#[should_panic(expected = "t_matmul: lhs [3, 2] and rhs [4, 5]: inner dimensions 3 and 4 differ")]
fn t_matmul_inner_dimensions() {
    let g = Graph::new();
    g.constant(z(&[3, 2])).t_matmul(g.constant(z(&[4, 5])));
}

#[test]
#[should_panic(expected = "matmul: lhs [2, 2, 3] and rhs [3, 3, 4]: batch dimensions [2] and [3] differ")]
fn matmul_batch_dimensions() {
    let g = Graph::new();
    g.constant(z(&[2, 2, 3])).matmul(g.constant(z(&[3, 3, 4])));
}

#[test]
#[should_panic(expected = "matmul: lhs [3] and rhs [3, 4]: both need at least 2 axes")]
fn matmul_rank() {
    let g = Graph::new();
    g.constant(z(&[3])).matmul(g.constant(z(&[3, 4])));
}

#[test]
#[should_panic(expected = "add: lhs [2, 3] and rhs [2] do not broadcast")]
fn add_broadcast() {
    let g = Graph::new();
    let _ = g.constant(z(&[2, 3])) + g.constant(z(&[2]));
}

#[test]
#[should_panic(expected = "mul: lhs [4, 3] and rhs [3, 4] do not broadcast")]
fn mul_broadcast() {
    let g = Graph::new();
    let _ = g.constant(z(&[4, 3])) * g.constant(z(&[3, 4]));
}

#[test]
#[should_panic(expected = "layer_norm: input [2, 4] needs weight and bias of shape [4], got [3] and [4]")]
fn layer_norm_params() {
    let g = Graph::new();
    g.constant(z(&[2, 4]))
        .layer_norm(g.constant(z(&[3])), g.constant(z(&[4])), 1e-5);
}

#[test]
#[should_panic(expected = "cross_entropy: logits [2, 3, 5] have 6 rows but 4 targets were given")]
fn cross_entropy_count() {
    let g = Graph::new();
    g.constant(z(&[2, 3, 5])).cross_entropy(&[0, 1, 2, 3]);
}

#[test]
#[should_panic(expected = "cross_entropy: target 7 at position 1 is out of range for 5 classes")]
fn cross_entropy_class() {
    let g = Graph::new();
    g.constant(z(&[2, 5])).cross_entropy(&[0, 7]);
}

#[test]
#[should_panic(expected = "embedding: token id 9 at position 2 is out of range for a vocabulary of 4")]
fn embedding_id() {
    let g = Graph::new();
    g.constant(z(&[4, 3])).embedding(&[0, 1, 9], [3]);
}

#[test]
#[should_panic(expected = "embedding: 3 ids do not fill the shape [2, 2]")]
fn embedding_layout() {
    let g = Graph::new();
    g.constant(z(&[4, 3])).embedding(&[0, 1, 2], [2, 2]);
}

#[test]
#[should_panic(expected = "reshape: cannot view [2, 3] (6 elements) as [4] (4 elements)")]
fn reshape_count() {
    let g = Graph::new();
    g.constant(z(&[2, 3])).reshape([4]);
}

#[test]
#[should_panic(
    expected = "split_heads: expected [B, T, H·d] with H = 4 dividing the last axis, got [1, 2, 6]"
)]
fn split_heads_divides() {
    let g = Graph::new();
    g.constant(z(&[1, 2, 6])).split_heads(4);
}

#[test]
#[should_panic(expected = "merge_heads: expected [B, H, T, d], got [2, 3]")]
fn merge_heads_rank() {
    let g = Graph::new();
    g.constant(z(&[2, 3])).merge_heads();
}

#[test]
#[should_panic(expected = "slice: range 2..5 on axis 1 is out of bounds for shape [2, 4]")]
fn slice_bounds() {
    let g = Graph::new();
    g.constant(z(&[2, 4])).slice(1, 2, 5);
}

#[test]
#[should_panic(expected = "concat: shapes [2, 3] and [3, 3] differ outside axis 1")]
fn concat_shapes() {
    let g = Graph::new();
    Var::concat(&[g.constant(z(&[2, 3])), g.constant(z(&[3, 3]))], 1);
}

#[test]
#[should_panic(expected = "transpose: needs at least 2 axes, got [5]")]
fn transpose_rank() {
    let g = Graph::new();
    g.constant(z(&[5])).transpose();
}

#[test]
#[should_panic(expected = "causal_mask: scores must be [.., T_q, T_k], got [5]")]
fn causal_mask_rank() {
    let g = Graph::new();
    g.constant(z(&[5])).causal_mask(0);
}

#[test]
#[should_panic(expected = "backward: the loss must be a single number, got shape [2, 2]")]
fn backward_needs_a_scalar() {
    let g = Graph::new();
    g.input(z(&[2, 2])).tanh().backward();
}

#[test]
#[should_panic(expected = "Tensor::from_vec: shape [2, 3] needs 6 values, got 5")]
fn tensor_from_vec_count() {
    Tensor::from_vec([2, 3], vec![0.0f32; 5]);
}

#[test]
#[should_panic(expected = "index [1, 3] is out of range for shape [2, 3]")]
fn tensor_index() {
    z(&[2, 3]).at(&[1, 3]);
}

#[test]
#[should_panic(expected = "sgemm: A is 2×3 with lda = 3, which needs 6 elements, but the slice has 5")]
fn sgemm_short_slice() {
    let mut c = vec![0.0; 4];
    shortmem::kernels::sgemm(&Gemm::new(2, 2, 3), &[0.0; 5], &[0.0; 6], &mut c);
}

#[test]
#[should_panic(expected = "sgemm: ldb = 1 is smaller than the row length 2 of B (3×2 as stored)")]
fn sgemm_small_ld() {
    let mut c = vec![0.0; 4];
    shortmem::kernels::sgemm(&Gemm::new(2, 2, 3).ldb(1), &[0.0; 6], &[0.0; 6], &mut c);
}
