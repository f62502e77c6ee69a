//! Progress lines on stderr for long runs, at most one every few seconds.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    last: Mutex<Instant>,
    every: Duration,
}

impl Progress {
    pub fn new(every: Duration) -> Progress {
        Progress {
            last: Mutex::new(Instant::now()),
            every,
        }
    }

    /// Logs `message()` if the last progress line is old enough; the message is built lazily.
    pub fn tick(&self, message: impl FnOnce() -> String) {
        let mut last = self.last.lock().expect("progress poisoned");
        if last.elapsed() >= self.every {
            *last = Instant::now();
            log::info!("{}", message());
        }
    }
}
