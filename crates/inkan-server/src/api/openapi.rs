//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the route annotations so
//! it cannot drift from the handlers' types.

use super::pages;
use super::routes::{
    admin, auth, csc, delivery, keys, operations, present, signatures, status_lists, system, vc,
};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Inkan",
        description = "Remote signing service for Verifiable Credentials. Tokens are \
                       sender-constrained: DPoP (RFC 9449) for users, DPoP or mutual TLS \
                       (RFC 8705) for system clients.",
    ),
    paths(
        system::health, system::ready, system::openapi,
        system::key_backup_policy, pages::docs::reference,
        auth::activation_start, auth::activation_complete, auth::login, auth::revoke, auth::token,
        pages::authorize, pages::consent_page, pages::sign_in, pages::decide, pages::sign_out,
        pages::account::consent_passkey, pages::account::account, pages::account::account_sign_in,
        pages::account::account_passkey, pages::account::add_passkey, pages::account::remove_passkey,
        pages::federation::start, pages::federation::callback, pages::account::change_pin,
        auth::oauth_revoke, auth::oauth_metadata, auth::par,
        admin::create_subscriber, admin::get_subscriber, admin::create_user,
        admin::register_client, admin::revoke_sessions, admin::unlock,
        admin::reissue_activation_code,
        keys::me, keys::create_key, keys::list_keys, keys::get_key, keys::set_pin, keys::renew_key, keys::set_status_source,
        csc::info, csc::credentials_list, csc::credentials_info, csc::credentials_authorize,
        csc::activation_nonce, csc::sign_hash,
        vc::issue, vc::issue_sd_jwt, vc::issue_mdoc, vc::verify_credential, vc::derive, vc::verify_presentation,
        present::prepare, present::sign,
        delivery::register_destination, delivery::list_destinations, delivery::get_delivery,
        delivery::get_document, delivery::delivery_keys,
        signatures::by_digest, signatures::log_key,
        status_lists::create, status_lists::list_all, status_lists::get_one, status_lists::change,
        status_lists::change_by_digest, status_lists::published,
        operations::request, operations::approve, operations::consent, operations::get_request,
        operations::list_requests, operations::list_operators, operations::revoke_terminal,
        operations::apply, operations::list_applications, operations::get_application,
        operations::record_proofing, operations::record_mandate, operations::approve_application,
        operations::reject_application,
    ),
    tags(
        (name = "system", description = "Health and readiness"),
        (name = "auth", description = "Activation and system-client tokens"),
        (name = "csc", description = "Cloud Signature Consortium API v2"),
        (name = "oauth2", description = "CSC API v2 OAuth2 authorization: Inkan's sign-in and consent pages"),
        (name = "operators", description = "Operator actions"),
        (name = "keys", description = "A subscriber's keys"),
        (name = "vc", description = "W3C VC API"),
        (name = "delivery", description = "Signed documents after signing: delivery destinations, deliveries, retained documents"),
        (name = "signatures", description = "Confirming signatures afterwards"),
        (name = "status-lists", description = "Issuers' status lists: create, change a credential's status, read the published list"),
        (name = "holder", description = "Holders' presentations and key proofs (prepare, then sign with a SAD)"),
    )
)]
struct ApiDoc;

/// Operations a caller reaches without a session of the API: public reads and checks,
/// activation, and the OAuth2 endpoints a client authenticates to in the request itself.
/// `tests/openapi_valid.rs` checks this list against the handlers (an operation here takes no
/// `Authenticated` extractor, every other one does).
pub const ANONYMOUS: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/v1/policies/key-backup"),
    ("post", "/v1/activation"),
    ("post", "/v1/activation/complete"),
    ("post", "/csc/v2/info"),
    ("post", "/credentials/verify"),
    ("post", "/presentations/verify"),
    ("get", "/status-lists/{id}"),
    ("get", "/v1/log/key"),
    ("get", "/v1/delivery/keys"),
    ("get", "/.well-known/oauth-authorization-server"),
    ("post", "/oauth2/par"),
    ("post", "/oauth2/revoke"),
];

/// The pages people use in a browser (HTML; their own cookie session and CSRF tokens, no API
/// authentication).
const PAGES: &[&str] = &[
    "/oauth2/authorize",
    "/oauth2/consent/",
    "/oauth2/federation/",
    "/oauth2/sign-out",
    "/account",
];

/// Whether `path` is one of the browser pages.
pub fn is_page(path: &str) -> bool {
    PAGES.iter().any(|p| path.starts_with(p))
}

/// The page actions that need the browser session a sign-in on the pages set (its cookie and
/// the form's CSRF value); the other pages answer anyone (a sign-in form, at most).
const SIGNED_IN_PAGES: &[(&str, &str)] = &[
    ("post", "/account/pin"),
    ("post", "/account/passkeys"),
    ("post", "/account/passkeys/{id}/remove"),
    ("post", "/oauth2/consent/{id}"),
    ("post", "/oauth2/sign-out"),
];

/// The `security` of an operation (OpenAPI 3.1 §4.8.10): `[]` for anonymous ones. Operators
/// present their terminal's certificate and a DPoP-bound token together (a user consenting
/// to a request, a DPoP-bound token alone); other callers a DPoP-bound token, or a system
/// client's certificate-bound one.
fn security_of(method: &str, path: &str, tag: &str) -> serde_json::Value {
    use serde_json::json;
    match (method, path) {
        // Basic (username, password) with the OTP in the body and a DPoP proof; or a refresh
        // token with the session's DPoP key.
        ("post", "/csc/v2/auth/login") => json!([{"cscBasic": []}, {}]),
        // A system client over mutual TLS, or one authenticating in the request (a
        // private_key_jwt assertion), or an authorization code with PKCE (a public client).
        ("post", "/oauth2/token") => json!([{"mutualTls": []}, {}]),
        _ if SIGNED_IN_PAGES.contains(&(method, path)) => json!([{"browserSession": []}]),
        _ if ANONYMOUS.contains(&(method, path)) || is_page(path) => json!([]),
        ("post", "/v1/approvals/{id}/consent") => json!([{"dpop": []}]),
        _ if tag == "operators" => json!([{"dpop": [], "mutualTls": []}]),
        _ => json!([{"dpop": []}, {"mutualTls": []}]),
    }
}

/// The error body every refusal carries (`api::error`): `error` and `error_description`, and
/// for the W3C VC API the members of an RFC 9457 problem details object.
fn error_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "description": "A refusal: the CSC/OAuth error shape; the W3C VC API routes add an \
                        RFC 9457 problem details object's members",
        "required": ["error", "error_description"],
        "properties": {
            "error": {"type": "string", "description": "A code (`invalid_request`, \
                      `access_denied`, `server_error`, …)"},
            "error_description": {"type": "string", "description": "What was wrong, without \
                                  secrets; for a 500, a reference to quote"},
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "detail": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string"}
        }
    })
}

/// Fills in, for every operation, what the annotations leave to one place: its security, the
/// error schema on each refusal, and the HTML of the pages.
fn complete_operations(document: &mut serde_json::Value) {
    use serde_json::json;
    document["components"]["schemas"]["Error"] = error_schema();
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, operations) in paths.iter_mut() {
        let Some(operations) = operations.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            let tag = operation["tags"][0].as_str().unwrap_or_default().to_owned();
            operation["security"] = security_of(method, path, &tag);
            let page = is_page(path);
            let Some(responses) = operation["responses"].as_object_mut() else {
                continue;
            };
            for (code, response) in responses.iter_mut() {
                // A page's HTML is a string.
                if let Some(media) = response
                    .get_mut("content")
                    .and_then(serde_json::Value::as_object_mut)
                {
                    for (kind, entry) in media.iter_mut() {
                        if kind.starts_with("text/") && entry.get("schema").is_none() {
                            entry["schema"] = json!({"type": "string"});
                        }
                    }
                }
                let content = response.get("content").is_some();
                if page && code.starts_with('2') && !content {
                    response["content"] = json!({"text/html": {"schema": {"type": "string"}}});
                } else if !code.starts_with(['2', '3']) && !content && !page {
                    response["content"] = json!({"application/json": {"schema":
                        {"$ref": "#/components/schemas/Error"}}});
                }
            }
            if !page {
                responses.entry("default").or_insert(json!({
                    "description": "A refusal (4xx) or an error (5xx)",
                    "content": {"application/json": {"schema":
                        {"$ref": "#/components/schemas/Error"}}}
                }));
            }
        }
    }
}

/// The document as JSON, with what the route annotations cannot say: the ways callers
/// authenticate (issue 19 point 2), each operation's security, the error schema, and the
/// server (this one, relative).
pub fn document() -> serde_json::Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    complete_operations(&mut document);
    document["servers"] = serde_json::json!([{"url": "/", "description": "this Inkan"}]);
    document["components"]["securitySchemes"] = serde_json::json!({
        "dpop": {
            "type": "http",
            "scheme": "DPoP",
            "description": "`Authorization: DPoP <access token>` with a fresh `DPoP` proof of the \
                            token's key on every request (RFC 9449): people's and operators' \
                            sessions, and system clients authenticated by private_key_jwt"
        },
        "mutualTls": {
            "type": "mutualTLS",
            "description": "The client certificate registered for a system client (RFC 8705; \
                            its tokens are certificate-bound `Bearer` tokens) or an operator's \
                            terminal (with DPoP)"
        },
        "browserSession": {
            "type": "apiKey",
            "in": "cookie",
            "name": crate::api::pages::html::SESSION_COOKIE,
            "description": "The pages' own session, set by a sign-in on them (password and TOTP, \
                            a passkey, or an identity provider), with the form's CSRF value"
        },
        "cscBasic": {
            "type": "http",
            "scheme": "basic",
            "description": "CSC `auth/login` only: username and password, with the OTP in the \
                            body and a DPoP proof"
        },
        "clientCredentials": {
            "type": "oauth2",
            "description": "System clients: `grant_type=client_credentials` over mutual TLS or \
                            with a private_key_jwt assertion (RFC 7523) and a DPoP proof",
            "flows": {"clientCredentials": {"tokenUrl": "/oauth2/token", "scopes": {}}}
        },
        "cscAuthorizationCode": {
            "type": "oauth2",
            "description": "CSC API v2 OAuth2: a person signs in and approves on Inkan's pages; \
                            the code is exchanged with PKCE S256 and a DPoP proof",
            "flows": {"authorizationCode": {
                "authorizationUrl": "/oauth2/authorize",
                "tokenUrl": "/oauth2/token",
                "scopes": {
                    "service": "a session of the person",
                    "credential": "a credential token: the SAD for the approved hashes"
                }
            }}
        }
    });
    document
}

#[cfg(test)]
mod tests {
    /// Every route the router serves is in the document, with its method.
    #[test]
    fn the_document_lists_every_route() {
        let doc = super::document();
        assert_eq!(doc["openapi"], "3.1.0");
        for (method, path) in [
            ("get", "/health"),
            ("get", "/ready"),
            ("get", "/openapi.json"),
            ("post", "/v1/activation"),
            ("post", "/v1/activation/complete"),
            ("post", "/csc/v2/auth/login"),
            ("post", "/csc/v2/auth/revoke"),
            ("post", "/oauth2/token"),
            ("get", "/oauth2/authorize"),
            ("get", "/oauth2/consent/{id}"),
            ("post", "/oauth2/consent/{id}"),
            ("post", "/oauth2/consent/{id}/sign-in"),
            ("post", "/oauth2/revoke"),
            ("post", "/oauth2/par"),
            ("post", "/oauth2/sign-out"),
            ("post", "/oauth2/consent/{id}/passkey"),
            ("get", "/account"),
            ("post", "/account/sign-in"),
            ("post", "/account/passkey"),
            ("post", "/account/passkeys"),
            ("post", "/account/passkeys/{id}/remove"),
            ("get", "/oauth2/federation/{provider}"),
            ("post", "/account/pin"),
            ("get", "/oauth2/federation/{provider}/callback"),
            ("get", "/.well-known/oauth-authorization-server"),
            ("get", "/v1/me"),
            ("post", "/v1/keys"),
            ("get", "/v1/keys"),
            ("get", "/v1/keys/{id}"),
            ("put", "/v1/keys/{id}/pin"),
            ("put", "/v1/keys/{id}/status-source"),
            ("post", "/v1/status-lists"),
            ("get", "/v1/status-lists"),
            ("get", "/v1/status-lists/{id}"),
            ("post", "/v1/status-lists/{id}/entries/{index}"),
            ("post", "/v1/status-lists/by-digest"),
            ("get", "/status-lists/{id}"),
            ("post", "/v1/subscribers"),
            ("get", "/v1/subscribers/{id}"),
            ("post", "/v1/subscribers/{id}/users"),
            ("post", "/v1/subscribers/{id}/clients"),
            ("post", "/v1/subscribers/{id}/sessions/revoke"),
            ("post", "/v1/accounts/{id}/unlock"),
            ("post", "/v1/accounts/{id}/activation-code"),
            ("post", "/csc/v2/info"),
            ("post", "/csc/v2/credentials/list"),
            ("post", "/csc/v2/credentials/info"),
            ("post", "/csc/v2/credentials/authorize"),
            ("post", "/v1/signature-activation/nonce"),
            ("post", "/csc/v2/signatures/signHash"),
            ("post", "/credentials/issue"),
            ("post", "/credentials/verify"),
            ("post", "/credentials/derive"),
            ("post", "/presentations/verify"),
            ("post", "/v1/holder/prepare"),
            ("post", "/v1/holder/sign"),
            ("post", "/v1/subscribers/{id}/destinations"),
            ("get", "/v1/subscribers/{id}/destinations"),
            ("get", "/v1/deliveries/{id}"),
            ("get", "/v1/documents/{id}"),
            ("get", "/v1/signatures"),
            ("get", "/v1/log/key"),
            ("get", "/v1/delivery/keys"),
            ("post", "/v1/credentials/sd-jwt"),
            ("post", "/v1/credentials/mdoc"),
            ("post", "/v1/keys/{id}/renew"),
            ("put", "/v1/keys/{id}/status-source"),
            ("post", "/v1/approvals"),
            ("get", "/v1/approvals"),
            ("get", "/v1/approvals/{id}"),
            ("post", "/v1/approvals/{id}/approve"),
            ("post", "/v1/approvals/{id}/consent"),
            ("get", "/v1/operators"),
            ("delete", "/v1/terminals/{thumbprint}"),
            ("post", "/v1/applications"),
            ("get", "/v1/applications"),
            ("get", "/v1/applications/{id}"),
            ("put", "/v1/applications/{id}/identity-proofing"),
            ("put", "/v1/applications/{id}/mandate"),
            ("post", "/v1/applications/{id}/approve"),
            ("post", "/v1/applications/{id}/reject"),
            ("get", "/v1/policies/key-backup"),
            ("get", "/docs"),
        ] {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is missing"
            );
        }
        assert_eq!(doc["paths"].as_object().unwrap().len(), 76);
    }
}
