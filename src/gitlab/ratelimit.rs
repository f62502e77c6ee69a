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
    /// The window GitLab last described: its `RateLimit-Reset` (Unix seconds).
    window: Option<u64>,
    /// The latest-booked request whose answer set `remaining` in this window.
    freshest: Option<u64>,
    next_slot: Option<Instant>,
    /// Requests booked so far; each booking's number is its [`Ticket`].
    booked: u64,
}

/// A booked request. Its answer's budget is read with [`RateLimiter::observe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl RateLimiter {
    pub fn new(concurrency: usize) -> RateLimiter {
        RateLimiter {
            state: Mutex::new(State::default()),
            low_water: 2 * concurrency as u64,
        }
    }

    /// Blocks until this worker may send one request, and books it.
    pub fn before_request(&self, interrupt: &Interrupt) -> Ticket {
        loop {
            match self.book(Instant::now()) {
                Ok(ticket) => return ticket,
                Err(wait) => {
                    if interrupt.is_raised() {
                        // The caller checks the interrupt before sending anything.
                        return self.book_anyway();
                    }
                    std::thread::sleep(wait.min(Duration::from_millis(100)));
                }
            }
        }
    }

    fn book_anyway(&self) -> Ticket {
        let mut s = self.state.lock().expect("rate limiter poisoned");
        s.booked += 1;
        Ticket(s.booked - 1)
    }

    /// `Ok`: go now (the request is booked). `Err(d)`: look again after about `d`.
    fn book(&self, now: Instant) -> Result<Ticket, Duration> {
        let mut s = self.state.lock().expect("rate limiter poisoned");
        if let Some(until) = s.paused_until {
            if until > now {
                return Err(until - now);
            }
            s.paused_until = None;
        }
        match s.reset_at.filter(|r| *r > now) {
            None => {
                // No budget known, or its window is over: a new window starts with a full budget.
                s.remaining = None;
                s.reset_at = None;
                s.next_slot = None;
            }
            Some(reset_at) => {
                let remaining = s.remaining.unwrap_or(u64::MAX);
                if remaining == 0 {
                    return Err(reset_at - now);
                }
                if remaining <= self.low_water {
                    let spacing = (reset_at - now) / (remaining as u32 + 1);
                    let slot = s.next_slot.map_or(now, |n| n.max(now));
                    if slot > now {
                        return Err(slot - now);
                    }
                    s.next_slot = Some(now + spacing);
                }
                s.remaining = Some(remaining - 1);
            }
        }
        s.booked += 1;
        Ok(Ticket(s.booked - 1))
    }

    /// Learns the budget from the headers of the answer to `ticket`.
    ///
    /// GitLab counts a request when it arrives and states the budget left at that moment, so
    /// the requests this client sent after `ticket` may not be counted yet: they are taken off
    /// the announced budget, so concurrent workers do not overrun it. Only the freshest news
    /// counts: an answer to a request booked before one already observed, or describing an
    /// older window, is ignored.
    pub fn observe(&self, headers: &HeaderMap, ticket: Ticket) {
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
        let sent_since = s.booked.saturating_sub(ticket.0 + 1);
        let estimate = remaining.saturating_sub(sent_since);
        match s.window {
            Some(window) if reset < window => return,
            Some(window) if reset == window && s.reset_at.is_some() => {
                if s.freshest.is_some_and(|f| ticket.0 < f) {
                    return; // an answer to an earlier request: older news
                }
            }
            _ => {
                s.window = Some(reset);
                s.next_slot = None;
            }
        }
        s.remaining = Some(estimate);
        s.freshest = Some(ticket.0);
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
        assert!(limiter.book(Instant::now()).is_ok());
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
        let wait = limiter.book(now).expect_err("must wait");
        assert!(wait > Duration::from_secs(1));
        // After the reset a new window starts.
        assert!(limiter.book(now + Duration::from_secs(3)).is_ok());
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
        assert!(limiter.book(now).is_ok());
        assert!(
            limiter.book(now).is_err(),
            "the second request is spaced out"
        );
    }

    #[test]
    fn a_pause_holds_everyone() {
        let limiter = RateLimiter::new(4);
        limiter.pause(Duration::from_secs(5));
        assert!(limiter.book(Instant::now()).is_err());
    }

    fn budget(remaining: u64, reset_in: u64) -> HeaderMap {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut h = HeaderMap::new();
        h.insert("ratelimit-remaining", remaining.into());
        h.insert("ratelimit-reset", (now + reset_in).into());
        h
    }

    #[test]
    fn requests_sent_after_the_answered_one_come_off_the_budget() {
        let limiter = RateLimiter::new(8);
        let first = limiter.book(Instant::now()).unwrap();
        for _ in 0..7 {
            limiter.book(Instant::now()).unwrap();
        }
        // GitLab counted only `first` when it said 100 were left: 7 more are on their way.
        limiter.observe(&budget(100, 30), first);
        assert_eq!(limiter.state.lock().unwrap().remaining, Some(93));
        // A later-booked request's answer is fresher news; an earlier one's is ignored.
        limiter.observe(&budget(92, 30), Ticket(7));
        assert_eq!(limiter.state.lock().unwrap().remaining, Some(92));
        limiter.observe(&budget(95, 30), Ticket(3));
        assert_eq!(limiter.state.lock().unwrap().remaining, Some(92));
    }

    #[test]
    fn an_answer_from_an_older_window_is_ignored() {
        let limiter = RateLimiter::new(2);
        let a = limiter.book(Instant::now()).unwrap();
        let b = limiter.book(Instant::now()).unwrap();
        limiter.observe(&budget(50, 40), b);
        limiter.observe(&budget(0, 10), a);
        assert_eq!(limiter.state.lock().unwrap().remaining, Some(50));
    }
}
