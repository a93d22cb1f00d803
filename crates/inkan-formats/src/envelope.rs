//! Enveloped credentials and presentations (VCDM 2.0 §4.13, VC-JOSE-COSE §3): an
//! `EnvelopedVerifiableCredential` or `EnvelopedVerifiablePresentation` object whose `id` is a
//! `data:` URL (RFC 2397) holding the secured document, e.g.
//! `data:application/vc+jwt,eyJ…`, `data:application/vp+jwt,…`,
//! `data:application/vc+sd-jwt,…`, `data:application/dc+sd-jwt,…`, or with `;base64`.
//!
//! Owns recognising the envelope, checking its own members (`@context` starting with the
//! VCDM 2.0 context, the envelope `type`, a media type that fits it) and decoding the data
//! URL. The one unwrap the `inkan verify` command and the server's verify endpoints share.
//! It never verifies what is inside (the caller does, with [`crate::verify`]) and never
//! echoes the document's values in its refusals.

use crate::FormatError;
use base64::Engine as _;
use serde_json::Value;

/// `type` of an enveloped credential.
pub const ENVELOPED_CREDENTIAL: &str = "EnvelopedVerifiableCredential";
/// `type` of an enveloped presentation.
pub const ENVELOPED_PRESENTATION: &str = "EnvelopedVerifiablePresentation";

/// What an envelope holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopedKind {
    /// A credential (`EnvelopedVerifiableCredential`).
    Credential,
    /// A presentation (`EnvelopedVerifiablePresentation`).
    Presentation,
}

/// An unwrapped envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enveloped {
    /// Credential or presentation.
    pub kind: EnvelopedKind,
    /// The media type of the data URL, without parameters (`application/vc+jwt`).
    pub media_type: String,
    /// The secured document, decoded from the data URL.
    pub content: Vec<u8>,
}

/// Media types of credentials and presentations secured with JOSE or SD-JWT.
const CREDENTIAL_MEDIA: [&str; 3] = [
    "application/vc+jwt",
    "application/vc+sd-jwt",
    "application/dc+sd-jwt",
];
const PRESENTATION_MEDIA: [&str; 2] = ["application/vp+jwt", "application/vp+sd-jwt"];
/// COSE-secured forms: recognised, not verified here.
const COSE_MEDIA: [&str; 2] = ["application/vc+cose", "application/vp+cose"];

/// The envelope kind `value` declares by its `type`, if it is an envelope at all.
pub fn envelope_kind(value: &Value) -> Option<EnvelopedKind> {
    let is = |name: &str| match value.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(items)) => items.iter().any(|t| t.as_str() == Some(name)),
        _ => false,
    };
    if is(ENVELOPED_CREDENTIAL) {
        Some(EnvelopedKind::Credential)
    } else if is(ENVELOPED_PRESENTATION) {
        Some(EnvelopedKind::Presentation)
    } else {
        None
    }
}

/// Unwraps `value` when it is an envelope (`Ok(None)` when its `type` names none): checks
/// `@context`, the `data:` URL and that its media type fits the envelope's kind, and decodes
/// the content (percent-encoded or `;base64`).
pub fn unwrap(value: &Value) -> Result<Option<Enveloped>, FormatError> {
    let Some(kind) = envelope_kind(value) else {
        return Ok(None);
    };
    let what = match kind {
        EnvelopedKind::Credential => "enveloped credential",
        EnvelopedKind::Presentation => "enveloped presentation",
    };
    // The data model's rules for envelopes (context, type, a data: URL id) are the
    // validator's; this module adds what the media type must be.
    crate::vcdm::validate_enveloped(value, "document")?;
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| FormatError::Rejected(format!("{what}: `id` must be a data: URL")))?;
    let (media_type, base64, data) = parse_data_url(id)
        .ok_or_else(|| FormatError::Rejected(format!("{what}: `id` is not a data: URL")))?;
    let fits = match kind {
        EnvelopedKind::Credential => CREDENTIAL_MEDIA.contains(&media_type.as_str()),
        EnvelopedKind::Presentation => PRESENTATION_MEDIA.contains(&media_type.as_str()),
    };
    if !fits {
        if COSE_MEDIA.contains(&media_type.as_str()) {
            return Err(FormatError::Unsupported(format!(
                "{what}: COSE-secured credentials (`id` media type)"
            )));
        }
        return Err(FormatError::Rejected(format!(
            "{what}: the media type of `id` is not one for a {}",
            match kind {
                EnvelopedKind::Credential => "credential (vc+jwt, vc+sd-jwt, dc+sd-jwt)",
                EnvelopedKind::Presentation => "presentation (vp+jwt, vp+sd-jwt)",
            }
        )));
    }
    let content = if base64 {
        let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        lenient
            .decode(cleaned)
            .map_err(|_| FormatError::Rejected(format!("{what}: `id` is not valid base64")))?
    } else {
        percent_decode(data)
            .ok_or_else(|| FormatError::Rejected(format!("{what}: `id` has a bad %-escape")))?
    };
    if content.is_empty() {
        return Err(FormatError::Rejected(format!("{what}: `id` holds nothing")));
    }
    Ok(Some(Enveloped {
        kind,
        media_type,
        content,
    }))
}

/// `data:[<mediatype>][;param…][;base64],<data>` → (media type in lower case, base64, data).
fn parse_data_url(url: &str) -> Option<(String, bool, &str)> {
    let rest = url
        .get(..5)
        .filter(|scheme| scheme.eq_ignore_ascii_case("data:"))
        .map(|_| &url[5..])?;
    let (meta, data) = rest.split_once(',')?;
    let mut parts = meta.split(';');
    let media_type = parts.next()?.trim().to_ascii_lowercase();
    let base64 = parts.any(|p| p.trim().eq_ignore_ascii_case("base64"));
    Some((media_type, base64, data))
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::vc_jwt::VCDM2_CONTEXT;
    use serde_json::json;

    fn envelope(context: Value, kind: &str, id: &str) -> Value {
        json!({"@context": context, "type": kind, "id": id})
    }

    #[test]
    fn a_vc_jwt_envelope_unwraps() {
        let got = unwrap(&envelope(
            json!([VCDM2_CONTEXT]),
            ENVELOPED_CREDENTIAL,
            "data:application/vc+jwt,aaa.bbb.ccc",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(got.kind, EnvelopedKind::Credential);
        assert_eq!(got.media_type, "application/vc+jwt");
        assert_eq!(got.content, b"aaa.bbb.ccc");
    }

    #[test]
    fn base64_and_percent_encoded_data_urls_unwrap() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("x.y.z~");
        let got = unwrap(&envelope(
            json!([VCDM2_CONTEXT]),
            ENVELOPED_CREDENTIAL,
            &format!("data:application/dc+sd-jwt;base64,{b64}"),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(got.content, b"x.y.z~");
        let got = unwrap(&envelope(
            json!([VCDM2_CONTEXT]),
            ENVELOPED_PRESENTATION,
            "data:application/vp+sd-jwt,x.y.z%7E",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(got.kind, EnvelopedKind::Presentation);
        assert_eq!(got.content, b"x.y.z~");
    }

    #[test]
    fn an_envelope_without_the_vcdm_context_is_refused() {
        for context in [
            json!([]),
            json!(VCDM2_CONTEXT),
            json!(["https://example.org/"]),
        ] {
            let err = unwrap(&envelope(
                context,
                ENVELOPED_CREDENTIAL,
                "data:application/vc+jwt,a.b.c",
            ))
            .unwrap_err();
            assert!(err.to_string().contains("`@context`"), "{err}");
        }
    }

    #[test]
    fn a_media_type_that_does_not_fit_the_envelope_is_refused() {
        let err = unwrap(&envelope(
            json!([VCDM2_CONTEXT]),
            ENVELOPED_CREDENTIAL,
            "data:application/vp+jwt,a.b.c",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("media type"), "{err}");
        let err = unwrap(&envelope(
            json!([VCDM2_CONTEXT]),
            ENVELOPED_CREDENTIAL,
            "https://example.org/vc",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("not a data: URL"), "{err}");
        assert!(!err.to_string().contains("example.org"), "{err}");
    }

    #[test]
    fn other_objects_are_not_envelopes() {
        assert_eq!(
            unwrap(&json!({"type": ["VerifiableCredential"]})).unwrap(),
            None
        );
    }
}
