//! gantry-engine: pipeline files, plans and runs.
//!
//! `pipeline` reads a `gantry.yaml` (with `${VAR}` expansion and located
//! errors), `plan` loads and checks its plugins against their grants, and
//! `exec` runs the stages as barriers across targets, runs `on-failure` for
//! touched targets, and writes the run record. The runtime does the
//! sandboxing; this crate does the ordering, the bookkeeping and the masking.
//! It prints nothing: the command line draws the events.

pub mod analysis;
pub mod diagnostic;
pub mod event;
pub mod exec;
pub mod health;
pub mod pipeline;
pub mod plan;
pub mod record;
pub mod redact;
pub mod report;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use event::{Event, EventSink, RunStatus, StepStatus};
pub use exec::{exit, run, RunOptions, RunOutcome};
pub use pipeline::{load, Pipeline, PluginRef, Vars};
pub use plan::{plan, Driver, Plan, PlannedStage};
