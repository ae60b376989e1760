//! Integration tests of the ZITADEL client: the scenario suite (live ZITADEL or the in-process
//! fake), and transport behaviour against a scripted server.

mod backend;
mod fake;
mod keys;
mod mock;
mod reconciler;
mod scenarios;
mod transport;
