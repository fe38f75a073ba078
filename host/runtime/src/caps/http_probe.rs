//! `http-probe`: GETs to a Service through the API server proxy of one of
//! the stage's targets, or to a URL the stage allows. The probe backend is
//! not part of this build: after the scope check every call answers
//! `unsupported`.

use crate::bindings::wit::http_probe::{Destination, Host, ProbeRequest, ProbeResponse};
use crate::bindings::wit::types::CapError;
use crate::caps::scoped_unsupported;
use crate::sandbox::HostState;

impl Host for HostState {
    async fn get(&mut self, request: ProbeRequest) -> wasmtime::Result<Result<ProbeResponse, CapError>> {
        let s = self.env.scope.clone();
        let destination = match &request.destination {
            Destination::Service(svc) => s.namespace("http-probe", svc.namespace.as_deref()).map(|_| ()),
            Destination::Url(url) => s.url("http-probe", url),
        };
        scoped_unsupported!(self, "http-probe", "get", [s.target("http-probe", &request.target), destination])
    }
}
