//! Running the service as procedures several people take part in (criteria 2.1.1, 2.1.3(12),
//! 2.2.2(3)C, 2.3.3).
//!
//! - [`actions`]: the actions that need dual control (key destruction outside the automatic
//!   triggers, role changes, terminal registration, termination of a subscriber's use, system
//!   client registration, status sources, a user's reissued activation code, and the host
//!   commands' authorisations), what each needs to be asked, and how each is carried out once
//!   approved;
//! - [`enrolment`]: applications (applicant, identity proofing, mandate) approved by a second
//!   officer before any subscriber, account or key exists;
//! - [`configuration`]: a changed configuration is logged, and in production starts only with
//!   an approved `config.change` request;
//! - [`approvals`]: M-of-N dual control: a request by one operator, approvals by M others whose
//!   role may do the action, never the requester, and for a standing approval the consent of
//!   a user of the subscriber; the action runs once, on the last step; pending requests
//!   expire.
//!
//! Records are the store's workflow records (typed JSON bodies, every change a
//! compare-and-set); every step is logged with the operator and terminal. Must never: run an
//! action with fewer approvals than configured, run one twice, or let anyone approve their own
//! request.

pub mod actions;
pub mod approvals;
pub mod configuration;
pub mod enrolment;
mod records;

pub use actions::{ACTIONS, Action};
pub use approvals::{ApprovalRequest, Approved, Operations, RequestState};
