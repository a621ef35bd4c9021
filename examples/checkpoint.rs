//! `cargo run --release --example checkpoint -- [PATH] [PROMPT] [--steps N]`: trains a small
//! §5 Transformer for a few seconds on the built-in corpus, saves it as a
//! safetensors checkpoint (default `target/checkpoint/lm.safetensors`), loads it
//! back, and prints the logits of the character after PROMPT.
//!
//! `python tools/load_in_pytorch.py PATH PROMPT` loads the same file into the
//! tutorial's PyTorch `TransformerLM` and prints the same logits.

use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::Module;
use shortmem::chapter::CheckpointArgs;
use shortmem::checkpoint::Checkpointed;
use shortmem::data::{Corpus, Dataset};
use shortmem::models::{TransformerConfig, TransformerLM};
use shortmem::optim::AdamW;
use shortmem::sample::argmax;
use shortmem::train::{TrainConfig, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = CheckpointArgs::parse_from_words(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let (path, prompt) = (args.path, args.prompt);

    let data = Dataset::from_text(&Corpus::generate(0, 200_000).text);
    // A prompt character the corpus lacks is refused before training.
    data.tokenizer
        .encode(&prompt)
        .map_err(|e| format!("the prompt has {e}"))?;
    let config = TransformerConfig {
        vocab_size: data.vocab_size(),
        embed_dim: 32,
        num_heads: 4,
        ff_dim: 64,
        num_layers: 2,
        context: 32,
        causal: true,
    };
    let mut model = TransformerLM::new(config, &mut StdRng::seed_from_u64(0));
    let mut cfg = TrainConfig::new(args.steps, 16, config.context, 3e-3);
    cfg.progress = false;
    let history = train(&mut model, &mut AdamW::nanogpt(3e-3), &data, &cfg)?;
    println!(
        "trained {} parameters, validation loss {:.3}",
        model.num_params(),
        history.final_val()
    );

    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    model.save(&path, &data.tokenizer)?;
    let (loaded, tokenizer) = TransformerLM::load(&path)?;
    println!("saved and reloaded {}", path.display());

    let ids = tokenizer.encode(&prompt)?;
    // Logits after the last `context` characters of the prompt.
    let last = loaded.next_logits(&ids);
    let line: Vec<String> = last.iter().map(|x| format!("{x:.6}")).collect();
    println!("logits after {prompt:?}:\n{}", line.join(" "));
    println!("next: {:?}", tokenizer.char(argmax(&last)).unwrap());
    Ok(())
}
