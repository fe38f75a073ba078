//! `metrics`: PromQL against the pipeline's metrics provider. The Prometheus
//! client is not part of this build: every call answers `unsupported`.

use crate::bindings::wit::metrics::{Host, Series};
use crate::bindings::wit::types::CapError;
use crate::caps::scoped_unsupported;
use crate::sandbox::HostState;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

impl Host for HostState {
    async fn query_range(&mut self, _query: String, _start_ms: u64, _end_ms: u64, _step_ms: u64) -> Answer<Vec<Series>> {
        scoped_unsupported!(self, "metrics", "query-range", [])
    }

    async fn query(&mut self, _query: String, _at_ms: u64) -> Answer<Vec<Series>> {
        scoped_unsupported!(self, "metrics", "query", [])
    }
}
