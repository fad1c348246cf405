//! Scenarios: the YAML model, loading with file:line:column errors, and matrix expansion.

pub mod load;
pub mod model;
mod names;

pub use load::{LoadError, load_path};
pub use model::*;
