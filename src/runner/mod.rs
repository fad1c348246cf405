//! Plans cases (scenario x target), runs them in parallel and emits events.
