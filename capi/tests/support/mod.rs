//! Building and running the C and C++ test programs.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The directory holding the library cargo built for this test: `target/<profile>/deps`,
/// beside this test's executable.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let dir = exe.parent().expect("the deps directory").to_path_buf();
    assert!(
        dir.join("libtimconv_c.a").exists() && dir.join("libtimconv_c.so").exists(),
        "cargo builds libtimconv_c.a and .so beside the test ({})",
        dir.display()
    );
    dir
}

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A source named relative to `tests/c/`, or to the crate (`examples/…`).
fn source_path(source: &str) -> PathBuf {
    if source.starts_with("examples/") {
        crate_dir().join(source)
    } else {
        crate_dir().join("tests/c").join(source)
    }
}

/// Whether `lang`'s compiler accepts `flags` (compiling and linking a trivial program).
pub fn compiler_accepts(lang: Lang, flags: &[&str]) -> bool {
    let dir = scratch_dir(&format!(
        "probe-{}",
        flags.join("").replace(['-', '=', ' '], "")
    ));
    let source = dir.join(if lang == Lang::C {
        "probe.c"
    } else {
        "probe.cpp"
    });
    std::fs::write(&source, "int main(void) { return 0; }\n").expect("a probe source");
    compiler(lang)
        .args(flags)
        .arg(&source)
        .arg("-o")
        .arg(dir.join("probe"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A fresh, empty directory for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("capi")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    C,
    Cxx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Against `libtimconv_c.so`, found at run time through an rpath.
    Shared,
    /// Against `libtimconv_c.a` and the system libraries it needs.
    Static,
}

/// The system libraries the static library needs (`cargo rustc -- --print native-static-libs`).
pub const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// The compiler command for `lang`: `$CC` / `$CXX` (which may hold arguments), else `cc` / `c++`.
pub fn compiler(lang: Lang) -> Command {
    let (var, default) = match lang {
        Lang::C => ("CC", "cc"),
        Lang::Cxx => ("CXX", "c++"),
    };
    let spec = std::env::var(var).ok().filter(|s| !s.trim().is_empty());
    let spec = spec.as_deref().unwrap_or(default);
    let mut words = spec.split_whitespace();
    let mut command = Command::new(words.next().unwrap_or(default));
    command.args(words);
    command
}

/// The warning and standard flags every test program compiles with.
pub fn strict_flags(lang: Lang) -> Vec<&'static str> {
    let std = match lang {
        Lang::C => "-std=c11",
        Lang::Cxx => "-std=c++17",
    };
    vec![
        std,
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-pthread",
        "-g",
    ]
}

/// A compiled test program.
pub struct Program {
    pub path: PathBuf,
}

impl Program {
    /// Compiles `sources` (under `tests/c/`) into program `name`.
    pub fn build(name: &str, lang: Lang, sources: &[&str], link: Link) -> Self {
        Self::build_with(name, lang, sources, link, &[])
    }

    /// As [`build`](Self::build), with extra compiler flags.
    pub fn build_with(
        name: &str,
        lang: Lang,
        sources: &[&str],
        link: Link,
        extra: &[&str],
    ) -> Self {
        let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capi-bin");
        std::fs::create_dir_all(&out_dir).expect("an output directory");
        let path = out_dir.join(name);
        let lib = lib_dir();
        let mut cc = compiler(lang);
        cc.args(strict_flags(lang))
            .args(extra)
            .arg("-I")
            .arg(crate_dir().join("include"))
            .arg("-I")
            .arg(crate_dir().join("tests/c"));
        for source in sources {
            cc.arg(source_path(source));
        }
        // Whatever `extra` said about the language of the sources, the rest are libraries.
        cc.arg("-x").arg("none").arg("-o").arg(&path);
        match link {
            Link::Shared => {
                cc.arg("-L").arg(&lib).arg("-ltimconv_c");
                let mut rpath = OsString::from("-Wl,-rpath,");
                rpath.push(&lib);
                // An old-style RPATH, which wins over the LD_LIBRARY_PATH cargo sets for tests
                // (it names `target/<profile>`, where a `cargo build` may have left an older
                // copy of the library).
                cc.arg(rpath).arg("-Wl,--disable-new-dtags");
            }
            Link::Static => {
                cc.arg(lib.join("libtimconv_c.a")).args(NATIVE_LIBS);
            }
        }
        let output = cc.output().expect("the C compiler runs (cc / $CC)");
        assert!(
            output.status.success(),
            "compiling {name} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self { path }
    }

    /// Runs the program; it must exit 0. Returns its records.
    pub fn run(&self, args: &[&OsStr]) -> Vec<Record> {
        self.run_with_env(args, &[])
    }

    /// Runs the program and returns its whole standard output (it must exit 0).
    pub fn output(&self, args: &[&OsStr]) -> String {
        let output = Command::new(&self.path)
            .args(args)
            .output()
            .expect("the program runs");
        assert!(
            output.status.success(),
            "{} failed ({}):\n{}",
            self.path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// As [`run`](Self::run), with environment variables set.
    pub fn run_with_env(&self, args: &[&OsStr], env: &[(&str, &str)]) -> Vec<Record> {
        let mut command = Command::new(&self.path);
        command.args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("the program runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{} failed ({}):\n{stderr}\n--- stdout (last part) ---\n{}",
            self.path.display(),
            output.status,
            tail(&stdout, 4000)
        );
        assert!(
            stdout.lines().any(|l| l.ends_with(" passed, 0 failed")),
            "the program reports its checks:\n{}",
            tail(&stdout, 2000)
        );
        parse(&stdout)
    }
}

fn tail(text: &str, n: usize) -> &str {
    let start = text.len().saturating_sub(n);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

/// One record printed by a test program: a callback (`cb`), a refused call (`ret`) or a
/// listener event (`ev`).
#[derive(Debug, Clone)]
pub struct Record {
    pub kind: String,
    pub label: String,
    pub code: i64,
    pub first: String,
    pub second: String,
}

impl Record {
    /// The second string as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.second)
            .unwrap_or_else(|err| panic!("{}: not JSON ({err}): {}", self.label, self.second))
    }
}

/// Parses the records of a program's output.
pub fn parse(stdout: &str) -> Vec<Record> {
    let mut records = Vec::new();
    let mut lines = stdout.lines();
    while let Some(line) = lines.next() {
        let Some(header) = line.strip_prefix("@@ ") else {
            continue;
        };
        let mut parts = header.splitn(3, ' ');
        let kind = parts.next().unwrap_or_default().to_owned();
        let label = parts.next().unwrap_or_default().to_owned();
        let code = parts
            .next()
            .and_then(|c| c.trim().parse().ok())
            .expect("a record's code");
        let first = lines.next().unwrap_or_default().to_owned();
        let second = lines.next().unwrap_or_default().to_owned();
        records.push(Record {
            kind,
            label,
            code,
            first,
            second,
        });
    }
    records
}

/// Every record of `kind` and `label`, in order.
pub fn all<'a>(
    records: &'a [Record],
    kind: &'a str,
    label: &'a str,
) -> impl Iterator<Item = &'a Record> {
    records
        .iter()
        .filter(move |r| r.kind == kind && r.label == label)
}

/// The one record of `kind` and `label`.
pub fn only<'a>(records: &'a [Record], kind: &str, label: &str) -> &'a Record {
    let found: Vec<&Record> = records
        .iter()
        .filter(|r| r.kind == kind && r.label == label)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} record {label}");
    found[0]
}
