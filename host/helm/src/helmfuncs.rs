//! Helm's own template functions and objects, as Helm v4's `pkg/engine`
//! defines them: `include`, `tpl`, `required`, `fail`, `lookup` (through a
//! [`Lookup`] the caller provides; an empty map without one, as `helm
//! template` answers), and the objects templates see besides `.Values`:
//! `.Capabilities` (KubeVersion, APIVersions with `Has`, HelmVersion) and
//! `.Release`. (`getHostByName` without DNS is Sprig's part.) It does not parse
//! or execute templates (the template set does, through
//! [`Host`](crate::func::Host)), build `.Chart` or `.Files` (`chart` does),
//! nor decide scopes (that is `engine`'s).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::func::{arity, string_arg, Call, FuncError, FuncMap, Host};
use crate::value::{Member, Object, Value};

/// Helm's limit on how often one named template may be included inside
/// itself (`recursionMaxNums`).
pub const INCLUDE_RECURSION_MAX: usize = 1000;

/// The markers Helm wraps `required` and `fail` messages in, so the engine
/// can report them as `execution error at (…): message`.
pub const WARN_START: &str = "HELM_ERR_START";
pub const WARN_END: &str = "HELM_ERR_END";

fn warn_wrap(msg: &str) -> String {
    format!("{WARN_START}{msg}{WARN_END}")
}

/// The cluster behind `lookup`: the live object (a map), a list (a map with
/// `items`) when `name` is empty, or an empty map when there is none (not
/// found is not an error, as Helm's lookup answers); an `Err` is reported
/// as `error calling lookup: …`.
pub trait Lookup: Send + Sync {
    fn lookup(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Result<Value, String>;
}

/// Adds Helm's functions to `funcs` (after Sprig and the YAML functions,
/// so Helm's `fail` replaces Sprig's). `included` is the render's shared
/// count of nested includes per name (Helm's `includedNames`).
pub fn register(funcs: &mut FuncMap, lookup: Option<Arc<dyn Lookup>>) {
    let included: Arc<Mutex<HashMap<String, usize>>> = Arc::default();

    let counts = included.clone();
    funcs.add_with_host("include", move |call: &mut Call<'_>, args: &[Value]| {
        arity("include", args, 2)?;
        let name = string_arg(args, 0)?;
        include(call.host, &counts, name, &args[1]).map(Value::String)
    });

    funcs.add_with_host("tpl", move |call: &mut Call<'_>, args: &[Value]| {
        arity("tpl", args, 2)?;
        let text = string_arg(args, 0)?;
        tpl(call.host, text, &args[1]).map(Value::from)
    });

    funcs.add("required", |args: &[Value]| {
        arity("required", args, 2)?;
        let warn = string_arg(args, 0)?;
        match &args[1] {
            Value::Nil => Err(FuncError::call(warn_wrap(warn))),
            Value::String(s) if s.is_empty() => Err(FuncError::call(warn_wrap(warn))),
            v => Ok(v.clone()),
        }
    });

    funcs.add("fail", |args: &[Value]| {
        arity("fail", args, 1)?;
        Err(FuncError::call(warn_wrap(string_arg(args, 0)?)))
    });

    funcs.add("lookup", move |args: &[Value]| {
        arity("lookup", args, 4)?;
        let (a, k, ns, n) = (string_arg(args, 0)?, string_arg(args, 1)?, string_arg(args, 2)?, string_arg(args, 3)?);
        match &lookup {
            None => Ok(Value::empty_map()),
            Some(l) => l.lookup(a, k, ns, n).map_err(FuncError::call),
        }
    });
}

/// Helm's `include`: the named template's output, counting how deep the
/// same name nests (`rendering template has a nested reference name`).
fn include(host: &mut dyn Host, counts: &Mutex<HashMap<String, usize>>, name: &str, data: &Value) -> Result<crate::value::Str, FuncError> {
    {
        let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
        // The name is copied only the first time it is included.
        match c.get_mut(name) {
            Some(n) => {
                if *n > INCLUDE_RECURSION_MAX {
                    return Err(FuncError::call(format!("rendering template has a nested reference name: {name}: unable to execute template")));
                }
                *n += 1;
            }
            None => {
                c.insert(name.to_string(), 1);
            }
        }
    }
    let out = host.execute_named_go(name, data);
    {
        let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = c.get_mut(name) {
            *n = n.saturating_sub(1);
        }
    }
    out.map_err(|e| FuncError::call(e.to_string()))
}

/// Helm's `tpl`: `text` parsed as a template (named `gotpl`, as Helm names
/// it) in the render's set and executed with `data`; `<no value>` removed.
/// The host gives one error for parse and execution failures; Go's parse
/// errors never say `executing "…"`, which tells them apart.
fn tpl(host: &mut dyn Host, text: &str, data: &Value) -> Result<crate::value::Str, FuncError> {
    match host.execute_text_go(text, data) {
        Ok(out) if out.is_utf8() => Ok(crate::value::Str::from(out.replace("<no value>", ""))),
        // Go's bytes, `<no value>` cut out of them.
        Ok(out) => {
            let (b, pat) = (out.go_bytes(), b"<no value>");
            let mut kept = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                if b[i..].starts_with(pat) {
                    i += pat.len();
                } else {
                    kept.push(b[i]);
                    i += 1;
                }
            }
            Ok(crate::value::Str::from_bytes(kept))
        }
        Err(e) => {
            let inner = e.to_string();
            let quoted = crate::template::fmt::quote(text);
            if inner.contains(": executing \"") || !inner.starts_with("template: ") {
                Err(FuncError::call(format!("error during tpl function execution for {quoted}: {inner}")))
            } else {
                Err(FuncError::call(format!("cannot parse template {quoted}: {inner}")))
            }
        }
    }
}

// ---------------------------------------------------------------- .Release

/// `.Release` as Helm v4 builds it: a `map[string]interface{}`.
pub fn release(name: &str, namespace: &str, revision: i64, is_install: bool, is_upgrade: bool) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Name".into(), Value::str(name));
    m.insert("Namespace".into(), Value::str(namespace));
    m.insert("Revision".into(), Value::int(revision));
    m.insert("IsInstall".into(), Value::Bool(is_install));
    m.insert("IsUpgrade".into(), Value::Bool(is_upgrade));
    m.insert("Service".into(), Value::str("Helm"));
    Value::map(m)
}

// ---------------------------------------------------------- .Capabilities

/// The Kubernetes version Helm v4.2 assumes without a cluster (its
/// client-go's: v0.36 → v1.36.0).
pub const DEFAULT_KUBE_VERSION: &str = "v1.36.0";

/// Helm v4.2.3's `DefaultVersionSet`: every group/version its client-go
/// scheme knows, in the scheme's priority order (asked of the oracle).
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha2",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// `common.KubeVersion`: the version as given (`v` prefixed), its
/// normalized form (what `{{ .Capabilities.KubeVersion }}` prints), Major, Minor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeVersion {
    pub version: String,
    pub normalized: String,
    pub major: String,
    pub minor: String,
}

impl KubeVersion {
    /// Helm's `ParseKubeVersion`: k8s' `ParseGeneric` (leading spaces, an
    /// optional `v`, two or more dot-separated numbers, anything after them
    /// ignored), with k8s' error words; `Version` is the input, `v`-prefixed.
    pub fn parse(s: &str) -> Result<KubeVersion, String> {
        let rest = s.trim_start_matches([' ', '\t', '\n', '\r', '\u{c}']);
        let rest = rest.strip_prefix('v').unwrap_or(rest);
        // `[0-9]+(\.[0-9]+)*`, greedy.
        let mut end = 0;
        let b = rest.as_bytes();
        loop {
            let start = end;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start {
                // A dot not followed by digits is not part of the numbers.
                end = start.saturating_sub(1);
                break;
            }
            if end < b.len() && b[end] == b'.' && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
                end += 1;
            } else {
                break;
            }
        }
        if end == 0 {
            return Err(format!("could not parse {} as version", crate::template::fmt::quote(s)));
        }
        let components: Vec<&str> = rest[..end].split('.').collect();
        if components.len() < 2 {
            return Err(format!("illegal version string {}", crate::template::fmt::quote(s)));
        }
        let mut nums = Vec::with_capacity(components.len());
        for (i, c) in components.iter().enumerate() {
            if i == 0 && c.starts_with('0') && *c != "0" {
                return Err(format!("illegal zero-prefixed version component {} in {}", crate::template::fmt::quote(c), crate::template::fmt::quote(s)));
            }
            let n: u64 = c.parse().map_err(|_| {
                format!("illegal non-numeric version component {} in {}: strconv.ParseUint: parsing {}: value out of range", crate::template::fmt::quote(c), crate::template::fmt::quote(s), crate::template::fmt::quote(c))
            })?;
            nums.push(n);
        }
        let normalized = format!("v{}", nums.iter().map(u64::to_string).collect::<Vec<_>>().join("."));
        let version = if s.starts_with('v') { s.to_string() } else { format!("v{s}") };
        Ok(KubeVersion { version, normalized, major: nums[0].to_string(), minor: nums[1].to_string() })
    }
}

impl KubeVersion {
    /// The version a cluster reports (`/version`), as Helm's server-side
    /// operations take it (`Configuration.getCapabilities`): the
    /// `gitVersion` whole (`v1.31.4-eks-1a2b3c`) is both `.Version` and what
    /// it prints, and `Major`/`Minor` are the server's own (`31+` on some
    /// providers). A chart's `kubeVersion` is then checked against the whole
    /// gitVersion, a pre-release to semver, as Helm checks it.
    pub fn from_server(git_version: &str, major: &str, minor: &str) -> KubeVersion {
        KubeVersion { version: git_version.to_string(), normalized: git_version.to_string(), major: major.to_string(), minor: minor.to_string() }
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> String {
        "common.KubeVersion".into()
    }
    fn member(&self, name: &str) -> Option<Member> {
        match name {
            "Version" => Some(Member::Field(Value::str(self.version.as_str()))),
            "Major" => Some(Member::Field(Value::str(self.major.as_str()))),
            "Minor" => Some(Member::Field(Value::str(self.minor.as_str()))),
            "String" => {
                let s = self.normalized.clone();
                Some(Member::Method(Arc::new(move |args: &[Value]| {
                    arity("String", args, 0)?;
                    Ok(Value::str(s.as_str()))
                })))
            }
            "GitVersion" => {
                let s = self.version.clone();
                Some(Member::Method(Arc::new(move |args: &[Value]| {
                    arity("GitVersion", args, 0)?;
                    Ok(Value::str(s.as_str()))
                })))
            }
            _ => None,
        }
    }
    /// What `{{ .Capabilities.KubeVersion }}` prints: Go finds the pointer
    /// receiver's `String` on the addressable field. (`printf "%v"` of the
    /// field would print the struct; knowingly not reproduced.)
    fn format(&self) -> String {
        self.normalized.clone()
    }
    fn marshal(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Version".into(), Value::str(self.version.as_str()));
        m.insert("Major".into(), Value::str(self.major.as_str()));
        m.insert("Minor".into(), Value::str(self.minor.as_str()));
        Value::map(m)
    }
}

/// `common.VersionSet`: the API versions, with `Has`. Shared, not
/// copied, by every `.Capabilities.APIVersions` and `Has` that reads it.
#[derive(Debug, Clone)]
pub struct VersionSet(pub Arc<[String]>);

impl Object for VersionSet {
    fn type_name(&self) -> String {
        "common.VersionSet".into()
    }
    fn kind(&self) -> &'static str {
        "slice"
    }
    fn truthy(&self) -> bool {
        !self.0.is_empty()
    }
    fn member(&self, name: &str) -> Option<Member> {
        match name {
            "Has" => {
                let set = self.0.clone();
                Some(Member::Method(Arc::new(move |args: &[Value]| {
                    arity("Has", args, 1)?;
                    let v = string_arg(args, 0)?;
                    Ok(Value::Bool(set.iter().any(|s| s == v)))
                })))
            }
            _ => None,
        }
    }
    fn format(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn marshal(&self) -> Value {
        Value::strings(self.0.iter().map(String::as_str))
    }
}

/// `version.BuildInfo` of Helm v4.2.3 as the oracle's build reports it.
#[derive(Debug, Clone)]
pub struct HelmVersion {
    pub version: String,
    pub git_commit: String,
    pub git_tree_state: String,
    pub go_version: String,
    pub kube_client_version: String,
}

impl Default for HelmVersion {
    fn default() -> HelmVersion {
        HelmVersion { version: "v4.2".into(), git_commit: String::new(), git_tree_state: String::new(), go_version: "go1.26.6".into(), kube_client_version: "v1.36".into() }
    }
}

impl Object for HelmVersion {
    fn type_name(&self) -> String {
        "version.BuildInfo".into()
    }
    fn member(&self, name: &str) -> Option<Member> {
        let v = match name {
            "Version" => &self.version,
            "GitCommit" => &self.git_commit,
            "GitTreeState" => &self.git_tree_state,
            "GoVersion" => &self.go_version,
            "KubeClientVersion" => &self.kube_client_version,
            _ => return None,
        };
        Some(Member::Field(Value::str(v.as_str())))
    }
    fn format(&self) -> String {
        format!("{{{} {} {} {} {}}}", self.version, self.git_commit, self.git_tree_state, self.go_version, self.kube_client_version)
    }
    fn marshal(&self) -> Value {
        let mut m = BTreeMap::new();
        for (k, v) in [("version", &self.version), ("git_commit", &self.git_commit), ("git_tree_state", &self.git_tree_state), ("go_version", &self.go_version), ("kube_client_version", &self.kube_client_version)] {
            if !v.is_empty() || k == "version" {
                m.insert(k.to_string(), Value::str(v.as_str()));
            }
        }
        Value::map(m)
    }
}

/// `*common.Capabilities`.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub kube_version: KubeVersion,
    pub api_versions: VersionSet,
    pub helm_version: HelmVersion,
}

impl Capabilities {
    /// Helm's capabilities for `helm template`: `kube_version` (or Helm's
    /// default) and the default API versions followed by `extra_api_versions`.
    pub fn new(kube_version: Option<&str>, extra_api_versions: &[String]) -> Result<Capabilities, String> {
        let kube_version = KubeVersion::parse(kube_version.unwrap_or(DEFAULT_KUBE_VERSION))?;
        // Helm's default set alone (nearly every render) is made once per process.
        static DEFAULT_SET: std::sync::OnceLock<Arc<[String]>> = std::sync::OnceLock::new();
        let api: Arc<[String]> = if extra_api_versions.is_empty() {
            DEFAULT_SET.get_or_init(|| DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect()).clone()
        } else {
            DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).chain(extra_api_versions.iter().cloned()).collect()
        };
        Ok(Capabilities { kube_version, api_versions: VersionSet(api), helm_version: HelmVersion::default() })
    }

    /// A cluster's capabilities, as Helm's server-side operations read
    /// them: its version (see [`KubeVersion::from_server`]) and the API
    /// versions it serves, without Helm's default set.
    pub fn from_cluster(kube_version: KubeVersion, api_versions: Vec<String>) -> Capabilities {
        Capabilities { kube_version, api_versions: VersionSet(api_versions.into()), helm_version: HelmVersion::default() }
    }
}

impl Object for Capabilities {
    fn type_name(&self) -> String {
        "*common.Capabilities".into()
    }
    fn kind(&self) -> &'static str {
        "ptr"
    }
    fn member(&self, name: &str) -> Option<Member> {
        match name {
            "KubeVersion" => Some(Member::Field(Value::Object(Arc::new(self.kube_version.clone())))),
            "APIVersions" => Some(Member::Field(Value::Object(Arc::new(self.api_versions.clone())))),
            "HelmVersion" => Some(Member::Field(Value::Object(Arc::new(self.helm_version.clone())))),
            _ => None,
        }
    }
    fn format(&self) -> String {
        let k = &self.kube_version;
        format!("&{{{{{} {} {} {}}} {} {}}}", k.version, k.normalized, k.major, k.minor, self.api_versions.format(), self.helm_version.format())
    }
    fn marshal(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("KubeVersion".into(), self.kube_version.marshal());
        m.insert("APIVersions".into(), self.api_versions.marshal());
        m.insert("HelmVersion".into(), self.helm_version.marshal());
        Value::map(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host that executes nothing, for calling functions directly.
    struct NoHost;

    impl Host for NoHost {
        fn execute_named(&mut self, name: &str, _: &Value) -> Result<String, FuncError> {
            Err(FuncError::call(format!("no template {name:?}")))
        }
        fn execute_text(&mut self, _: &str, _: &Value) -> Result<String, FuncError> {
            Err(FuncError::call("no templates"))
        }
    }

    /// A host whose every named template includes itself again, as
    /// `{{ define "loop" }}{{ include "loop" . }}{{ end }}` does.
    struct LoopHost {
        funcs: FuncMap,
        executions: usize,
    }

    impl Host for LoopHost {
        fn execute_named(&mut self, name: &str, data: &Value) -> Result<String, FuncError> {
            self.executions += 1;
            let include = self.funcs.get("include").cloned().ok_or_else(|| FuncError::call("no include"))?;
            let mut call = Call { name: "include", host: self };
            match include(&mut call, &[Value::str(name), data.clone()]) {
                Ok(v) => Ok(v.as_str().unwrap_or_default().to_string()),
                Err(e) => Err(FuncError::call(format!("template: loop: error calling include: {e}"))),
            }
        }
        fn execute_text(&mut self, _: &str, _: &Value) -> Result<String, FuncError> {
            Err(FuncError::call("no templates"))
        }
    }

    #[test]
    fn include_stops_a_runaway_recursion_where_helm_does() {
        let mut funcs = FuncMap::new();
        register(&mut funcs, None);
        let include = funcs.get("include").cloned().unwrap();
        let mut host = LoopHost { funcs, executions: 0 };
        let mut call = Call { name: "include", host: &mut host };
        let err = include(&mut call, &[Value::str("loop"), Value::Nil]).unwrap_err().to_string();
        // Oracle (tpl-include/recursion): 1002 include calls, the last refused.
        assert_eq!(host.executions, 1001);
        assert_eq!(err.matches("error calling include:").count(), 1001);
        assert!(err.ends_with("error calling include: rendering template has a nested reference name: loop: unable to execute template"), "{}", &err[err.len() - 200..]);
        // The count unwinds: the next include starts afresh.
        let mut host2 = LoopHost { funcs: host.funcs.clone(), executions: 0 };
        let mut call = Call { name: "include", host: &mut host2 };
        assert!(include(&mut call, &[Value::str("loop"), Value::Nil]).is_err());
        assert_eq!(host2.executions, 1001);
    }

    #[test]
    fn kube_versions_parse_as_helm_does() {
        // Oracle: kube_version "1.29.3-gke.1" → Version v1.29.3-gke.1, String v1.29.3, 1, 29.
        let k = KubeVersion::parse("1.29.3-gke.1").unwrap();
        assert_eq!((k.version.as_str(), k.normalized.as_str(), k.major.as_str(), k.minor.as_str()), ("v1.29.3-gke.1", "v1.29.3", "1", "29"));
        // Oracle: "1.31" → v1.31 everywhere.
        let k = KubeVersion::parse("1.31").unwrap();
        assert_eq!((k.version.as_str(), k.normalized.as_str()), ("v1.31", "v1.31"));
        // Oracle: k8s' generic parse keeps any number of components and ignores what follows them.
        let k = KubeVersion::parse("1.2.3.4").unwrap();
        assert_eq!((k.version.as_str(), k.normalized.as_str()), ("v1.2.3.4", "v1.2.3.4"));
        let k = KubeVersion::parse("v1.30.2+k3s1").unwrap();
        assert_eq!((k.version.as_str(), k.normalized.as_str(), k.minor.as_str()), ("v1.30.2+k3s1", "v1.30.2", "30"));
        assert_eq!(KubeVersion::parse("1.02").unwrap().normalized, "v1.2");
        assert_eq!(KubeVersion::parse("99999999999999999999.1").unwrap_err(), "illegal non-numeric version component \"99999999999999999999\" in \"99999999999999999999.1\": strconv.ParseUint: parsing \"99999999999999999999\": value out of range");
        assert_eq!(KubeVersion::parse("banana").unwrap_err(), "could not parse \"banana\" as version");
        assert_eq!(KubeVersion::parse("v1").unwrap_err(), "illegal version string \"v1\"");
        assert_eq!(KubeVersion::parse("01.2").unwrap_err(), "illegal zero-prefixed version component \"01\" in \"01.2\"");
    }

    #[test]
    fn capabilities_print_and_marshal_as_helm() {
        let c = Capabilities::new(Some("1.29.3-gke.1"), &["example.com/v1".into()]).unwrap();
        assert_eq!(c.api_versions.0.len(), 56);
        assert_eq!(c.helm_version.format(), "{v4.2   go1.26.6 v1.36}");
        assert!(c.format().starts_with("&{{v1.29.3-gke.1 v1.29.3 1 29} [v1 admissionregistration.k8s.io/v1 "));
        let Some(Member::Method(has)) = c.api_versions.member("Has") else { panic!("Has") };
        assert!(matches!(has(&[Value::str("example.com/v1")]), Ok(Value::Bool(true))));
        assert!(matches!(has(&[Value::str("apps/v1/Deployment")]), Ok(Value::Bool(false))));
        let hv = c.helm_version.marshal();
        assert_eq!(hv.as_map().unwrap().keys().collect::<Vec<_>>(), ["go_version", "kube_client_version", "version"]);
    }

    #[test]
    fn required_and_fail_wrap_their_messages() {
        let mut f = FuncMap::new();
        register(&mut f, None);
        let mut host = NoHost;
        let mut call = Call { name: "required", host: &mut host };
        let req = f.get("required").unwrap();
        assert_eq!(req(&mut call, &[Value::str("need x"), Value::Nil]).unwrap_err(), FuncError::call("HELM_ERR_STARTneed xHELM_ERR_END"));
        assert!(req(&mut call, &[Value::str("need x"), Value::str("")]).is_err());
        // Oracle (required-fail/zero-values): 0, false and [] are not missing.
        assert!(req(&mut call, &[Value::str("m"), Value::Float(0.0)]).is_ok());
        assert!(req(&mut call, &[Value::str("m"), Value::Bool(false)]).is_ok());
        let fail = f.get("fail").unwrap();
        assert_eq!(fail(&mut call, &[Value::str("bad")]).unwrap_err(), FuncError::call("HELM_ERR_STARTbadHELM_ERR_END"));
        let lookup = f.get("lookup").unwrap();
        let v = lookup(&mut call, &[Value::str("v1"), Value::str("Secret"), Value::str("ns"), Value::str("x")]).unwrap();
        assert!(v.as_map().is_some_and(|m| m.is_empty()));
    }
}
