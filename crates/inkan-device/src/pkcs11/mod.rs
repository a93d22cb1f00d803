//! PKCS#11 devices — TEMPORARY STUB so dependants compile; the real implementation replaces
//! this whole file (same public names: Pkcs11Config, PinSource, Pkcs11Device::open).
#![allow(missing_docs, dead_code)]
use std::path::PathBuf;
#[derive(Debug, Clone)]
pub enum PinSource { File(PathBuf), Env(String) }
#[derive(Debug, Clone)]
pub struct Pkcs11Config { pub module: PathBuf, pub token_label: String, pub pin: PinSource, pub sessions: usize }
#[derive(Debug)]
pub struct Pkcs11Device;
impl Pkcs11Device {
    pub fn open(_config: &Pkcs11Config) -> Result<Self, crate::DeviceError> {
        Err(crate::DeviceError::Config("PKCS#11 not implemented yet".into()))
    }
}
impl crate::CryptoDevice for Pkcs11Device {
    fn kind(&self) -> crate::DeviceKind { unimplemented!() }
    fn is_certified(&self) -> bool { unimplemented!() }
    fn generate(&self, _: crate::KeySpec, _: &str) -> crate::Result<crate::DeviceKey> { unimplemented!() }
    fn sign(&self, _: &crate::KeyHandle, _: crate::Algorithm, _: &[u8]) -> crate::Result<Vec<u8>> { unimplemented!() }
    fn public_key(&self, _: &crate::KeyHandle) -> crate::Result<crate::PublicKey> { unimplemented!() }
    fn contains(&self, _: &crate::KeyHandle) -> crate::Result<bool> { unimplemented!() }
    fn handles(&self) -> crate::Result<Vec<crate::KeyHandle>> { unimplemented!() }
    fn wrapping_public_key(&self) -> crate::Result<crate::PublicKey> { unimplemented!() }
    fn unwrap_key(&self, _: &crate::import::WrappedKey, _: &crate::PublicKey, _: &str) -> crate::Result<crate::KeyHandle> { unimplemented!() }
    fn destroy(&self, _: &crate::KeyHandle) -> crate::Result<()> { unimplemented!() }
}
