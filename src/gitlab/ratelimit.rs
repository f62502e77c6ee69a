//! Staying inside GitLab's rate limits instead of bouncing off them.
//!
//! GitLab announces its budget on every response (`RateLimit-Remaining`, `RateLimit-Reset`, see
//! doc/administration/settings/user_and_ip_rate_limits.md). Workers spend that budget; when it
//! runs low they spread the rest evenly until the reset, and when it is gone (or a 429 arrives)
//! every worker waits, so one throttled request does not turn into eight.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

use crate::signals::Interrupt;

pub struct RateLimiter {
    state: Mutex<State>,
    /// Below this many remaining requests, pace instead of bursting.
    low_water: u64,
}

#[derive(Default)]
struct State {
    paused_until: Option<Instant>,
    /// GitLab's last word on the budget, minus what was sent since.
    remaining: Option<u64>,
    reset_at: Option<Instant>,
    next_slot: Option<Instant>,
}

impl RateLimiter {
    pub fn new(concurrency: usize) -> RateLimiter {
        RateLimiter {
            state: Mutex::new(State::default()),
            low_water: 2 * concurrency as u64,
        }
    }

    /// Blocks until this worker may send one request, and books it.
    pub fn before_request(&self, interrupt: &Interrupt) {
        loop {
            let wait = self.book(Instant::now());
            match wait {
                None => return,
                Some(d) => {
                    if interrupt.is_raised() {
                        return;
                    }
                    std::thread::sleep(d.min(Duration::from_millis(100)));
                }
            }
        }
    }

    /// `None`: go now (the request is booked). `Some(d)`: look again after about `d`.
    fn book(&self, now: Instant) -> Option<Duration> {
        let mut s = self.state.lock().expect("rate limiter poisoned");
        if let Some(until) = s.paused_until {
            if until > now {
                return Some(until - now);
            }
            s.paused_until = None;
        }
        let Some(reset_at) = s.reset_at.filter(|r| *r > now) else {
            // No budget known, or its window is over: a new window starts with a full budget.
            s.remaining = None;
            s.reset_at = None;
            s.next_slot = None;
            return None;
        };
        let remaining = s.remaining.unwrap_or(u64::MAX);
        if remaining == 0 {
            return Some(reset_at - now);
        }
        if remaining <= self.low_water {
            let spacing = (reset_at - now) / (remaining as u32 + 1);
            let slot = s.next_slot.map_or(now, |n| n.max(now));
            if slot > now {
                return Some(slot - now);
            }
            s.next_slot = Some(now + spacing);
        }
        s.remaining = Some(remaining - 1);
        None
    }

    /// Learns the budget from a response's headers.
    pub fn observe(&self, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let (Some(remaining), Some(reset)) =
            (number("ratelimit-remaining"), number("ratelimit-reset"))
        else {
            return;
        };
        let Ok(now_unix) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            return;
        };
        let until_reset = Duration::from_secs(reset).saturating_sub(now_unix);
        let mut s = self.state.lock().expect("rate limiter poisoned");
        s.remaining = Some(remaining);
        s.reset_at = Some(Instant::now() + until_reset.min(Duration::from_secs(3600)));
    }

    /// After a 429: nobody sends until `wait` has passed.
    pub fn pause(&self, wait: Duration) {
        let mut s = self.state.lock().expect("rate limiter poisoned");
        let until = Instant::now() + wait;
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_headers_requests_go_at_once() {
        let limiter = RateLimiter::new(4);
        assert_eq!(limiter.book(Instant::now()), None);
    }

    #[test]
    fn an_exhausted_budget_waits_for_the_reset() {
        let limiter = RateLimiter::new(4);
        let now = Instant::now();
        {
            let mut s = limiter.state.lock().unwrap();
            s.remaining = Some(0);
            s.reset_at = Some(now + Duration::from_secs(2));
        }
        let wait = limiter.book(now).expect("must wait");
        assert!(wait > Duration::from_secs(1));
        // After the reset a new window starts.
        assert_eq!(limiter.book(now + Duration::from_secs(3)), None);
    }

    #[test]
    fn a_low_budget_is_spread_until_the_reset() {
        let limiter = RateLimiter::new(4);
        let now = Instant::now();
        {
            let mut s = limiter.state.lock().unwrap();
            s.remaining = Some(3);
            s.reset_at = Some(now + Duration::from_secs(4));
        }
        assert_eq!(limiter.book(now), None);
        assert!(
            limiter.book(now).is_some(),
            "the second request is spaced out"
        );
    }

    #[test]
    fn a_pause_holds_everyone() {
        let limiter = RateLimiter::new(4);
        limiter.pause(Duration::from_secs(5));
        assert!(limiter.book(Instant::now()).is_some());
    }
}
