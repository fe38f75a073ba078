//! `gantry helm template` as a user meets it: the built binary over the
//! engine's test charts (and a chart written here that exercises Helm's
//! splitting, kind order and hooks), with Helm's flags, compared byte for
//! byte with real Helm. The oracle (helm-python-sdk in `GANTRY_HELM_PYTHON`,
//! else /tmp/helmvenv/bin/python) renders with `host/helm/tests/oracle_render.py`
//! and [`ORACLE`] assembles stdout as `helm template` does (the steps in
//! `host/cli/src/commands/helm.rs`); whenever the flags allow, it first
//! checks its assembly against the release manifest of Helm's own
//! `install --dry-run=client`. Without the oracle these tests fail under
//! `CI` and are skipped (with a message) otherwise. Bad input is checked
//! for exit code 2 and Helm's words on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

/// Assembles `helm template`'s stdout from Helm's render; one JSON answer
/// per request: `{"ok": true, "stdout": …}` or `{"ok": false, "error": …}`.
const ORACLE: &str = r##"
import json, re, sys
sys.path.insert(0, sys.argv[1])
import oracle_render
import helm_python as helm

ORDER = ["PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
EVENTS = {"pre-install", "post-install", "pre-delete", "post-delete", "pre-upgrade", "post-upgrade", "pre-rollback", "post-rollback", "test", "test-success"}


def split(text):
    # releaseutil.SplitManifests (Helm 4.2.3)
    return [d.lstrip() for d in re.split(r"(?:^|[\t\n\f\r ]*\n)---[\t\n\f\r ]*", text.lstrip()) if d.strip()]


def kind_key(doc):
    k = doc["kind"]
    return (0, ORDER.index(k), "") if k in ORDER else (1, 0, k)


def glob(pattern):
    # Go's filepath.Match for the patterns the tests use: * and ? stay within a segment.
    return re.compile("".join({"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c)) for c in pattern) + r"\Z")


def oracle_values(req):
    values = dict(req.get("values") or {})
    for path in req.get("values_files") or []:
        with open(path, encoding="utf-8") as f:
            values = oracle_render.merge(values, oracle_render.load_values(f.read()))
    for key, parse in (("set_json", helm.parse_set_json), ("set", helm.parse_set_string), ("set_string", helm.parse_set_string_values)):
        for expr in req.get(key) or []:
            values = oracle_render.merge(values, parse(expr))
    return values


def template(req):
    rendered = oracle_render.render(req)
    if not rendered["ok"]:
        return rendered
    files = {k: v for k, v in rendered["manifests"].items() if not k.endswith("NOTES.txt")}
    check = not any(req.get(k) for k in ("include_crds", "kube_version", "api_versions", "is_upgrade"))
    if check:
        # Helm's own release (install, client dry run): its errors (YAML in
        # the output) are the answer; its manifest checks the assembly below.
        ns = req.get("namespace") or "default"
        try:
            rel = helm.Config(storage_driver="memory", namespace=ns).install(req["chart"], req.get("release_name") or "release-name", oracle_values(req), namespace=ns, dry_run="client")
        except helm.HelmError as e:
            return {"ok": False, "error": str(e)}
    hooks, manifests = [], []
    for path in sorted(files):
        content = files[path]
        if path.rsplit("/", 1)[-1].startswith("_") or not content.strip():
            continue
        for doc in split(content):
            head = helm.values_from_yaml(doc) or {}
            meta = head.get("metadata") or {}
            hook = (meta.get("annotations") or {}).get("helm.sh/hook")
            entry = {"path": path, "content": doc, "kind": head.get("kind") or ""}
            if hook is None:
                manifests.append(entry)
                continue
            events = [e.strip().lower() for e in hook.split(",")]
            if all(e in EVENTS for e in events):
                entry["test"] = "test" in events or "test-success" in events
                hooks.append(entry)
    hooks.sort(key=kind_key)
    manifests.sort(key=kind_key)
    release = ""
    if req.get("include_crds"):
        with helm.Chart.load(req["chart"]) as chart:
            for crd in chart.crds:
                release += "---\n# Source: %s\n%s\n" % (crd["filename"], crd["data"])
    for m in manifests:
        release += "---\n# Source: %s\n%s\n" % (m["path"], m["content"])
    if check:
        if rel["manifest"] != release:
            return {"ok": False, "error": "oracle self-check failed: the assembly differs from Helm's release manifest", "helm": rel["manifest"], "ours": release}
    out = release.strip() + "\n"
    if not req.get("no_hooks"):
        for h in hooks:
            if not (req.get("skip_tests") and h["test"]):
                out += "---\n# Source: %s\n%s\n" % (h["path"], h["content"])
    if req.get("show_only"):
        docs, shown = split(out), ""
        for pattern in req["show_only"]:
            missing = True
            for d in docs:
                m = re.search(r"# Source: [^/]+/(.+)", d)
                if m and glob(pattern).match(m.group(1)):
                    shown += "---\n%s\n" % d
                    missing = False
            if missing:
                return {"ok": False, "error": "could not find template %s in chart" % pattern}
        out = shown
    return {"ok": True, "stdout": out}


json.dump([template(r) for r in json.load(sys.stdin)], sys.stdout)
"##;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chart(name: &str) -> String {
    repo_root().join("host/helm/tests/charts").join(name).to_string_lossy().into_owned()
}

fn gantry(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gantry"))
        .current_dir(dir)
        .arg("helm")
        .arg("template")
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("HELM_NAMESPACE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}


/// Helm's answers for `requests` (see [`ORACLE`]); None when the oracle is
/// missing and `CI` is unset.
fn oracle(requests: &Value) -> Option<Vec<Value>> {
    let python = gantry_helm::oracle::python()?;
    let mut child = Command::new(python)
        .args(["-c", ORACLE, &repo_root().join("host/helm/tests").to_string_lossy()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), requests.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    Some(answers)
}

/// One case: gantry's flags, and the same request for the oracle.
struct Case {
    args: Vec<String>,
    request: Value,
}

fn case(args: &[&str], request: Value) -> Case {
    Case { args: args.iter().map(|s| s.to_string()).collect(), request }
}

/// Runs every case through gantry and the oracle and compares stdout (and,
/// for Helm's errors, exit 2 and Helm's message on stderr).
fn compare(dir: &Path, cases: &[Case]) {
    let requests = Value::Array(cases.iter().map(|c| c.request.clone()).collect());
    let Some(answers) = oracle(&requests) else { return };
    for (c, answer) in cases.iter().zip(answers) {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let out = gantry(dir, &args);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if answer["ok"] == true {
            assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
            let want = answer["stdout"].as_str().unwrap();
            if stdout != want {
                panic!("{args:?}: stdout differs from helm template's\n--- gantry\n{stdout}\n--- helm\n{want}");
            }
        } else {
            let error = answer["error"].as_str().unwrap();
            assert!(!error.starts_with("oracle self-check"), "{args:?}: {answer}");
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains(error), "{args:?}: stderr lacks Helm's words {error:?}: {stderr}");
            assert!(stdout.is_empty(), "{args:?}: {stdout}");
        }
    }
}

/// A chart that exercises what `helm template` does after rendering: multi-
/// document templates cut at `---` lines (with comments, `---` glued to a
/// key, empty documents), kinds in and out of Helm's install order, hooks
/// of several kinds (one test hook, one with an unknown event), partials,
/// empty templates and NOTES.
fn write_hooks_chart(root: &Path) -> PathBuf {
    let c = root.join("hooks");
    let files: &[(&str, &str)] = &[
        ("Chart.yaml", "apiVersion: v2\nname: hooks\nversion: 0.1.0\n"),
        ("values.yaml", "replicas: 1\nname: web\n"),
        ("templates/NOTES.txt", "notes are never printed {{ .Release.Name }}\n"),
        ("templates/_helpers.tpl", "{{ define \"hooks.name\" }}{{ .Release.Name }}-{{ .Values.name }}{{ end }}\n"),
        ("templates/empty.yaml", "{{- if false }}\nkind: Nothing\n{{- end }}\n  \n"),
        (
            "templates/multi.yaml",
            "\n\n# leading comment\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"hooks.name\" . }}\nspec:\n  replicas: {{ .Values.replicas }}\n---\n---  # a comment after the separator\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include \"hooks.name\" . }}\n---apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: glued\n--- \n# only a comment\n---\napiVersion: example.com/v1\nkind: Zebra\nmetadata:\n  name: z\n---\napiVersion: example.com/v1\nkind: Aardvark\nmetadata:\n  name: a\n\n\n",
        ),
        ("templates/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ .Release.Namespace }}\n  annotations:\n    note: not a hook\n"),
        (
            "templates/hooks.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    \"helm.sh/hook\": pre-install,pre-upgrade\n    \"helm.sh/hook-weight\": \"-5\"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: post\n  annotations:\n    helm.sh/hook: \" Post-Install \"\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: skipped\n  annotations:\n    helm.sh/hook: post-install,bogus\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: early-hook\n  annotations:\n    helm.sh/hook: post-delete\n    helm.sh/hook-weight: 5\n",
        ),
        ("templates/tests/test.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ include \"hooks.name\" . }}-test\n  annotations:\n    helm.sh/hook: test-success\n"),
        ("templates/release.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: release\ndata:\n  install: {{ .Release.IsInstall | quote }}\n  upgrade: {{ .Release.IsUpgrade | quote }}\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n  api: {{ .Capabilities.APIVersions.Has \"example.com/v9\" | quote }}\n"),
    ];
    for (name, text) in files {
        let p = c.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    c
}

#[test]
fn helm_template_matches_helm_over_the_engines_charts() {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("over.yaml");
    std::fs::write(&values, "replicaCount: 3\ningress:\n  enabled: true\nautoscaling:\n  enabled: true\n---\nserviceAccount:\n  name: from-second-doc\n").unwrap();
    let later = dir.path().join("later.yaml");
    std::fs::write(&later, "replicaCount: 4\n").unwrap();
    let (scaffold, values, later) = (chart("scaffold"), values.to_string_lossy().into_owned(), later.to_string_lossy().into_owned());
    let fastapi = repo_root().join("helm/fastapi-app").to_string_lossy().into_owned();
    let prod = repo_root().join("host/helm/tests/cases/webapp/production.yaml").to_string_lossy().into_owned();
    let cases = [
        case(&[&scaffold], json!({"chart": scaffold})),
        case(
            &["my-rel", &scaffold, "-n", "prod", "-f", &values, "--values", &later, "--set", "image.tag=1.2.3,service.port=8080", "--set-string", "podAnnotations.n=42"],
            json!({"chart": scaffold, "release_name": "my-rel", "namespace": "prod", "values_files": [values, later], "set": ["image.tag=1.2.3,service.port=8080"], "set_string": ["podAnnotations.n=42"]}),
        ),
        case(&[&scaffold, "-f", &format!("{later},{values}"), "--skip-tests"], json!({"chart": scaffold, "values_files": [later, values], "skip_tests": true})),
        case(&[&scaffold, "--no-hooks", "--set-json", r#"podLabels={"team":"a","tier":"b"}"#], json!({"chart": scaffold, "no_hooks": true, "set_json": [r#"podLabels={"team":"a","tier":"b"}"#]})),
        case(&["sub", &chart("subcharts"), "--namespace", "ns1"], json!({"chart": chart("subcharts"), "release_name": "sub", "namespace": "ns1"})),
        case(&[&chart("subcharts"), "--set", "tags.monitoring=true,web.enabled=false"], json!({"chart": chart("subcharts"), "set": ["tags.monitoring=true,web.enabled=false"]})),
        case(&[&chart("notes-crds")], json!({"chart": chart("notes-crds")})),
        case(&[&chart("notes-crds"), "--include-crds"], json!({"chart": chart("notes-crds"), "include_crds": true})),
        case(&[&chart("notes-crds"), "--include-crds", "-s", "charts/withnotes/crds/gadget.yaml", "-s", "templates/*"], json!({"chart": chart("notes-crds"), "include_crds": true, "show_only": ["charts/withnotes/crds/gadget.yaml", "templates/*"]})),
        case(&["fast", &fastapi, "--set", "replicaCount=2"], json!({"chart": fastapi, "release_name": "fast", "set": ["replicaCount=2"]})),
        case(&[&chart("globals")], json!({"chart": chart("globals")})),
        case(&[&chart("files")], json!({"chart": chart("files")})),
        // The corpus's production-style chart, on a library chart, with Sprig's hashes.
        case(&["web", &chart("webapp")], json!({"chart": chart("webapp"), "release_name": "web"})),
        case(
            &["shop", &chart("webapp"), "-n", "prod", "-f", &prod, "--kube-version", "v1.30.2", "-a", "monitoring.coreos.com/v1", "--is-upgrade"],
            json!({"chart": chart("webapp"), "release_name": "shop", "namespace": "prod", "values_files": [prod], "kube_version": "v1.30.2", "api_versions": ["monitoring.coreos.com/v1"], "is_upgrade": true, "is_install": false}),
        ),
    ];
    compare(dir.path(), &cases);
}

#[test]
fn helm_template_splits_orders_and_prints_hooks_as_helm() {
    let dir = tempfile::tempdir().unwrap();
    let c = write_hooks_chart(dir.path()).to_string_lossy().into_owned();
    let cases = [
        case(&["r", &c], json!({"chart": c, "release_name": "r"})),
        case(&["r", &c, "--skip-tests", "-n", "other"], json!({"chart": c, "release_name": "r", "namespace": "other", "skip_tests": true})),
        case(&["r", &c, "--no-hooks"], json!({"chart": c, "release_name": "r", "no_hooks": true})),
        case(&["r", &c, "--is-upgrade"], json!({"chart": c, "release_name": "r", "is_upgrade": true, "is_install": false})),
        case(&["r", &c, "--kube-version", "1.29.3", "-a", "example.com/v9", "--api-versions", "x/v1,y/v2"], json!({"chart": c, "release_name": "r", "kube_version": "1.29.3", "api_versions": ["example.com/v9", "x/v1", "y/v2"]})),
        case(&["r", &c, "-s", "templates/multi.yaml"], json!({"chart": c, "release_name": "r", "show_only": ["templates/multi.yaml"]})),
        case(&["r", &c, "--show-only", "templates/hooks.yaml", "-s", "templates/*.yaml"], json!({"chart": c, "release_name": "r", "show_only": ["templates/hooks.yaml", "templates/*.yaml"]})),
        case(&["r", &c, "-s", "templates/tests/test.yaml", "--skip-tests"], json!({"chart": c, "release_name": "r", "show_only": ["templates/tests/test.yaml"], "skip_tests": true})),
        case(&["r", &c, "-s", "templates/nothere.yaml"], json!({"chart": c, "release_name": "r", "show_only": ["templates/nothere.yaml"]})),
    ];
    compare(dir.path(), &cases);
}

#[test]
fn helm_template_set_file_literal_and_name_flags() {
    let dir = tempfile::tempdir().unwrap();
    let c = chart("scaffold");
    std::fs::write(dir.path().join("tag.txt"), "from-a-file").unwrap();
    let cases = [
        // --set-file key=path is the file's text as a string value.
        case(&[&c, "--set-file", "image.tag=tag.txt"], json!({"chart": c, "values": {"image": {"tag": "from-a-file"}}})),
        // --set-literal keeps commas and dots.
        case(&[&c, "--set-literal", "fullnameOverride=a,b.c"], json!({"chart": c, "values": {"fullnameOverride": "a,b.c"}})),
        // --name-template is a Sprig template; --generate-name keeps `release-name` in `helm template`.
        case(&[&c, "--name-template", "{{ \"Named\" | lower }}-{{ add 1 2 }}"], json!({"chart": c, "release_name": "named-3"})),
        case(&[&c, "-g"], json!({"chart": c})),
    ];
    compare(dir.path(), &cases);
}

#[test]
fn helm_template_reports_helms_errors_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // Render and schema errors in Helm's words (from the oracle), and YAML
    // that Helm cannot read in the output (Helm's words from its own install).
    let write = |chart: &str, template: &str| {
        let c = dir.path().join(chart);
        std::fs::create_dir_all(c.join("templates")).unwrap();
        std::fs::write(c.join("Chart.yaml"), format!("apiVersion: v2\nname: {chart}\nversion: 0.1.0\n")).unwrap();
        std::fs::write(c.join("templates/t.yaml"), template).unwrap();
        c.to_string_lossy().into_owned()
    };
    let bad_yaml = write("badyaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\nkind: [unclosed\nmetadata: {}\n");
    let bad_head = write("badhead", "apiVersion: v1\nkind: ConfigMap\nmetadata: just-a-string\n");
    let bad_annotation = write("badannotation", "kind: ConfigMap\nmetadata:\n  annotations: [x]\n");
    let cases = [
        case(&[&chart("required-fail"), "--set", "mode=db"], json!({"chart": chart("required-fail"), "set": ["mode=db"]})),
        case(&[&chart("required-fail"), "--set", "mode=fail"], json!({"chart": chart("required-fail"), "set": ["mode=fail"]})),
        case(&[&chart("parse-error")], json!({"chart": chart("parse-error")})),
        case(&[&chart("schema"), "--set", "replicaCount=20"], json!({"chart": chart("schema"), "set": ["replicaCount=20"]})),
        case(&[&bad_yaml], json!({"chart": bad_yaml})),
        case(&[&bad_head], json!({"chart": bad_head})),
        case(&[&bad_annotation], json!({"chart": bad_annotation})),
    ];
    compare(dir.path(), &cases);
    for c in [&bad_yaml, &bad_head] {
        let out = gantry(dir.path(), &[c]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("\n\nUse --debug flag to render out invalid YAML"));
    }
    // Errors before rendering, worded as Helm's command words them.
    let scaffold = chart("scaffold");
    let expect = |args: &[&str], words: &str| {
        let out = gantry(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(words), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    };
    expect(&["./missing-chart"], r#"path "./missing-chart" not found"#);
    expect(&[&scaffold, "--set", "a=b,{c"], "failed parsing --set data");
    expect(&[&scaffold, "-f", "nothere.yaml"], "open nothere.yaml: no such file or directory");
    expect(&["Bad_Name", &scaffold], r#"release name "Bad_Name": invalid release name"#);
    expect(&["n", &scaffold, "-g"], "cannot set --generate-name and also specify a name");
    expect(&["a", &scaffold, "c"], "expected at most two arguments, unexpected arguments: c");
    expect(&[&scaffold, "--kube-version", "banana"], "invalid kube version 'banana'");
    // --skip-schema-validation lets the values the schema refuses through.
    let out = gantry(dir.path(), &[&chart("schema"), "--set", "replicaCount=20", "--skip-schema-validation"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("---\n# Source: schema/templates/schema.yaml\nreplicas: 20\n"));
    let out = gantry(dir.path(), &[&scaffold, "-s", "templates/nothere.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not find template templates/nothere.yaml in chart"));
}

#[test]
fn helm_template_output_dir_writes_each_template_to_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let c = write_hooks_chart(dir.path());
    let out = gantry(dir.path(), &["r", &c.to_string_lossy(), "--output-dir", "out"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // As Helm: a `wrote` line per document written, then the (empty) manifest's newline.
    assert!(stdout.contains("wrote out/hooks/templates/multi.yaml\n"), "{stdout}");
    assert!(stdout.ends_with("\n\n") || stdout.ends_with("yaml\n\n"), "{stdout:?}");
    let multi = std::fs::read_to_string(dir.path().join("out/hooks/templates/multi.yaml")).unwrap();
    assert!(multi.starts_with("---\n# Source: hooks/templates/multi.yaml\n"), "{multi}");
    assert_eq!(multi.matches("# Source: hooks/templates/multi.yaml").count(), 6, "{multi}");
    // Hooks are appended to their template's file.
    let hooks = std::fs::read_to_string(dir.path().join("out/hooks/templates/hooks.yaml")).unwrap();
    assert_eq!(hooks.matches("# Source: hooks/templates/hooks.yaml").count(), 3, "{hooks}");
    assert!(!dir.path().join("out/hooks/templates/NOTES.txt").exists());
    // --release-name puts the files under DIR/NAME.
    let out = gantry(dir.path(), &["r", &c.to_string_lossy(), "--output-dir", "out2", "--release-name", "--no-hooks"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrote out2/r/hooks/templates/multi.yaml\n"));
    assert!(dir.path().join("out2/r/hooks/templates/namespace.yaml").exists());
    assert!(!dir.path().join("out2/r/hooks/templates/hooks.yaml").exists(), "--no-hooks writes no hooks");
}

/// `--dry-run=server`: `lookup` reads the cluster of `--kubeconfig` (its
/// current context, or `--kube-context`); without it lookup answers empty
/// maps. The cluster is simulated in-process; Helm's own
/// `install --dry-run=server` against the same cluster must print the same
/// release manifest (the chart has no hooks, so it is all of stdout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_template_dry_run_server_looks_up_the_kubeconfig_cluster() {
    use gantry_runtime::cluster::{ApplyOptions, ClusterBackend};
    use gantry_sim::auth::{Authenticator, Identity};
    use gantry_sim::{kubeconfig, ApiServer, ServerConfig};

    let auth = Authenticator::default();
    auth.add_token("cli-admin", Identity::admin("admin"));
    let mut config = ServerConfig::new("live", auth);
    config.controllers = false;
    let server = ApiServer::start(config).await.expect("server starts");
    let target = gantry_cluster::Target::static_token("live", gantry_cluster::Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) }, "cli-admin");
    let backend = gantry_cluster::KubeBackend::new("live", target.connect().await.expect("connects"));
    let settings = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"}, "data": {"mode": "fast", "replicas": "2"}});
    backend.apply(&settings, ApplyOptions::default()).await.expect("applies");

    let dir = tempfile::tempdir().unwrap();
    let live = server.kubeconfig_entry("cli-admin");
    let mut dead = live.clone();
    dead.name = "dead".into();
    dead.server = "https://127.0.0.1:1".into();
    let mut in_apps = live.clone();
    in_apps.name = "in-apps".into();
    in_apps.namespace = Some("apps".into());
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, kubeconfig::render(&[live, dead, in_apps]).unwrap()).unwrap();
    let chart = dir.path().join("lk");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: lk\nversion: 0.1.0\n").unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "{{- $s := lookup \"v1\" \"ConfigMap\" .Release.Namespace \"settings\" }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-out\ndata:\n  mode: {{ dig \"data\" \"mode\" \"unknown\" $s | quote }}\n  found: {{ empty $s | not | quote }}\n  kinds: {{ len (default (list) (lookup \"v1\" \"ConfigMap\" \"\" \"\").items) | quote }}\n  caps: \"{{ .Capabilities.KubeVersion.Major }}.{{ .Capabilities.KubeVersion.Minor }} {{ .Capabilities.APIVersions.Has \"apps/v1/Deployment\" }} {{ .Capabilities.APIVersions.Has \"apps/v1\" }}\"\n  version: \"{{ .Capabilities.KubeVersion }} {{ .Capabilities.KubeVersion.Version }} {{ semverCompare \">=1.30.0\" .Capabilities.KubeVersion.Version }}\"\n  default-only: \"{{ .Capabilities.APIVersions.Has \"policy/v1beta1\" }}\"\n",
    )
    .unwrap();
    let (chart_s, kubeconfig_s) = (chart.to_string_lossy().into_owned(), kubeconfig.to_string_lossy().into_owned());
    let run = |args: Vec<String>| {
        let dir = dir.path().to_path_buf();
        async move { tokio::task::spawn_blocking(move || gantry(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>())).await.unwrap() }
    };
    let args = |extra: &[&str]| -> Vec<String> { ["r", chart_s.as_str(), "--kubeconfig", kubeconfig_s.as_str()].iter().chain(extra).map(|s| s.to_string()).collect() };

    let out = run(args(&["--dry-run=server"])).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("  mode: \"fast\"\n  found: \"true\"\n"), "{stdout}");
    // The cluster's version (v1.32.0-gantry-sim) as Helm's server dry run takes it:
    // the gitVersion whole (a pre-release to semver, so `>=1.30.0` is false), not
    // Helm's default (v1.36.0); the API versions the cluster serves, without Helm's
    // default set (which has policy/v1beta1).
    assert!(stdout.contains("  caps: \"1.32 true true\"\n"), "the cluster's capabilities: {stdout}");
    assert!(stdout.contains("  version: \"v1.32.0-gantry-sim v1.32.0-gantry-sim false\"\n  default-only: \"false\"\n"), "the cluster's version and API versions: {stdout}");

    // Without --dry-run=server (or with =client), lookup answers empty maps.
    for extra in [&[][..], &["--dry-run=client"][..], &["--dry-run"][..]] {
        let out = run(args(extra)).await;
        let client = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(client.contains("  mode: \"unknown\"\n  found: \"false\"\n  kinds: \"0\"\n"), "{extra:?}: {client}");
    }
    // The context's namespace is the release's (no settings ConfigMap there), unless -n says otherwise.
    let out = run(args(&["--dry-run=server", "--kube-context", "in-apps"])).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("  mode: \"unknown\"\n  found: \"false\"\n"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(args(&["--dry-run=server", "--kube-context", "in-apps", "-n", "default"])).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("  mode: \"fast\"\n"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(args(&["--dry-run=none"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: invalid dry-run value (\"none\"). Must be \"server\" or \"client\"\n");
    let out = run(args(&["--dry-run=server", "--kube-context", "dead"])).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error: Kubernetes cluster unreachable: ") && stderr.contains("`dead`") && stderr.contains("connection refused"), "{stderr}");

    // Real Helm's server dry run against the same cluster.
    let Some(python) = gantry_helm::oracle::python() else { return };
    let script = "import json, sys\nimport helm_python as helm\nwith helm.Config(kubeconfig_path=sys.argv[1], namespace='default') as cfg:\n    rel = cfg.install(sys.argv[2], 'r', {}, namespace='default', dry_run='server')\nprint(json.dumps(rel['manifest']))\n";
    let helm = tokio::task::spawn_blocking(move || Command::new(python).args(["-c", script, &kubeconfig_s, &chart_s]).output().unwrap()).await.unwrap();
    assert!(helm.status.success(), "{}", String::from_utf8_lossy(&helm.stderr));
    let manifest: String = serde_json::from_slice(&helm.stdout).unwrap();
    assert_eq!(stdout, format!("{}\n", manifest.trim()));
}
