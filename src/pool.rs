//! Bounded parallelism for blocking API calls.
//!
//! The client is blocking (reqwest's blocking API keeps the binary small and the code plain), so
//! concurrency is a fixed set of worker threads pulling the next item from a shared counter
//! ([`map`]: results come back in input order, so nothing downstream depends on thread timing)
//! or from a queue that the work itself feeds ([`run`]: one phase's results start the next
//! phase's work without a barrier between them).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

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

/// Work that grows while it is worked on: items may add more items, `first` ones before the
/// others. Used where one phase feeds the next (a tag list feeds its tags' details), so no
/// worker idles at a barrier while others finish the previous phase.
pub struct Queue<T> {
    state: Mutex<QueueState<T>>,
    changed: Condvar,
}

struct QueueState<T> {
    first: VecDeque<T>,
    then: VecDeque<T>,
    /// Items taken and not finished: they may still add items.
    busy: usize,
}

impl<T> Queue<T> {
    /// Adds an item that goes before every item added with [`Queue::push`].
    pub fn push_first(&self, item: T) {
        self.lock().first.push_back(item);
        self.changed.notify_one();
    }

    pub fn push(&self, item: T) {
        self.lock().then.push_back(item);
        self.changed.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState<T>> {
        self.state.lock().expect("a worker panicked")
    }

    /// The next item, or `None` once nothing is queued and nothing is being worked on.
    fn take(&self) -> Option<T> {
        let mut s = self.lock();
        loop {
            if let Some(item) = s.first.pop_front().or_else(|| s.then.pop_front()) {
                s.busy += 1;
                return Some(item);
            }
            if s.busy == 0 {
                return None;
            }
            s = self.changed.wait(s).expect("a worker panicked");
        }
    }
}

/// Runs `work` on every item of `first` and on every item the work queues, with at most
/// `workers` threads; returns when the queue is empty and no item is being worked on.
pub fn run<T, F>(first: Vec<T>, workers: usize, work: F)
where
    T: Send,
    F: Fn(T, &Queue<T>) + Sync,
{
    if first.is_empty() {
        return; // only items can queue items
    }
    let queue = Queue {
        state: Mutex::new(QueueState {
            first: first.into(),
            then: VecDeque::new(),
            busy: 0,
        }),
        changed: Condvar::new(),
    };
    /// Marks the item finished even if `work` panics, so the other workers can stop.
    struct Finished<'a, T>(&'a Queue<T>);
    impl<T> Drop for Finished<'_, T> {
        fn drop(&mut self) {
            if let Ok(mut s) = self.0.state.lock() {
                s.busy -= 1;
                if std::thread::panicking() {
                    // Stop everyone: the scope re-raises the panic.
                    s.first.clear();
                    s.then.clear();
                }
                // Pushes wake one waiter each; the last item done wakes them all to stop.
                let over = s.busy == 0 && s.first.is_empty() && s.then.is_empty();
                drop(s);
                if over {
                    self.0.changed.notify_all();
                }
            }
        }
    }
    let worker = || {
        while let Some(item) = queue.take() {
            let _finished = Finished(&queue);
            work(item, &queue);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..workers.max(1) {
            scope.spawn(worker);
        }
        worker();
    });
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

    #[test]
    fn a_queue_runs_what_its_work_adds_first_items_first() {
        use std::sync::Mutex;
        let seen = Mutex::new(Vec::new());
        // Each n > 0 queues n - 1 (after the first items) and 100 + n (before them).
        super::run(vec![3u32, 5], 4, |n, queue| {
            seen.lock().unwrap().push(n);
            if (1..100).contains(&n) {
                queue.push(n - 1);
                queue.push_first(100 + n);
            }
        });
        let mut seen = seen.into_inner().unwrap();
        seen.sort_unstable();
        let mut want: Vec<u32> = (0..=3)
            .chain(0..=5)
            .chain(101..=103)
            .chain(101..=105)
            .collect();
        want.sort_unstable();
        assert_eq!(seen, want);

        let count = std::sync::atomic::AtomicUsize::new(0);
        super::run(Vec::<u32>::new(), 8, |_, _| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(count.into_inner(), 0);
    }
}
