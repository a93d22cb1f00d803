//! PostgreSQL store (to be written).
#![allow(missing_docs)]
use super::*;
#[derive(Debug)]
pub struct PostgresStore;
impl PostgresStore {
    pub async fn connect(_url: &str) -> Result<Self, StoreError> { Err(StoreError::Config("unimplemented".into())) }
}
#[async_trait::async_trait]
impl Store for PostgresStore {
    fn engine(&self) -> &'static str { "postgres" }
    async fn insert_key(&self, _key: &KeyRecord) -> Result<(), StoreError> { unimplemented!() }
    async fn get_key(&self, _id: &KeyId) -> Result<Option<KeyRecord>, StoreError> { unimplemented!() }
    async fn list_keys(&self, _f: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> { unimplemented!() }
    async fn set_certificate_chain(&self, _id: &KeyId, _c: &[Vec<u8>], _at: UnixMillis) -> Result<KeyRecord, StoreError> { unimplemented!() }
    async fn change_key_state(&self, _id: &KeyId, _c: &StateChange) -> Result<KeyRecord, StoreError> { unimplemented!() }
}
