//! The run lock against in-process simulated clusters (gantry-sim's API
//! server on 127.0.0.1): a lease is taken, renewed and given back; a second
//! run fails naming the holder and since when, or waits and gets it once the
//! first lets go; an expired lease is taken over with leaseTransitions + 1;
//! of two runs racing exactly one wins; a lock someone else takes is
//! reported lost. Durations are short (1–2 s); waits poll with hang guards
//! only and nothing asserts an upper bound on time.

use std::time::Duration;

use gantry_cluster::lease::{lease_name, LockError, LockOptions, RunLock, MANAGED_BY};
use gantry_cluster::{Endpoint, Target};
use gantry_sim::auth::{Authenticator, Identity};
use gantry_sim::{ApiServer, ServerConfig};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use kube::Client;

const TOKEN: &str = "lease-admin";
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn start(name: &str) -> ApiServer {
    let auth = Authenticator::default();
    auth.add_token(TOKEN, Identity::admin("admin"));
    ApiServer::start(ServerConfig::new(name, auth)).await.expect("server starts")
}

async fn client(server: &ApiServer) -> Client {
    let target = Target::static_token("sim", Endpoint { url: server.url(), ca_pem: Some(server.ca_pem().to_string()) }, TOKEN);
    target.connect().await.expect("connects")
}

fn short(timeout: Duration) -> LockOptions {
    LockOptions { duration: Duration::from_secs(1), timeout, poll: Duration::from_millis(100) }
}

async fn read(client: &Client, ns: &str, release: &str) -> Lease {
    Api::<Lease>::namespaced(client.clone(), ns).get(&lease_name(release)).await.expect("the lease exists")
}

fn holder(lease: &Lease) -> Option<String> {
    lease.spec.as_ref().and_then(|s| s.holder_identity.clone())
}

#[tokio::test]
async fn a_lock_is_taken_renewed_and_released() {
    let server = start("lock-basic").await;
    let c = client(&server).await;
    let lock = RunLock::acquire(c.clone(), "aws", "fastapi-app", "default", "run A on host h (pid 1)", &short(Duration::ZERO)).await.expect("takes the lock");
    assert_eq!(lock.name(), "gantry-lock.fastapi-app");
    let first = read(&c, "default", "fastapi-app").await;
    let spec = first.spec.clone().expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("run A on host h (pid 1)"));
    assert_eq!(spec.lease_duration_seconds, Some(1));
    assert_eq!(spec.lease_transitions, Some(0));
    assert!(spec.acquire_time.is_some());
    assert_eq!(first.metadata.labels.as_ref().and_then(|l| l.get(MANAGED_BY.0)).map(String::as_str), Some(MANAGED_BY.1));

    // Renewed in the background: renewTime moves on, the holder and acquireTime stay.
    let first_renew = spec.renew_time.clone().expect("renewTime").0;
    let renewed = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let now = read(&c, "default", "fastapi-app").await;
            if now.spec.as_ref().and_then(|s| s.renew_time.clone()).is_some_and(|t| t.0 > first_renew) {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("hung waiting for a renewal");
    assert_eq!(holder(&renewed).as_deref(), Some("run A on host h (pid 1)"));
    assert_eq!(renewed.spec.as_ref().and_then(|s| s.acquire_time.clone()), spec.acquire_time);

    lock.release().await.expect("releases");
    assert_eq!(holder(&read(&c, "default", "fastapi-app").await), None, "the holder is cleared");
    // Free again: the next run takes it at once, one transition later.
    let next = RunLock::acquire(c.clone(), "aws", "fastapi-app", "default", "run B on host h (pid 2)", &short(Duration::ZERO)).await.expect("free again");
    let after = read(&c, "default", "fastapi-app").await;
    assert_eq!(holder(&after).as_deref(), Some("run B on host h (pid 2)"));
    assert_eq!(after.spec.and_then(|s| s.lease_transitions), Some(1));
    next.release().await.expect("releases");
}

#[tokio::test]
async fn a_second_run_fails_naming_the_holder_and_since_when() {
    let server = start("lock-held").await;
    let c = client(&server).await;
    let first = RunLock::acquire(c.clone(), "aws", "fastapi-app", "apps", "run 20261126T195001Z-abc on host h (pid 123)", &short(Duration::ZERO))
        .await
        .expect("first takes it (creating the namespace)");
    let err = RunLock::acquire(c.clone(), "aws", "fastapi-app", "apps", "run B on host h (pid 2)", &short(Duration::ZERO)).await.err().expect("the second is refused");
    let since = read(&c, "apps", "fastapi-app").await.spec.and_then(|s| s.acquire_time).expect("acquireTime").0.round(k8s_openapi::jiff::Unit::Second).unwrap().to_string();
    assert!(matches!(err, LockError::Locked { .. }), "{err}");
    let message = err.to_string();
    assert_eq!(
        message,
        format!("release fastapi-app on target aws is locked by run 20261126T195001Z-abc on host h (pid 123) since {since}; it expires unless renewed; wait, or pass --lock-timeout")
    );
    // The first holder is untouched.
    assert_eq!(holder(&read(&c, "apps", "fastapi-app").await).as_deref(), Some("run 20261126T195001Z-abc on host h (pid 123)"));
    first.release().await.expect("releases");
}

#[tokio::test]
async fn a_waiting_run_gets_the_lock_once_the_first_releases() {
    let server = start("lock-wait").await;
    let c = client(&server).await;
    let patient = LockOptions { duration: Duration::from_secs(2), ..short(Duration::ZERO) };
    let first = RunLock::acquire(c.clone(), "gcp", "web", "default", "run A", &patient).await.expect("first");
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move { RunLock::acquire(c, "gcp", "web", "default", "run B", &short(HANG_GUARD)).await })
    };
    // The waiter is still waiting while A renews (A's renewals keep it live).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiter.is_finished(), "B must wait while A holds the lock");
    assert_eq!(holder(&read(&c, "default", "web").await).as_deref(), Some("run A"));
    first.release().await.expect("A releases");
    let second = tokio::time::timeout(HANG_GUARD, waiter).await.expect("hung").expect("joins").expect("B gets it");
    assert_eq!(holder(&read(&c, "default", "web").await).as_deref(), Some("run B"));
    second.release().await.expect("B releases");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_with_one_more_transition() {
    let server = start("lock-expired").await;
    let c = client(&server).await;
    // A crashed run: a lease nobody renews, renewed last an hour ago.
    let stale: Lease = serde_json::from_value(serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "gantry-lock.api", "namespace": "default", "labels": {"app.kubernetes.io/managed-by": "gantry"}},
        "spec": {
            "holderIdentity": "run CRASHED on host gone (pid 9)", "leaseDurationSeconds": 2,
            "acquireTime": "2026-01-01T00:00:00.000000Z", "renewTime": "2026-01-01T00:00:01.000000Z", "leaseTransitions": 4
        }
    }))
    .expect("a lease");
    Api::<Lease>::namespaced(c.clone(), "default").create(&PostParams::default(), &stale).await.expect("creates the stale lease");
    let lock = RunLock::acquire(c.clone(), "aws", "api", "default", "run NEW", &short(Duration::ZERO)).await.expect("takes over the expired lease");
    let lease = read(&c, "default", "api").await;
    let spec = lease.spec.expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("run NEW"));
    assert_eq!(spec.lease_transitions, Some(5));
    assert!(spec.acquire_time.expect("acquireTime").0.as_second() > 1_767_225_601, "acquireTime is the takeover's");
    lock.release().await.expect("releases");
}

#[tokio::test]
async fn a_lease_held_by_a_crashed_run_expires_then_is_taken() {
    let server = start("lock-crash").await;
    let c = client(&server).await;
    let crashed = RunLock::acquire(c.clone(), "aws", "svc", "default", "run CRASHES", &short(Duration::ZERO)).await.expect("first");
    // Dropped without release: renewals stop, the holder stays until it expires.
    drop(crashed);
    assert_eq!(holder(&read(&c, "default", "svc").await).as_deref(), Some("run CRASHES"));
    let lock = RunLock::acquire(c.clone(), "aws", "svc", "default", "run NEXT", &short(HANG_GUARD)).await.expect("taken once expired");
    let spec = read(&c, "default", "svc").await.spec.expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("run NEXT"));
    assert_eq!(spec.lease_transitions, Some(1));
    lock.release().await.expect("releases");
}

#[tokio::test]
async fn of_two_runs_racing_exactly_one_wins() {
    let server = start("lock-race").await;
    let c = client(&server).await;
    for round in 0..5 {
        let release = format!("race-{round}");
        let run = |who: &'static str| {
            let (c, release) = (c.clone(), release.clone());
            tokio::spawn(async move { RunLock::acquire(c, "aws", &release, "default", who, &short(Duration::ZERO)).await })
        };
        let (a, b) = (run("run A"), run("run B"));
        let (a, b) = (a.await.expect("joins"), b.await.expect("joins"));
        let (winner, loser, name) = match (a, b) {
            (Ok(w), Err(l)) => (w, l, "run A"),
            (Err(l), Ok(w)) => (w, l, "run B"),
            (Ok(_), Ok(_)) => panic!("round {round}: both runs took the lock"),
            (Err(a), Err(b)) => panic!("round {round}: neither took the lock: {a}; {b}"),
        };
        assert!(matches!(loser, LockError::Locked { .. }), "the loser is told who holds it: {loser}");
        assert!(loser.to_string().contains(&format!("locked by {name} since")), "{loser}");
        assert_eq!(holder(&read(&c, "default", &release).await).as_deref(), Some(name));
        winner.release().await.expect("releases");
    }
}

#[tokio::test]
async fn a_lock_taken_by_someone_else_is_reported_lost() {
    let server = start("lock-lost").await;
    let c = client(&server).await;
    let lock = RunLock::acquire(c.clone(), "aws", "lost", "default", "run A", &short(Duration::ZERO)).await.expect("takes it");
    let api = Api::<Lease>::namespaced(c.clone(), "default");
    // Someone else overwrites the holder (an operator, or a run that judged it expired).
    let mut lease = api.get("gantry-lock.lost").await.expect("reads");
    lease.spec.as_mut().expect("spec").holder_identity = Some("run INTRUDER".into());
    api.replace("gantry-lock.lost", &PostParams::default(), &lease).await.expect("overwrites");
    let why = tokio::time::timeout(HANG_GUARD, lock.lost()).await.expect("hung waiting for the loss");
    assert!(why.contains("the run lock was lost") && why.contains("run INTRUDER"), "{why}");
    // Releasing leaves the new holder alone.
    lock.release().await.expect("release is a no-op");
    assert_eq!(holder(&read(&c, "default", "lost").await).as_deref(), Some("run INTRUDER"));
}
