//! The release record: Helm 4's `release.Release` (pkg/release/v1) as the
//! JSON Helm's storage drivers keep, field for field and in Go's field order,
//! with every field this model does not name kept in `extra` so that a record
//! Helm (3 or 4) wrote and gantry rewrites loses nothing. Times stay the text
//! Helm wrote (RFC 3339 with nanoseconds); values stay JSON (Go marshals maps
//! with sorted keys, as `serde_json::Map` keeps them). Also: the chart part
//! of a record built from a loaded chart, and Go's `time.RFC3339Nano`.
//! This file must not talk to a cluster or encode records (`codec` does).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A release's state, as Helm's `common.Status` (any other text is kept).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Status {
    #[default]
    Unknown,
    Deployed,
    Uninstalled,
    Superseded,
    Failed,
    Uninstalling,
    PendingInstall,
    PendingUpgrade,
    PendingRollback,
    /// A status this version does not know, kept as written.
    Other(String),
}

impl Status {
    pub fn as_str(&self) -> &str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
            Status::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Status {
        match s {
            "unknown" => Status::Unknown,
            "deployed" => Status::Deployed,
            "uninstalled" => Status::Uninstalled,
            "superseded" => Status::Superseded,
            "failed" => Status::Failed,
            "uninstalling" => Status::Uninstalling,
            "pending-install" => Status::PendingInstall,
            "pending-upgrade" => Status::PendingUpgrade,
            "pending-rollback" => Status::PendingRollback,
            other => Status::Other(other.to_string()),
        }
    }

    /// Helm's `IsPending`: an operation is under way.
    pub fn is_pending(&self) -> bool {
        matches!(self, Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
        Ok(Status::parse(&String::deserialize(d)?))
    }
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `release.Release`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Info>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<ChartRecord>,
    /// The values the user supplied (`--set`, `-f`), not the chart's.
    #[serde(default, skip_serializing_if = "Map::is_empty", deserialize_with = "null_as_empty")]
    pub config: Map<String, Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// `release.Hook`s, kept as JSON (hooks are run by a later step).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub hooks: Vec<Value>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// `ssa` or `csa`; empty means client-side apply (records before Helm 4).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub apply_method: String,
    /// Custom labels: kept in the storage object's labels, not in the JSON.
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Release {
    pub fn status(&self) -> Status {
        self.info.as_ref().map(|i| i.status.clone()).unwrap_or_default()
    }

    /// Sets status and description (Helm's `SetStatus`).
    pub fn set_status(&mut self, status: Status, description: impl Into<String>) {
        let info = self.info.get_or_insert_with(Info::default);
        info.status = status;
        info.description = description.into();
    }

    pub fn info_mut(&mut self) -> &mut Info {
        self.info.get_or_insert_with(Info::default)
    }

    pub fn description(&self) -> &str {
        self.info.as_ref().map(|i| i.description.as_str()).unwrap_or_default()
    }

    /// The chart's name, version and appVersion, when the record has them.
    pub fn chart_metadata(&self) -> Option<&MetadataRecord> {
        self.chart.as_ref().and_then(|c| c.metadata.as_ref())
    }
}

/// `release.Info`. Helm 3 wrote a zero time as `""`; Helm 4 omits it. Both
/// are read; what was read is written back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_deployed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "is_unknown_default")]
    pub status: Status,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Go omits an empty status; a record always has one, so only "" is skipped.
fn is_unknown_default(s: &Status) -> bool {
    matches!(s, Status::Other(t) if t.is_empty())
}

/// `chart.Chart` (v2) as stored: the top chart only (Go does not marshal
/// subcharts). Nil Go slices and maps are JSON `null`, kept as None.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartRecord {
    #[serde(default)]
    pub metadata: Option<MetadataRecord>,
    #[serde(default)]
    pub lock: Option<Value>,
    #[serde(default)]
    pub templates: Option<Vec<FileRecord>>,
    #[serde(default)]
    pub values: Option<Map<String, Value>>,
    /// values.schema.json, base64 (Go's `[]byte`).
    #[serde(default)]
    pub schema: Option<String>,
    /// Helm 4 always writes it (zero time when there is no schema); Helm 3 did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schemamodtime: Option<String>,
    #[serde(default)]
    pub files: Option<Vec<FileRecord>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modtime: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `common.File`: a name, its bytes in base64, its modification time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modtime: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `chart.Metadata`, every field `omitempty`, in Go's order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataRecord {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub maintainers: Vec<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon: String,
    #[serde(default, rename = "apiVersion", skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tags: String,
    #[serde(default, rename = "appVersion", skip_serializing_if = "String::is_empty")]
    pub app_version: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, rename = "kubeVersion", skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub dependencies: Vec<Value>,
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub chart_type: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Helm value (the engine's model) as JSON, through Go's encoding/json as
/// the engine writes it; None when it cannot be written.
pub fn helm_value_to_json(v: &gantry_helm::value::Value) -> Option<Value> {
    let text = gantry_helm::yaml::json::marshal(v).ok()?;
    serde_json::from_str(&text).ok()
}

fn drop_empty<T: Serialize>(k: &str, v: T, out: &mut Map<String, Value>, keep_empty: bool) {
    let v = serde_json::to_value(v).unwrap_or(Value::Null);
    let empty = match &v {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Bool(b) => !b,
        Value::Null => true,
        _ => false,
    };
    if keep_empty || !empty {
        out.insert(k.to_string(), v);
    }
}

/// The stored form of a loaded chart, as Helm 4's loader and marshaller give
/// it. `dir`: the chart's directory, to date files as Helm's loader does;
/// None (an archive) leaves the times out.
pub fn chart_record(chart: &gantry_helm::chart::Chart, dir: Option<&Path>) -> ChartRecord {
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let mtime = |name: &str| dir.and_then(|d| std::fs::metadata(d.join(name)).ok()).and_then(|m| m.modified().ok()).map(|t| rfc3339_nano(t.into()));
    let file = |f: &gantry_helm::chart::File| FileRecord { name: f.name.clone(), data: b64(&f.data), modtime: mtime(&f.name), extra: Map::new() };
    let md = &chart.metadata;
    let maintainers = md
        .maintainers
        .iter()
        .map(|m| {
            let mut o = Map::new();
            drop_empty("name", &m.name, &mut o, false);
            drop_empty("email", &m.email, &mut o, false);
            drop_empty("url", &m.url, &mut o, false);
            Value::Object(o)
        })
        .collect();
    let dependencies = md
        .dependencies
        .iter()
        .map(|d| {
            let mut o = Map::new();
            drop_empty("name", &d.name, &mut o, true);
            drop_empty("version", &d.version, &mut o, false);
            drop_empty("repository", &d.repository, &mut o, true);
            drop_empty("condition", &d.condition, &mut o, false);
            drop_empty("tags", &d.tags, &mut o, false);
            drop_empty("enabled", d.enabled, &mut o, false);
            let imports: Vec<Value> = d.import_values.iter().filter_map(helm_value_to_json).collect();
            drop_empty("import-values", imports, &mut o, false);
            drop_empty("alias", &d.alias, &mut o, false);
            Value::Object(o)
        })
        .collect();
    let metadata = MetadataRecord {
        name: md.name.clone(),
        home: md.home.clone(),
        sources: md.sources.clone(),
        version: md.version.clone(),
        description: md.description.clone(),
        keywords: md.keywords.clone(),
        maintainers,
        icon: md.icon.clone(),
        api_version: md.api_version.clone(),
        condition: md.condition.clone(),
        tags: md.tags.clone(),
        app_version: md.app_version.clone(),
        deprecated: md.deprecated,
        annotations: md.annotations.clone().unwrap_or_default(),
        kube_version: md.kube_version.clone(),
        dependencies,
        chart_type: md.chart_type.clone(),
        extra: Map::new(),
    };
    let values = match helm_value_to_json(&chart.values) {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    };
    let schema_time = if chart.schema.is_some() { mtime("values.schema.json") } else { None };
    ChartRecord {
        metadata: Some(metadata),
        lock: chart.lock.as_ref().and_then(helm_value_to_json),
        // Go's loader leaves a chart without templates or files with nil slices: null.
        templates: (!chart.templates.is_empty()).then(|| chart.templates.iter().map(file).collect()),
        values,
        schema: chart.schema.as_ref().map(|s| b64(s)),
        schemamodtime: Some(schema_time.unwrap_or_else(|| ZERO_TIME.to_string())),
        files: (!chart.files.is_empty()).then(|| chart.files.iter().map(file).collect()),
        modtime: mtime("Chart.yaml"),
        extra: Map::new(),
    }
}

/// Go's zero `time.Time` as encoding/json writes it.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Go's `time.RFC3339Nano` of a UTC time: the fraction without trailing
/// zeros, none when it is zero.
pub fn rfc3339_nano(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut s = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second());
    let nanos = t.nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Now, as Helm stamps `first_deployed`, `last_deployed` and `deleted`.
pub fn now() -> String {
    rfc3339_nano(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_go_writes_rfc3339nano() {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_795_736_933_450_515_200).unwrap();
        assert_eq!(rfc3339_nano(t), "2026-11-26T23:48:53.4505152Z");
        let t = time::OffsetDateTime::from_unix_timestamp(1_795_736_933).unwrap();
        assert_eq!(rfc3339_nano(t), "2026-11-26T23:48:53Z");
    }

    #[test]
    fn a_helm3_record_keeps_its_empty_deleted_time_and_unknown_fields() {
        let json = r#"{"name":"a","info":{"first_deployed":"2020-01-01T00:00:00Z","last_deployed":"2020-01-01T00:00:00Z","deleted":"","description":"Install complete","status":"deployed","future":1},"chart":{"metadata":{"name":"c","version":"1","apiVersion":"v2","x-new":true},"lock":null,"templates":null,"values":null,"schema":null,"files":null},"config":{"b":1,"a":{"c":[1,2.5,"x"]}},"manifest":"m","version":3,"namespace":"ns","somethingNew":{"k":"v"}}"#;
        let r: Release = serde_json::from_str(json).unwrap();
        assert_eq!(r.status(), Status::Deployed);
        assert_eq!(r.info.as_ref().unwrap().deleted.as_deref(), Some(""));
        let back: Value = serde_json::to_value(&r).unwrap();
        let orig: Value = serde_json::from_str(json).unwrap();
        assert_eq!(back, orig);
    }

    #[test]
    fn an_unknown_status_is_kept() {
        let r: Release = serde_json::from_str(r#"{"info":{"status":"paused"}}"#).unwrap();
        assert_eq!(r.status(), Status::Other("paused".into()));
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"info":{"status":"paused"}}"#);
    }
}
