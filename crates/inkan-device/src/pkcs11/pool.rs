//! The pool of logged-in read/write sessions of one PKCS#11 device, and its recovery.
//!
//! Owns the sessions (a cryptoki `Session` is `Send` but not `Sync`): each operation checks
//! one out, uses it alone and gives it back, so operations on different threads run in
//! parallel inside the module; no lock is held around a C call. It logs in once per
//! application (every new session logs in, and `CKR_USER_ALREADY_LOGGED_IN` is fine).
//!
//! When the module says the sessions or the login are gone (`CKR_SESSION_HANDLE_INVALID`,
//! `CKR_SESSION_CLOSED`, `CKR_DEVICE_REMOVED`, `CKR_TOKEN_NOT_PRESENT`,
//! `CKR_USER_NOT_LOGGED_IN`, or an object handle that went stale with them), it discards
//! every idle session, finds the token again by its label, and runs the operation once more
//! on a fresh, logged-in session. Each recovery starts a new *generation*: whatever was
//! cached under an older one (sessions, object handles) is no longer used.
//!
//! It must never log or format the PIN, never retry a failed login (that would count down
//! the token's PIN retry counter), and never find a token by slot number.

use crate::DeviceError;
use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use secrecy::SecretString;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Why one attempt of an operation failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The module returned an error.
    Module(Error),
    /// A private object could not be found and the session turned out not to be logged in:
    /// the login was lost (some modules report a missing login this way, not with an error).
    LoggedOut,
    /// Anything else, already described.
    Device(DeviceError),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Module(e)
    }
}

impl From<DeviceError> for Failure {
    fn from(e: DeviceError) -> Self {
        Failure::Device(e)
    }
}

impl Failure {
    /// Whether this failure means the sessions, the login or the token connection are gone,
    /// so that reconnecting and retrying can succeed.
    pub(crate) fn needs_reconnect(&self) -> bool {
        match self {
            Failure::LoggedOut => true,
            Failure::Module(Error::Pkcs11(rv, _)) => is_connection_loss(*rv),
            _ => false,
        }
    }

    pub(crate) fn into_device_error(self) -> DeviceError {
        match self {
            Failure::Module(e) => DeviceError::Pkcs11(describe(&e)),
            Failure::LoggedOut => DeviceError::Pkcs11("the token session is not logged in".into()),
            Failure::Device(e) => e,
        }
    }
}

/// The return values after which a session is discarded and the operation retried once
/// on a new session. Stale object handles are included: a lost login (`C_Logout`, or every
/// session closed) invalidates the application's handles to private objects, and some
/// modules report that before they report the missing login.
pub(crate) fn is_connection_loss(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::UserNotLoggedIn
            | RvError::ObjectHandleInvalid
            | RvError::KeyHandleInvalid
    )
}

/// A module error as `C_Function: ReturnValue`, without the library's long descriptions.
/// Never contains attribute values, PINs or key material.
pub(crate) fn describe(e: &Error) -> String {
    match e {
        Error::Pkcs11(rv, function) => format!("C_{function:?}: {rv:?}"),
        other => other.to_string(),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section below leaves the state consistent before it can panic, so a
    // poisoned lock is still safe to use.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Finds the slot whose token carries `label`. Exactly one token may carry it.
pub(crate) fn find_slot(ctx: &Pkcs11, label: &str) -> Result<Slot, DeviceError> {
    let failed = |e: Error| DeviceError::Pkcs11(format!("listing tokens: {}", describe(&e)));
    let mut found = Vec::new();
    // A slot whose token cannot be read (another process is initializing it, a token is
    // damaged) does not stop us from finding ours; it is reported only if ours is not found.
    let mut unreadable = Vec::new();
    for slot in ctx.get_slots_with_initialized_token().map_err(failed)? {
        match ctx.get_token_info(slot) {
            Ok(info) if info.label().trim_end() == label => found.push(slot),
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(slot = slot.id(), error = %describe(&e), "skipping an unreadable token");
                unreadable.push(describe(&e));
            }
        }
    }
    match found.as_slice() {
        [slot] => Ok(*slot),
        [] if !unreadable.is_empty() => Err(DeviceError::Pkcs11(format!(
            "no token labelled {label:?} found; {} token(s) could not be read ({})",
            unreadable.len(),
            unreadable.join("; ")
        ))),
        [] => Err(DeviceError::Config(format!(
            "no initialized token labelled {label:?} in the PKCS#11 module"
        ))),
        _ => Err(DeviceError::Config(format!(
            "{} tokens are labelled {label:?}; token labels must be unique",
            found.len()
        ))),
    }
}

struct State {
    slot: Slot,
    generation: u64,
    idle: Vec<Session>,
    /// Sessions alive, idle or checked out, of any generation.
    open: usize,
}

/// The session pool of one device.
pub(crate) struct SessionPool {
    ctx: Pkcs11,
    token_label: String,
    pin: SecretString,
    max: usize,
    state: Mutex<State>,
    returned: Condvar,
    /// Held while reconnecting, so that threads failing together reconnect once.
    reconnecting: Mutex<()>,
}

impl std::fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPool")
            .field("token_label", &self.token_label)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

/// A session checked out of the pool; it goes back when dropped.
pub(crate) struct Checkout<'a> {
    pool: &'a SessionPool,
    session: Option<Session>,
    generation: u64,
    broken: bool,
}

impl Checkout<'_> {
    fn session(&self) -> Result<&Session, Failure> {
        self.session
            .as_ref()
            .ok_or_else(|| Failure::Device(DeviceError::Pkcs11("session already returned".into())))
    }
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let discard = {
            let mut st = lock(&self.pool.state);
            if self.broken || self.generation != st.generation {
                st.open = st.open.saturating_sub(1);
                Some(session)
            } else {
                st.idle.push(session);
                None
            }
        };
        self.pool.returned.notify_one();
        // Closing a discarded session is a C call: done after the lock is released. A session
        // whose handle is already invalid fails to close; cryptoki logs that and moves on.
        drop(discard);
    }
}

impl SessionPool {
    /// Finds the token, then opens and logs in one session so that a wrong PIN or a missing
    /// token is reported at start-up rather than at the first signature.
    pub(crate) fn connect(
        ctx: Pkcs11,
        token_label: &str,
        pin: SecretString,
        max: usize,
    ) -> Result<Self, DeviceError> {
        let slot = find_slot(&ctx, token_label)?;
        let pool = SessionPool {
            ctx,
            token_label: token_label.to_owned(),
            pin,
            max: max.max(1),
            state: Mutex::new(State {
                slot,
                generation: 0,
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
            reconnecting: Mutex::new(()),
        };
        drop(pool.checkout().map_err(Failure::into_device_error)?);
        Ok(pool)
    }

    /// The slot of the token in the current generation.
    pub(crate) fn slot(&self) -> Slot {
        lock(&self.state).slot
    }

    /// The label the token is found by.
    pub(crate) fn token_label(&self) -> &str {
        &self.token_label
    }

    /// Opens a read/write session on `slot` and logs the user in.
    fn open_session(&self, slot: Slot) -> Result<Session, Failure> {
        let session = self.ctx.open_rw_session(slot)?;
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(Error::Pkcs11(rv, _)) if !is_connection_loss(rv) => {
                Err(Failure::Device(DeviceError::Pkcs11(format!(
                    "logging in to token {:?} failed: {rv:?}",
                    self.token_label
                ))))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// An idle session, a new one while fewer than `max` are open, or else the next one
    /// given back.
    fn checkout(&self) -> Result<Checkout<'_>, Failure> {
        let mut st = lock(&self.state);
        loop {
            if let Some(session) = st.idle.pop() {
                return Ok(Checkout {
                    pool: self,
                    session: Some(session),
                    generation: st.generation,
                    broken: false,
                });
            }
            if st.open < self.max {
                st.open += 1;
                let (slot, generation) = (st.slot, st.generation);
                drop(st);
                return match self.open_session(slot) {
                    Ok(session) => Ok(Checkout {
                        pool: self,
                        session: Some(session),
                        generation,
                        broken: false,
                    }),
                    Err(e) => {
                        lock(&self.state).open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            st = self.returned.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Runs `op` on a checked-out session; `op` also receives the session's generation, for
    /// caches. When the attempt fails because the connection was lost, reconnects and runs
    /// `op` once more. `op` must therefore be safe to run twice.
    pub(crate) fn run<T>(
        &self,
        mut op: impl FnMut(&Session, u64) -> Result<T, Failure>,
    ) -> Result<T, DeviceError> {
        let mut retried = false;
        loop {
            let mut seen_generation = lock(&self.state).generation;
            let outcome = self.checkout().and_then(|mut checkout| {
                seen_generation = checkout.generation;
                let result = checkout.session().and_then(|s| op(s, checkout.generation));
                if result.as_ref().is_err_and(Failure::needs_reconnect) {
                    checkout.broken = true;
                }
                result
            });
            match outcome {
                Ok(value) => return Ok(value),
                Err(failure) if !retried && failure.needs_reconnect() => {
                    tracing::warn!(
                        token = %self.token_label,
                        cause = %failure.into_device_error(),
                        "PKCS#11 session or login lost; reconnecting and retrying once"
                    );
                    self.reconnect(seen_generation)?;
                    retried = true;
                }
                Err(failure) => return Err(failure.into_device_error()),
            }
        }
    }

    /// Discards the idle sessions of generation `seen` and finds the token again, unless
    /// another thread already did so since `seen`.
    fn reconnect(&self, seen: u64) -> Result<(), DeviceError> {
        let _one = lock(&self.reconnecting);
        if lock(&self.state).generation != seen {
            return Ok(());
        }
        let slot = find_slot(&self.ctx, &self.token_label)?;
        let stale = {
            let mut st = lock(&self.state);
            st.generation += 1;
            st.slot = slot;
            st.open = st.open.saturating_sub(st.idle.len());
            std::mem::take(&mut st.idle)
        };
        self.returned.notify_all();
        drop(stale);
        tracing::info!(token = %self.token_label, "PKCS#11 token found again; sessions renewed");
        Ok(())
    }

    /// Takes the login away from every session of this application on the token, as an HSM
    /// restart or a `C_CloseAllSessions` elsewhere would; for tests of the recovery.
    pub(crate) fn drop_login_for_test(&self) -> Result<(), DeviceError> {
        let slot = self.slot();
        let session = self
            .ctx
            .open_rw_session(slot)
            .map_err(|e| DeviceError::Pkcs11(describe(&e)))?;
        match session.logout() {
            Ok(()) | Err(Error::Pkcs11(RvError::UserNotLoggedIn, _)) => Ok(()),
            Err(e) => Err(DeviceError::Pkcs11(describe(&e))),
        }
    }
}

/// Whether `session` is logged in as the user (read/write).
pub(crate) fn is_logged_in(session: &Session) -> Result<bool, Failure> {
    Ok(matches!(
        session.get_session_info()?.session_state(),
        SessionState::RwUser | SessionState::RoUser
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    #[test]
    fn lost_sessions_and_logins_are_retried_other_errors_are_not() {
        for rv in [
            RvError::SessionHandleInvalid,
            RvError::SessionClosed,
            RvError::DeviceRemoved,
            RvError::TokenNotPresent,
            RvError::UserNotLoggedIn,
        ] {
            assert!(
                Failure::Module(Error::Pkcs11(rv, Function::Sign)).needs_reconnect(),
                "{rv:?}"
            );
        }
        for rv in [
            RvError::PinIncorrect,
            RvError::PinLocked,
            RvError::MechanismInvalid,
            RvError::DataLenRange,
        ] {
            assert!(
                !Failure::Module(Error::Pkcs11(rv, Function::Sign)).needs_reconnect(),
                "{rv:?}"
            );
        }
        assert!(Failure::LoggedOut.needs_reconnect());
        assert!(!Failure::Device(DeviceError::KeyNotFound("x".into())).needs_reconnect());
    }

    #[test]
    fn errors_are_described_by_function_and_return_value() {
        let text = describe(&Error::Pkcs11(
            RvError::SessionHandleInvalid,
            Function::SignInit,
        ));
        assert_eq!(text, "C_SignInit: SessionHandleInvalid");
    }
}
