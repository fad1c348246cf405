//! Scenarios: the YAML model, loading with file:line:column errors, and matrix expansion.

pub(crate) mod keyword;
pub mod load;
pub mod model;
mod raw;
pub mod requirement;
mod resolve;

pub use keyword::UnknownKeyword;
pub use load::{LoadError, load_path, load_paths};
pub(crate) use load::{yaml_options, yaml_problem};
pub use model::*;
pub use requirement::{Condition, Feature, Level, Requirement};
pub(crate) use resolve::{Position, Problem};
