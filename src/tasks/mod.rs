//! What the models are asked to do, and how each task scores them: the data
//! comes from [`crate::data`], the training loop from [`crate::train`]; what is
//! particular to a task (its objective, its score) lives here.
//!
//! | file | task |
//! |---|---|
//! | `text.rs` | next-token prediction on a text: the loss of every single prediction |
//! | `recall.rs` | the memory span: recall a symbol seen k steps earlier |
//! | `induction.rs` | repeated random tokens: the loss on the copy of a block |
//! | `answers.rs` | prompted tasks (chapter 6): the answer after a prompt, trained on the answer only, decoded greedily |
//! | `mqar.rs` | multi-query associative recall: the values of N keys, asked again later |

mod answers;
mod induction;
mod mqar;
mod recall;
mod text;

pub use answers::{
    Encoded, Judge, Verdict, answer_batch, answer_loss, encode_examples, end_id, forced_exact_match,
    forced_right, greedy_answers, train_answers,
};
pub use induction::{RepeatLoss, repeat_loss, train_repeats};
pub use mqar::{MqarAnswers, mqar_accuracy, mqar_answers, train_mqar};
pub use recall::{
    Curriculum, TEST_SEED, VALIDATION_SEED, recall_accuracy, train_recall, train_recall_curriculum,
};
pub use text::{loss_at_each, loss_by_position, per_token_loss};
