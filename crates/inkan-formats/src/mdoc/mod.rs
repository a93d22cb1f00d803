//! COSE and ISO/IEC 18013-5 mdoc, produced through a remote [`Signer`](crate::Signer).
//!
//! - [`cose`]: `COSE_Sign1` (ES256, ES384, EdDSA) with the `x5chain` header; the signer gets
//!   the `Sig_structure` bytes and returns the raw signature;
//! - [`issuer`]: IssuerSigned with the Mobile Security Object (value digests over the tag-24
//!   encoded items, `deviceKeyInfo`, `validityInfo`, `docType`), signed by the issuer;
//! - [`device`]: DeviceResponse disclosing only the requested elements, with a
//!   `deviceSignature` over DeviceAuthentication for a given SessionTranscript;
//! - verification of both, as of a given time.
//!
//! Every CBOR input is parsed with the size and depth limits of [`crate::limits`]. Times are
//! Unix seconds, injected by the caller; salts come from an injected RNG.

pub mod cbor;
pub mod cose;
pub mod device;
pub mod issuer;

pub use device::{
    DeviceAuth, DeviceResponse, DeviceSigned, Document, ItemsRequest, VerifiedDocument, present,
};
pub use issuer::{
    IssueRequest, IssuerSigned, IssuerSignedItem, IssuerSignedItemBytes, IssuerVerification,
    MobileSecurityObject, PreparedIssuerSigned, ValidityInfo, VerifiedIssuerSigned, issue,
};
