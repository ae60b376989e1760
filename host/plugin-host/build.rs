//! Builds the `plugins/` workspace (built-in plugins and test guests) for `wasm32-wasip2` so the
//! built-ins can be embedded with `include_bytes!`. Works from a fresh clone with a plain
//! `cargo build`: the inner cargo gets a clean environment (nothing from the outer build leaks
//! in: no CARGO_*, RUSTFLAGS or wrappers) and its own target directory.

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("host/plugin-host sits two levels below the repository root")
        .to_path_buf();
    let plugins = root.join("plugins");

    for path in [
        "plugins/Cargo.toml",
        "plugins/Cargo.lock",
        "plugins/.cargo/config.toml",
        "plugins/providers",
        "plugins/widgets",
        "plugins/webhooks",
        "plugins/tests",
        "sdk-guest/Cargo.toml",
        "sdk-guest/src",
        "wit",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    let target_dir = wasm_target_dir(&out_dir);
    check_target_installed(&plugins);

    let mut cargo = clean_command(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(&plugins)
        .args([
            "build",
            "--release",
            "--locked",
            "--workspace",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    let status = cargo
        .status()
        .unwrap_or_else(|err| panic!("could not run cargo to build plugins/: {err}"));
    if !status.success() {
        panic!(
            "building the plugins workspace failed ({status}); run `cargo build --release` in \
             plugins/ to see why"
        );
    }
    let wasm_dir = target_dir.join(TARGET).join("release");
    println!(
        "cargo:rustc-env=GATEHOUSE_PLUGINS_WASM_DIR={}",
        wasm_dir.display()
    );
}

/// `<outer target dir>/wasm-plugins`, so dev, test and bench builds share one wasm build.
/// OUT_DIR is `<target>[/<triple>]/<profile>/build/<package>-<hash>/out`; cargo's
/// `CACHEDIR.TAG` is not a reliable marker (absent when the target directory was made by hand).
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .nth(4)
        .map(|dir| dir.join("wasm-plugins"))
        .unwrap_or_else(|| out_dir.join("wasm-plugins"))
}

/// A command with the outer build's cargo/rustc configuration removed.
fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let keep = [
            "CARGO_HOME",
            "CARGO_NET_",
            "CARGO_HTTP_",
            "CARGO_REGISTRIES_",
            "CARGO_TERM_",
        ]
        .iter()
        .any(|prefix| key.starts_with(prefix));
        let cargo_var = key.starts_with("CARGO") || key.starts_with("__CARGO");
        let rust_var = matches!(
            key,
            "RUSTC"
                | "RUSTDOC"
                | "RUSTFLAGS"
                | "RUSTDOCFLAGS"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "RUSTC_LINKER"
                | "TARGET"
                | "HOST"
                | "OUT_DIR"
                | "PROFILE"
                | "OPT_LEVEL"
                | "DEBUG"
                | "NUM_JOBS"
        );
        if (cargo_var && !keep) || rust_var {
            command.env_remove(key);
        }
    }
    command
}

fn check_target_installed(plugins: &Path) {
    let output = clean_command("rustc")
        .current_dir(plugins)
        .args(["--print", "sysroot"])
        .output();
    let sysroot = match output {
        Ok(output) if output.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        }
        Ok(output) => panic!(
            "`rustc --print sysroot` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(err) => panic!("could not run rustc: {err}"),
    };
    let installed = |sysroot: &Path| {
        sysroot
            .join("lib/rustlib")
            .join(TARGET)
            .join("lib")
            .is_dir()
    };
    if installed(&sysroot) {
        return;
    }
    // rust-toolchain.toml lists the target, but rustup only honours that when it installs the
    // toolchain itself; an already-present toolchain needs the target added once.
    println!("cargo:warning=installing the {TARGET} Rust target with rustup (one time)");
    let added = clean_command("rustup")
        .current_dir(plugins)
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|status| status.success());
    if !added || !installed(&sysroot) {
        panic!(
            "\n\nThe `{TARGET}` Rust target is not installed, so the built-in plugins cannot be \
             built.\nInstall it with:\n\n    rustup target add {TARGET}\n\n(rust-toolchain.toml \
             lists it; installing it automatically with rustup failed.)\n"
        );
    }
}
