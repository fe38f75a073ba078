//! How the built-in kinds merge their lists, as their Go types declare it, in
//! both of the forms the real server reads: `patchStrategy`/`patchMergeKey`
//! (strategic merge: one merge key) and `+listType`/`+listMapKey` (server-side
//! apply: a list map may be keyed by several fields, and a key field the item
//! omits counts with its schema default — container ports are keyed by
//! `containerPort` and `protocol`, defaulted `TCP`, so 53/TCP and 53/UDP are
//! two items). Fields with a merge key but no `listType` are maps for apply
//! too; lists with neither are atomic. Custom kinds take their list types from
//! their CRD's schema (`x-kubernetes-list-type`/`-map-keys`, see `schema::structural`).
//! This file is only the table and its lookup; it must not merge anything
//! (see `strategic` and `managed`).

use serde_json::Value;

/// How a list field merges under strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// Replaced whole by a patch.
    Atomic,
    /// A set of primitives: patches add to it.
    Set,
    /// A list of objects keyed by one field: patches merge items by that key.
    Map(&'static str),
}

/// One key field of a list map under server-side apply, with the default
/// that stands in for it when an item omits it.
#[derive(Debug, Clone, PartialEq)]
pub struct MapKey {
    pub field: String,
    pub default: Option<Value>,
}

/// How a list field merges and is owned under server-side apply.
#[derive(Debug, Clone, PartialEq)]
pub enum ListType {
    /// Owned and replaced whole.
    Atomic,
    /// A set of primitives, each member owned on its own (`v:"x"`).
    Set,
    /// Objects keyed by these fields, each item owned on its own (`k:{...}`).
    Map(Vec<MapKey>),
}

impl ListType {
    /// The item's key: every key field, its default where the item omits it;
    /// Err names the first key field that has neither.
    pub fn key_of(keys: &[MapKey], item: &Value) -> Result<serde_json::Map<String, Value>, String> {
        keys.iter()
            .map(|k| match item.get(&k.field).filter(|v| !v.is_null()).or(k.default.as_ref()) {
                Some(v) => Ok((k.field.clone(), v.clone())),
                None => Err(k.field.clone()),
            })
            .collect()
    }
}

/// Apply's view of a list in the table: `Same` follows the strategic merge form.
#[derive(Clone, Copy)]
enum Apply {
    Same,
    Atomic,
    /// Key fields with their string defaults.
    Keys(&'static [(&'static str, Option<&'static str>)]),
}

/// One row: a list field, the field it sits under (`*` for anywhere), the kind
/// it belongs to (`*` for any), and its strategies. The first matching row wins.
struct Row {
    field: &'static str,
    parent: &'static str,
    kind: &'static str,
    patch: ListStrategy,
    apply: Apply,
}

const fn row(field: &'static str, parent: &'static str, kind: &'static str, patch: ListStrategy) -> Row {
    Row { field, parent, kind, patch, apply: Apply::Same }
}

const fn keyed(field: &'static str, parent: &'static str, kind: &'static str, patch: ListStrategy, keys: &'static [(&'static str, Option<&'static str>)]) -> Row {
    Row { field, parent, kind, patch, apply: Apply::Keys(keys) }
}

use ListStrategy::{Atomic, Map, Set};

const CONTAINER_PORT: &[(&str, Option<&str>)] = &[("containerPort", None), ("protocol", Some("TCP"))];

const TABLE: &[Row] = &[
    // core/v1 ServiceAccount: imagePullSecrets are atomic there, unlike in a PodSpec.
    row("imagePullSecrets", "", "ServiceAccount", Atomic),
    row("secrets", "", "ServiceAccount", Map("name")),
    // core/v1 PodSpec, wherever a pod template sits.
    row("containers", "*", "*", Map("name")),
    row("initContainers", "*", "*", Map("name")),
    row("ephemeralContainers", "*", "*", Map("name")),
    row("volumes", "*", "*", Map("name")),
    row("imagePullSecrets", "*", "*", Map("name")),
    row("hostAliases", "*", "*", Map("ip")),
    keyed("topologySpreadConstraints", "*", "*", Map("topologyKey"), &[("topologyKey", None), ("whenUnsatisfiable", None)]),
    row("resourceClaims", "*", "*", Map("name")),
    row("schedulingGates", "*", "*", Map("name")),
    // core/v1 Container and EphemeralContainer (whose ports have no strategic merge key).
    keyed("ports", "containers", "*", Map("containerPort"), CONTAINER_PORT),
    keyed("ports", "initContainers", "*", Map("containerPort"), CONTAINER_PORT),
    keyed("ports", "ephemeralContainers", "*", Atomic, CONTAINER_PORT),
    row("env", "*", "*", Map("name")),
    row("volumeMounts", "*", "*", Map("mountPath")),
    row("volumeDevices", "*", "*", Map("devicePath")),
    keyed("claims", "resources", "*", Atomic, &[("name", None)]),
    // core/v1 ServiceSpec.
    keyed("ports", "spec", "Service", Map("port"), &[("port", None), ("protocol", Some("TCP"))]),
    // core/v1 PodStatus.
    row("podIPs", "status", "Pod", Map("ip")),
    Row { field: "hostIPs", parent: "status", kind: "Pod", patch: Map("ip"), apply: Apply::Atomic },
    // ObjectMeta.
    row("ownerReferences", "metadata", "*", Map("uid")),
    row("finalizers", "metadata", "*", Set),
    // Status conditions: merged by type, except a Job's, which apply owns whole.
    Row { field: "conditions", parent: "status", kind: "Job", patch: Map("type"), apply: Apply::Atomic },
    row("conditions", "status", "*", Map("type")),
];

/// Where an object's lists take their types from.
#[derive(Debug, Clone, Copy)]
pub enum Lists<'a> {
    /// A built-in kind: this table.
    Kind(&'a str),
    /// A custom kind: its CRD version's `openAPIV3Schema`.
    Schema(&'a Value),
    /// No schema at all: every list atomic.
    Atomic,
}

impl Lists<'_> {
    /// The server-side apply type of the list at `path` (field names from the root, indices left out).
    pub fn list_type(&self, path: &[String]) -> ListType {
        match self {
            Lists::Kind(kind) => apply_type(kind, path),
            Lists::Schema(schema) => crate::schema::structural::list_type(schema, path),
            Lists::Atomic => ListType::Atomic,
        }
    }
}

fn find(kind: &str, path: &[String]) -> Option<&'static Row> {
    let (field, above) = path.split_last()?;
    let parent = above.last().map(String::as_str).unwrap_or("");
    TABLE.iter().find(|r| r.field == field && (r.parent == "*" || r.parent == parent) && (r.kind == "*" || r.kind == kind))
}

/// The strategic merge strategy of the list at `path` (field names from the
/// object's root, list indices left out) in an object of `kind`.
pub fn list_strategy(kind: &str, path: &[String]) -> ListStrategy {
    find(kind, path).map(|r| r.patch).unwrap_or(ListStrategy::Atomic)
}

/// The server-side apply type of the list at `path` in an object of the built-in `kind`.
pub fn apply_type(kind: &str, path: &[String]) -> ListType {
    let Some(row) = find(kind, path) else { return ListType::Atomic };
    match (row.apply, row.patch) {
        (Apply::Atomic, _) | (Apply::Same, Atomic) => ListType::Atomic,
        (Apply::Same, Set) => ListType::Set,
        (Apply::Same, Map(key)) => ListType::Map(vec![MapKey { field: key.into(), default: None }]),
        (Apply::Keys(keys), _) => ListType::Map(
            keys.iter().map(|(field, default)| MapKey { field: field.to_string(), default: default.map(|d| Value::String(d.into())) }).collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(String::from).collect()
    }

    fn keys(t: ListType) -> Vec<(String, Option<Value>)> {
        match t {
            ListType::Map(keys) => keys.into_iter().map(|k| (k.field, k.default)).collect(),
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn ports_merge_by_container_port_in_containers_and_by_port_in_services() {
        assert_eq!(list_strategy("Deployment", &path("spec.template.spec.containers.ports")), Map("containerPort"));
        assert_eq!(list_strategy("Service", &path("spec.ports")), Map("port"));
        assert_eq!(list_strategy("Deployment", &path("spec.template.spec.containers")), Map("name"));
    }

    #[test]
    fn apply_keys_ports_by_number_and_protocol_defaulted_tcp() {
        let tcp = Some(Value::String("TCP".into()));
        assert_eq!(keys(apply_type("Deployment", &path("spec.template.spec.containers.ports"))), [("containerPort".into(), None), ("protocol".into(), tcp.clone())]);
        assert_eq!(keys(apply_type("Service", &path("spec.ports"))), [("port".into(), None), ("protocol".into(), tcp)]);
        assert_eq!(keys(apply_type("Pod", &path("spec.topologySpreadConstraints"))).len(), 2);
        assert_eq!(keys(apply_type("Pod", &path("spec.containers"))), [("name".into(), None)]);
        let ListType::Map(k) = apply_type("Service", &path("spec.ports")) else { unreachable!() };
        let key = ListType::key_of(&k, &serde_json::json!({"port": 53})).unwrap();
        assert_eq!(Value::Object(key).to_string(), r#"{"port":53,"protocol":"TCP"}"#);
        assert_eq!(ListType::key_of(&k, &serde_json::json!({"protocol": "UDP"})).unwrap_err(), "port");
    }

    #[test]
    fn tolerations_are_atomic_finalizers_a_set_and_job_conditions_atomic_for_apply() {
        assert_eq!(list_strategy("Pod", &path("spec.tolerations")), ListStrategy::Atomic);
        assert_eq!(list_strategy("Pod", &path("metadata.finalizers")), Set);
        assert_eq!(apply_type("Pod", &path("metadata.finalizers")), ListType::Set);
        assert_eq!(list_strategy("Pod", &path("status.conditions")), Map("type"));
        assert_eq!(list_strategy("Job", &path("status.conditions")), Map("type"));
        assert_eq!(apply_type("Job", &path("status.conditions")), ListType::Atomic);
        assert_eq!(list_strategy("ServiceAccount", &path("imagePullSecrets")), ListStrategy::Atomic);
        assert_eq!(list_strategy("Pod", &path("spec.imagePullSecrets")), Map("name"));
    }
}
