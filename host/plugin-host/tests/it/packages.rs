//! Signed packages: round trips with the stock `minisign` tool and every install refusal.

use std::{path::Path, process::Command};

use gatehouse_core::{
    Timestamp,
    change::Change,
    plugin::{PluginStore, TrustStore},
};
use gatehouse_plugin_host::{
    LoadError,
    package::{self, Manifest, PackageError, PackageMeta},
    signing,
    trust::{MemoryPluginStore, MemoryTrustStore},
};

use crate::{shared_host, wasm};

const MINISIGN: &str = "/usr/bin/minisign";

fn meta() -> PackageMeta {
    PackageMeta {
        id: "acme.slack".into(),
        version: "1.2.3".into(),
        description: "Slack for Acme".into(),
        author: "Acme <it@acme.example>".into(),
        capabilities: vec!["log".into()],
        limits: Default::default(),
    }
}

struct Signer {
    key: signing::GeneratedKey,
    sk: signing::SecretKey,
}

fn signer() -> Signer {
    let key = signing::generate(None).unwrap();
    let sk = signing::parse_secret_key(&key.secret_key_file, None).unwrap();
    Signer { key, sk }
}

fn signed_package(signer: &Signer, manifest: &Manifest, files: &[(&str, &[u8])]) -> Vec<u8> {
    let toml = manifest.to_toml();
    let sig = signing::sign(&signer.sk, toml.as_bytes(), "gatehouse plugin test").unwrap();
    package::write_archive(&toml, Some(&sig), files).unwrap()
}

fn trust(signer: &Signer) -> MemoryTrustStore {
    let store = MemoryTrustStore::new();
    store.trust("ci", &signer.key.public_key_file).unwrap();
    store
}

fn change() -> Change {
    Change::new(
        "plugin.installed",
        &gatehouse_core::principal::Principal::System {
            component: "plugin-test",
        },
        &Default::default(),
        None,
        Timestamp::now(),
    )
}

#[tokio::test]
async fn a_signed_package_installs() {
    let signer = signer();
    let component = wasm("gatehouse_webhook_slack");
    let readme = b"# Slack\n".as_slice();
    let manifest = package::manifest_for(&meta(), &component, &[("README.md", readme)]).unwrap();
    let bytes = signed_package(
        &signer,
        &manifest,
        &[("plugin.wasm", &component), ("README.md", readme)],
    );
    let registry = MemoryPluginStore::new();
    let (verified, plugin) =
        package::check_install(&bytes, &trust(&signer), &registry, shared_host())
            .await
            .unwrap();
    assert_eq!(verified.signer.key_id, signer.key.key_id);
    assert_eq!(
        verified.manifest.kind,
        gatehouse_plugin_host::PluginKind::Webhook
    );
    assert_eq!(verified.readme.as_deref(), Some("# Slack\n"));
    assert_eq!(plugin.sha256(), verified.sha256);
    let record = verified.record(Timestamp::now());
    assert!(record.enabled && !record.builtin);
    registry
        .insert_plugin(&record, &verified.wasm, &change())
        .await
        .unwrap();

    // The same id + version again is refused through the registry, before compiling.
    let err = package::check_install(&bytes, &trust(&signer), &registry, shared_host())
        .await
        .unwrap_err();
    assert!(matches!(err, PackageError::Duplicate { .. }), "{err}");
}

fn minisign(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(MINISIGN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|err| panic!("running {MINISIGN}: {err}"))
}

#[tokio::test]
async fn the_stock_minisign_tool_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let signer = signer();
    let component = wasm("gatehouse_webhook_filter");
    let manifest = package::manifest_for(&meta(), &component, &[]).unwrap();
    let toml = manifest.to_toml();

    // Ours → minisign -V.
    let sig = signing::sign(
        &signer.sk,
        toml.as_bytes(),
        "gatehouse plugin acme.slack 1.2.3",
    )
    .unwrap();
    std::fs::write(dir.path().join("manifest.toml"), &toml).unwrap();
    std::fs::write(dir.path().join("manifest.toml.minisig"), &sig).unwrap();
    std::fs::write(dir.path().join("ours.pub"), &signer.key.public_key_file).unwrap();
    let out = minisign(&["-V", "-p", "ours.pub", "-m", "manifest.toml"], dir.path());
    assert!(
        out.status.success(),
        "minisign -V refused our signature: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("gatehouse plugin acme.slack 1.2.3"));
    std::fs::write(
        dir.path().join("manifest.toml"),
        format!("{toml}\n# changed\n"),
    )
    .unwrap();
    let out = minisign(&["-V", "-p", "ours.pub", "-m", "manifest.toml"], dir.path());
    assert!(
        !out.status.success(),
        "minisign accepted a changed manifest"
    );

    // minisign -S → ours.
    let out = minisign(
        &["-G", "-W", "-p", "theirs.pub", "-s", "theirs.key"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.path().join("manifest.toml"), &toml).unwrap();
    let out = minisign(
        &[
            "-S",
            "-s",
            "theirs.key",
            "-m",
            "manifest.toml",
            "-t",
            "signed by minisign",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let their_sig = std::fs::read_to_string(dir.path().join("manifest.toml.minisig")).unwrap();
    let their_pub = std::fs::read_to_string(dir.path().join("theirs.pub")).unwrap();
    let bytes =
        package::write_archive(&toml, Some(&their_sig), &[("plugin.wasm", &component)]).unwrap();
    let store = MemoryTrustStore::new();
    store.trust("minisign", &their_pub).unwrap();
    let verified = package::verify(&bytes, &store).await.unwrap();
    assert_eq!(verified.manifest.id, "acme.slack");

    // A plain tar (not gzip) works too.
    let tar = dir.path().join("pkg.tar");
    std::fs::write(dir.path().join("plugin.wasm"), &component).unwrap();
    let status = Command::new("tar")
        .args([
            "-cf",
            tar.to_str().unwrap(),
            "manifest.toml",
            "manifest.toml.minisig",
            "plugin.wasm",
        ])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    package::verify(&std::fs::read(&tar).unwrap(), &store)
        .await
        .unwrap();
}

/// A tar with arbitrary entries (names and types the builder would refuse).
fn raw_tar(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, kind) in entries {
        let mut header = tar::Header::new_gnu();
        {
            let raw = header.as_gnu_mut().unwrap();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
        }
        header.set_size(data.len() as u64);
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

#[tokio::test]
async fn refusals_are_precise_and_write_nothing() {
    let signer = signer();
    let trusted = trust(&signer);
    let component = wasm("gatehouse_webhook_slack");
    let manifest = package::manifest_for(&meta(), &component, &[]).unwrap();
    let toml = manifest.to_toml();
    let good_sig = signing::sign(&signer.sk, toml.as_bytes(), "c").unwrap();
    let verify = |bytes: Vec<u8>| {
        let trusted = &trusted;
        async move { package::verify(&bytes, trusted).await.unwrap_err() }
    };

    // Unsigned.
    let err =
        verify(package::write_archive(&toml, None, &[("plugin.wasm", &component)]).unwrap()).await;
    assert!(matches!(err, PackageError::Unsigned), "{err}");

    // Bad signature: manifest changed after signing.
    let tampered = toml.replace("1.2.3", "1.2.4");
    let err = verify(
        package::write_archive(&tampered, Some(&good_sig), &[("plugin.wasm", &component)]).unwrap(),
    )
    .await;
    assert!(
        matches!(
            err,
            PackageError::Signature(signing::SigningError::BadSignature)
        ),
        "{err}"
    );

    // Unknown signer.
    let stranger = self::signer();
    let err = verify(signed_package(
        &stranger,
        &manifest,
        &[("plugin.wasm", &component)],
    ))
    .await;
    assert!(
        matches!(&err, PackageError::UnknownSigner { key_id } if *key_id == stranger.key.key_id),
        "{err}"
    );

    // Removed signer.
    let removed = trust(&signer);
    removed
        .remove_trusted_key(&signer.key.key_id, Timestamp::now(), "removed", &change())
        .await
        .unwrap();
    let err = package::verify(
        &signed_package(&signer, &manifest, &[("plugin.wasm", &component)]),
        &removed,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PackageError::RemovedSigner { .. }), "{err}");

    // Hash mismatch: another component under a signed manifest.
    let other = wasm("gatehouse_webhook_filter");
    let err =
        verify(package::write_archive(&toml, Some(&good_sig), &[("plugin.wasm", &other)]).unwrap())
            .await;
    assert!(
        matches!(&err, PackageError::HashMismatch { file } if file == "plugin.wasm"),
        "{err}"
    );

    // A file the manifest does not list.
    let err = verify(
        package::write_archive(
            &toml,
            Some(&good_sig),
            &[("plugin.wasm", &component), ("README.md", b"x")],
        )
        .unwrap(),
    )
    .await;
    assert!(matches!(err, PackageError::UnlistedFile { .. }), "{err}");

    // Kind: the manifest claims provider for a webhook component.
    let mut wrong_kind = manifest.clone();
    wrong_kind.kind = gatehouse_plugin_host::PluginKind::Provider;
    let err = verify(signed_package(
        &signer,
        &wrong_kind,
        &[("plugin.wasm", &component)],
    ))
    .await;
    assert!(
        matches!(err, PackageError::Component(LoadError::KindMismatch { .. })),
        "{err}"
    );

    // WIT version: manifest and stamp disagree.
    let mut wrong_wit = manifest.clone();
    wrong_wit.wit_version = "0.2.0".into();
    let err = verify(signed_package(
        &signer,
        &wrong_wit,
        &[("plugin.wasm", &component)],
    ))
    .await;
    assert!(matches!(err, PackageError::WitMismatch { .. }), "{err}");

    // A component importing the filesystem.
    let files_wasm = wasm("gatehouse_test_reads_files");
    let files_manifest = package::manifest_for(&meta(), &files_wasm, &[]);
    assert!(matches!(
        files_manifest,
        Err(PackageError::Component(LoadError::DisallowedImport { .. }))
    ));
    let mut sneaky = manifest.clone();
    sneaky
        .files
        .insert("plugin.wasm".into(), package::sha256_hex(&files_wasm));
    let err = verify(signed_package(
        &signer,
        &sneaky,
        &[("plugin.wasm", &files_wasm)],
    ))
    .await;
    assert!(
        matches!(&err, PackageError::Component(LoadError::DisallowedImport { import }) if import.starts_with("wasi:filesystem")),
        "{err}"
    );

    // Precompiled code in place of the component.
    let precompiled = wasmtime::Engine::default()
        .precompile_component(&component)
        .unwrap();
    let mut native = manifest.clone();
    native
        .files
        .insert("plugin.wasm".into(), package::sha256_hex(&precompiled));
    let err = verify(signed_package(
        &signer,
        &native,
        &[("plugin.wasm", &precompiled)],
    ))
    .await;
    assert!(
        matches!(err, PackageError::Component(LoadError::NotWasm)),
        "{err}"
    );

    // Oversize file.
    let big = vec![b'x'; 300 * 1024];
    let err = verify(raw_tar(&[("README.md", &big, tar::EntryType::Regular)])).await;
    assert!(
        matches!(&err, PackageError::FileTooLarge { file, .. } if file == "README.md"),
        "{err}"
    );

    // Path traversal, nested paths, links, unknown files, duplicates.
    let err = verify(raw_tar(&[(
        "../manifest.toml",
        b"x",
        tar::EntryType::Regular,
    )]))
    .await;
    assert!(matches!(err, PackageError::UnsafePath { .. }), "{err}");
    let err = verify(raw_tar(&[(
        "/etc/manifest.toml",
        b"x",
        tar::EntryType::Regular,
    )]))
    .await;
    assert!(matches!(err, PackageError::UnsafePath { .. }), "{err}");
    let err = verify(raw_tar(&[("a/plugin.wasm", b"x", tar::EntryType::Regular)])).await;
    assert!(matches!(err, PackageError::UnsafePath { .. }), "{err}");
    let err = verify(raw_tar(&[("plugin.wasm", b"", tar::EntryType::Symlink)])).await;
    assert!(matches!(err, PackageError::UnsafePath { .. }), "{err}");
    let err = verify(raw_tar(&[("plugin.cwasm", b"x", tar::EntryType::Regular)])).await;
    assert!(matches!(err, PackageError::UnexpectedFile { .. }), "{err}");
    let err = verify(raw_tar(&[
        ("plugin.wasm", b"x", tar::EntryType::Regular),
        ("plugin.wasm", b"y", tar::EntryType::Regular),
    ]))
    .await;
    assert!(matches!(err, PackageError::DuplicateFile { .. }), "{err}");
    let err = verify(b"not a tar at all, just some bytes that are long enough".repeat(20)).await;
    assert!(
        matches!(
            err,
            PackageError::Archive(_) | PackageError::MissingFile { .. }
        ),
        "{err}"
    );

    // Nothing was trusted or written along the way.
    assert_eq!(trusted.list_trusted_keys().await.unwrap().len(), 1);
}
