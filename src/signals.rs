//! SIGINT/SIGTERM handling: the first signal asks the run to stop, the second ends it at once.
//!
//! A GC job is cancelled routinely (a newer pipeline, `interruptible: true`, a timeout), so the
//! first signal must leave usable reports behind: it only raises a flag that every loop checks
//! before it starts new work, in-flight requests finish (they have timeouts), reports are
//! flushed, and the process exits with 130 (SIGINT) or 143 (SIGTERM) as shells do.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};

/// Shared "please stop" flag, carrying the exit code of the signal that raised it.
#[derive(Clone, Default)]
pub struct Interrupt {
    code: Arc<AtomicUsize>,
}

impl Interrupt {
    /// Installs the handlers for this process.
    pub fn install() -> std::io::Result<Interrupt> {
        let interrupt = Interrupt::default();
        let seen = Arc::new(AtomicBool::new(false));
        for (signal, code) in [(SIGINT, 130), (SIGTERM, 143)] {
            // Registered first so that it sees `seen` as it was before this signal.
            signal_hook::flag::register_conditional_shutdown(
                signal,
                code as i32,
                Arc::clone(&seen),
            )?;
            signal_hook::flag::register_usize(signal, Arc::clone(&interrupt.code), code)?;
            signal_hook::flag::register(signal, Arc::clone(&seen))?;
        }
        Ok(interrupt)
    }

    pub fn is_raised(&self) -> bool {
        self.code.load(Ordering::SeqCst) != 0
    }

    /// 130 or 143 once a signal arrived.
    pub fn exit_code(&self) -> Option<i32> {
        match self.code.load(Ordering::SeqCst) {
            0 => None,
            code => Some(code as i32),
        }
    }
}
