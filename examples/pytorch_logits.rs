//! Loads a model that `tools/continue_in_pytorch.py` wrote and compares its
//! logits after the report's prompt with the ones PyTorch computed:
//!
//!     cargo run --release --example pytorch_logits -- OUT.safetensors
//!
//! (the report is `OUT.safetensors.json`, written beside it by the script).

use shortmem::checkpoint::Checkpointed;
use shortmem::models::TransformerLM;
use std::error::Error;
use std::process::ExitCode;

fn compare(path: &str) -> Result<(f64, usize), Box<dyn Error>> {
    let (model, tok) = TransformerLM::load(path)?;
    let report_path = format!("{path}.json");
    let text = std::fs::read_to_string(&report_path).map_err(|e| format!("{report_path}: {e}"))?;
    let report: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{report_path}: {e}"))?;
    let prompt = report["prompt"]
        .as_str()
        .ok_or(format!("{report_path} has no \"prompt\""))?;
    let theirs: Vec<f64> = report["logits"]
        .as_array()
        .ok_or(format!("{report_path} has no \"logits\""))?
        .iter()
        .map(|x| x.as_f64().ok_or("a logit that is not a number"))
        .collect::<Result<_, _>>()?;
    let ours = model.next_logits(&tok.encode(prompt)?);
    let v = ours.len();
    if theirs.len() != v {
        return Err(format!(
            "{report_path} holds {} logits, the model has {v} characters",
            theirs.len()
        )
        .into());
    }
    let diff = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max);
    Ok((diff, v))
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: pytorch_logits OUT.safetensors (a file tools/continue_in_pytorch.py wrote)");
        return ExitCode::from(2);
    };
    match compare(&path) {
        Ok((diff, v)) => {
            println!("largest |Δlogit| between shortmem and PyTorch, over {v} logits: {diff:.1e}");
            if diff <= 1e-4 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
