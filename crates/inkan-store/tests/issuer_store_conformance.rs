//! The issuer bindings part of the store (`IssuerStore`, criteria 2.2.3(1)A): every case is
//! written once against `Arc<dyn Store>` and runs on every engine (`sqlite::<case>`,
//! `sqlite_memory::<case>`, `postgres::<case>` at `INKAN_TEST_POSTGRES_URL`), which must all
//! behave the same.

#![allow(clippy::unwrap_used)]

use inkan_store::issuers::IssuerBindingRecord;
use inkan_store::{KeyId, Store};

#[macro_use]
mod common;

use common::records::{MINUTE, T0, assert_conflict, assert_not_found, new_key};
use common::{Ctx, Engine, run};

conformance!(
    every_engine: [bind_list_and_refuse, one_identifier_one_owner, concurrent_binds_across_owners_one_wins],
    outside: [schema_refuses_an_empty_identifier],
);

fn binding(key_id: &str, identifier: &str, at: i64) -> IssuerBindingRecord {
    IssuerBindingRecord {
        key_id: key_id.into(),
        identifier: identifier.into(),
        approval: "apr_test".into(),
        bound_at: at,
        bound_by: "acc_officer".into(),
    }
}

async fn bind_list_and_refuse(db: Ctx) {
    let store = db.connect().await;
    let key = new_key("sub_issuer");
    let other = new_key("sub_issuer");
    store.insert_key(&key).await.unwrap();
    store.insert_key(&other).await.unwrap();
    let (k, o) = (key.id.as_str(), other.id.as_str());

    assert!(store.issuer_bindings(k).await.unwrap().is_empty());
    let web = binding(k, "did:web:issuer.example", T0);
    let url = binding(k, "https://issuer.example", T0 + MINUTE);
    let shared = binding(o, "did:web:issuer.example", T0 + 2 * MINUTE);
    for b in [&url, &web, &shared] {
        store.bind_issuer(b).await.unwrap();
    }
    assert_eq!(
        store.issuer_bindings(k).await.unwrap(),
        vec![web.clone(), url]
    );
    assert_eq!(
        store
            .issuer_bound_keys("did:web:issuer.example")
            .await
            .unwrap(),
        vec![web.clone(), shared]
    );
    assert!(
        store
            .issuer_bound_keys("did:web:nobody.example")
            .await
            .unwrap()
            .is_empty()
    );

    // Twice to the same key: a conflict; to no key: not found. Neither changes anything.
    assert_conflict(
        store
            .bind_issuer(&binding(k, "did:web:issuer.example", T0 + 3 * MINUTE))
            .await,
    );
    let missing = KeyId::random();
    assert_not_found(
        store
            .bind_issuer(&binding(missing.as_str(), "did:web:x.example", T0))
            .await,
    );
    assert_eq!(store.issuer_bindings(k).await.unwrap().len(), 2);
    assert!(
        store
            .issuer_bindings(missing.as_str())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn schema_refuses_an_empty_identifier(db: Ctx) {
    let store: std::sync::Arc<dyn Store> = db.connect().await;
    let key = new_key("sub_issuer");
    store.insert_key(&key).await.unwrap();
    assert_conflict(store.bind_issuer(&binding(key.id.as_str(), "", T0)).await);
}

async fn one_identifier_one_owner(db: Ctx) {
    let store = db.connect().await;
    let ours = new_key("sub_ours");
    let theirs = new_key("sub_theirs");
    store.insert_key(&ours).await.unwrap();
    store.insert_key(&theirs).await.unwrap();
    let web = "did:web:ours.example";
    store
        .bind_issuer(&binding(ours.id.as_str(), web, T0))
        .await
        .unwrap();
    assert_conflict(
        store
            .bind_issuer(&binding(theirs.id.as_str(), web, T0 + MINUTE))
            .await,
    );
    assert!(
        store
            .issuer_bindings(theirs.id.as_str())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.issuer_bound_keys(web).await.unwrap().len(), 1);
}

async fn concurrent_binds_across_owners_one_wins(db: Ctx) {
    let store = db.connect().await;
    let mut keys = Vec::new();
    for n in 0..8 {
        let key = new_key(&format!("sub_{n}"));
        store.insert_key(&key).await.unwrap();
        keys.push(key);
    }
    let web = "did:web:contested.example";
    let tasks: Vec<_> = keys
        .iter()
        .map(|key| {
            let store = store.clone();
            let record = binding(key.id.as_str(), web, T0);
            tokio::spawn(async move { store.bind_issuer(&record).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(inkan_store::StoreError::Conflict(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.issuer_bound_keys(web).await.unwrap().len(), 1);
}
