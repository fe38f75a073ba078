//! The defaults the real API server fills into built-in kinds on every write
//! (its `SetDefaults_*` functions and the admission plugins every cluster
//! runs): pod specs (restartPolicy, dnsPolicy, terminationGracePeriodSeconds,
//! imagePullPolicy, ...), workload specs (replicas, strategies, history
//! limits), secret type, and services (type, protocol, targetPort, and an
//! allocated ClusterIP and NodePorts that updates keep). Clients see these in
//! `get -o yaml` and three-way merges depend on them. This file must not
//! store objects; the allocator's state lives in the store.

use serde_json::{json, Value};

use crate::resources::ResourceType;

/// Sets `obj[key] = value` when the key is absent or null.
fn default(obj: &mut Value, key: &str, value: Value) {
    if obj.get(key).is_none_or(Value::is_null) {
        obj[key] = value;
    }
}

/// Fills the defaults of `rt`'s kind into `obj` (stateless ones only).
pub fn apply(rt: &ResourceType, obj: &mut Value) {
    if !obj.is_object() {
        return;
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") => pod(obj),
        ("", "secrets") => default(obj, "type", json!("Opaque")),
        ("apps", "deployments") => deployment(&mut obj["spec"]),
        ("apps", "replicasets") => workload(&mut obj["spec"], &[]),
        ("apps", "statefulsets") => statefulset(&mut obj["spec"]),
        ("apps", "daemonsets") => {
            let had_replicas = obj["spec"].get("replicas").is_some();
            workload(
                &mut obj["spec"],
                &[("updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}))],
            );
            // A DaemonSet has no replicas field: runs one pod per node.
            if let Some(spec) = obj["spec"].as_object_mut().filter(|_| !had_replicas) {
                spec.remove("replicas");
            }
        }
        ("batch", "jobs") => job(&mut obj["spec"]),
        ("autoscaling", "horizontalpodautoscalers") if rt.version == "v2" => hpa(&mut obj["spec"]),
        _ => {}
    }
}

/// autoscaling/v2: minReplicas 1, a cpu target of 80% when no metric is
/// named, and a behavior given only in part completed with the defaults.
fn hpa(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    default(spec, "minReplicas", json!(1));
    if spec["metrics"].as_array().is_none_or(|m| m.is_empty()) {
        spec["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]);
    }
    let Some(behavior) = spec.get_mut("behavior").filter(|b| b.is_object()) else { return };
    let up = json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]});
    // The scale-down window stays unset: 300s is the controller's default, not the API's.
    let down = json!({"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]});
    for (key, defaults) in [("scaleUp", up), ("scaleDown", down)] {
        if !behavior[key].is_object() {
            behavior[key] = defaults;
            continue;
        }
        for field in ["stabilizationWindowSeconds", "selectPolicy", "policies"] {
            if !defaults[field].is_null() {
                default(&mut behavior[key], field, defaults[field].clone());
            }
        }
    }
}

fn pod(obj: &mut Value) {
    pod_spec(&mut obj["spec"]);
    let spec = &mut obj["spec"];
    default(spec, "enableServiceLinks", json!(true));
    default(spec, "serviceAccountName", json!("default"));
    default(spec, "serviceAccount", spec["serviceAccountName"].clone());
    default(spec, "priority", json!(0));
    default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    let toleration = |key: &str| json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300});
    default(spec, "tolerations", json!([toleration("node.kubernetes.io/not-ready"), toleration("node.kubernetes.io/unreachable")]));
}

fn pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "securityContext", json!({}));
    default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            containers.iter_mut().for_each(container);
        }
    }
}

fn container(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or("");
    let last = image.rsplit('/').next().unwrap_or("");
    let latest = !image.contains('@') && (!last.contains(':') || last.ends_with(":latest"));
    default(c, "imagePullPolicy", json!(if latest { "Always" } else { "IfNotPresent" }));
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        ports.iter_mut().for_each(|p| default(p, "protocol", json!("TCP")));
    }
}

/// Replicas 1, the given defaults, and pod template defaults.
fn workload(spec: &mut Value, extra: &[(&str, Value)]) {
    if !spec.is_object() {
        return;
    }
    default(spec, "replicas", json!(1));
    for (key, value) in extra {
        default(spec, key, value.clone());
    }
    template(spec);
}

fn template(spec: &mut Value) {
    if spec["template"].is_object() {
        default(&mut spec["template"]["metadata"], "creationTimestamp", Value::Null);
        pod_spec(&mut spec["template"]["spec"]);
    }
}

fn deployment(spec: &mut Value) {
    let rolling = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}});
    workload(spec, &[("strategy", rolling), ("revisionHistoryLimit", json!(10)), ("progressDeadlineSeconds", json!(600))]);
    // `strategy: {}` (what typed clients send) is defaulted field by field, as SetDefaults_Deployment does.
    let Some(strategy) = spec.get_mut("strategy").filter(|s| s.is_object()) else { return };
    default(strategy, "type", json!("RollingUpdate"));
    if strategy["type"] == "RollingUpdate" && strategy.get("rollingUpdate").is_none_or(|r| r.is_object() || r.is_null()) {
        default(strategy, "rollingUpdate", json!({}));
        default(&mut strategy["rollingUpdate"], "maxUnavailable", json!("25%"));
        default(&mut strategy["rollingUpdate"], "maxSurge", json!("25%"));
    }
}

fn statefulset(spec: &mut Value) {
    workload(
        spec,
        &[
            ("podManagementPolicy", json!("OrderedReady")),
            ("updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})),
            ("revisionHistoryLimit", json!(10)),
            ("persistentVolumeClaimRetentionPolicy", json!({"whenDeleted": "Retain", "whenScaled": "Retain"})),
        ],
    );
}

fn job(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    for (key, value) in [("parallelism", json!(1)), ("completions", json!(1)), ("backoffLimit", json!(6)), ("completionMode", json!("NonIndexed")), ("suspend", json!(false))] {
        default(spec, key, value);
    }
    template(spec);
}

/// Hands out ClusterIPs (10.96.0.0/12, 10.96.0.1 kept for `kubernetes`) and NodePorts (30000-32767).
#[derive(Debug)]
pub struct Allocator {
    next_ip: u32,
    next_port: u32,
}

impl Default for Allocator {
    fn default() -> Allocator {
        Allocator { next_ip: 10, next_port: 30000 }
    }
}

impl Allocator {
    /// Service defaults and allocations; on update, `current`'s allocations are kept.
    pub fn service(&mut self, svc: &mut Value, current: Option<&Value>) {
        let spec = &mut svc["spec"];
        if !spec.is_object() {
            return;
        }
        default(spec, "type", json!("ClusterIP"));
        default(spec, "sessionAffinity", json!("None"));
        let kind = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports.iter_mut() {
                default(p, "protocol", json!("TCP"));
                let port = p["port"].clone();
                default(p, "targetPort", port);
            }
        }
        if kind == "ExternalName" {
            return;
        }
        let old = current.map(|c| &c["spec"]);
        self.cluster_ip(spec, old);
        default(spec, "ipFamilies", json!(["IPv4"]));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
        default(spec, "internalTrafficPolicy", json!("Cluster"));
        if kind == "NodePort" || kind == "LoadBalancer" {
            default(spec, "externalTrafficPolicy", json!("Cluster"));
            self.node_ports(spec, old);
        }
        if kind == "LoadBalancer" {
            default(spec, "allocateLoadBalancerNodePorts", json!(true));
        }
    }

    fn cluster_ip(&mut self, spec: &mut Value, old: Option<&Value>) {
        let kept = old.and_then(|o| o["clusterIP"].as_str()).filter(|ip| !ip.is_empty());
        let ip = match (spec["clusterIP"].as_str().filter(|ip| !ip.is_empty()), kept) {
            (Some(ip), _) => ip.to_string(),
            (None, Some(ip)) => ip.to_string(),
            (None, None) => {
                let n = self.next_ip;
                self.next_ip += 1;
                format!("10.96.{}.{}", n / 254, n % 254 + 1)
            }
        };
        spec["clusterIP"] = json!(ip);
        spec["clusterIPs"] = json!([ip]);
    }

    fn node_ports(&mut self, spec: &mut Value, old: Option<&Value>) {
        let old_ports = old.and_then(|o| o["ports"].as_array()).cloned().unwrap_or_default();
        let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) else { return };
        for p in ports.iter_mut().filter(|p| p.get("nodePort").is_none_or(Value::is_null)) {
            let kept = old_ports.iter().find(|o| o["port"] == p["port"] && o["protocol"] == p["protocol"]).and_then(|o| o["nodePort"].as_u64());
            let port = kept.unwrap_or_else(|| {
                let n = self.next_port;
                self.next_port = if n >= 32767 { 30000 } else { n + 1 };
                u64::from(n)
            });
            p["nodePort"] = json!(port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    fn rt(group: &str, plural: &str) -> ResourceType {
        Registry::default().find(group, if group == "autoscaling" { "v2" } else { "v1" }, plural).unwrap()
    }

    #[test]
    fn deployments_get_the_real_strategy_and_pod_template_defaults() {
        let mut d = json!({"spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "a", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "registry.local:5000/app"}
        ]}}}});
        apply(&rt("apps", "deployments"), &mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(pod["containers"][1]["imagePullPolicy"], "Always", "a registry port is not a tag");
        assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
        assert!(d["spec"]["template"]["metadata"]["creationTimestamp"].is_null());
    }

    #[test]
    fn services_get_a_cluster_ip_and_node_ports_that_updates_keep() {
        let mut alloc = Allocator::default();
        let mut svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        alloc.service(&mut svc, None);
        let ip = svc["spec"]["clusterIP"].as_str().unwrap().to_string();
        assert!(ip.starts_with("10.96."));
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
        let node_port = svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
        assert!((30000..=32767).contains(&node_port));
        let mut replaced = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        alloc.service(&mut replaced, Some(&svc));
        assert_eq!(replaced["spec"]["clusterIP"], json!(ip));
        assert_eq!(replaced["spec"]["ports"][0]["nodePort"], json!(node_port));
        let mut headless = json!({"spec": {"clusterIP": "None", "ports": [{"port": 80}]}});
        alloc.service(&mut headless, None);
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    }
}
