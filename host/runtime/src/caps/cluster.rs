//! `cluster-read` and `cluster-write`: scoped to the stage's targets and
//! namespace. The cluster backend (kube-rs against EKS, GKE and kubeconfig
//! targets) is not part of this build: after the scope check every call
//! answers `unsupported`.

use crate::bindings::wit::cluster_read::{self, Event, ListOptions, LogOptions, PodState, RolloutStatus};
use crate::bindings::wit::cluster_write::{self, ApplyOptions, Propagation};
use crate::bindings::wit::types::{CapError, ObjectRef};
use crate::caps::scoped_unsupported;
use crate::sandbox::HostState;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

impl cluster_read::Host for HostState {
    async fn get(&mut self, target: String, object: ObjectRef) -> Answer<String> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "cluster-read", "get", [s.target("cluster-read", &target), s.namespace("cluster-read", object.namespace.as_deref())])
    }

    async fn list(&mut self, target: String, _api_version: String, _kind: String, namespace: Option<String>, _options: ListOptions) -> Answer<Vec<String>> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "cluster-read", "list", [s.target("cluster-read", &target), s.namespace("cluster-read", namespace.as_deref())])
    }

    async fn rollout(&mut self, target: String, object: ObjectRef) -> Answer<RolloutStatus> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "cluster-read", "rollout", [s.target("cluster-read", &target), s.namespace("cluster-read", object.namespace.as_deref())])
    }

    async fn pods(&mut self, target: String, namespace: Option<String>, _label_selector: String) -> Answer<Vec<PodState>> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "cluster-read", "pods", [s.target("cluster-read", &target), s.namespace("cluster-read", namespace.as_deref())])
    }

    async fn events(&mut self, target: String, object: ObjectRef) -> Answer<Vec<Event>> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "cluster-read", "events", [s.target("cluster-read", &target), s.namespace("cluster-read", object.namespace.as_deref())])
    }

    async fn logs(&mut self, target: String, namespace: Option<String>, _pod: String, _options: LogOptions) -> Answer<String> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "cluster-read", "logs", [s.target("cluster-read", &target), s.namespace("cluster-read", namespace.as_deref())])
    }
}

impl cluster_write::Host for HostState {
    async fn apply(&mut self, target: String, _manifest: String, _options: ApplyOptions) -> Answer<String> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "cluster-write", "apply", [s.target("cluster-write", &target)])
    }

    async fn delete(&mut self, target: String, object: ObjectRef, _propagation: Propagation) -> Answer<()> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "cluster-write", "delete", [s.target("cluster-write", &target), s.namespace("cluster-write", object.namespace.as_deref())])
    }

    async fn scale(&mut self, target: String, object: ObjectRef, _replicas: u32) -> Answer<()> {
        let s = self.env.scope.clone();
        scoped_unsupported!(self, "cluster-write", "scale", [s.target("cluster-write", &target), s.namespace("cluster-write", object.namespace.as_deref())])
    }
}
