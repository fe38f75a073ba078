//! The deadline of the capability call running now, as a tokio task-local:
//! the cluster capabilities set it to the stage's deadline around the
//! backend call, and a backend's retry policy (gantry-cluster's `retry.rs`)
//! reads it so it stops retrying when the runtime is about to cut the call
//! off. This file only carries the value; it must not decide any policy.

tokio::task_local! {
    /// When the current call is cut off (the stage's deadline).
    pub static CALL_DEADLINE: std::time::Instant;
}
