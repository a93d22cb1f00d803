//! The routes, one file per audience: [`system`] (infrastructure), [`auth`] (getting a
//! session), [`csc`] (CSC API v2: activation and signHash), [`admin`] (operators), [`keys`] (a subscriber's keys), [`vc`] (W3C VC API), [`present`] (holders' presentations and key proofs), [`signatures`] (confirming a
//! signature afterwards).

pub mod admin;
pub mod auth;
pub mod csc;
pub mod delivery;
pub mod keys;
pub mod present;
pub mod signatures;
pub mod system;
pub mod vc;

use super::ApiState;
use super::error::ApiError;
use serde_json::Value;

/// The receipts (with their entries) of the log entries at `indexes`, encoded for a response.
async fn receipts(state: &ApiState, indexes: &[u64]) -> Result<Vec<Value>, ApiError> {
    let mut receipts = Vec::with_capacity(indexes.len());
    for index in indexes {
        let receipt = state
            .service
            .log
            .receipt_with_entry(*index)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        receipts.push(Value::String(receipt.encode()));
    }
    Ok(receipts)
}
