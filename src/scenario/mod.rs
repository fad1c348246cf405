//! Scenarios: the YAML model, loading with file:line:column errors, and matrix expansion.

pub(crate) mod keyword;
pub mod load;
pub mod model;
mod raw;
mod resolve;

pub use keyword::UnknownKeyword;
pub use load::{LoadError, load_path, load_paths};
pub use model::*;
