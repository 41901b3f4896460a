//! The retry schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about a day), each with
//! up to 20 % jitter; after the last, the endpoint is marked failing.

use std::time::Duration;

use rand::Rng;

/// Delays before retry 1, 2, … (docs/delivery.md, "Subscriptions and webhooks"): about a
/// day in all, so a receiver down overnight still gets every event.
pub const DEFAULT: [u64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];

/// The delay before attempt `attempt + 1` after `attempt` failures (1-based), or `None`
/// when the schedule is spent. `scale` shortens it (tests use a small one).
pub fn next_delay(attempt: usize, schedule: &[u64], scale: f64) -> Option<Duration> {
    let base = *schedule.get(attempt.checked_sub(1)?)? as f64 * scale;
    let jitter = rand::thread_rng().gen_range(0.0..=0.2) * base;
    Some(Duration::from_secs_f64(base + jitter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_retries_with_bounded_jitter_then_none() {
        for (i, base) in DEFAULT.iter().enumerate() {
            let d = next_delay(i + 1, &DEFAULT, 1.0).unwrap().as_secs_f64();
            assert!(d >= *base as f64 && d <= *base as f64 * 1.2 + 0.001, "{i}: {d}");
        }
        assert!(next_delay(8, &DEFAULT, 1.0).is_none());
        assert!(next_delay(0, &DEFAULT, 1.0).is_none());
        assert!(next_delay(1, &DEFAULT, 0.001).unwrap() < Duration::from_millis(10));
    }
}
