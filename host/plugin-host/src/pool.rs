//! The threads plugin calls run on: a fixed set, fed in arrival order from one queue.
//!
//! Calls are CPU-bound and short (tens of µs) but may run to their deadline, so they stay off
//! the async workers. A thread that finishes a call takes the next queued one without parking,
//! so a busy host pays no thread wake-up per call — tokio's blocking pool wakes a parked thread
//! for every task, which cost more than the sandboxed call itself on a 2-core machine.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, Mutex, mpsc},
    thread,
};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Stack of each call thread: room for the guest's stack limit (512 KiB) and the host's frames.
const STACK_SIZE: usize = 4 * 1024 * 1024;

pub(crate) struct CallPool {
    jobs: mpsc::Sender<Job>,
}

impl CallPool {
    /// Starts `threads` call threads; they stop when the pool is dropped.
    pub(crate) fn start(threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            thread::Builder::new()
                .name(format!("gatehouse-plugin-{i}"))
                .stack_size(STACK_SIZE)
                .spawn(move || {
                    loop {
                        // One thread waits on the queue, the others on the lock; the lock is
                        // released before the call runs.
                        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(job) = job else { return };
                        // A panic ends that call (its caller sees the channel closed), not the
                        // thread.
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a call thread and waits for its result (`None` if it panicked).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_calls_on_its_threads_and_survives_a_panic() {
        let pool = CallPool::start(2).unwrap();
        let name = pool
            .run(|| thread::current().name().map(str::to_owned))
            .await
            .flatten();
        assert!(name.is_some_and(|n| n.starts_with("gatehouse-plugin-")));
        assert_eq!(pool.run(|| -> u32 { panic!("boom") }).await, None);
        // The threads still serve calls.
        for i in 0..8u32 {
            assert_eq!(pool.run(move || i * 2).await, Some(i * 2));
        }
    }
}
