//! Tokio TCP, STARTTLS and direct TLS with tokio-rustls, timeouts and byte capture.
