//! The shape of every built-in kind this server serves, as one table that
//! drives both the protobuf request decoder (`protobuf`) and the object
//! schemas of the OpenAPI documents (`openapi`, `openapi_v2`), and the
//! server's strict field validation (`unknown_fields`); `structural` does
//! the same for custom kinds from their CRD's `openAPIV3Schema` (and prunes,
//! defaults and validates them). Per message: its
//! OpenAPI name and, per field, the JSON name, the protobuf field number (the
//! wire protocol of k8s.io/api's generated.proto), the type and the Go shape
//! (pointer, omitempty) that decides how a zero value reads in JSON. `types`
//! is generated from the Go struct tags (tools/gen_schema.py); `docs` holds
//! the short descriptions `kubectl explain` prints. List merge strategies are
//! not here: they come from `merge_keys`, the one source. This module must
//! not decode, encode or answer anything itself.

mod docs;
pub mod structural;
#[rustfmt::skip]
pub mod types;

use serde_json::Value;

use crate::error::ApiError;
use crate::merge_keys::{ListType, Lists};
use crate::resources::ResourceType;

pub use docs::{field_doc, message_doc};

/// How often a field occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    One,
    /// A repeated field: a JSON array.
    List,
    /// A `map<string, ty>`: a JSON object.
    Map,
    /// A Go embedded struct: its own protobuf field, but its JSON fields sit in the parent.
    Inline,
}

/// A field's type.
#[derive(Clone, Copy)]
pub enum Ty {
    Str,
    /// Base64 in JSON.
    Bytes,
    Bool,
    Int32,
    Int64,
    Double,
    /// metav1.Time: RFC 3339 at the second.
    Time,
    /// metav1.MicroTime: RFC 3339 with microseconds.
    MicroTime,
    /// metav1.Duration: Go's duration string.
    Duration,
    /// resource.Quantity: a string such as `500m` or `1Gi`.
    Quantity,
    /// intstr.IntOrString: a number or a string.
    IntOrString,
    /// runtime.RawExtension and FieldsV1: any JSON.
    Raw,
    M(&'static Msg),
}

impl std::fmt::Debug for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ty::M(m) => write!(f, "M({})", m.name),
            Ty::Str => f.write_str("Str"),
            Ty::Bytes => f.write_str("Bytes"),
            Ty::Bool => f.write_str("Bool"),
            Ty::Int32 => f.write_str("Int32"),
            Ty::Int64 => f.write_str("Int64"),
            Ty::Double => f.write_str("Double"),
            Ty::Time => f.write_str("Time"),
            Ty::MicroTime => f.write_str("MicroTime"),
            Ty::Duration => f.write_str("Duration"),
            Ty::Quantity => f.write_str("Quantity"),
            Ty::IntOrString => f.write_str("IntOrString"),
            Ty::Raw => f.write_str("Raw"),
        }
    }
}

/// One field of a message.
#[derive(Debug)]
pub struct Field {
    /// The JSON name (for `Inline`, the Go type's name; unused in JSON).
    pub name: &'static str,
    pub num: u64,
    pub card: Card,
    pub ty: Ty,
    /// A Go pointer: present on the wire means present in JSON, even when zero.
    pub pointer: bool,
    /// `omitempty`: a zero non-pointer value is left out of JSON.
    pub omitempty: bool,
}

/// One protobuf message / OpenAPI schema.
#[derive(Debug)]
pub struct Msg {
    /// The OpenAPI definition name, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub name: &'static str,
    pub fields: &'static [Field],
}

impl Msg {
    /// The field with this JSON name, looking through inlined messages.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.json_fields().find(|f| f.name == name)
    }

    /// The fields as JSON sees them: inlined messages' fields in place of the inline field.
    pub fn json_fields(&self) -> impl Iterator<Item = &'static Field> + '_ {
        self.fields.iter().flat_map(|f| -> Box<dyn Iterator<Item = &'static Field>> {
            match (f.card, f.ty) {
                (Card::Inline, Ty::M(inner)) => Box::new(inner.json_fields()),
                _ => Box::new(std::iter::once(f)),
            }
        })
    }

    /// The short name, e.g. `Deployment`.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }
}

/// Used by the generated table: flags `P` (pointer) and `O` (omitempty).
pub(crate) const fn f(name: &'static str, num: u64, card: Card, ty: Ty, flags: &str) -> Field {
    let bytes = flags.as_bytes();
    let (mut pointer, mut omitempty, mut i) = (false, false, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'P' => pointer = true,
            b'O' => omitempty = true,
            _ => {}
        }
        i += 1;
    }
    Field { name, num, card, ty, pointer, omitempty }
}

/// A top-level kind: group, version, kind and its message.
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub msg: &'static Msg,
}

const fn kind(group: &'static str, version: &'static str, kind: &'static str, msg: &'static Msg) -> Kind {
    Kind { group, version, kind, msg }
}

/// Every built-in kind with a table (autoscaling/v1 too: `kubectl autoscale` sends it).
pub static KINDS: &[Kind] = &[
    kind("", "v1", "Namespace", &types::NAMESPACE),
    kind("", "v1", "Pod", &types::POD),
    kind("", "v1", "Service", &types::SERVICE),
    kind("", "v1", "Endpoints", &types::ENDPOINTS),
    kind("", "v1", "ConfigMap", &types::CONFIG_MAP),
    kind("", "v1", "Secret", &types::SECRET),
    kind("", "v1", "ServiceAccount", &types::SERVICE_ACCOUNT),
    kind("", "v1", "Event", &types::EVENT),
    kind("apps", "v1", "Deployment", &types::APPS_DEPLOYMENT),
    kind("apps", "v1", "ReplicaSet", &types::APPS_REPLICA_SET),
    kind("apps", "v1", "StatefulSet", &types::APPS_STATEFUL_SET),
    kind("apps", "v1", "DaemonSet", &types::APPS_DAEMON_SET),
    kind("batch", "v1", "Job", &types::BATCH_JOB),
    kind("networking.k8s.io", "v1", "Ingress", &types::NETWORKING_INGRESS),
    kind("coordination.k8s.io", "v1", "Lease", &types::COORDINATION_LEASE),
    kind("policy", "v1", "PodDisruptionBudget", &types::POLICY_POD_DISRUPTION_BUDGET),
    kind("autoscaling", "v2", "HorizontalPodAutoscaler", &types::AUTOSCALINGV2_HORIZONTAL_POD_AUTOSCALER),
    kind("autoscaling", "v1", "HorizontalPodAutoscaler", &types::AUTOSCALINGV1_HORIZONTAL_POD_AUTOSCALER),
    kind("autoscaling", "v1", "Scale", &types::AUTOSCALINGV1_SCALE),
];

/// The table of a built-in kind.
pub fn find(group: &str, version: &str, kind: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.group == group && k.version == version && k.kind == kind)
}

/// DeleteOptions, which typed clients send as a DELETE body in whichever
/// group version they talk (`v1`, `apps/v1`, `meta.k8s.io/v1`...).
static DELETE_OPTIONS: Kind = kind("meta.k8s.io", "v1", "DeleteOptions", &types::META_DELETE_OPTIONS);

/// The table of a kind named by its `apiVersion`.
pub fn find_api_version(api_version: &str, kind: &str) -> Option<&'static Kind> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    find(group, version, kind).or_else(|| (kind == "DeleteOptions").then_some(&DELETE_OPTIONS))
}

/// The paths of the fields in `obj` that `msg` does not declare, as the real
/// server's strict decoding names them: `spec.template.spec.containers[0].imagee`.
/// `apiVersion` and `kind` are allowed at the root.
pub fn unknown_fields(msg: &Msg, obj: &Value) -> Vec<String> {
    unknown_at(msg, obj, None)
}

fn unknown_at(msg: &Msg, obj: &Value, keyed: Option<&str>) -> Vec<String> {
    let mut walk = Walk { keyed, names: Vec::new(), out: Vec::new() };
    if let Value::Object(map) = obj {
        for (key, value) in map.iter().filter(|(k, _)| *k != "apiVersion" && *k != "kind") {
            walk.field(msg, key, value, key);
        }
    }
    walk.out
}

/// How a write reached the object, for the wording of its strict-validation error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// A create or update body (decoded as a whole object).
    Decode,
    /// A JSON, merge or strategic merge patch (its result is checked).
    Patch,
    /// A server-side apply configuration.
    Apply,
}

/// Unknown fields, as the real server's decoding treats them:
/// `fieldValidation=Strict` (what kubectl sends by default) is a 400
/// naming every one, worded as the real server words it; otherwise they are
/// dropped, as decoding into the Go struct (or a custom kind's structural
/// pruning) drops them, and — unless the directive is `Ignore` — returned as
/// the warnings (`unknown field "spec.x"`) the real server's `Warn` default
/// sends. Built-in kinds are checked against their table, custom kinds
/// against their CRD's schema (`structural`); kinds with neither are kept as given.
pub fn check_fields(rt: &ResourceType, obj: &mut Value, directive: Option<&str>, write: Write) -> Result<Vec<String>, ApiError> {
    let custom = rt.definition.as_deref().and_then(crate::crd::schema_of).filter(|_| rt.custom);
    let builtin = if rt.custom { None } else { find(&rt.group, &rt.version, &rt.kind) };
    let unknown = match (custom, builtin) {
        (Some(schema), _) => structural::unknown_fields(schema, obj, false),
        (None, Some(kind)) => unknown_fields(kind.msg, obj),
        (None, None) => return Ok(Vec::new()),
    };
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    if directive != Some("Strict") {
        match (custom, builtin) {
            (Some(schema), _) => structural::prune(schema, obj),
            (None, Some(kind)) => {
                if let Value::Object(map) = obj {
                    map.retain(|k, _| k == "apiVersion" || k == "kind" || kind.msg.field(k).is_some());
                    prune(kind.msg, map);
                }
            }
            (None, None) => {}
        }
        let warn = directive != Some("Ignore");
        return Ok(if warn { unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect() } else { Vec::new() });
    }
    let message = match write {
        Write::Apply => {
            let unknown = match (custom, builtin) {
                (Some(schema), _) => structural::unknown_fields(schema, obj, true),
                (None, Some(kind)) => unknown_at(kind.msg, obj, Some(&rt.kind)),
                (None, None) => Vec::new(),
            };
            let name = obj["metadata"]["name"].as_str().unwrap_or("");
            let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
            let fields: Vec<String> = unknown.iter().map(|f| format!(".{f}: field not declared in schema")).collect();
            format!("failed to create typed patch object ({ns}/{name}; {}, Kind={}): {}", rt.api_version(), rt.kind, fields.join(", "))
        }
        Write::Decode | Write::Patch => {
            let fields: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
            let strict = format!("strict decoding error: {}", fields.join(", "));
            match write {
                Write::Decode => format!("{} in version \"{}\" cannot be handled as a {}: {strict}", rt.kind, rt.version, rt.kind),
                _ => strict,
            }
        }
    };
    Err(ApiError::BadRequest(message))
}

/// Drops, below `map` (an object of `msg`), every field its message does not declare.
fn prune(msg: &Msg, map: &mut serde_json::Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        let Some(Field { card, ty: Ty::M(inner), .. }) = msg.field(key) else { continue };
        let clean = |v: &mut Value| {
            if let Value::Object(m) = v {
                m.retain(|k, _| inner.field(k).is_some());
                prune(inner, m);
            }
        };
        match (card, value) {
            (Card::List, Value::Array(items)) => items.iter_mut().for_each(clean),
            (Card::Map, Value::Object(entries)) => entries.values_mut().for_each(clean),
            (_, v) => clean(v),
        }
    }
}

/// One step of the walk: `names` are the field names from the root (for
/// `merge_keys`), `keyed` the kind when list items are named by their merge
/// key, as server-side apply names them (`containers[name="web"]`).
struct Walk<'a> {
    keyed: Option<&'a str>,
    names: Vec<String>,
    out: Vec<String>,
}

impl Walk<'_> {
    fn field(&mut self, msg: &Msg, key: &str, value: &Value, path: &str) {
        let Some(field) = msg.field(key) else {
            self.out.push(path.to_string());
            return;
        };
        let Ty::M(inner) = field.ty else { return };
        self.names.push(key.to_string());
        match (field.card, value) {
            (Card::List, Value::Array(items)) => {
                let keys = match self.keyed.map(|kind| Lists::Kind(kind).list_type(&self.names)) {
                    Some(ListType::Map(keys)) => Some(keys),
                    _ => None,
                };
                for (i, item) in items.iter().enumerate() {
                    let at = match keys.as_ref().and_then(|k| ListType::key_of(k, item).ok()) {
                        Some(key) => format!("{path}[{}]", key.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")),
                        None => format!("{path}[{i}]"),
                    };
                    self.object(inner, item, &at);
                }
            }
            (Card::Map, Value::Object(entries)) => {
                for (k, item) in entries {
                    self.object(inner, item, &format!("{path}[{k}]"));
                }
            }
            _ => self.object(inner, value, path),
        }
        self.names.pop();
    }

    fn object(&mut self, msg: &Msg, value: &Value, at: &str) {
        if let Value::Object(map) = value {
            for (k, item) in map {
                self.field(msg, k, item, &format!("{at}.{k}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_served_kind_has_metadata_and_inlined_fields_read_as_the_parents() {
        for k in KINDS {
            assert!(k.msg.field("metadata").is_some(), "{}", k.kind);
        }
        let volume = types::VOLUME.field("configMap").expect("VolumeSource is inlined into Volume");
        assert_eq!(volume.num, 19);
        assert_eq!(types::APPS_DEPLOYMENT_SPEC.field("replicas").map(|f| (f.num, f.pointer)), Some((1, true)));
    }

    #[test]
    fn unknown_fields_are_named_by_their_path() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labelz": {}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "imagee": "y"}]}}},
            "bogus": 1});
        let mut found = unknown_fields(&types::APPS_DEPLOYMENT, &deploy);
        found.sort();
        assert_eq!(found, ["bogus", "metadata.labelz", "spec.template.spec.containers[1].imagee"]);
        let pod = json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}}}],
            "volumes": [{"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "p"}]}}]}});
        assert!(unknown_fields(&types::POD, &pod).is_empty());
    }

    #[test]
    fn strict_refuses_unknown_fields_and_other_directives_drop_them() {
        let rt = crate::resources::Registry::default().find("apps", "v1", "deployments").unwrap();
        let given = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "bogus": 1,
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "imagee": "y", "env": [{"name": "A", "valu": "1"}]}]}}}});
        let err = check_fields(&rt, &mut given.clone(), Some("Strict"), Write::Decode).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "bogus", unknown field "spec.template.spec.containers[0].env[0].valu", unknown field "spec.template.spec.containers[0].imagee""#
        );
        let mut ignored = given.clone();
        assert_eq!(check_fields(&rt, &mut ignored.clone(), Some("Ignore"), Write::Decode).unwrap(), Vec::<String>::new());
        let warnings = check_fields(&rt, &mut ignored, None, Write::Decode).unwrap();
        assert_eq!(warnings[0], r#"unknown field "bogus""#, "Warn, the default, warns");
        assert_eq!(ignored, json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "env": [{"name": "A"}]}]}}}}));
    }
}
