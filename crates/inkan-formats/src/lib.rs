//! Signing and verifying every credential and presentation format Inkan produces, through a
//! remote [`Signer`]: the format code sees only the bytes to sign and a key reference, never a
//! private key (criteria 1.2.10, 1.2.15, 1.2.16).
//!
//! - [`signer`]: the `Signer` seam and its hashing contract;
//! - [`jose`]: JWS compact, VC-JWT (VCDM 1.1 `jwt_vc_json`, VCDM 2.0 `vc+jwt`/`vp+jwt`), the
//!   OpenID4VCI key proof, SD-JWT VC with KB-JWT;
//! - [`data_integrity`]: W3C VC Data Integrity (`eddsa-rdfc-2022`, `eddsa-jcs-2022`,
//!   `ecdsa-rdfc-2019`, `ecdsa-jcs-2019`) with bundled JSON-LD contexts;
//! - [`mdoc`]: COSE_Sign1 and ISO/IEC 18013-5 IssuerSigned / DeviceResponse;
//! - [`status`]: W3C Bitstring Status List and IETF Token Status List;
//! - [`envelope`]: enveloped credentials and presentations (`data:` URLs);
//! - [`trust`]: issuer certificate chains against the relying party's trust anchors;
//! - [`vcdm`]: the W3C VC Data Model 2.0 / 1.1 rules every issuance and verification checks;
//! - [`limits`]: the size and depth limits every parser of outside input applies.
//!
//! This crate never holds HTTP, SQL or signing-key bytes (signatures go through the
//! [`Signer`]), and never fetches anything from the network (unknown JSON-LD contexts are
//! refused). The one private key it handles is a JWE recipient key (`jose::jwe`), with which
//! the service decrypts signature activation data sent to it.

pub mod data_integrity;
pub mod envelope;
mod error;
pub mod jose;
pub mod limits;
pub mod mdoc;
pub mod signer;
pub mod status;
pub mod trust;
pub mod vcdm;
pub mod verify;

pub use error::FormatError;
pub use signer::{KeyRef, Signer};
