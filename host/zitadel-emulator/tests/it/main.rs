//! Integration tests of the ZITADEL emulator: real HTTP against an emulator on 127.0.0.1:0,
//! with request and response bodies validated against ZITADEL's swagger.

mod actions;
mod judge;
mod login_v2;
mod management;
mod oidc;
mod persistence;
mod support;
mod swagger;
mod users;
