//! The test PKI: certificate chains generated per run with rcgen; no async.
