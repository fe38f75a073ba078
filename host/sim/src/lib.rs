//! gantry-sim: simulated clouds for trying Gantry without a cloud account
//! and for testing every cluster-facing feature. A Kubernetes API server in
//! the KWOK spirit — real REST semantics over HTTPS, simulated nodes — plus
//! EKS- and GKE-flavoured control planes (DescribeCluster, STS token
//! verification, clusters.get, an OAuth2 token endpoint).
//!
//! It is only ever a server: the rest of Gantry talks to it over HTTP(S)
//! exactly as it talks to a real cloud, never through a shortcut.
//!
//! The API server, outside in: `server` (HTTPS on 127.0.0.1, the `ApiServer`
//! handle) → `api` (tokens, discovery, paths, authorisation) → `verbs` and
//! `watch` (REST semantics) → `store` (objects, resourceVersions, history).
//! Beside them: `tls` and `kubeconfig` (how clients reach and trust it),
//! `resources` and `crd` (what is served), `schema` (every built-in kind's
//! fields: behind `protobuf` request decoding, the object schemas of
//! `openapi`/`openapi_v2` that kubectl reads before writing, and field
//! validation), `defaults`, `selector`, `table` (server-side
//! printing), `strategic` and `merge_keys` (strategic merge patches),
//! `managed` (managedFields and server-side apply), `strategy` (what create strategies generate, a Job's selector), `conversion` (kinds served in more versions than stored: HPAs' autoscaling/v1), `http` and `error` (bodies and `Status` objects). `controllers`
//! act out kube-controller-manager and the kubelets (workloads, pods,
//! endpoints) on the store. `proxy` serves the services/pods proxy
//! subresources, `podhttp` answers as the simulated pods would, and
//! `metrics` counts their requests for a real Prometheus to scrape;
//! `traffic` plays the users who send them, and `prometheus` runs a real
//! Prometheus per cluster to scrape them when the binary is installed.
//! `oci` resolves images in real registries on loopback for the simulated
//! kubelet's pulls; `registry` serves simulated ECR- and Artifact-Registry-shaped
//! registries (the OCI distribution API) for them and for docker. `faults` injects errors, latency, dropped connections and cut watches
//! on demand, into the API server and the cloud control plane.

pub mod api;
pub mod auth;
pub mod cloud;
pub mod controllers;
pub mod conversion;
pub mod crd;
pub mod defaults;
pub mod error;
pub mod estate;
pub mod events_v1;
pub mod faults;
pub mod http;
pub mod kubeconfig;
pub mod logs;
pub mod managed;
pub mod merge_keys;
pub mod metrics;
pub mod oci;
pub mod openapi;
pub mod openapi_v2;
pub mod podhttp;
pub mod prometheus;
pub mod protobuf;
pub mod schema;
pub mod proxy;
pub mod registry;
pub mod resources;
pub mod selector;
pub mod server;
pub mod store;
pub mod strategy;
pub mod strategic;
pub mod table;
pub mod traffic;
pub mod tls;
pub mod verbs;
pub mod watch;

pub use estate::Estate;
pub use server::{ApiServer, ServerConfig, ServerError};
