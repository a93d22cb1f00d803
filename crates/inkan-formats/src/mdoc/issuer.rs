//! IssuerSigned (ISO/IEC 18013-5 §9.1.2): data elements as IssuerSignedItems with random
//! salts, each embedded as `#6.24(bstr)`, and the Mobile Security Object (MSO) that holds
//! their digests, the holder's device key and the validity, signed by the issuer as a
//! `COSE_Sign1` over the tag-24 encoded MSO with an `x5chain` header.

use super::{cbor, cose};
use crate::FormatError;
use crate::signer::{KeyRef, Signer};
use crate::status::StatusListReference;
use base64::Engine as _;
use ciborium::Value;
use coset::CoseSign1;
use inkan_device::PublicKey;
use inkan_device::cert::CertificateChain;
use rand_core::RngCore;
use sha2::Digest as _;
use std::collections::BTreeMap;

/// Length of the random salt of each IssuerSignedItem (§9.1.2.5 asks for at least 16).
pub const SALT_BYTES: usize = 32;
/// Most data elements accepted in one IssuerSigned or MSO.
pub const MAX_ELEMENTS: usize = 4096;

/// `validityInfo` of the MSO, as Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityInfo {
    /// When the MSO was signed.
    pub signed: i64,
    /// Start of validity.
    pub valid_from: i64,
    /// End of validity.
    pub valid_until: i64,
    /// When the issuer expects to re-sign, if it says.
    pub expected_update: Option<i64>,
}

impl ValidityInfo {
    fn to_value(self) -> Result<Value, FormatError> {
        let mut m = vec![
            (Value::Text("signed".into()), cbor::tdate(self.signed)?),
            (
                Value::Text("validFrom".into()),
                cbor::tdate(self.valid_from)?,
            ),
            (
                Value::Text("validUntil".into()),
                cbor::tdate(self.valid_until)?,
            ),
        ];
        if let Some(t) = self.expected_update {
            m.push((Value::Text("expectedUpdate".into()), cbor::tdate(t)?));
        }
        Ok(Value::Map(m))
    }

    fn from_value(value: &Value) -> Result<Self, FormatError> {
        const W: &str = "validityInfo";
        let m = cbor::as_map(W, value)?;
        Ok(ValidityInfo {
            signed: cbor::parse_tdate(W, cbor::require(W, m, "signed")?)?,
            valid_from: cbor::parse_tdate(W, cbor::require(W, m, "validFrom")?)?,
            valid_until: cbor::parse_tdate(W, cbor::require(W, m, "validUntil")?)?,
            expected_update: cbor::get(W, m, "expectedUpdate")?
                .map(|v| cbor::parse_tdate(W, v))
                .transpose()?,
        })
    }

    /// Fails with [`FormatError::Rejected`] unless `at` lies within `validFrom..=validUntil`.
    pub fn check(&self, at: i64) -> Result<(), FormatError> {
        if at < self.valid_from {
            return Err(FormatError::Rejected(format!(
                "the MSO is not valid before {} (checked at {})",
                cbor::format_tdate(self.valid_from)?,
                cbor::format_tdate(at)?
            )));
        }
        if at > self.valid_until {
            return Err(FormatError::Rejected(format!(
                "the MSO expired at {} (checked at {})",
                cbor::format_tdate(self.valid_until)?,
                cbor::format_tdate(at)?
            )));
        }
        Ok(())
    }
}

/// A holder key as a `COSE_Key` (RFC 9053): EC2 P-256/P-384 with `x` and `y`, or OKP
/// Ed25519.
pub fn cose_key(key: &PublicKey) -> Result<Value, FormatError> {
    let jwk = key.to_jwk();
    let member = |name: &str| -> Result<Vec<u8>, FormatError> {
        let text = jwk.get(name).and_then(|v| v.as_str()).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| FormatError::malformed("device key", format!("JWK {name}: {e}")))
    };
    let int = |i: i64| Value::Integer(i.into());
    let ec2 = |crv: i64| -> Result<Value, FormatError> {
        Ok(Value::Map(vec![
            (int(1), int(2)),
            (int(-1), int(crv)),
            (int(-2), Value::Bytes(member("x")?)),
            (int(-3), Value::Bytes(member("y")?)),
        ]))
    };
    match key {
        PublicKey::P256(_) => ec2(1),
        PublicKey::P384(_) => ec2(2),
        PublicKey::Ed25519(_) => Ok(Value::Map(vec![
            (int(1), int(1)),
            (int(-1), int(6)),
            (int(-2), Value::Bytes(member("x")?)),
        ])),
        PublicKey::Rsa(_) => Err(FormatError::Unsupported("RSA device keys in mdoc".into())),
    }
}

/// Reads a `COSE_Key` (EC2 P-256/P-384, `y` as bytes or a sign bit; OKP Ed25519).
pub fn public_key_from_cose(value: &Value) -> Result<PublicKey, FormatError> {
    const W: &str = "COSE_Key";
    let m = cbor::as_map(W, value)?;
    let label = |l: i64| {
        cbor::get_int(W, m, l)?
            .ok_or_else(|| FormatError::malformed(W, format!("missing label {l}")))
    };
    let small = |l: i64| -> Result<i128, FormatError> {
        match label(l)? {
            Value::Integer(i) => Ok(i128::from(*i)),
            _ => Err(FormatError::malformed(
                W,
                format!("label {l} is not an integer"),
            )),
        }
    };
    let device = |e: inkan_device::DeviceError| FormatError::malformed(W, e.to_string());
    match (small(1)?, small(-1)?) {
        (2, crv @ (1 | 2)) => {
            let x = cbor::as_bytes(W, label(-2)?)?;
            let point = match label(-3)? {
                Value::Bytes(y) => [&[0x04], x, y.as_slice()].concat(),
                Value::Bool(sign) => [&[if *sign { 0x03 } else { 0x02 }], x].concat(),
                _ => {
                    return Err(FormatError::malformed(
                        W,
                        "y is neither bytes nor a sign bit",
                    ));
                }
            };
            let spec = if crv == 1 {
                inkan_device::KeySpec::P256
            } else {
                inkan_device::KeySpec::P384
            };
            PublicKey::from_sec1(spec, &point).map_err(device)
        }
        (1, 6) => PublicKey::from_ed25519(cbor::as_bytes(W, label(-2)?)?).map_err(device),
        (kty, crv) => Err(FormatError::Unsupported(format!(
            "COSE_Key kty {kty} crv {crv}"
        ))),
    }
}

/// One data element with its salt and digest ID (§9.1.2.5).
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerSignedItem {
    /// The MSO digest ID.
    pub digest_id: u64,
    /// The random salt.
    pub random: Vec<u8>,
    /// The data element identifier.
    pub element_identifier: String,
    /// The data element value.
    pub element_value: Value,
}

impl IssuerSignedItem {
    fn to_value(&self) -> Value {
        Value::Map(vec![
            (
                Value::Text("digestID".into()),
                Value::Integer(self.digest_id.into()),
            ),
            (
                Value::Text("random".into()),
                Value::Bytes(self.random.clone()),
            ),
            (
                Value::Text("elementIdentifier".into()),
                Value::Text(self.element_identifier.clone()),
            ),
            (
                Value::Text("elementValue".into()),
                self.element_value.clone(),
            ),
        ])
    }

    fn from_value(value: &Value) -> Result<Self, FormatError> {
        const W: &str = "IssuerSignedItem";
        let m = cbor::as_map(W, value)?;
        Ok(IssuerSignedItem {
            digest_id: cbor::as_uint(W, cbor::require(W, m, "digestID")?)?,
            random: cbor::as_bytes(W, cbor::require(W, m, "random")?)?.to_vec(),
            element_identifier: cbor::as_text(W, cbor::require(W, m, "elementIdentifier")?)?
                .to_owned(),
            element_value: cbor::require(W, m, "elementValue")?.clone(),
        })
    }
}

/// An IssuerSignedItem together with the exact bytes it was embedded as (the digests are
/// over those bytes, so they are kept as received).
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerSignedItemBytes {
    /// The decoded item.
    pub item: IssuerSignedItem,
    /// The encoded item inside `#6.24(bstr)`.
    pub encoded: Vec<u8>,
}

impl IssuerSignedItemBytes {
    /// Wraps a new item, encoding it.
    pub fn new(item: IssuerSignedItem) -> Result<Self, FormatError> {
        let encoded = cbor::encode(&item.to_value())?;
        Ok(IssuerSignedItemBytes { item, encoded })
    }

    /// `#6.24(bstr .cbor IssuerSignedItem)`.
    pub fn to_value(&self) -> Value {
        cbor::tag24(self.encoded.clone())
    }

    /// The digest of the tag-24 encoded item, as the MSO holds it.
    pub fn digest(&self, algorithm: &str) -> Result<Vec<u8>, FormatError> {
        digest(algorithm, &cbor::encode(&self.to_value())?)
    }

    fn from_value(value: &Value) -> Result<Self, FormatError> {
        let encoded = cbor::untag24("IssuerSignedItemBytes", value)?.to_vec();
        let item = IssuerSignedItem::from_value(&cbor::parse("IssuerSignedItem", &encoded)?)?;
        Ok(IssuerSignedItemBytes { item, encoded })
    }
}

fn digest(algorithm: &str, bytes: &[u8]) -> Result<Vec<u8>, FormatError> {
    match algorithm {
        "SHA-256" => Ok(sha2::Sha256::digest(bytes).to_vec()),
        "SHA-384" => Ok(sha2::Sha384::digest(bytes).to_vec()),
        "SHA-512" => Ok(sha2::Sha512::digest(bytes).to_vec()),
        other => Err(FormatError::Unsupported(format!(
            "MSO digest algorithm {other:?}"
        ))),
    }
}

/// The Mobile Security Object (§9.1.2.4).
#[derive(Debug, Clone, PartialEq)]
pub struct MobileSecurityObject {
    /// `version` ("1.0").
    pub version: String,
    /// `digestAlgorithm` ("SHA-256", "SHA-384" or "SHA-512").
    pub digest_algorithm: String,
    /// `valueDigests`: name space → digest ID → digest.
    pub value_digests: BTreeMap<String, BTreeMap<u64, Vec<u8>>>,
    /// `deviceKeyInfo.deviceKey`, the holder's key.
    pub device_key: PublicKey,
    /// `docType`.
    pub doc_type: String,
    /// `validityInfo`.
    pub validity: ValidityInfo,
    /// `status`: where the issuer publishes this document's status, an IETF Token Status List
    /// entry (`{"status_list": {"idx", "uri"}}`, ISO/IEC 18013-5 second edition, as
    /// draft-ietf-oauth-status-list defines it for CBOR-based tokens).
    pub status: Option<StatusListReference>,
}

impl MobileSecurityObject {
    fn to_value(&self) -> Result<Value, FormatError> {
        let digests = self
            .value_digests
            .iter()
            .map(|(ns, ids)| {
                let ids = ids
                    .iter()
                    .map(|(id, d)| (Value::Integer((*id).into()), Value::Bytes(d.clone())))
                    .collect();
                (Value::Text(ns.clone()), Value::Map(ids))
            })
            .collect();
        let mut fields = vec![
            (
                Value::Text("version".into()),
                Value::Text(self.version.clone()),
            ),
            (
                Value::Text("digestAlgorithm".into()),
                Value::Text(self.digest_algorithm.clone()),
            ),
            (Value::Text("valueDigests".into()), Value::Map(digests)),
            (
                Value::Text("deviceKeyInfo".into()),
                Value::Map(vec![(
                    Value::Text("deviceKey".into()),
                    cose_key(&self.device_key)?,
                )]),
            ),
            (
                Value::Text("docType".into()),
                Value::Text(self.doc_type.clone()),
            ),
            (
                Value::Text("validityInfo".into()),
                self.validity.to_value()?,
            ),
        ];
        if let Some(status) = &self.status {
            fields.push((Value::Text("status".into()), status.to_cbor_status()));
        }
        Ok(Value::Map(fields))
    }

    fn from_value(value: &Value) -> Result<Self, FormatError> {
        const W: &str = "MobileSecurityObject";
        let m = cbor::as_map(W, value)?;
        let mut value_digests = BTreeMap::new();
        let mut count = 0usize;
        for (ns, ids) in cbor::as_map(W, cbor::require(W, m, "valueDigests")?)? {
            let mut map = BTreeMap::new();
            for (id, d) in cbor::as_map(W, ids)? {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(FormatError::malformed(
                        W,
                        format!("more than {MAX_ELEMENTS} digests"),
                    ));
                }
                if map
                    .insert(cbor::as_uint(W, id)?, cbor::as_bytes(W, d)?.to_vec())
                    .is_some()
                {
                    return Err(FormatError::malformed(W, "duplicate digest ID"));
                }
            }
            if value_digests
                .insert(cbor::as_text(W, ns)?.to_owned(), map)
                .is_some()
            {
                return Err(FormatError::malformed(
                    W,
                    "duplicate name space in valueDigests",
                ));
            }
        }
        let key_info = cbor::as_map(W, cbor::require(W, m, "deviceKeyInfo")?)?;
        Ok(MobileSecurityObject {
            version: cbor::as_text(W, cbor::require(W, m, "version")?)?.to_owned(),
            digest_algorithm: cbor::as_text(W, cbor::require(W, m, "digestAlgorithm")?)?.to_owned(),
            value_digests,
            device_key: public_key_from_cose(cbor::require(W, key_info, "deviceKey")?)?,
            doc_type: cbor::as_text(W, cbor::require(W, m, "docType")?)?.to_owned(),
            validity: ValidityInfo::from_value(cbor::require(W, m, "validityInfo")?)?,
            status: match cbor::get(W, m, "status")? {
                Some(status) => StatusListReference::from_cbor_status(status)?,
                None => None,
            },
        })
    }
}

/// What to issue: a docType, its data elements per name space, the holder's key and the
/// validity.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// `docType`, e.g. `org.iso.18013.5.1.mDL`.
    pub doc_type: String,
    /// Name space → data elements (identifier, value), in the order to issue them.
    pub namespaces: Vec<(String, Vec<(String, Value)>)>,
    /// The holder's device key (goes in `deviceKeyInfo`).
    pub device_key: PublicKey,
    /// `validityInfo`.
    pub validity: ValidityInfo,
    /// The MSO's `status`, if the issuer keeps a status list entry for the document.
    pub status: Option<StatusListReference>,
}

/// IssuerSigned (§8.3.2.1.2.2): the disclosed items per name space and `issuerAuth`.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerSigned {
    /// Name space → disclosed items.
    pub namespaces: Vec<(String, Vec<IssuerSignedItemBytes>)>,
    /// `issuerAuth`: the `COSE_Sign1` over the tag-24 encoded MSO.
    pub issuer_auth: CoseSign1,
}

/// An IssuerSigned whose MSO is built and waits for the issuer's signature.
#[derive(Debug, Clone)]
pub struct PreparedIssuerSigned {
    namespaces: Vec<(String, Vec<IssuerSignedItemBytes>)>,
    mso_bytes: Vec<u8>,
}

impl PreparedIssuerSigned {
    /// Builds the items (random salts from `rng`, digest IDs shuffled per name space) and
    /// the MSO.
    pub fn new(request: &IssueRequest, rng: &mut dyn RngCore) -> Result<Self, FormatError> {
        let v = &request.validity;
        if v.valid_from > v.valid_until {
            return Err(FormatError::Rejected(
                "validFrom is after validUntil".into(),
            ));
        }
        let mut namespaces = Vec::new();
        let mut value_digests = BTreeMap::new();
        let mut total = 0usize;
        for (ns, elements) in &request.namespaces {
            total += elements.len();
            if total > MAX_ELEMENTS {
                return Err(FormatError::Rejected(format!(
                    "more than {MAX_ELEMENTS} data elements"
                )));
            }
            if value_digests.contains_key(ns) {
                return Err(FormatError::Rejected(format!(
                    "name space {ns:?} given twice"
                )));
            }
            // Digest IDs 0..n in a random order, so that they reveal nothing of the order.
            let mut ids: Vec<u64> = (0..elements.len() as u64).collect();
            for i in (1..ids.len()).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                ids.swap(i, j);
            }
            let mut items = Vec::new();
            let mut digests = BTreeMap::new();
            for ((name, value), id) in elements.iter().zip(ids) {
                if items
                    .iter()
                    .any(|i: &IssuerSignedItemBytes| &i.item.element_identifier == name)
                {
                    return Err(FormatError::Rejected(format!(
                        "data element {ns}/{name} given twice"
                    )));
                }
                let mut random = vec![0u8; SALT_BYTES];
                rng.fill_bytes(&mut random);
                let item = IssuerSignedItemBytes::new(IssuerSignedItem {
                    digest_id: id,
                    random,
                    element_identifier: name.clone(),
                    element_value: value.clone(),
                })?;
                digests.insert(id, item.digest("SHA-256")?);
                items.push(item);
            }
            value_digests.insert(ns.clone(), digests);
            namespaces.push((ns.clone(), items));
        }
        let mso = MobileSecurityObject {
            version: "1.0".into(),
            digest_algorithm: "SHA-256".into(),
            value_digests,
            device_key: request.device_key.clone(),
            doc_type: request.doc_type.clone(),
            validity: request.validity,
            status: request.status.clone(),
        };
        let mso_bytes = cbor::encode(&cbor::tag24(cbor::encode(&mso.to_value()?)?))?;
        Ok(PreparedIssuerSigned {
            namespaces,
            mso_bytes,
        })
    }

    /// The payload the issuer signs: `#6.24(bstr .cbor MobileSecurityObject)`, encoded.
    pub fn mso_bytes(&self) -> &[u8] {
        &self.mso_bytes
    }

    /// Signs the MSO with `issuer_key` (its chain goes in `x5chain`) through `signer`.
    pub async fn sign(
        self,
        signer: &dyn Signer,
        issuer_key: &KeyRef,
    ) -> Result<IssuerSigned, FormatError> {
        let issuer_auth = cose::sign(signer, issuer_key, &self.mso_bytes, false).await?;
        Ok(IssuerSigned {
            namespaces: self.namespaces,
            issuer_auth,
        })
    }
}

/// Issues an IssuerSigned: [`PreparedIssuerSigned::new`] then
/// [`PreparedIssuerSigned::sign`].
pub async fn issue(
    signer: &dyn Signer,
    issuer_key: &KeyRef,
    request: &IssueRequest,
    rng: &mut (dyn RngCore + Send),
) -> Result<IssuerSigned, FormatError> {
    let prepared = PreparedIssuerSigned::new(request, rng)?;
    prepared.sign(signer, issuer_key).await
}

/// How to verify an IssuerSigned.
#[derive(Debug, Clone, Copy)]
pub struct IssuerVerification<'a> {
    /// The time to verify at (Unix seconds): the MSO validity and the leaf certificate
    /// validity must hold then.
    pub at: i64,
    /// The issuer key, when the caller has it; otherwise the `x5chain` leaf's key is used
    /// (whether that certificate is trusted is the caller's decision).
    pub issuer_key: Option<&'a PublicKey>,
}

/// A verified IssuerSigned.
#[derive(Debug, Clone)]
pub struct VerifiedIssuerSigned {
    /// The MSO.
    pub mso: MobileSecurityObject,
    /// The `x5chain` certificates (DER, leaf first), possibly empty.
    pub x5chain: Vec<Vec<u8>>,
    /// Name space → element identifier → value, for every disclosed element.
    pub elements: BTreeMap<String, BTreeMap<String, Value>>,
}

impl IssuerSigned {
    /// As a CBOR value (`{"nameSpaces": …, "issuerAuth": COSE_Sign1}`).
    pub fn to_value(&self) -> Result<Value, FormatError> {
        let namespaces = self
            .namespaces
            .iter()
            .map(|(ns, items)| {
                (
                    Value::Text(ns.clone()),
                    Value::Array(items.iter().map(IssuerSignedItemBytes::to_value).collect()),
                )
            })
            .collect();
        Ok(Value::Map(vec![
            (Value::Text("nameSpaces".into()), Value::Map(namespaces)),
            (
                Value::Text("issuerAuth".into()),
                cose::to_value(self.issuer_auth.clone())?,
            ),
        ]))
    }

    /// Encoded as CBOR.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        cbor::encode(&self.to_value()?)
    }

    /// Parses CBOR from outside, with the limits.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        Self::from_value(&cbor::parse("IssuerSigned", bytes)?)
    }

    /// Reads a parsed CBOR value.
    pub fn from_value(value: &Value) -> Result<Self, FormatError> {
        const W: &str = "IssuerSigned";
        let m = cbor::as_map(W, value)?;
        let mut namespaces = Vec::new();
        let mut count = 0usize;
        if let Some(ns_map) = cbor::get(W, m, "nameSpaces")? {
            for (ns, items) in cbor::as_map(W, ns_map)? {
                let ns = cbor::as_text(W, ns)?.to_owned();
                if namespaces.iter().any(|(n, _)| *n == ns) {
                    return Err(FormatError::malformed(
                        W,
                        format!("name space {ns:?} twice"),
                    ));
                }
                let items = cbor::as_array(W, items)?;
                count += items.len();
                if count > MAX_ELEMENTS {
                    return Err(FormatError::malformed(
                        W,
                        format!("more than {MAX_ELEMENTS} items"),
                    ));
                }
                let items = items
                    .iter()
                    .map(IssuerSignedItemBytes::from_value)
                    .collect::<Result<Vec<_>, _>>()?;
                namespaces.push((ns, items));
            }
        }
        let issuer_auth = cose::from_value(cbor::require(W, m, "issuerAuth")?.clone())?;
        Ok(IssuerSigned {
            namespaces,
            issuer_auth,
        })
    }

    /// The MSO, read from `issuerAuth` without checking its signature.
    pub fn mso(&self) -> Result<MobileSecurityObject, FormatError> {
        let payload = self
            .issuer_auth
            .payload
            .as_deref()
            .ok_or_else(|| FormatError::malformed("issuerAuth", "no payload"))?;
        let outer = cbor::parse("MobileSecurityObjectBytes", payload)?;
        let inner = cbor::parse(
            "MobileSecurityObject",
            cbor::untag24("MobileSecurityObjectBytes", &outer)?,
        )?;
        MobileSecurityObject::from_value(&inner)
    }

    /// Verifies the issuer signature (with `options.issuer_key` or the `x5chain` leaf), that
    /// every disclosed element's digest is in the MSO, and the validity at `options.at`.
    pub fn verify(
        &self,
        options: &IssuerVerification<'_>,
    ) -> Result<VerifiedIssuerSigned, FormatError> {
        let x5chain = cose::x5chain(&self.issuer_auth)?;
        let leaf_key;
        let key = match options.issuer_key {
            Some(k) => k,
            None => {
                if x5chain.is_empty() {
                    return Err(FormatError::Rejected(
                        "issuerAuth has no x5chain and no issuer key was given".into(),
                    ));
                }
                let chain = CertificateChain::from_der_list(&x5chain)
                    .map_err(|e| FormatError::malformed("x5chain", e.to_string()))?;
                let (not_before, not_after) = chain.leaf_validity();
                if options.at < not_before || options.at > not_after {
                    return Err(FormatError::Rejected(format!(
                        "the issuer certificate is not valid at {}",
                        cbor::format_tdate(options.at)?
                    )));
                }
                leaf_key = chain
                    .leaf_public_key()
                    .map_err(|e| FormatError::malformed("x5chain", e.to_string()))?;
                &leaf_key
            }
        };
        cose::verify(&self.issuer_auth, key, None)
            .map_err(|e| FormatError::InvalidSignature(format!("issuer signature: {e}")))?;
        let mso = self.mso()?;
        if mso.version != "1.0" {
            return Err(FormatError::Unsupported(format!(
                "MSO version {:?}",
                mso.version
            )));
        }
        let mut elements: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        for (ns, items) in &self.namespaces {
            let digests = mso.value_digests.get(ns).ok_or_else(|| {
                FormatError::Rejected(format!("name space {ns:?} is not in the MSO"))
            })?;
            for item in items {
                let name = &item.item.element_identifier;
                let expected = digests.get(&item.item.digest_id).ok_or_else(|| {
                    FormatError::Rejected(format!(
                        "data element {ns}/{name}: digest ID {} is not in the MSO",
                        item.item.digest_id
                    ))
                })?;
                if item.digest(&mso.digest_algorithm)? != *expected {
                    return Err(FormatError::Rejected(format!(
                        "data element {ns}/{name}: its digest does not match the MSO"
                    )));
                }
                if elements
                    .entry(ns.clone())
                    .or_default()
                    .insert(name.clone(), item.item.element_value.clone())
                    .is_some()
                {
                    return Err(FormatError::Rejected(format!(
                        "data element {ns}/{name} is disclosed twice"
                    )));
                }
            }
        }
        mso.validity.check(options.at)?;
        Ok(VerifiedIssuerSigned {
            mso,
            x5chain,
            elements,
        })
    }
}
