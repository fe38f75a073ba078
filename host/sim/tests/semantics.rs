//! Real-server semantics of lists held against kube-rs and raw requests:
//! paged lists (`limit`/`continue`) read the collection as it was at their
//! first page's resourceVersion, whatever is created, changed or deleted
//! between pages; `remainingItemCount` as etcd counts it (only on unfiltered
//! lists); continue tokens in the real format; a token older than the kept
//! history is 410 Expired with the real message and a fresh token that
//! continues at the latest version; `resourceVersion` with
//! `resourceVersionMatch` (Exact, NotOlderThan, the legacy exact read of a
//! paged list) and the ListOptions validation. Each test starts its own
//! cluster (controllers off: nothing but the test writes) on 127.0.0.1.
//! Timeouts are hang guards only.

use std::time::Duration;

use base64::Engine;
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::kubeconfig;
use gantry_sim::{ApiServer, ServerConfig};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, VersionMatch};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, ResourceExt};
use serde_json::{json, Value};

const TOKEN: &str = "semantics-admin";
const HANG_GUARD: Duration = Duration::from_secs(60);
const NS: &str = "paging";

async fn start(history: usize) -> (ApiServer, Client) {
    let auth = Authenticator::default();
    auth.add_token(TOKEN, Identity::admin("admin"));
    let mut config = ServerConfig::new("semantics", auth);
    config.controllers = false;
    config.history = history;
    let server = ApiServer::start(config).await.expect("server starts");
    let text = kubeconfig::render(&[server.kubeconfig_entry(TOKEN)]).expect("kubeconfig renders");
    let kubeconfig = Kubeconfig::from_yaml(&text).expect("kube-rs reads the kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("kube-rs config");
    config.proxy_url = None;
    // The 504 of a too new resourceVersion is checked as answered, not retried.
    config.default_retry = false;
    let client = Client::try_from(config).expect("kube-rs client");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    guard("namespace", namespaces.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap())).await.unwrap();
    (server, client)
}

async fn guard<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, fut).await.unwrap_or_else(|_| panic!("hung: {what}"))
}

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "paging"}}, "data": {"k": value}})).unwrap()
}

async fn create(api: &Api<ConfigMap>, names: &[&str]) {
    for name in names {
        guard("create", api.create(&PostParams::default(), &cm(name, "v1"))).await.expect("created");
    }
}

fn names(list: &kube::core::ObjectList<ConfigMap>) -> Vec<String> {
    list.items.iter().map(|c| c.name_any()).collect()
}

fn token_json(token: &str) -> String {
    String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).expect("base64url without padding")).unwrap()
}

fn api_error(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A GET of `path_and_query` as raw JSON (or the error Status).
async fn raw(client: &Client, path_and_query: &str) -> Result<Value, kube::core::Status> {
    let mut request = kube::core::Request::new("/api/v1/namespaces").list(&ListParams::default()).unwrap();
    *request.uri_mut() = path_and_query.parse().unwrap();
    match guard("raw request", client.request_text(request)).await {
        Ok(text) => Ok(serde_json::from_str(&text).unwrap()),
        Err(e) => Err(api_error(e)),
    }
}

#[tokio::test]
async fn a_paged_list_reads_the_collection_as_it_was_at_its_first_page() {
    let (_server, client) = start(1000).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    create(&cms, &["a", "b", "c", "d", "e"]).await;

    let first = guard("page 1", cms.list(&ListParams::default().limit(2))).await.unwrap();
    assert_eq!(names(&first), ["a", "b"]);
    assert_eq!(first.metadata.remaining_item_count, Some(3));
    let rv: u64 = first.metadata.resource_version.clone().unwrap().parse().unwrap();
    let token = first.metadata.continue_.clone().expect("a continue token");
    assert_eq!(token_json(&token), format!(r#"{{"v":"meta.k8s.io/v1","rv":{rv},"start":"b\u0000"}}"#), "the real server's token format");

    // Between pages: one deleted, one created where the next page reads, one changed.
    guard("delete", cms.delete("c", &DeleteParams::default())).await.unwrap();
    guard("create", cms.create(&PostParams::default(), &cm("bb", "new"))).await.unwrap();
    let patch = Patch::Merge(json!({"data": {"k": "changed"}}));
    guard("patch", cms.patch("d", &PatchParams::default(), &patch)).await.unwrap();

    let second = guard("page 2", cms.list(&ListParams::default().limit(2).continue_token(&token))).await.unwrap();
    assert_eq!(names(&second), ["c", "d"], "as it was: c still there, bb not yet");
    assert_eq!(second.items[1].data.as_ref().unwrap()["k"], "v1", "d as it was");
    assert_eq!(second.metadata.resource_version.as_deref(), Some(rv.to_string().as_str()), "every page is at the first page's version");
    assert_eq!(second.metadata.remaining_item_count, Some(1));
    let token = second.metadata.continue_.clone().expect("a continue token");
    let third = guard("page 3", cms.list(&ListParams::default().limit(2).continue_token(&token))).await.unwrap();
    assert_eq!(names(&third), ["e"]);
    assert!(third.metadata.continue_.is_none() && third.metadata.remaining_item_count.is_none(), "the last page");

    let now = guard("list", cms.list(&ListParams::default())).await.unwrap();
    assert_eq!(names(&now), ["a", "b", "bb", "d", "e"]);
    assert_eq!(now.items[3].data.as_ref().unwrap()["k"], "changed");

    // A selector filters: the real server does not count what is left then.
    let labelled = guard("labelled", cms.list(&ListParams::default().labels("app=paging").limit(2))).await.unwrap();
    assert_eq!(names(&labelled), ["a", "b"]);
    assert!(labelled.metadata.continue_.is_some() && labelled.metadata.remaining_item_count.is_none());
}

#[tokio::test]
async fn paging_across_namespaces_names_keys_by_namespace_and_name() {
    let (_server, client) = start(1000).await;
    create(&Api::namespaced(client.clone(), NS), &["x"]).await;
    create(&Api::namespaced(client.clone(), "default"), &["y"]).await;
    let all: Api<ConfigMap> = Api::all(client.clone());
    let first = guard("page 1", all.list(&ListParams::default().limit(1))).await.unwrap();
    assert_eq!(names(&first), ["y"]);
    assert!(token_json(first.metadata.continue_.as_deref().unwrap()).ends_with(r#""start":"default/y\u0000"}"#));
    let rest = guard("page 2", all.list(&ListParams::default().limit(1).continue_token(first.metadata.continue_.as_deref().unwrap()))).await.unwrap();
    assert_eq!(names(&rest), ["x"]);
}

#[tokio::test]
async fn a_continue_token_older_than_the_history_is_expired_with_a_token_to_go_on() {
    let (_server, client) = start(4).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    create(&cms, &["a", "b", "c"]).await;
    let first = guard("page 1", cms.list(&ListParams::default().limit(1))).await.unwrap();
    let token = first.metadata.continue_.clone().unwrap();
    for n in 0..5 {
        let patch = Patch::Merge(json!({"data": {"k": format!("v{n}")}}));
        guard("patch", cms.patch("c", &PatchParams::default(), &patch)).await.unwrap();
    }
    let status = api_error(guard("expired", cms.list(&ListParams::default().limit(1).continue_token(&token))).await.unwrap_err());
    assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
    assert_eq!(
        status.message,
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
    );
    let fresh = status.metadata.and_then(|m| m.continue_).expect("a fresh token in the Status");
    assert_eq!(token_json(&fresh), r#"{"v":"meta.k8s.io/v1","rv":-1,"start":"a\u0000"}"#);
    let rest = guard("go on", cms.list(&ListParams::default().limit(5).continue_token(&fresh))).await.unwrap();
    assert_eq!(names(&rest), ["b", "c"], "the remainder, at the latest version");
    assert_eq!(rest.items[1].data.as_ref().unwrap()["k"], "v4");

    let garbage = raw(&client, &format!("/api/v1/namespaces/{NS}/configmaps?limit=1&continue=not-a-token")).await.unwrap_err();
    assert_eq!(garbage.code, 400);
    assert!(garbage.message.starts_with("invalid continue token: continue key is not valid"), "{}", garbage.message);
}

#[tokio::test]
async fn resource_version_and_its_match_read_as_the_real_server_reads_them() {
    let (_server, client) = start(1000).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    create(&cms, &["a", "b"]).await;
    let then = guard("list", cms.list(&ListParams::default())).await.unwrap().metadata.resource_version.unwrap();
    guard("delete", cms.delete("a", &DeleteParams::default())).await.unwrap();
    create(&cms, &["c"]).await;

    let exact = ListParams { resource_version: Some(then.clone()), version_match: Some(VersionMatch::Exact), ..Default::default() };
    let old = guard("exact", cms.list(&exact)).await.unwrap();
    assert_eq!((names(&old), old.metadata.resource_version.as_deref()), (vec!["a".to_string(), "b".to_string()], Some(then.as_str())));
    let legacy = guard("legacy", cms.list(&ListParams { resource_version: Some(then.clone()), limit: Some(1), ..Default::default() })).await.unwrap();
    assert_eq!(names(&legacy), ["a"], "a paged list at a resourceVersion reads exactly there");
    let not_older = ListParams { resource_version: Some(then.clone()), version_match: Some(VersionMatch::NotOlderThan), ..Default::default() };
    assert_eq!(names(&guard("not older", cms.list(&not_older)).await.unwrap()), ["b", "c"]);
    assert_eq!(names(&guard("any", cms.list(&ListParams::default().match_any())).await.unwrap()), ["b", "c"]);

    let future = raw(&client, &format!("/api/v1/namespaces/{NS}/configmaps?resourceVersion=999999&resourceVersionMatch=NotOlderThan")).await.unwrap_err();
    assert_eq!((future.code, future.reason.as_str()), (504, "Timeout"));
    assert!(future.message.starts_with("Too large resource version: 999999, current: "), "{}", future.message);

    let alone = raw(&client, &format!("/api/v1/namespaces/{NS}/configmaps?resourceVersionMatch=Exact")).await.unwrap_err();
    assert_eq!((alone.code, alone.reason.as_str()), (422, "Invalid"));
    assert_eq!(alone.message, r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"#);
    let zero = raw(&client, &format!("/api/v1/namespaces/{NS}/configmaps?resourceVersion=0&resourceVersionMatch=Exact")).await.unwrap_err();
    assert!(zero.message.ends_with(r#"resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0""#), "{}", zero.message);

    let page = guard("page", cms.list(&ListParams::default().limit(1))).await.unwrap();
    let both = raw(&client, &format!("/api/v1/namespaces/{NS}/configmaps?limit=1&resourceVersion={then}&continue={}", page.metadata.continue_.unwrap())).await.unwrap_err();
    assert_eq!((both.code, both.message.as_str()), (400, "specifying resource version is not allowed when using continue"));
}

#[tokio::test]
async fn an_exact_read_older_than_the_history_is_expired() {
    let (_server, client) = start(3).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    create(&cms, &["a"]).await;
    let then = guard("list", cms.list(&ListParams::default())).await.unwrap().metadata.resource_version.unwrap();
    create(&cms, &["b", "c", "d", "e"]).await;
    let exact = ListParams { resource_version: Some(then), version_match: Some(VersionMatch::Exact), ..Default::default() };
    let status = api_error(guard("exact", cms.list(&exact)).await.unwrap_err());
    assert_eq!((status.code, status.reason.as_str(), status.message.as_str()), (410, "Expired", "The resourceVersion for the provided list is too old."));
}
