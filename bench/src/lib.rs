//! The two paths `make bench` compares, usable from examples and profilers:
//! [`native`] (the guest crate's rules run natively over the host's
//! `KvStore`) and [`paths`] (one interface over both).

pub mod native;
pub mod paths;

use std::time::Duration;

/// Latency percentile of sorted samples, in microseconds.
pub fn percentile_us(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}
