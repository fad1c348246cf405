//! Runs one XMPP session over a transport: the harness as initiator (client) or responder (server).
