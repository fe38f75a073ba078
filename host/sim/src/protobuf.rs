//! Request bodies in `application/vnd.kubernetes.protobuf`, which client-go's
//! typed clients send for built-in kinds (`kubectl create deployment`,
//! `create service`, `create job`, `create ingress`, `create secret`, Helm's
//! release Secrets...): the `k8s\0` envelope (`runtime.Unknown`: typeMeta,
//! raw) around the object's protobuf, decoded to the JSON the rest of the
//! server works on, driven by the field tables of `schema` (field numbers of
//! k8s.io/api's generated.proto). A zero value reads as Go's JSON of the
//! decoded struct would: pointers keep it, `omitempty` scalars drop it,
//! structs stay (`resources: {}`). A kind without a table is a 415; a field
//! the table lacks is a 400 naming the kind, message and field number —
//! never a silently dropped field. This file must not encode responses (JSON
//! serves every client that sends protobuf, as their Accept headers allow).

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::schema::{self, Card, Field, Msg, Ty};

const MAGIC: &[u8] = b"k8s\0";

/// What the protobuf decoder accepts, for 415 messages.
pub const ACCEPTED: &str = "application/json, application/yaml, application/vnd.kubernetes.protobuf (built-in kinds)";

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
    // Every group version registers DeleteOptions; client-go's typed deletes
    // send it in their own (Helm's release Secrets on uninstall: `v1`).
    let msg = if kind == "DeleteOptions" {
        &schema::types::META_DELETE_OPTIONS
    } else {
        schema::find_api_version(&api_version, &kind).ok_or_else(unsupported)?.msg
    };
    let mut obj = message(raw, msg).map_err(|e| match e {
        Error::Api(e) => e,
        Error::UnknownField { msg, num, wire } => ApiError::BadRequest(format!(
            "{api_version} {kind}: protobuf field {num} (wire type {wire}) of {msg} is not known to this server"
        )),
    })?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

/// A decoding failure; an unknown field is named once the kind is known.
enum Error {
    Api(ApiError),
    UnknownField { msg: &'static str, num: u64, wire: u64 },
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Error {
        Error::Api(e)
    }
}

fn bad(message: &str) -> Error {
    Error::Api(ApiError::BadRequest(message.into()))
}

fn message(bytes: &[u8], msg: &'static Msg) -> Result<Value, Error> {
    let mut out = Map::new();
    for (num, wire) in Reader(bytes) {
        let wire = wire?;
        let field = msg.fields.iter().find(|f| f.num == num).ok_or(Error::UnknownField { msg: msg.name, num, wire: wire.code() })?;
        match field.card {
            Card::Inline => {
                let Value::Object(inner) = scalar(field.ty, wire)? else { return Err(bad("inlined protobuf field is not a message")) };
                out.extend(inner);
            }
            Card::Map => {
                let (key, value) = map_entry(field, wire)?;
                let entry = out.entry(field.name).or_insert_with(|| json!({}));
                entry[key] = value;
            }
            Card::List => {
                let items = match out.entry(field.name).or_insert_with(|| json!([])) {
                    Value::Array(items) => items,
                    _ => return Err(bad("repeated protobuf field decoded twice")),
                };
                match (field.ty, wire) {
                    // Packed repeated scalars: one length-delimited run of varints.
                    (Ty::Int32 | Ty::Int64 | Ty::Bool, Wire::Len(run)) => {
                        let mut r = Reader(run);
                        while !r.0.is_empty() {
                            let n = r.varint().ok_or_else(|| bad("truncated packed protobuf field"))?;
                            items.push(scalar(field.ty, Wire::Varint(n))?);
                        }
                    }
                    (ty, wire) => items.push(scalar(ty, wire)?),
                }
            }
            Card::One => {
                let value = scalar(field.ty, wire)?;
                if keep(field, &value) {
                    out.insert(field.name.to_string(), value);
                } else {
                    out.remove(field.name);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

/// Whether Go's JSON of the decoded struct would carry this single value.
fn keep(field: &Field, value: &Value) -> bool {
    let zero = match value {
        Value::Null => return false,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    };
    match field.ty {
        // Structs with their own JSON: a zero one is left for defaulting.
        Ty::Time | Ty::MicroTime | Ty::Quantity | Ty::IntOrString | Ty::Raw if !field.pointer => !zero,
        Ty::M(_) => true,
        _ => field.pointer || !zero || !field.omitempty,
    }
}

fn scalar(ty: Ty, wire: Wire<'_>) -> Result<Value, Error> {
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(match (ty, wire) {
        (Ty::Str, Wire::Len(b)) => json!(utf8(b)?),
        (Ty::Bytes, Wire::Len(b)) => json!(b64.encode(b)),
        (Ty::Int32, Wire::Varint(n)) => json!(n as i64 as i32),
        (Ty::Int64, Wire::Varint(n)) => json!(n as i64),
        (Ty::Bool, Wire::Varint(n)) => json!(n != 0),
        (Ty::Double, Wire::Fixed64(b)) => json!(f64::from_le_bytes(b)),
        (Ty::Time, Wire::Len(b)) => time(b, false)?,
        (Ty::MicroTime, Wire::Len(b)) => time(b, true)?,
        (Ty::Duration, Wire::Len(b)) => duration(b)?,
        (Ty::Quantity, Wire::Len(b)) => json!(string_field(b)?),
        (Ty::IntOrString, Wire::Len(b)) => int_or_string(b)?,
        (Ty::Raw, Wire::Len(b)) => raw(b)?,
        (Ty::M(msg), Wire::Len(b)) => message(b, msg)?,
        _ => return Err(bad("protobuf field with an unexpected wire type")),
    })
}

/// A map entry {key = 1, value = 2}.
fn map_entry(field: &Field, wire: Wire<'_>) -> Result<(String, Value), Error> {
    let Wire::Len(bytes) = wire else { return Err(bad("protobuf map entry is not length-delimited")) };
    let (mut key, mut value) = (String::new(), None);
    for (num, wire) in Reader(bytes) {
        match (num, wire?) {
            (1, Wire::Len(b)) => key = utf8(b)?,
            (2, w) => value = Some(scalar(field.ty, w)?),
            (num, w) => return Err(Error::UnknownField { msg: "a map entry", num, wire: w.code() }),
        }
    }
    // An absent value is the type's zero value.
    let zero = match field.ty {
        Ty::Str | Ty::Bytes | Ty::Quantity => json!(""),
        _ => Value::Null,
    };
    Ok((key, value.unwrap_or(zero)))
}

/// The string at field 1 of a message (resource.Quantity).
fn string_field(bytes: &[u8]) -> Result<String, Error> {
    let mut s = String::new();
    for (num, wire) in Reader(bytes) {
        if let (1, Wire::Len(b)) = (num, wire?) {
            s = utf8(b)?;
        }
    }
    Ok(s)
}

/// intstr.IntOrString {type = 1 (0 int, 1 string), intVal = 2, strVal = 3}.
fn int_or_string(bytes: &[u8]) -> Result<Value, Error> {
    let (mut is_string, mut int, mut string) = (false, 0i32, String::new());
    for (num, wire) in Reader(bytes) {
        match (num, wire?) {
            (1, Wire::Varint(t)) => is_string = t == 1,
            (2, Wire::Varint(n)) => int = n as i64 as i32,
            (3, Wire::Len(b)) => string = utf8(b)?,
            _ => return Err(bad("unexpected field in an IntOrString")),
        }
    }
    Ok(if is_string { json!(string) } else { json!(int) })
}

/// runtime.RawExtension / FieldsV1 {raw = 1}: JSON bytes.
fn raw(bytes: &[u8]) -> Result<Value, Error> {
    let mut out = Value::Null;
    for (num, wire) in Reader(bytes) {
        if let (1, Wire::Len(b)) = (num, wire?) {
            if !b.is_empty() {
                out = serde_json::from_slice(b).map_err(|e| bad(&format!("a raw protobuf field is not JSON: {e}")))?;
            }
        }
    }
    Ok(out)
}

/// metav1.Duration {duration = 1, nanoseconds}: Go's duration string.
fn duration(bytes: &[u8]) -> Result<Value, Error> {
    let mut nanos = 0i64;
    for (num, wire) in Reader(bytes) {
        if let (1, Wire::Varint(n)) = (num, wire?) {
            nanos = n as i64;
        }
    }
    Ok(json!(go_duration(nanos)))
}

/// Go's `time.Duration.String` for whole seconds and above, e.g. `1h2m3s`, `1.5s`, `0s`.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, div) = if n < 1_000 { ("ns", 1) } else if n < 1_000_000 { ("µs", 1_000) } else { ("ms", 1_000_000) };
        return format!("{sign}{}{unit}", trim_fraction(n, div));
    }
    let (h, m) = (n / 3_600_000_000_000, (n / 60_000_000_000) % 60);
    let secs = trim_fraction(n % 60_000_000_000, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{sign}{secs}s"),
        (0, m) => format!("{sign}{m}m{secs}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs}s"),
    }
}

fn trim_fraction(n: u64, div: u64) -> String {
    let (whole, frac) = (n / div, n % div);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = div.to_string().len() - 1;
    let frac = format!("{frac:0digits$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// metav1.Time / MicroTime {seconds = 1, nanos = 2}. An empty message is Go's
/// zero time (what an unset non-pointer Time encodes as): null.
fn time(bytes: &[u8], micro: bool) -> Result<Value, Error> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let (mut seconds, mut nanos) = (0i64, 0i64);
    for (num, wire) in Reader(bytes) {
        match (num, wire?) {
            (1, Wire::Varint(n)) => seconds = n as i64,
            (2, Wire::Varint(n)) => nanos = i64::from(n as i64 as i32),
            _ => {}
        }
    }
    let at = time::OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| bad(&e.to_string()))?;
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let base = at.format(&format).map_err(|e| bad(&e.to_string()))?;
    Ok(json!(if micro { format!("{base}.{:06}Z", nanos / 1000) } else { format!("{base}Z") }))
}

fn utf8(bytes: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::BadRequest("protobuf string is not UTF-8".into()))
}

/// One protobuf field's payload.
enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Fixed64([u8; 8]),
    Fixed32,
}

impl Wire<'_> {
    /// The protobuf wire type number, for messages.
    fn code(&self) -> u64 {
        match self {
            Wire::Varint(_) => 0,
            Wire::Fixed64(_) => 1,
            Wire::Len(_) => 2,
            Wire::Fixed32 => 5,
        }
    }
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
            1 => self.take(8).and_then(|b| b.try_into().ok()).map(Wire::Fixed64),
            5 => self.take(4).map(|_| Wire::Fixed32),
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

    /// A protobuf writer for the tests, as gogo-protobuf writes.
    #[derive(Default, Clone)]
    struct W(Vec<u8>);

    impl W {
        fn varint(mut self, mut n: u64) -> W {
            while n >= 0x80 {
                self.0.push((n as u8) | 0x80);
                n >>= 7;
            }
            self.0.push(n as u8);
            self
        }
        fn tag(self, num: u64, wire: u64) -> W {
            self.varint((num << 3) | wire)
        }
        fn int(self, num: u64, n: i64) -> W {
            self.tag(num, 0).varint(n as u64)
        }
        fn bytes(self, num: u64, b: &[u8]) -> W {
            let mut w = self.tag(num, 2).varint(b.len() as u64);
            w.0.extend_from_slice(b);
            w
        }
        fn str(self, num: u64, s: &str) -> W {
            self.bytes(num, s.as_bytes())
        }
        fn msg(self, num: u64, m: W) -> W {
            self.bytes(num, &m.0)
        }
        fn entry(self, num: u64, k: &str, v: &[u8]) -> W {
            self.msg(num, W::default().str(1, k).bytes(2, v))
        }
    }

    fn envelope(api_version: &str, kind: &str, obj: W) -> Vec<u8> {
        let mut body = MAGIC.to_vec();
        body.extend(W::default().msg(1, W::default().str(1, api_version).str(2, kind)).msg(2, obj).0);
        body
    }

    #[test]
    fn a_configmap_in_the_k8s_envelope_decodes_to_json() {
        let meta = W::default().str(1, "settings").str(2, "").msg(8, W::default());
        let cm = W::default().msg(1, meta).entry(2, "mode", b"canary");
        let obj = decode(&envelope("v1", "ConfigMap", cm)).unwrap();
        assert_eq!(obj, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "canary"}}));
    }

    #[test]
    fn delete_options_of_any_group_version_keep_a_zero_grace_period() {
        let opts = W::default().int(1, 0).msg(2, W::default().str(2, "42")).str(4, "Foreground");
        for api_version in ["v1", "apps/v1"] {
            let obj = decode(&envelope(api_version, "DeleteOptions", opts.clone())).unwrap();
            assert_eq!(obj, json!({"apiVersion": api_version, "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "preconditions": {"resourceVersion": "42"}, "propagationPolicy": "Foreground"}));
        }
    }

    #[test]
    fn secret_data_is_bytes_and_comes_back_base64() {
        let secret = W::default().msg(1, W::default().str(1, "creds")).entry(2, "key", &[0, 159, 255, b'\n']).entry(2, "empty", b"").str(3, "Opaque");
        let obj = decode(&envelope("v1", "Secret", secret)).unwrap();
        assert_eq!(obj["data"], json!({"key": "AJ//Cg==", "empty": ""}));
        assert_eq!(obj["type"], "Opaque");
    }

    #[test]
    fn a_deployment_keeps_pointer_zeros_drops_omitempty_zeros_and_keeps_empty_structs() {
        let container = W::default().str(1, "nginx").str(2, "nginx").msg(8, W::default()).int(16, 0).str(13, "");
        let pod_spec = W::default().msg(2, container);
        let template = W::default().msg(1, W::default().entry(11, "app", b"web").msg(8, W::default())).msg(2, pod_spec);
        let selector = W::default().entry(1, "app", b"web");
        // replicas (1) is *int32: an explicit 0 stays; minReadySeconds (5) is a plain int32: 0 is left out.
        let spec = W::default().int(1, 0).msg(2, selector).msg(3, template).msg(4, W::default()).int(5, 0).int(9, -1);
        let obj = decode(&envelope("apps/v1", "Deployment", W::default().msg(1, W::default().str(1, "web")).msg(2, spec).msg(3, W::default()))).unwrap();
        assert_eq!(obj["spec"]["replicas"], 0);
        assert!(obj["spec"].get("minReadySeconds").is_none());
        assert_eq!(obj["spec"]["progressDeadlineSeconds"], -1, "negative int32 (a 10-byte varint)");
        assert_eq!(obj["spec"]["strategy"], json!({}));
        assert_eq!(obj["status"], json!({}));
        let c = &obj["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c, &json!({"name": "nginx", "image": "nginx", "resources": {}}), "stdin false and empty strings are omitempty");
        assert_eq!(obj["spec"]["template"]["metadata"], json!({"labels": {"app": "web"}}), "a zero creationTimestamp is not 1970");
    }

    #[test]
    fn repeated_scalars_decode_packed_and_unpacked_and_int64_keeps_its_sign() {
        // Job podFailurePolicy.rules[].onExitCodes.values is repeated int32.
        let run = W::default().varint(1).varint(42).varint(-3i64 as u64).0;
        let on_exit = W::default().str(1, "Count").str(2, "In").bytes(3, &run).int(3, 7);
        let rule = W::default().str(1, "FailJob").msg(2, on_exit);
        let policy = W::default().msg(1, rule);
        let spec = W::default().msg(11, policy).int(3, -5);
        let obj = decode(&envelope("batch/v1", "Job", W::default().msg(2, spec))).unwrap();
        let rule = &obj["spec"]["podFailurePolicy"]["rules"][0];
        assert_eq!(rule["onExitCodes"]["values"], json!([1, 42, -3, 7]));
        assert_eq!(rule["onExitCodes"]["operator"], "In");
        assert_eq!(obj["spec"]["activeDeadlineSeconds"], -5, "int64");
    }

    #[test]
    fn int_or_string_quantity_maps_and_bools_read_as_json() {
        let port = W::default().str(1, "http").str(2, "TCP").int(3, 80).msg(4, W::default().int(1, 1).str(3, "web"));
        let spec = W::default().msg(1, port).entry(2, "app", b"web").int(13, 1);
        let svc = decode(&envelope("v1", "Service", W::default().msg(2, spec))).unwrap();
        assert_eq!(svc["spec"]["ports"][0], json!({"name": "http", "protocol": "TCP", "port": 80, "targetPort": "web"}));
        assert_eq!(svc["spec"]["selector"], json!({"app": "web"}));
        assert_eq!(svc["spec"]["publishNotReadyAddresses"], true);
        let limits = W::default().msg(1, W::default().str(1, "cpu").msg(2, W::default().str(1, "500m")));
        let container = W::default().str(1, "c").msg(8, limits);
        let pod = decode(&envelope("v1", "Pod", W::default().msg(2, W::default().msg(2, container)))).unwrap();
        assert_eq!(pod["spec"]["containers"][0]["resources"], json!({"limits": {"cpu": "500m"}}));
        let budget = W::default().msg(1, W::default().int(1, 0).int(2, 0));
        let pdb = decode(&envelope("policy/v1", "PodDisruptionBudget", W::default().msg(2, budget))).unwrap();
        assert_eq!(pdb["spec"]["minAvailable"], 0, "a pointer IntOrString keeps its zero");
    }

    #[test]
    fn an_autoscaler_v2_with_a_cpu_target_decodes_nested_messages() {
        let target_ref = W::default().str(1, "Deployment").str(2, "web").str(3, "apps/v1");
        let target = W::default().str(1, "Utilization").int(4, 80);
        let metric = W::default().str(1, "Resource").msg(4, W::default().str(1, "cpu").msg(2, target));
        let spec = W::default().msg(1, target_ref).int(2, 2).int(3, 5).msg(4, metric);
        let hpa = decode(&envelope("autoscaling/v2", "HorizontalPodAutoscaler", W::default().msg(2, spec))).unwrap();
        assert_eq!(
            hpa["spec"],
            json!({"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"}, "minReplicas": 2, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]})
        );
    }

    #[test]
    fn delete_options_decode_in_any_group_version() {
        for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
            let options = W::default().int(1, 0).msg(2, W::default().str(1, "uid-1")).str(4, "Foreground").str(5, "All");
            let obj = decode(&envelope(api_version, "DeleteOptions", options)).unwrap();
            assert_eq!(obj["gracePeriodSeconds"], 0, "a pointer zero: delete now");
            assert_eq!(obj["preconditions"], json!({"uid": "uid-1"}));
            assert_eq!(obj["propagationPolicy"], "Foreground");
            assert_eq!(obj["dryRun"], json!(["All"]));
        }
    }

    #[test]
    fn times_and_durations_read_as_go_prints_them() {
        assert_eq!(time(&W::default().int(1, 1_700_000_000).0, false).ok(), Some(json!("2023-11-14T22:13:20Z")));
        assert_eq!(time(&W::default().int(1, 1_700_000_000).int(2, 123_456_789).0, true).ok(), Some(json!("2023-11-14T22:13:20.123456Z")));
        assert_eq!(time(&[], false).ok(), Some(Value::Null));
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(go_duration(1_500_000), "1.5ms");
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused_by_name_not_dropped() {
        let err = decode(&envelope("example.com/v1", "Widget", W::default())).unwrap_err();
        assert_eq!(err.code(), 415);
        let spec = W::default().str(99, "x");
        let err = decode(&envelope("apps/v1", "Deployment", W::default().msg(2, spec))).unwrap_err();
        assert_eq!(err.code(), 400);
        assert_eq!(err.to_string(), "apps/v1 Deployment: protobuf field 99 (wire type 2) of io.k8s.api.apps.v1.DeploymentSpec is not known to this server");
        assert_eq!(decode(b"nope").unwrap_err().code(), 400);
        let mut truncated = envelope("v1", "ConfigMap", W::default().msg(1, W::default().str(1, "settings")));
        truncated.pop();
        assert_eq!(decode(&truncated).unwrap_err().code(), 400);
    }
}
