//! How the built-in kinds merge their lists, as their Go types declare it with
//! `patchStrategy`/`patchMergeKey` (strategic merge) and `listType`/`listMapKeys`
//! (server-side apply): keyed maps (containers by `name`, container ports by
//! `containerPort`, service ports by `port`, ...), sets of primitives
//! (finalizers), and atomic lists (everything else, tolerations included).
//! This file is only the table and its lookup; it must not merge anything
//! (see `strategic` and `apply`).

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// Replaced whole by a patch; owned whole by one manager.
    Atomic,
    /// A set of primitives: patches add to it.
    Set,
    /// A list of objects keyed by one field: patches merge items by that key.
    Map(&'static str),
}

/// One row: a list field, the field it sits under (`*` for anywhere), the kind
/// it belongs to (`*` for any), and its strategy.
struct Row {
    field: &'static str,
    parent: &'static str,
    kind: &'static str,
    strategy: ListStrategy,
}

const fn row(field: &'static str, parent: &'static str, kind: &'static str, strategy: ListStrategy) -> Row {
    Row { field, parent, kind, strategy }
}

use ListStrategy::{Map, Set};

const TABLE: &[Row] = &[
    // core/v1 PodSpec, wherever a pod template sits.
    row("containers", "*", "*", Map("name")),
    row("initContainers", "*", "*", Map("name")),
    row("ephemeralContainers", "*", "*", Map("name")),
    row("volumes", "*", "*", Map("name")),
    row("imagePullSecrets", "*", "*", Map("name")),
    row("hostAliases", "*", "*", Map("ip")),
    row("topologySpreadConstraints", "*", "*", Map("topologyKey")),
    row("resourceClaims", "*", "*", Map("name")),
    row("schedulingGates", "*", "*", Map("name")),
    // core/v1 Container.
    row("ports", "containers", "*", Map("containerPort")),
    row("ports", "initContainers", "*", Map("containerPort")),
    row("ports", "ephemeralContainers", "*", Map("containerPort")),
    row("env", "*", "*", Map("name")),
    row("volumeMounts", "*", "*", Map("mountPath")),
    row("volumeDevices", "*", "*", Map("devicePath")),
    // core/v1 ServiceSpec and ServiceAccount.
    row("ports", "spec", "Service", Map("port")),
    row("secrets", "", "ServiceAccount", Map("name")),
    // ObjectMeta.
    row("ownerReferences", "metadata", "*", Map("uid")),
    row("finalizers", "metadata", "*", Set),
    // Status conditions of every built-in kind.
    row("conditions", "status", "*", Map("type")),
];

/// The kind name under which every list is atomic: custom resources, whose
/// schemas this server does not read for list types.
pub const CUSTOM: &str = "";

/// The strategy of the list at `path` (field names from the object's root,
/// list indices left out) in an object of `kind`.
pub fn list_strategy(kind: &str, path: &[String]) -> ListStrategy {
    let Some((field, above)) = path.split_last().filter(|_| kind != CUSTOM) else { return ListStrategy::Atomic };
    let parent = above.last().map(String::as_str).unwrap_or("");
    TABLE
        .iter()
        .find(|r| r.field == field && (r.parent == "*" || r.parent == parent) && (r.kind == "*" || r.kind == kind))
        .map(|r| r.strategy)
        .unwrap_or(ListStrategy::Atomic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(String::from).collect()
    }

    #[test]
    fn ports_merge_by_container_port_in_containers_and_by_port_in_services() {
        assert_eq!(list_strategy("Deployment", &path("spec.template.spec.containers.ports")), Map("containerPort"));
        assert_eq!(list_strategy("Service", &path("spec.ports")), Map("port"));
        assert_eq!(list_strategy("Deployment", &path("spec.template.spec.containers")), Map("name"));
    }

    #[test]
    fn tolerations_are_atomic_and_finalizers_a_set() {
        assert_eq!(list_strategy("Pod", &path("spec.tolerations")), ListStrategy::Atomic);
        assert_eq!(list_strategy("Pod", &path("metadata.finalizers")), Set);
        assert_eq!(list_strategy("Pod", &path("status.conditions")), Map("type"));
    }
}
