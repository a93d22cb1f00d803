//! The process-wide registry of loaded PKCS#11 modules.
//!
//! Owns the one `C_Initialize` per module and process that PKCS#11 allows: every device (and
//! every test) that names the same module shares one initialized [`Pkcs11`] context, keyed by
//! the module's canonical path.
//!
//! It must never call `C_Finalize`: a context stays initialized until the process exits, so
//! no device can find its module finalized under it while another device still uses it.

use crate::DeviceError;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Initialized modules by canonical path. Entries are never removed (see the module docs).
static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();

/// The initialized context of the module at `path`, loading and initializing it on first use.
pub(crate) fn module(path: &Path) -> Result<Pkcs11, DeviceError> {
    let canonical = path.canonicalize().map_err(|e| {
        DeviceError::Config(format!(
            "PKCS#11 module {} cannot be opened: {e}",
            path.display()
        ))
    })?;
    // A poisoned registry only means a panic happened while it was locked; the map itself is
    // always left consistent (one insert), so keep using it.
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(ctx) = modules.get(&canonical) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(&canonical).map_err(|e| {
        DeviceError::Config(format!(
            "PKCS#11 module {} cannot be loaded: {e}",
            canonical.display()
        ))
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Something else in this process (not through this registry) initialized it first:
        // the module is usable all the same.
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(DeviceError::Pkcs11(format!(
                "C_Initialize of {} failed: {e}",
                canonical.display()
            )));
        }
    }
    modules.insert(canonical, ctx.clone());
    Ok(ctx)
}
