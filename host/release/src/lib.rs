//! Helm releases, natively: the release record Helm keeps (`record`), its
//! codec (`codec`) and storage in Secrets or ConfigMaps (`storage`), the
//! manifest split and ordered as Helm orders it (`manifest`), values as
//! upgrades merge them (`values`), and the operations — install, upgrade,
//! rollback, uninstall, status, history, get values/manifest — that write
//! those records the way Helm 4 writes them (`action`). A release gantry
//! writes is one `helm list`, `helm history` and `helm rollback` read, and
//! the other way round: real Helm is the judge (`tests/`).
//!
//! Charts are rendered by `gantry-helm` through its public entry points;
//! objects are applied through `gantry-cluster`'s kube-rs backend. Hooks
//! run in the cluster (`hooks`, or not with `--no-hooks`) and `--wait`
//! judges readiness as Helm does (`wait`), through [`action::Hooks`] and
//! [`action::Waiter`]. `backend` is the runtime's `helm` capability for one
//! target, over [`Releases`]. This crate must not render templates itself nor hold
//! credentials beyond the client it is given.

pub mod action;
pub mod backend;
pub mod codec;
pub mod hooks;
pub mod manifest;
pub mod record;
pub mod storage;
pub mod values;
pub mod wait;

pub use action::{HookEvent, Hooks, InstallOptions, ReleaseError, Releases, RollbackOptions, UninstallOptions, Uninstalled, UpgradeOptions, Waiter};
pub use record::{Release, Status};
pub use backend::ReleasesBackend;
pub use hooks::KubeHooks;
pub use storage::{Driver, Storage, StorageError};
pub use values::ValuesPolicy;
pub use wait::KubeWaiter;
