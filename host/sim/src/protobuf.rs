//! Request bodies in `application/vnd.kubernetes.protobuf`, which client-go's
//! typed clients send for built-in kinds (`kubectl create namespace`,
//! `create configmap`, `create secret`, Helm's release Secrets): the `k8s\0`
//! envelope (`runtime.Unknown`: typeMeta, raw) around the object's protobuf,
//! decoded to the JSON the rest of the server works on, from field tables
//! transcribed from k8s.io/api and apimachinery's generated.proto. Only the
//! kinds with a table here are decoded (core/v1 Namespace, ConfigMap, Secret,
//! ServiceAccount); any other kind — or a field the table lacks — is a 415,
//! never a silently dropped field. This file must not encode responses (JSON
//! serves every client that sends protobuf, as their Accept headers allow).

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::error::ApiError;

const MAGIC: &[u8] = b"k8s\0";

#[derive(Clone, Copy)]
enum Ty {
    Str,
    /// Base64 in JSON.
    Bytes,
    Int,
    Bool,
    /// metav1.Time: {seconds = 1, nanos = 2}, RFC 3339 in JSON.
    Time,
    MapStr,
    MapBytes,
    Msg(&'static [Field]),
}

struct Field {
    num: u64,
    name: &'static str,
    ty: Ty,
    repeated: bool,
    /// A Go pointer field: written only when set, so its zero value is kept.
    pointer: bool,
}

const fn f(num: u64, name: &'static str, ty: Ty) -> Field {
    Field { num, name, ty, repeated: false, pointer: false }
}

const fn list(num: u64, name: &'static str, ty: Ty) -> Field {
    Field { num, name, ty, repeated: true, pointer: false }
}

const fn ptr(num: u64, name: &'static str, ty: Ty) -> Field {
    Field { num, name, ty, repeated: false, pointer: true }
}

const OWNER_REFERENCE: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "controller", Ty::Bool),
    f(7, "blockOwnerDeletion", Ty::Bool),
];

const OBJECT_META: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "generateName", Ty::Str),
    f(3, "namespace", Ty::Str),
    f(4, "selfLink", Ty::Str),
    f(5, "uid", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "generation", Ty::Int),
    f(8, "creationTimestamp", Ty::Time),
    f(9, "deletionTimestamp", Ty::Time),
    f(10, "deletionGracePeriodSeconds", Ty::Int),
    f(11, "labels", Ty::MapStr),
    f(12, "annotations", Ty::MapStr),
    list(13, "ownerReferences", Ty::Msg(OWNER_REFERENCE)),
    list(14, "finalizers", Ty::Str),
];

const CONFIG_MAP: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "data", Ty::MapStr),
    f(3, "binaryData", Ty::MapBytes),
    f(4, "immutable", Ty::Bool),
];

const SECRET: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "data", Ty::MapBytes),
    f(3, "type", Ty::Str),
    f(4, "stringData", Ty::MapStr),
    f(5, "immutable", Ty::Bool),
];

const NAMESPACE: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(&[list(1, "finalizers", Ty::Str)])),
    f(3, "status", Ty::Msg(&[f(1, "phase", Ty::Str)])),
];

const OBJECT_REFERENCE: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(2, "namespace", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "fieldPath", Ty::Str),
];

const SERVICE_ACCOUNT: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    list(2, "secrets", Ty::Msg(OBJECT_REFERENCE)),
    list(3, "imagePullSecrets", Ty::Msg(&[f(1, "name", Ty::Str)])),
    f(4, "automountServiceAccountToken", Ty::Bool),
];

/// metav1.DeleteOptions, the body of client-go's typed deletes (Helm's
/// release Secrets on uninstall); `gracePeriodSeconds: 0` means now, so kept.
const DELETE_OPTIONS: &[Field] = &[
    ptr(1, "gracePeriodSeconds", Ty::Int),
    f(2, "preconditions", Ty::Msg(&[ptr(1, "uid", Ty::Str), ptr(2, "resourceVersion", Ty::Str)])),
    ptr(3, "orphanDependents", Ty::Bool),
    ptr(4, "propagationPolicy", Ty::Str),
    list(5, "dryRun", Ty::Str),
    ptr(6, "ignoreStoreReadErrorWithClusterBreakingPotential", Ty::Bool),
];

/// The kinds this file can decode: (apiVersion, kind, fields).
const KINDS: &[(&str, &str, &[Field])] = &[
    ("v1", "Namespace", NAMESPACE),
    ("v1", "ConfigMap", CONFIG_MAP),
    ("v1", "Secret", SECRET),
    ("v1", "ServiceAccount", SERVICE_ACCOUNT),
];

/// What the protobuf decoder accepts, for 415 messages.
pub const ACCEPTED: &str = "application/json, application/yaml, application/vnd.kubernetes.protobuf (core/v1 Namespace, ConfigMap, Secret, ServiceAccount; DeleteOptions)";

fn unsupported() -> ApiError {
    ApiError::UnsupportedMediaType(ACCEPTED)
}

/// A protobuf request body as JSON, with its apiVersion and kind.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let envelope = body.strip_prefix(MAGIC).ok_or_else(|| ApiError::BadRequest("protobuf body without the k8s envelope".into()))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (num, value) in Reader(envelope) {
        match (num, value?) {
            (1, Wire::Len(type_meta)) => {
                for (n, v) in Reader(type_meta) {
                    match (n, v?) {
                        (1, Wire::Len(s)) => api_version = utf8(s)?,
                        (2, Wire::Len(s)) => kind = utf8(s)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Len(bytes)) => raw = bytes,
            _ => {}
        }
    }
    // Every group version registers DeleteOptions; the client names its own.
    let fields = if kind == "DeleteOptions" {
        DELETE_OPTIONS
    } else {
        KINDS.iter().find(|(v, k, _)| *v == api_version && *k == kind).map(|(_, _, fields)| *fields).ok_or_else(unsupported)?
    };
    let mut obj = message(raw, fields)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

fn message(bytes: &[u8], fields: &[Field]) -> Result<Value, ApiError> {
    let mut out = Map::new();
    for (num, wire) in Reader(bytes) {
        let wire = wire?;
        let field = fields.iter().find(|f| f.num == num).ok_or_else(unsupported)?;
        let value = scalar(field.ty, wire)?;
        match (field.ty, field.repeated) {
            (Ty::MapStr | Ty::MapBytes, _) => {
                if let (Some(k), Some(v)) = (value.get(0).and_then(Value::as_str), value.get(1)) {
                    let entry = out.entry(field.name).or_insert_with(|| json!({}));
                    entry[k] = v.clone();
                }
            }
            (_, true) => match out.entry(field.name).or_insert_with(|| json!([])) {
                Value::Array(items) => items.push(value),
                _ => return Err(unsupported()),
            },
            (_, false) => {
                out.insert(field.name.to_string(), value);
            }
        }
    }
    // gogo-protobuf writes every non-pointer field; JSON omits the empty ones.
    out.retain(|k, v| fields.iter().any(|f| f.pointer && f.name == k) || (!matches!(v, Value::Null) && *v != json!("") && *v != json!(0)));
    Ok(Value::Object(out))
}

fn scalar(ty: Ty, wire: Wire<'_>) -> Result<Value, ApiError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(match (ty, wire) {
        (Ty::Str, Wire::Len(b)) => json!(utf8(b)?),
        (Ty::Bytes, Wire::Len(b)) => json!(b64.encode(b)),
        (Ty::Int, Wire::Varint(n)) => json!(n as i64),
        (Ty::Bool, Wire::Varint(n)) => json!(n != 0),
        (Ty::Time, Wire::Len(b)) => time(b)?,
        (Ty::MapStr, Wire::Len(b)) => map_entry(b, false)?,
        (Ty::MapBytes, Wire::Len(b)) => map_entry(b, true)?,
        (Ty::Msg(fields), Wire::Len(b)) => message(b, fields)?,
        _ => return Err(ApiError::BadRequest("protobuf field with an unexpected wire type".into())),
    })
}

/// A map entry {key = 1, value = 2} as `[key, value]`.
fn map_entry(bytes: &[u8], value_bytes: bool) -> Result<Value, ApiError> {
    let (mut key, mut value) = (String::new(), json!(""));
    for (num, wire) in Reader(bytes) {
        match (num, wire?) {
            (1, Wire::Len(b)) => key = utf8(b)?,
            (2, Wire::Len(b)) => value = scalar(if value_bytes { Ty::Bytes } else { Ty::Str }, Wire::Len(b))?,
            _ => return Err(unsupported()),
        }
    }
    Ok(json!([key, value]))
}

/// metav1.Time at the second, as its JSON is; Go's zero time (what an unset
/// non-pointer Time encodes as) is null.
fn time(bytes: &[u8]) -> Result<Value, ApiError> {
    let mut seconds = 0i64;
    for (num, wire) in Reader(bytes) {
        if let (1, Wire::Varint(n)) = (num, wire?) {
            seconds = n as i64;
        }
    }
    const GO_ZERO_TIME: i64 = -62_135_596_800;
    if seconds <= GO_ZERO_TIME {
        return Ok(Value::Null);
    }
    let at = time::OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    Ok(json!(at.format(&format).map_err(|e| ApiError::BadRequest(e.to_string()))?))
}

fn utf8(bytes: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::BadRequest("protobuf string is not UTF-8".into()))
}

/// One protobuf field's payload.
enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Fixed,
}

/// The fields of one protobuf message, in order.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            n |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if self.0.len() < len {
            return None;
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(head)
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = (u64, Result<Wire<'a>, ApiError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let truncated = || ApiError::BadRequest("truncated protobuf body".into());
        let Some(tag) = self.varint() else {
            self.0 = &[];
            return Some((0, Err(truncated())));
        };
        let wire = match tag & 7 {
            0 => self.varint().map(Wire::Varint),
            2 => self.varint().and_then(|len| self.take(len as usize)).map(Wire::Len),
            1 => self.take(8).map(|_| Wire::Fixed),
            5 => self.take(4).map(|_| Wire::Fixed),
            _ => None,
        };
        if wire.is_none() {
            self.0 = &[];
        }
        Some((tag >> 3, wire.ok_or_else(truncated)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(out: &mut Vec<u8>, num: u64, bytes: &[u8]) {
        out.push(((num << 3) | 2) as u8);
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }

    #[test]
    fn a_configmap_in_the_k8s_envelope_decodes_to_json() {
        let mut meta = Vec::new();
        field(&mut meta, 1, b"settings");
        field(&mut meta, 2, b"");
        let mut entry = Vec::new();
        field(&mut entry, 1, b"mode");
        field(&mut entry, 2, b"canary");
        let mut cm = Vec::new();
        field(&mut cm, 1, &meta);
        field(&mut cm, 2, &entry);
        let mut type_meta = Vec::new();
        field(&mut type_meta, 1, b"v1");
        field(&mut type_meta, 2, b"ConfigMap");
        let mut body = MAGIC.to_vec();
        field(&mut body, 1, &type_meta);
        field(&mut body, 2, &cm);
        let obj = decode(&body).unwrap();
        assert_eq!(obj, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "canary"}}));
    }

    #[test]
    fn delete_options_of_any_group_version_keep_a_zero_grace_period() {
        let mut preconditions = Vec::new();
        field(&mut preconditions, 2, b"42");
        let mut opts = vec![0x08, 0x00]; // gracePeriodSeconds = 0
        field(&mut opts, 2, &preconditions);
        field(&mut opts, 4, b"Foreground");
        let mut type_meta = Vec::new();
        field(&mut type_meta, 1, b"apps/v1");
        field(&mut type_meta, 2, b"DeleteOptions");
        let mut body = MAGIC.to_vec();
        field(&mut body, 1, &type_meta);
        field(&mut body, 2, &opts);
        let obj = decode(&body).unwrap();
        assert_eq!(obj, json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
            "preconditions": {"resourceVersion": "42"}, "propagationPolicy": "Foreground"}));
    }

    #[test]
    fn unknown_kinds_and_fields_are_unsupported_not_dropped() {
        let mut type_meta = Vec::new();
        field(&mut type_meta, 1, b"apps/v1");
        field(&mut type_meta, 2, b"Deployment");
        let mut body = MAGIC.to_vec();
        field(&mut body, 1, &type_meta);
        assert_eq!(decode(&body).unwrap_err().code(), 415);
        let mut cm = Vec::new();
        field(&mut cm, 9, b"x");
        assert_eq!(message(&cm, CONFIG_MAP).unwrap_err().code(), 415);
        assert_eq!(decode(b"nope").unwrap_err().code(), 400);
    }
}
