//! Which ZITADEL the scenario suite talks to. Every scenario runs twice:
//!
//! - against [`start`]: a live ZITADEL when `GATEHOUSE_TEST_ZITADEL_URL` is set (authenticated
//!   with `GATEHOUSE_TEST_ZITADEL_PAT` or `GATEHOUSE_TEST_ZITADEL_KEY_FILE`, and
//!   `GATEHOUSE_TEST_ZITADEL_ISSUER` when the URL is not the public one; the service user needs
//!   IAM_OWNER), otherwise the embedded emulator (`gatehouse-zitadel-emulator`);
//! - against [`lagging_fake`]: the in-process stand-in of `fake.rs`, whose reads trail writes
//!   like ZITADEL's projections do.
//!
//! The suite only ever sees a base URL and credentials.

use std::{path::Path, time::Duration};

use gatehouse_zitadel::client::{ClientConfig, Credentials, ZitadelClient};
use gatehouse_zitadel_emulator::Emulator;
use url::Url;

use crate::fake::{self, FakeZitadel};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Live,
    Emulator,
    LaggingFake,
}

pub struct Backend {
    pub client: ZitadelClient,
    pub kind: Kind,
    _fake: Option<FakeZitadel>,
    _emulator: Option<Emulator>,
}

/// How long the fake keeps a write invisible to reads.
pub const FAKE_LAG: Duration = Duration::from_millis(250);

/// A live ZITADEL if configured, else the embedded emulator.
pub async fn start() -> Backend {
    match std::env::var("GATEHOUSE_TEST_ZITADEL_URL") {
        Ok(url) if !url.trim().is_empty() => live(&url),
        _ => emulator().await.0,
    }
}

/// The embedded emulator on 127.0.0.1:0 with fresh in-memory state, reached with its admin PAT.
pub async fn emulator() -> (Backend, Url) {
    let (base, emulator) = gatehouse_zitadel_emulator::testing::spawn().await;
    let url = Url::parse(&base).unwrap();
    let credentials = Credentials::pat(emulator.admin_pat()).unwrap();
    let config = ClientConfig::new(url.clone(), credentials);
    let backend = Backend {
        client: ZitadelClient::new(reqwest::Client::new(), config).unwrap(),
        kind: Kind::Emulator,
        _fake: None,
        _emulator: Some(emulator),
    };
    (backend, url)
}

pub async fn lagging_fake() -> Backend {
    let fake = FakeZitadel::start(FAKE_LAG).await;
    let credentials = Credentials::pat(fake::PAT).unwrap();
    let config = ClientConfig::new(fake.url.clone(), credentials);
    Backend {
        client: ZitadelClient::new(reqwest::Client::new(), config).unwrap(),
        kind: Kind::LaggingFake,
        _fake: Some(fake),
        _emulator: None,
    }
}

impl Backend {
    pub fn emulator(&self) -> Option<&Emulator> {
        self._emulator.as_ref()
    }
}

fn live(url: &str) -> Backend {
    let url = Url::parse(url.trim()).expect("GATEHOUSE_TEST_ZITADEL_URL is not a URL");
    let setting = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let credentials = match (
        setting("GATEHOUSE_TEST_ZITADEL_PAT"),
        setting("GATEHOUSE_TEST_ZITADEL_KEY_FILE"),
    ) {
        (Some(pat), _) => Credentials::pat(pat).expect("GATEHOUSE_TEST_ZITADEL_PAT"),
        (None, Some(path)) => {
            Credentials::from_key_file(Path::new(&path)).expect("GATEHOUSE_TEST_ZITADEL_KEY_FILE")
        }
        (None, None) => panic!(
            "GATEHOUSE_TEST_ZITADEL_URL is set but neither GATEHOUSE_TEST_ZITADEL_PAT nor \
             GATEHOUSE_TEST_ZITADEL_KEY_FILE is: the live suite cannot authenticate"
        ),
    };
    let mut config = ClientConfig::new(url, credentials);
    config.issuer = setting("GATEHOUSE_TEST_ZITADEL_ISSUER");
    Backend {
        client: ZitadelClient::new(reqwest::Client::new(), config).unwrap(),
        kind: Kind::Live,
        _fake: None,
        _emulator: None,
    }
}

/// A name no other run uses, so live runs do not collide.
pub fn unique(prefix: &str) -> String {
    use rand::Rng;
    let suffix: u64 = rand::rng().random_range(0..u64::from(u32::MAX));
    format!("gatehouse-it-{prefix}-{suffix:x}")
}
