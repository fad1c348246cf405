//! Certification: run exactly a profile's required scenarios against one target (through the
//! runner, like `run`) and issue `certificate.json` (optionally Ed25519-signed) and
//! `certificate.html`; verify such a certificate later.
//!
//! Sits beside the CLI, above `runner`: it consumes the runner's case results and never
//! reaches into `report`.

pub mod canonical;
pub mod certificate;
pub mod html;
pub mod profile;
pub mod signing;

pub use certificate::{Certificate, Inputs, Invalid, Verdict};
pub use profile::{Profile, ProfileError};
