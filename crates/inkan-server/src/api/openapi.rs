//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the route annotations so
//! it cannot drift from the handlers' types.

use super::routes::{admin, auth, keys, system};
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
        system::health, system::ready, system::metrics, system::openapi,
        auth::activation_start, auth::activation_complete, auth::login, auth::revoke, auth::token,
        admin::create_subscriber, admin::get_subscriber, admin::create_user,
        admin::register_client, admin::revoke_sessions, admin::unlock,
        keys::me, keys::create_key, keys::list_keys, keys::get_key, keys::set_pin,
    ),
    tags(
        (name = "system", description = "Health, readiness, metrics"),
        (name = "auth", description = "Activation and system-client tokens"),
        (name = "csc", description = "Cloud Signature Consortium API v2"),
        (name = "operators", description = "Operator actions"),
        (name = "keys", description = "A subscriber's keys"),
    )
)]
struct ApiDoc;

/// The document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}
