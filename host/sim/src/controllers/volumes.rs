//! The simulated default dynamic provisioner and PV controller: a Pending
//! PersistentVolumeClaim without a `volumeName` gets a PersistentVolume
//! `pvc-<claim uid>` of the size and access modes it asks for (reclaim
//! policy Delete, `claimRef` naming it), and both are Bound, as a cluster's
//! default StorageClass would have it. Any storageClassName binds (the sim
//! serves no StorageClasses); the annotation [`VOLUME_BINDING`]` = never`
//! keeps a claim Pending for ever. Volumes are not deleted with their
//! claims. This file must not touch anything but claims and volumes.

use serde_json::{json, Value};

use super::behavior::VOLUME_BINDING;
use super::{meta_str, report, write, Ctx, Severity};
use crate::store::{Part, Store};

pub(super) fn run(ctx: &mut Ctx, store: &Store) {
    for claim in ctx.list(store, &ctx.claims.clone()) {
        let pending = claim["status"]["phase"].as_str().is_none_or(|p| p == "Pending");
        let never = claim["metadata"]["annotations"][VOLUME_BINDING].as_str() == Some("never");
        if !claim["metadata"]["deletionTimestamp"].is_null() || !pending || never {
            continue;
        }
        let (ns, name) = (meta_str(&claim, "namespace"), meta_str(&claim, "name"));
        let volume_name = claim["spec"]["volumeName"].as_str().filter(|v| !v.is_empty()).map_or_else(|| format!("pvc-{}", meta_str(&claim, "uid")), String::from);
        let capacity = json!({"storage": claim["spec"]["resources"]["requests"]["storage"].as_str().unwrap_or("1Gi")});
        let modes = claim["spec"]["accessModes"].clone();
        if store.get(&ctx.volumes.gr(), "", &volume_name).is_err() {
            let volume = json!({"apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": volume_name, "annotations": {"pv.kubernetes.io/provisioned-by": "sim.gantry.dev/provisioner"}},
                "spec": {"capacity": capacity, "accessModes": modes, "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": claim["spec"]["storageClassName"].as_str().unwrap_or("standard"),
                    "volumeMode": claim["spec"]["volumeMode"].as_str().unwrap_or("Filesystem"),
                    "hostPath": {"path": format!("/var/sim/volumes/{volume_name}")},
                    "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": name,
                        "uid": claim["metadata"]["uid"], "resourceVersion": claim["metadata"]["resourceVersion"]}}});
            if report("provisioning a volume", store.create(&ctx.volumes, "", volume, &write())).is_none() {
                continue;
            }
            let message = format!("Successfully provisioned volume {volume_name}");
            ctx.event(store, &claim, Severity::Normal, "ProvisioningSucceeded", &message, "sim.gantry.dev/provisioner");
        }
        let bound = |cur: &Value| {
            let mut next = cur.clone();
            next["status"] = json!({"phase": "Bound"});
            Ok(next)
        };
        report("binding a volume", store.modify(&ctx.volumes, "", &volume_name, Part::Status, &write(), bound));
        let claimed = |cur: &Value| {
            let mut next = cur.clone();
            next["spec"]["volumeName"] = json!(volume_name);
            Ok(next)
        };
        if report("binding a claim's volume", store.modify(&ctx.claims, ns, name, Part::Main, &write(), claimed)).is_none() {
            continue;
        }
        let status = |cur: &Value| {
            let mut next = cur.clone();
            next["status"] = json!({"phase": "Bound", "accessModes": cur["spec"]["accessModes"], "capacity": capacity});
            Ok(next)
        };
        report("binding a claim", store.modify(&ctx.claims, ns, name, Part::Status, &write(), status));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    fn claim(name: &str, annotations: Value) -> Value {
        json!({"metadata": {"name": name, "annotations": annotations},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}})
    }

    #[test]
    fn claims_are_provisioned_and_bound_unless_annotated_never() {
        let registry = Registry::default();
        let store = Store::new(100_000, &registry.find("", "v1", "namespaces").expect("namespaces are served"));
        let mut ctx = Ctx::new(&registry).expect("the built-in kinds are served");
        store.create(&ctx.claims, "default", claim("data", json!({})), &write()).expect("created");
        store.create(&ctx.claims, "default", claim("stuck", json!({VOLUME_BINDING: "never"})), &write()).expect("created");
        ctx.reconcile(&store);
        ctx.reconcile(&store);
        let data = store.get(&ctx.claims.gr(), "default", "data").expect("the claim");
        assert_eq!(data["status"]["phase"], "Bound", "{data}");
        assert_eq!(data["status"]["capacity"]["storage"], "2Gi");
        let volume_name = data["spec"]["volumeName"].as_str().expect("a volume name");
        let volume = store.get(&ctx.volumes.gr(), "", volume_name).expect("the volume");
        assert_eq!((volume["status"]["phase"].as_str(), volume["spec"]["claimRef"]["name"].as_str()), (Some("Bound"), Some("data")), "{volume}");
        assert_eq!(volume["spec"]["claimRef"]["uid"], data["metadata"]["uid"]);
        let stuck = store.get(&ctx.claims.gr(), "default", "stuck").expect("the claim");
        assert_eq!(stuck["status"]["phase"], "Pending");
        assert!(stuck["spec"]["volumeName"].is_null());
    }
}
