/// A learning rate for every step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    Constant(f64),
    /// Linear warm-up from ≈0 to `max_lr` over `warmup` steps, then a half cosine
    /// down to `min_lr` at step `total`, and `min_lr` after (nanoGPT's schedule):
    /// lr(t) = max·(t+1)/(warmup+1) for t < warmup, then
    /// min + ½(1 + cos(π·(t − warmup)/(total − warmup)))·(max − min).
    WarmupCosine {
        max_lr: f64,
        min_lr: f64,
        warmup: usize,
        total: usize,
    },
}

impl Schedule {
    /// The largest learning rate of the schedule.
    pub fn peak(&self) -> f64 {
        match *self {
            Schedule::Constant(lr) => lr,
            Schedule::WarmupCosine { max_lr, .. } => max_lr,
        }
    }

    /// The learning rate at step `t` (counted from 0).
    pub fn lr(&self, t: usize) -> f64 {
        match *self {
            Schedule::Constant(lr) => lr,
            Schedule::WarmupCosine {
                max_lr,
                min_lr,
                warmup,
                total,
            } => {
                if t < warmup {
                    max_lr * (t + 1) as f64 / (warmup + 1) as f64
                } else if t >= total {
                    min_lr
                } else {
                    let ratio = (t - warmup) as f64 / (total - warmup).max(1) as f64;
                    min_lr + 0.5 * (1.0 + (std::f64::consts::PI * ratio).cos()) * (max_lr - min_lr)
                }
            }
        }
    }
}
