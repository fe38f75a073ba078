//! Simulated users: a generator that sends GET requests to a cluster's
//! Services so that request metrics exist without anyone calling the app.
//! A Service annotated `sim.gantry.dev/traffic: "<requests per second>"` —
//! or every Service, when the cluster's default rate is on
//! (`ServerConfig::traffic`; `"0"` opts a Service out) — gets that rate,
//! routed as the service proxy routes (`proxy::get_service`: endpoints to
//! pods in turn), so a canary's pods behind the stable Service get their
//! share by replica count. When an HTTPRoute (gateway.networking.k8s.io/v1)
//! refers to Services, the traffic enters through the route instead: the
//! route's own annotation, else the highest rate among its Services, split
//! by its `backendRefs` weights (smooth weighted round-robin: exact shares
//! over every cycle of the weights), and those Services send none of their
//! own; in a namespace with routes the default rate applies to the routes
//! only, so a Service a route leaves out (a canary at weight 0) gets none. Path: `sim.gantry.dev/traffic-path` on the Service or route, else
//! `/`. Each request is answered, counted and timed by `podhttp`, so
//! Prometheus sees it. Deterministic in where requests go; how many are
//! sent follows the wall clock (rate × elapsed, the fraction carried over).
//! This file must not write objects, nor send anything outside the
//! simulated cluster.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::error::GroupResource;

/// Requests per second a Service (or an HTTPRoute) gets.
pub const TRAFFIC: &str = "sim.gantry.dev/traffic";
/// The path the simulated users GET.
pub const TRAFFIC_PATH: &str = "sim.gantry.dev/traffic-path";
/// How often requests due are sent.
const TICK: Duration = Duration::from_millis(100);
/// The most requests in flight per cluster (slow pods must not pile up tasks).
const MAX_IN_FLIGHT: usize = 2_000;

/// The rate an object asks for: its annotation, else `default`; None when off.
fn rate_of(obj: &Value, default: Option<f64>) -> Option<f64> {
    let rate = match obj["metadata"]["annotations"][TRAFFIC].as_str() {
        Some(text) => match text.trim().parse::<f64>() {
            Ok(r) if r.is_finite() && r >= 0.0 => r,
            _ => {
                tracing::warn!(annotation = TRAFFIC, value = text, "not a rate in requests per second; no simulated traffic");
                return None;
            }
        },
        None => default?,
    };
    (rate > 0.0).then_some(rate)
}

fn path_of(obj: &Value) -> String {
    obj["metadata"]["annotations"][TRAFFIC_PATH].as_str().filter(|p| p.starts_with('/')).unwrap_or("/").to_string()
}

fn name_of(obj: &Value) -> (String, String) {
    (obj["metadata"]["namespace"].as_str().unwrap_or("").to_string(), obj["metadata"]["name"].as_str().unwrap_or("").to_string())
}

/// One stream of simulated requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub namespace: String,
    /// `service/NAME`, or `httproute/NAME/RULE`.
    pub source: String,
    pub rate: f64,
    pub path: String,
    /// Services and their weights.
    pub backends: Vec<(String, u32)>,
}

/// The Services an HTTPRoute rule sends to, with their weights (Service backends in the route's namespace only).
fn rule_backends(rule: &Value, namespace: &str) -> Vec<(String, u32)> {
    rule["backendRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["group"].as_str().unwrap_or("").is_empty() && r["kind"].as_str().unwrap_or("Service") == "Service")
        .filter(|r| r["namespace"].as_str().is_none_or(|ns| ns == namespace))
        .filter_map(|r| Some((r["name"].as_str()?.to_string(), r["weight"].as_u64().unwrap_or(1).min(1_000_000) as u32)))
        .collect()
}

/// Every flow of a cluster whose Services and HTTPRoutes are these.
pub fn flows(services: &[Arc<Value>], routes: &[Arc<Value>], default: Option<f64>) -> Vec<Flow> {
    let mut routed: std::collections::HashSet<(String, String)> = Default::default();
    let mut out = Vec::new();
    let service_rate = |ns: &str, name: &str| services.iter().find(|s| name_of(s) == (ns.to_string(), name.to_string())).and_then(|s| rate_of(s, default));
    for route in routes {
        let (ns, name) = name_of(route);
        let rules: Vec<Vec<(String, u32)>> = route["spec"]["rules"].as_array().into_iter().flatten().map(|r| rule_backends(r, &ns)).collect();
        let all: Vec<&(String, u32)> = rules.iter().flatten().collect();
        for (svc, _) in &all {
            routed.insert((ns.clone(), svc.clone()));
        }
        let explicit = route["metadata"]["annotations"][TRAFFIC].is_string();
        let rate = if explicit { rate_of(route, None) } else { all.iter().filter_map(|(svc, _)| service_rate(&ns, svc)).reduce(f64::max) };
        let Some(rate) = rate else { continue };
        let live: Vec<&Vec<(String, u32)>> = rules.iter().filter(|r| r.iter().any(|(_, w)| *w > 0)).collect();
        for (i, backends) in live.iter().enumerate() {
            out.push(Flow { namespace: ns.clone(), source: format!("httproute/{name}/{i}"), rate: rate / live.len() as f64, path: path_of(route), backends: (*backends).clone() });
        }
    }
    let namespaces_with_routes: std::collections::HashSet<String> = routes.iter().map(|r| name_of(r).0).collect();
    for svc in services {
        let (ns, name) = name_of(svc);
        if routed.contains(&(ns.clone(), name.clone())) || svc["spec"]["type"] == "ExternalName" {
            continue;
        }
        // Where HTTPRoutes exist, users arrive through them: the default rate
        // goes to the routes, and a Service a route leaves out (a canary at
        // weight 0) gets traffic only when annotated itself.
        let default = if namespaces_with_routes.contains(&ns) { None } else { default };
        if let Some(rate) = rate_of(svc, default) {
            out.push(Flow { namespace: ns, source: format!("service/{name}"), rate, path: path_of(svc), backends: vec![(name, 1)] });
        }
    }
    out
}

/// A flow's carried-over fraction of a request and its weighted round-robin.
#[derive(Default)]
struct FlowState {
    due: f64,
    backends: Vec<(String, u32)>,
    current: Vec<i64>,
}

impl FlowState {
    /// The next backend, by smooth weighted round-robin (every weight's share, spread evenly).
    fn pick(&mut self, backends: &[(String, u32)]) -> Option<String> {
        if self.backends != backends {
            self.backends = backends.to_vec();
            self.current = vec![0; backends.len()];
        }
        let total: i64 = backends.iter().map(|(_, w)| i64::from(*w)).sum();
        if total == 0 {
            return None;
        }
        for (c, (_, w)) in self.current.iter_mut().zip(backends) {
            *c += i64::from(*w);
        }
        let best = (0..backends.len()).max_by_key(|i| (self.current[*i], std::cmp::Reverse(*i)))?;
        self.current[best] -= total;
        Some(backends[best].0.clone())
    }
}

/// Sends the cluster's simulated traffic until `shutdown`.
pub async fn run(api: Arc<Api>, default: Option<f64>, shutdown: CancellationToken) {
    let services = GroupResource::new("", "services");
    let routes = GroupResource::new("gateway.networking.k8s.io", "httproutes");
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut states: HashMap<(String, String), FlowState> = HashMap::new();
    let mut last = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let elapsed = now.duration_since(last).as_secs_f64();
        last = now;
        let current = flows(&api.store.snapshot(&services), &api.store.snapshot(&routes), default);
        states.retain(|k, _| current.iter().any(|f| (f.namespace.clone(), f.source.clone()) == *k));
        for flow in current {
            let state = states.entry((flow.namespace.clone(), flow.source.clone())).or_default();
            state.due += flow.rate * elapsed;
            let n = state.due.floor();
            state.due -= n;
            for _ in 0..n as u64 {
                let Some(service) = state.pick(&flow.backends) else { break };
                let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                    tracing::debug!(namespace = %flow.namespace, source = %flow.source, "simulated traffic dropped: too many requests in flight");
                    break;
                };
                let (api, ns, path) = (api.clone(), flow.namespace.clone(), flow.path.clone());
                tokio::spawn(async move {
                    if let Err(e) = crate::proxy::get_service(&api, &ns, &service, &path).await {
                        tracing::trace!(namespace = %ns, %service, error = %e, "a simulated request found no pod");
                    }
                    drop(permit);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(name: &str, annotations: Value) -> Arc<Value> {
        Arc::new(json!({"metadata": {"namespace": "default", "name": name, "annotations": annotations}, "spec": {"ports": [{"port": 80}]}}))
    }

    fn route(weights: &[(&str, u64)], annotations: Value) -> Arc<Value> {
        let refs: Vec<Value> = weights.iter().map(|(n, w)| json!({"name": n, "port": 80, "weight": w})).collect();
        Arc::new(json!({"metadata": {"namespace": "default", "name": "web", "annotations": annotations}, "spec": {"rules": [{"backendRefs": refs}]}}))
    }

    #[test]
    fn annotated_services_and_the_cluster_default_make_flows() {
        let services = [svc("web", json!({TRAFFIC: "5", TRAFFIC_PATH: "/api"})), svc("db", json!({})), svc("off", json!({TRAFFIC: "0"}))];
        let f = flows(&services, &[], None);
        assert_eq!(f, [Flow { namespace: "default".into(), source: "service/web".into(), rate: 5.0, path: "/api".into(), backends: vec![("web".into(), 1)] }]);
        let f = flows(&services, &[], Some(2.0));
        let rates: Vec<(&str, f64)> = f.iter().map(|f| (f.source.as_str(), f.rate)).collect();
        assert_eq!(rates, [("service/web", 5.0), ("service/db", 2.0)]);
    }

    #[test]
    fn a_route_carries_its_services_traffic_split_by_weight() {
        let services = [svc("web", json!({TRAFFIC: "10"})), svc("web-canary", json!({}))];
        let f = flows(&services, &[route(&[("web", 90), ("web-canary", 10)], json!({}))], None);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].source.as_str(), f[0].rate), ("httproute/web/0", 10.0));
        assert_eq!(f[0].backends, [("web".to_string(), 90), ("web-canary".to_string(), 10)]);
        let f = flows(&services, &[route(&[("web", 50), ("web-canary", 50)], json!({TRAFFIC: "4"}))], None);
        assert_eq!(f[0].rate, 4.0, "the route's own annotation wins");
        let plain = [svc("web", json!({})), svc("web-canary", json!({}))];
        let f = flows(&plain, &[route(&[("web", 100)], json!({}))], Some(3.0));
        assert_eq!(f.len(), 1, "a canary left out of the route gets no default traffic: {f:?}");
        assert_eq!((f[0].source.as_str(), f[0].rate), ("httproute/web/0", 3.0));
    }

    #[test]
    fn weighted_round_robin_gives_exact_shares_spread_out() {
        let mut state = FlowState::default();
        let backends = vec![("stable".to_string(), 90), ("canary".to_string(), 10)];
        let picks: Vec<String> = (0..100).filter_map(|_| state.pick(&backends)).collect();
        assert_eq!(picks.iter().filter(|p| *p == "canary").count(), 10);
        let first_canary = picks.iter().position(|p| p == "canary").unwrap();
        assert!(first_canary < 10, "spread, not bunched: {first_canary}");
        let halves = vec![("stable".to_string(), 50), ("canary".to_string(), 50)];
        let picks: Vec<String> = (0..10).filter_map(|_| state.pick(&halves)).collect();
        assert_eq!(picks.iter().filter(|p| *p == "canary").count(), 5);
        assert_eq!(state.pick(&[("a".to_string(), 0)]), None);
    }
}
