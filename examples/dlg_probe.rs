// scratch probe: delete before commit
use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::data::CharTokenizer;
use shortmem::data::apps::{Dialogue, Splits, Words};
use shortmem::models::{TransformerConfig, TransformerLM};
use shortmem::optim::AdamW;
use shortmem::tasks::{encode_examples, end_id, train_answers};
use shortmem::train::TrainConfig;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let steps: usize = a[1].parse().unwrap();
    let batch: usize = a[2].parse().unwrap();
    let lr: f64 = a[3].parse().unwrap();
    let heads: usize = a[4].parse().unwrap();
    let width: usize = a[5].parse().unwrap();
    let two = a.get(6).map(|s| s == "2").unwrap_or(false);
    let seed = 0;
    let splits = if two {
        Splits::draw(|r| Dialogue::new(true, 2, 4).example(r), (20000, 300, 10), seed)
    } else {
        Splits::draw(|r| Dialogue::new(false, 1, 4).example(r), (20000, 300, 10), seed)
    }
    .unwrap();
    let w = Words::of(&splits, true);
    let read = w.encode_splits(&splits).unwrap();
    let tok = CharTokenizer::from_text(&read.alphabet());
    let end = end_id(&tok).unwrap();
    let train = encode_examples(&tok, &read.train).unwrap();
    let val = encode_examples(&tok, &read.val).unwrap();
    let context = read.longest();
    let mut cfg = TrainConfig::new(steps, batch, context, lr);
    cfg.seed = seed;
    cfg.progress = false;
    if std::env::var("NOCLIP").is_ok() {
        cfg.clip = None;
    }
    let config = TransformerConfig {
        vocab_size: tok.vocab_size(),
        embed_dim: width,
        num_heads: heads,
        ff_dim: 4 * width,
        num_layers: 2,
        context,
        causal: true,
    };
    let mut lm = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(seed));
    let t = std::time::Instant::now();
    let h = train_answers(
        &mut lm,
        &mut (if std::env::var("NOWD").is_ok() {
            AdamW::new(lr).betas(0.9, 0.99)
        } else {
            AdamW::nanogpt(lr)
        }),
        (&train, &val),
        end,
        &cfg,
    )
    .unwrap();
    let curve: Vec<String> = h
        .val
        .iter()
        .map(|&(s, e)| format!("{s}:{:.2}", 1.0 - e))
        .collect();
    println!(
        "{:?} ctx {context} {:.0}s {}",
        &a[1..],
        t.elapsed().as_secs_f64(),
        curve.join(" ")
    );
}
