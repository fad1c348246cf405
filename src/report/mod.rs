//! Reporters fed from the runner's event stream: terminal matrix, JUnit XML, JSON, transcripts.
