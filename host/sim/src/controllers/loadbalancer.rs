//! The simulated cloud load-balancer controller (the service controller of
//! a cloud provider): a Service of `type: LoadBalancer` gets
//! `status.loadBalancer.ingress` — one IP in 127.0.0.0/8, derived from its
//! uid so it is stable — on the controllers' next pass after it is created,
//! as `kubectl get svc` shows an EXTERNAL-IP and Helm's `--wait` needs. The
//! annotation [`LOAD_BALANCER`]` = pending` keeps it `<pending>` for ever
//! (a cloud that never provisions); a Service no longer of that type has
//! its ingress cleared. Every cluster gets IPs, whatever its flavour (a real
//! EKS gives hostnames). This file must not touch anything but Service status.

use serde_json::{json, Value};

use super::behavior::LOAD_BALANCER;
use super::{meta_str, report, write, Ctx};
use crate::store::{Part, Store};

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    for svc in ctx.list(store, &ctx.services.clone()) {
        if !svc["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let wanted = ingress(&svc);
        if svc["status"]["loadBalancer"]["ingress"].as_array().cloned().unwrap_or_default() == wanted {
            continue;
        }
        let (ns, name) = (meta_str(&svc, "namespace"), meta_str(&svc, "name"));
        let update = |cur: &Value| {
            let mut next = cur.clone();
            next["status"]["loadBalancer"] = if ingress(cur).is_empty() { json!({}) } else { json!({"ingress": ingress(cur)}) };
            Ok(next)
        };
        report("writing a load balancer's ingress", store.modify(&ctx.services, ns, name, Part::Status, &write(), update));
    }
}

/// The ingress points `svc` should have: one loopback IP for a provisioned load balancer, else none.
fn ingress(svc: &Value) -> Vec<Value> {
    let pending = svc["metadata"]["annotations"][LOAD_BALANCER].as_str() == Some("pending");
    if svc["spec"]["type"] != "LoadBalancer" || pending {
        return Vec::new();
    }
    let uid = meta_str(svc, "uid").bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    // 127.1.0.1 – 127.1.255.254: loopback, never the node's nor a pod's address.
    let host = uid % 65_534 + 1;
    vec![json!({"ip": format!("127.1.{}.{}", host >> 8, host & 0xff), "ipMode": "VIP"})]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(kind: &str, annotations: Value) -> Value {
        json!({"metadata": {"uid": "1a2b", "annotations": annotations}, "spec": {"type": kind}})
    }

    #[test]
    fn load_balancers_get_a_loopback_ip_unless_annotated_pending() {
        let ip = ingress(&svc("LoadBalancer", json!({})));
        assert_eq!(ip.len(), 1);
        let ip = ip[0]["ip"].as_str().expect("an ip");
        assert!(ip.starts_with("127.1.") && ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
        assert_eq!(ingress(&svc("LoadBalancer", json!({})))[0]["ip"], ip, "stable");
        assert!(ingress(&svc("LoadBalancer", json!({LOAD_BALANCER: "pending"}))).is_empty());
        assert!(ingress(&svc("ClusterIP", json!({}))).is_empty());
    }
}
