//! Integration tests for the egress client against real servers on 127.0.0.1.
//!
//! No test sends traffic off this machine: private and public addresses appear only in
//! resolver tables and URLs that the client must refuse, or behind the test proxy.

mod allowed;
mod blocked;
mod limits;
mod proxy;
mod support;
mod tls;
