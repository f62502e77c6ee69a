//! Bounded parallelism for blocking API calls.
//!
//! The client is blocking (reqwest's blocking API keeps the binary small and the code plain), so
//! concurrency is a fixed set of worker threads pulling the next item from a shared counter.
//! Results come back in input order, so nothing downstream depends on thread timing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Applies `work` to every item with at most `workers` threads; results in input order.
pub fn map<T, R, F>(items: &[T], workers: usize, work: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let workers = workers.clamp(1, items.len().max(1));
    if workers == 1 {
        return items.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    mine.push((i, work(item)));
                }
                done.lock().expect("a worker panicked").extend(mine);
            });
        }
    });
    let mut done = done.into_inner().expect("a worker panicked");
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_input_order_and_runs_everything() {
        let items: Vec<u32> = (0..1000).collect();
        let out = super::map(&items, 8, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(super::map(&[] as &[u32], 8, |x| *x).is_empty());
    }
}
