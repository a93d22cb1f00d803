//! The OAuth2 authorization server's part of the store (`OAuthStore`), passkeys
//! (`PasskeyStore`) and identity provider links (`IdentityLinkStore`), issue 18; criteria 2.2.1, 2.2.3(2): every case is written once against `Arc<dyn Store>` and runs on every
//! engine (`sqlite::<case>`, `sqlite_memory::<case>`, `postgres::<case>` at
//! `INKAN_TEST_POSTGRES_URL`), which must all behave the same.

#![allow(clippy::unwrap_used)]

use inkan_store::SadRecord;
use inkan_store::auth::{TokenKind, TokenRecord, new_id};
use inkan_store::identity_links::IdentityLinkRecord;
use inkan_store::oauth::{OAuthClientRecord, OAuthDecision, OAuthGrant, OAuthRequestRecord};
use inkan_store::passkeys::PasskeyRecord;
use std::sync::Arc;

#[macro_use]
mod common;

use common::records::{
    MINUTE, Owner, T0, assert_conflict, assert_not_found, hash, owner, session_of,
};
use common::{Ctx, Engine, run};

conformance!(
    every_engine: [clients_register_once, a_request_is_decided_once, a_code_is_exchanged_once_with_its_grant, an_ended_client_ends_its_sessions, passkeys_register_rise_and_go, a_subject_is_linked_once_and_its_removal_ends_its_sessions],
    outside: [],
);

fn client(id: &str) -> OAuthClientRecord {
    OAuthClientRecord {
        id: id.into(),
        name: "Signing app".into(),
        redirect_uris: vec![
            "https://app.example/cb".into(),
            "http://127.0.0.1:8/cb".into(),
        ],
        approval: "apr_test".into(),
        created_at: T0,
        revoked_at: None,
    }
}

fn request(client_id: &str, credential: bool) -> OAuthRequestRecord {
    OAuthRequestRecord {
        id: new_id("oar"),
        client_id: client_id.into(),
        redirect_uri: "https://app.example/cb".into(),
        state: Some("s-1".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        scope: if credential { "credential" } else { "service" }.into(),
        credential: credential.then(|| r#"{"credentialID":"k"}"#.into()),
        created_at: T0,
        expires_at: T0 + 10 * MINUTE,
        account_id: None,
        session_id: None,
        decision: None,
        decided_at: None,
        code_hash: None,
        code_expires_at: None,
        exchanged_at: None,
        granted_session: None,
    }
}

async fn clients_register_once(db: Ctx) {
    let store = db.connect().await;
    store.insert_oauth_client(&client("app-b")).await.unwrap();
    store.insert_oauth_client(&client("app-a")).await.unwrap();
    assert_eq!(
        store.oauth_client("app-a").await.unwrap(),
        Some(client("app-a"))
    );
    assert_eq!(store.oauth_client("app-c").await.unwrap(), None);
    let ids: Vec<_> = store
        .oauth_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["app-a", "app-b"]);
    assert_conflict(store.insert_oauth_client(&client("app-a")).await);
    // A request names a registered client.
    assert_not_found(store.insert_oauth_request(&request("app-z", false)).await);
}

async fn a_request_is_decided_once(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(store.as_ref()).await;
    store.insert_oauth_client(&client("app")).await.unwrap();
    let pending = request("app", true);
    store.insert_oauth_request(&pending).await.unwrap();
    assert_eq!(
        store.oauth_request(&pending.id).await.unwrap(),
        Some(pending.clone())
    );

    // Eight approvals at once, each with its own code: exactly one is stored.
    let codes: Vec<String> = (0..8).map(|_| hash()).collect();
    let mut tasks = Vec::new();
    for code in codes.clone() {
        let (store, id, owner) = (store.clone(), pending.id.clone(), owner.clone());
        tasks.push(tokio::spawn(async move {
            let decision = OAuthDecision {
                account_id: &owner.account.id,
                session_id: &owner.session.id,
                code: Some((&code, T0 + 2 * MINUTE)),
                at: T0 + MINUTE,
            };
            store.decide_oauth_request(&id, &decision).await.unwrap()
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
    let decided = store.oauth_request(&pending.id).await.unwrap().unwrap();
    assert_eq!(decided.decision.as_deref(), Some("approved"));
    assert!(codes.contains(decided.code_hash.as_ref().unwrap()));
    assert_eq!(
        decided.account_id.as_deref(),
        Some(owner.account.id.as_str())
    );
    assert_eq!(
        store
            .oauth_request_by_code(decided.code_hash.as_ref().unwrap())
            .await
            .unwrap()
            .map(|r| r.id),
        Some(pending.id.clone())
    );

    // A denial of a decided request changes nothing; an expired request cannot be decided.
    let deny = |at| OAuthDecision {
        account_id: &owner.account.id,
        session_id: &owner.session.id,
        code: None,
        at,
    };
    assert!(
        !store
            .decide_oauth_request(&pending.id, &deny(T0 + MINUTE))
            .await
            .unwrap()
    );
    assert_eq!(
        store.oauth_request(&pending.id).await.unwrap(),
        Some(decided)
    );
    let late = request("app", false);
    store.insert_oauth_request(&late).await.unwrap();
    assert!(
        !store
            .decide_oauth_request(&late.id, &deny(late.expires_at))
            .await
            .unwrap()
    );
    assert!(
        store
            .decide_oauth_request(&late.id, &deny(late.expires_at - 1))
            .await
            .unwrap()
    );
    let denied = store.oauth_request(&late.id).await.unwrap().unwrap();
    assert_eq!(
        (denied.decision.as_deref(), denied.code_hash),
        (Some("denied"), None)
    );
}

/// What a code is exchanged for: a session of the approver, its access token and a SAD whose
/// hash is the token's.
fn grant(owner: &Owner) -> (OAuthGrant, String) {
    let mut session = session_of(&owner.account);
    session.method = "oauth2:credential".into();
    session.jkt = Some("jkt".into());
    let token_hash = hash();
    let token = TokenRecord {
        token_hash: token_hash.clone(),
        session_id: session.id.clone(),
        kind: TokenKind::Access,
        created_at: T0,
        expires_at: T0 + 5 * MINUTE,
        used_at: None,
    };
    let sad = SadRecord {
        sad_hash: token_hash.clone(),
        id: new_id("sad"),
        key_id: owner.key.id.to_string(),
        account_id: owner.account.id.clone(),
        session_id: session.id.clone(),
        digests: vec![format!("sha-256:{}", hash())],
        num_signatures: 1,
        created_at: T0,
        expires_at: T0 + 5 * MINUTE,
        used_at: None,
        disclosure_digest: None,
    };
    let grant = OAuthGrant {
        session,
        tokens: vec![token],
        sad: Some(sad),
    };
    (grant, token_hash)
}

async fn a_code_is_exchanged_once_with_its_grant(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(store.as_ref()).await;
    store.insert_oauth_client(&client("app")).await.unwrap();
    let pending = request("app", true);
    store.insert_oauth_request(&pending).await.unwrap();
    let code = hash();
    let decision = OAuthDecision {
        account_id: &owner.account.id,
        session_id: &owner.session.id,
        code: Some((&code, T0 + 2 * MINUTE)),
        at: T0 + MINUTE,
    };
    assert!(
        store
            .decide_oauth_request(&pending.id, &decision)
            .await
            .unwrap()
    );

    // An expired code, or an unknown one, is exchanged for nothing and writes nothing.
    let (late, late_token) = grant(&owner);
    assert!(
        !store
            .exchange_oauth_code(&code, T0 + 2 * MINUTE, &late)
            .await
            .unwrap()
    );
    assert!(
        !store
            .exchange_oauth_code(&hash(), T0 + MINUTE, &late)
            .await
            .unwrap()
    );
    assert!(store.get_token(&late_token).await.unwrap().is_none());
    assert!(store.get_session(&late.session.id).await.unwrap().is_none());

    // A grant that cannot be written (its session's id is taken) uses nothing up.
    let (mut clash, _) = grant(&owner);
    clash.session.id = owner.session.id.clone();
    clash.sad.as_mut().unwrap().session_id = owner.session.id.clone();
    assert!(
        store
            .exchange_oauth_code(&code, T0 + MINUTE, &clash)
            .await
            .is_err()
    );
    let unused = store.oauth_request(&pending.id).await.unwrap().unwrap();
    assert_eq!((unused.exchanged_at, unused.granted_session), (None, None));

    // Four exchanges at once: one grant is written, whole.
    let grants: Vec<_> = (0..4).map(|_| grant(&owner)).collect();
    let mut tasks = Vec::new();
    for (g, _) in grants.clone() {
        let (store, code) = (Arc::clone(&store), code.clone());
        tasks.push(tokio::spawn(async move {
            store
                .exchange_oauth_code(&code, T0 + MINUTE + 1, &g)
                .await
                .unwrap()
        }));
    }
    let mut winners = Vec::new();
    for (task, (g, token)) in tasks.into_iter().zip(grants) {
        if task.await.unwrap() {
            winners.push((g, token));
        } else {
            assert!(store.get_token(&token).await.unwrap().is_none());
            assert!(store.get_session(&g.session.id).await.unwrap().is_none());
        }
    }
    assert_eq!(winners.len(), 1);
    let (won, token) = &winners[0];
    let (stored_token, session) = store.get_token(token).await.unwrap().unwrap();
    assert_eq!(
        (stored_token.session_id.as_str(), session.method.as_str()),
        (won.session.id.as_str(), "oauth2:credential")
    );
    let sad = store.consume_sad(token, T0 + 2 * MINUTE).await.unwrap();
    assert_eq!(sad.session_id, won.session.id);
    let exchanged = store.oauth_request(&pending.id).await.unwrap().unwrap();
    assert_eq!(exchanged.exchanged_at, Some(T0 + MINUTE + 1));
    assert_eq!(
        exchanged.granted_session.as_deref(),
        Some(won.session.id.as_str())
    );
}

/// Ending a client ends the sessions its codes were exchanged for, and no code of it is
/// exchanged afterwards; requests are purged once nothing can use them.
async fn an_ended_client_ends_its_sessions(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(store.as_ref()).await;
    store.insert_oauth_client(&client("app")).await.unwrap();
    let approve = |request: OAuthRequestRecord, code: String| {
        let (store, owner) = (store.clone(), owner.clone());
        async move {
            store.insert_oauth_request(&request).await.unwrap();
            let decision = OAuthDecision {
                account_id: &owner.account.id,
                session_id: &owner.session.id,
                code: Some((&code, T0 + 2 * MINUTE)),
                at: T0 + MINUTE,
            };
            assert!(
                store
                    .decide_oauth_request(&request.id, &decision)
                    .await
                    .unwrap()
            );
        }
    };
    let (first, second) = (request("app", true), request("app", true));
    let (code1, code2) = (hash(), hash());
    approve(first.clone(), code1.clone()).await;
    approve(second.clone(), code2.clone()).await;
    let (granted, _) = grant(&owner);
    assert!(
        store
            .exchange_oauth_code(&code1, T0 + MINUTE, &granted)
            .await
            .unwrap()
    );

    assert_eq!(
        store
            .revoke_oauth_client("app", T0 + MINUTE + 5)
            .await
            .unwrap(),
        1
    );
    let ended = store
        .get_session(&granted.session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.revoked_at, Some(T0 + MINUTE + 5));
    assert_eq!(
        store.oauth_client("app").await.unwrap().unwrap().revoked_at,
        Some(T0 + MINUTE + 5)
    );
    let (late, late_token) = grant(&owner);
    assert!(
        !store
            .exchange_oauth_code(&code2, T0 + MINUTE + 6, &late)
            .await
            .unwrap()
    );
    assert!(store.get_token(&late_token).await.unwrap().is_none());
    assert_conflict(store.revoke_oauth_client("app", T0 + 2 * MINUTE).await);
    assert_not_found(store.revoke_oauth_client("nobody", T0).await);

    // The unexchanged request goes once it has expired; the exchanged one stays while its
    // session is there.
    let after = first.expires_at + 1;
    assert_eq!(store.purge_oauth_requests(after).await.unwrap(), 1);
    assert!(store.oauth_request(&second.id).await.unwrap().is_none());
    assert!(store.oauth_request(&first.id).await.unwrap().is_some());
    store.purge_sessions(after + 60 * MINUTE).await.unwrap();
    assert_eq!(store.purge_oauth_requests(after).await.unwrap(), 1);
}

fn passkey(account_id: &str, credential_id: &str, count: i64) -> PasskeyRecord {
    PasskeyRecord {
        id: new_id("pk"),
        account_id: account_id.into(),
        credential_id: credential_id.into(),
        public_key: "pQECAyYgASFYIA".into(),
        algorithm: -7,
        name: "Laptop".into(),
        sign_count: count,
        backup: 1,
        aaguid: "00".repeat(16),
        attestation_format: "none".into(),
        created_at: T0,
        last_used_at: None,
    }
}

/// A credential id is registered once; a use must raise the counter (or keep 0 and 0); only
/// its account removes a passkey.
async fn passkeys_register_rise_and_go(db: Ctx) {
    let store = db.connect().await;
    let (mine, other) = (owner(store.as_ref()).await, owner(store.as_ref()).await);
    let account = mine.account.id.as_str();
    let counting = passkey(account, "cred-a", 5);
    let counterless = passkey(account, "cred-b", 0);
    store.insert_passkey(&counting).await.unwrap();
    store.insert_passkey(&counterless).await.unwrap();
    assert_conflict(
        store
            .insert_passkey(&passkey(&other.account.id, "cred-a", 0))
            .await,
    );
    assert_not_found(
        store
            .insert_passkey(&passkey("acc_nobody", "cred-z", 0))
            .await,
    );
    assert_eq!(store.passkeys_of(account).await.unwrap().len(), 2);
    assert_eq!(
        store.passkey_by_credential("cred-a").await.unwrap(),
        Some(counting.clone())
    );

    assert!(!store.use_passkey(&counting.id, 5, 3, T0 + 1).await.unwrap());
    assert!(!store.use_passkey(&counting.id, 4, 3, T0 + 1).await.unwrap());
    assert!(store.use_passkey(&counting.id, 6, 3, T0 + 2).await.unwrap());
    let used = store
        .passkey_by_credential("cred-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (used.sign_count, used.backup, used.last_used_at),
        (6, 3, Some(T0 + 2))
    );
    assert!(
        store
            .use_passkey(&counterless.id, 0, 1, T0 + 3)
            .await
            .unwrap()
    );
    assert!(
        store
            .use_passkey(&counterless.id, 0, 1, T0 + 4)
            .await
            .unwrap()
    );

    // Removal ends the sessions the passkey started, and no other.
    let mut started = session_of(&mine.account);
    started.method = "web:passkey:counting".into();
    store.insert_session(&started, &[]).await.unwrap();
    assert!(
        !store
            .delete_passkey(
                &other.account.id,
                &counting.id,
                "web:passkey:counting",
                T0 + 4
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .get_session(&started.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert!(
        store
            .delete_passkey(account, &counting.id, "web:passkey:counting", T0 + 4)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_session(&started.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(T0 + 4)
    );
    assert!(
        store
            .get_session(&mine.session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert!(
        store
            .passkey_by_credential("cred-a")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.use_passkey(&counting.id, 9, 1, T0 + 4).await.unwrap());
}

fn link(subject: &str, account_id: &str) -> IdentityLinkRecord {
    IdentityLinkRecord {
        provider: "corp".into(),
        subject: subject.into(),
        issuer: "https://idp.example".into(),
        account_id: account_id.into(),
        approval: "apr_link".into(),
        created_at: T0,
    }
}

/// One provider's subject is linked to one account (criteria 2.2.1(3)); removing the link ends
/// the sessions that provider started for the account, and no other.
async fn a_subject_is_linked_once_and_its_removal_ends_its_sessions(db: Ctx) {
    let store = db.connect().await;
    let (mine, other) = (owner(store.as_ref()).await, owner(store.as_ref()).await);
    let account = mine.account.id.as_str();
    store
        .insert_identity_link(&link("s-1", account))
        .await
        .unwrap();
    assert_conflict(
        store
            .insert_identity_link(&link("s-1", &other.account.id))
            .await,
    );
    assert_not_found(store.insert_identity_link(&link("s-2", "acc_nobody")).await);
    // The same subject at another provider is another identity.
    let elsewhere = IdentityLinkRecord {
        provider: "other".into(),
        ..link("s-1", &other.account.id)
    };
    store.insert_identity_link(&elsewhere).await.unwrap();
    assert_eq!(
        store.identity_link("corp", "s-1").await.unwrap(),
        Some(link("s-1", account))
    );
    assert_eq!(store.identity_link("corp", "S-1").await.unwrap(), None);

    let mut started = session_of(&mine.account);
    started.method = "web:oidc:corp".into();
    store.insert_session(&started, &[]).await.unwrap();
    let mut by_password = session_of(&mine.account);
    by_password.method = "web:password+totp".into();
    store.insert_session(&by_password, &[]).await.unwrap();
    assert_eq!(
        store
            .delete_identity_link("corp", "s-9", "web:oidc:corp", T0 + 1)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .delete_identity_link("corp", "s-1", "web:oidc:corp", T0 + 1)
            .await
            .unwrap(),
        Some(link("s-1", account))
    );
    let revoked = |id: String| {
        let store = store.clone();
        async move { store.get_session(&id).await.unwrap().unwrap().revoked_at }
    };
    assert_eq!(revoked(started.id.clone()).await, Some(T0 + 1));
    assert_eq!(revoked(by_password.id.clone()).await, None);
    assert_eq!(store.identity_link("corp", "s-1").await.unwrap(), None);
    assert!(store.identity_link("other", "s-1").await.unwrap().is_some());
}
