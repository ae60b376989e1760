use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[test]
fn defaults_are_a_working_dev_setup() {
    let s = load_from(Some(file("").path()), &[]).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(s.data_dir, PathBuf::from("./data"));
    assert_eq!(s.database_url, "sqlite://./data/gatehouse.db");
    assert!(s.master_key_is_default);
    assert_eq!(s.zitadel, ZitadelTarget::Embedded);
    assert_eq!(s.webhook_retry_schedule.len(), 7);
    assert_eq!(s.webhook_disable_after, Duration::from_secs(5 * 86_400));
    assert_eq!(s.events_retention, Duration::from_secs(30 * 86_400));
}

#[test]
fn environment_overrides_the_file() {
    let f = file("listen = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/gh\"\n");
    let s = load_from(
        Some(f.path()),
        &env(&[
            ("GATEHOUSE_LISTEN", "127.0.0.1:7000"),
            (
                "GATEHOUSE_EGRESS_ALLOW",
                "127.0.0.1, hooks.internal,10.0.0.0/8",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(s.listen.port(), 7000);
    assert_eq!(s.data_dir, PathBuf::from("/var/lib/gh"));
    assert_eq!(s.egress_allow.len(), 3);
    assert_eq!(
        s.egress_allow[1],
        EgressAllow::Host("hooks.internal".into())
    );
}

#[test]
fn a_typo_in_the_file_is_refused_naming_the_key_and_a_fix() {
    let f = file("databse_url = \"postgres://x@y/z\"\n");
    let err = load_from(Some(f.path()), &[]).unwrap_err().to_string();
    assert!(err.contains("unknown key `databse_url`"), "{err}");
    assert!(err.contains("did you mean `database_url`"), "{err}");
}

#[test]
fn a_typo_in_the_environment_is_refused_but_client_variables_are_not() {
    let err = load_from(None, &env(&[("GATEHOUSE_LISTN", "x")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("GATEHOUSE_LISTN") && err.contains("did you mean `listen`"),
        "{err}"
    );
    assert!(
        load_from(
            None,
            &env(&[
                ("GATEHOUSE_TOKEN", "x"),
                ("GATEHOUSE_TEST_ZITADEL_URL", "y")
            ])
        )
        .is_ok()
    );
}

#[test]
fn bad_values_name_key_source_and_fix() {
    let cases = [
        ("GATEHOUSE_LISTEN", "localhost", "listen"),
        ("GATEHOUSE_DATABASE_URL", "mysql://x", "database_url"),
        ("GATEHOUSE_PUBLIC_URL", "ftp://x", "public_url"),
        ("GATEHOUSE_AUTO_MIGRATE", "maybe", "auto_migrate"),
        (
            "GATEHOUSE_EVENTS_RETENTION_DAYS",
            "7",
            "events_retention_days",
        ),
        (
            "GATEHOUSE_WEBHOOK_RETRY_SCHEDULE",
            "5s,soon",
            "webhook_retry_schedule",
        ),
        ("GATEHOUSE_EGRESS_ALLOW", "not a host!", "egress_allow"),
        ("GATEHOUSE_BOOTSTRAP_TOKEN", "short", "bootstrap_token"),
        (
            "GATEHOUSE_ZITADEL_URL",
            "https://zitadel.example",
            "zitadel_url",
        ),
    ];
    for (var, value, key) in cases {
        let err = load_from(None, &env(&[(var, value)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(var) && err.contains(&format!("`{key}`")),
            "{var}: {err}"
        );
    }
}

#[test]
fn wrong_types_in_the_file_are_refused() {
    let err = load_from(Some(file("auto_migrate = \"yes\"\n").path()), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("auto_migrate") && err.contains("true or false"),
        "{err}"
    );
    let err = load_from(Some(file("listen = [").path()), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not valid TOML"), "{err}");
}

#[test]
fn zitadel_needs_exactly_one_credential() {
    let s = load_from(
        None,
        &env(&[
            ("GATEHOUSE_ZITADEL_URL", "https://z.example"),
            ("GATEHOUSE_ZITADEL_PAT_FILE", "/run/pat"),
        ]),
    )
    .unwrap();
    assert!(matches!(
        s.zitadel,
        ZitadelTarget::External {
            credentials: ZitadelCredentials::PatFile(_),
            ..
        }
    ));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
    assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
    assert_eq!(parse_duration("5"), None);
    assert_eq!(parse_duration("m"), None);
}

#[test]
fn admin_sign_in_settings_have_defaults_and_are_validated() {
    let s = load_from(Some(file("").path()), &[]).unwrap();
    assert_eq!(s.admin_org_id, None);
    assert_eq!(s.admin_session_lifetime, Duration::from_secs(12 * 3600));
    assert_eq!(s.admin_session_idle_timeout, Duration::from_secs(3600));

    let s = load_from(
        None,
        &env(&[
            ("GATEHOUSE_ADMIN_ORG_ID", "312345678901234567"),
            ("GATEHOUSE_ADMIN_SESSION_LIFETIME", "8h"),
            ("GATEHOUSE_ADMIN_SESSION_IDLE_TIMEOUT", "15m"),
        ]),
    )
    .unwrap();
    assert_eq!(s.admin_org_id.as_deref(), Some("312345678901234567"));
    assert_eq!(s.admin_session_lifetime, Duration::from_secs(8 * 3600));
    assert_eq!(s.admin_session_idle_timeout, Duration::from_secs(900));
    // Tenant organizations carry the tenant id.
    let f = file("admin_org_id = \"ten_01JABCDEF\"\n");
    assert_eq!(
        load_from(Some(f.path()), &[])
            .unwrap()
            .admin_org_id
            .as_deref(),
        Some("ten_01JABCDEF")
    );

    for (var, value, needle) in [
        // A space would smuggle another scope into the authorize request.
        (
            "GATEHOUSE_ADMIN_ORG_ID",
            "123 openid",
            "is not an organization id",
        ),
        (
            "GATEHOUSE_ADMIN_ORG_ID",
            "org/1",
            "is not an organization id",
        ),
        (
            "GATEHOUSE_ADMIN_SESSION_LIFETIME",
            "1m",
            "between 5m and 30d",
        ),
        (
            "GATEHOUSE_ADMIN_SESSION_LIFETIME",
            "60d",
            "between 5m and 30d",
        ),
        (
            "GATEHOUSE_ADMIN_SESSION_LIFETIME",
            "soon",
            "is not a duration",
        ),
        ("GATEHOUSE_ADMIN_SESSION_IDLE_TIMEOUT", "30s", "at least 1m"),
        (
            "GATEHOUSE_ADMIN_SESSION_IDLE_TIMEOUT",
            "13h",
            "at most admin_session_lifetime",
        ),
    ] {
        let err = load_from(None, &env(&[(var, value)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{var}={value}: {err}");
        assert!(err.contains(var), "{var}={value}: {err}");
    }
}
