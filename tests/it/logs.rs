//! What the server writes to its log when that is a file or a pipe, not a terminal.

use std::process::Command;

use crate::helpers::TestDb;

#[tokio::test(flavor = "multi_thread")]
async fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let db = tokio::task::spawn_blocking(TestDb::empty).await.unwrap();
    let var_dir = tempfile::tempdir().unwrap();
    let output = tokio::task::block_in_place(|| {
        Command::new(env!("CARGO_BIN_EXE_distropanel"))
            .arg("migrate")
            .env("DATABASE_URL", db.conninfo())
            .env("DISTROPANEL_VAR_DIR", var_dir.path())
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
    });
    assert!(output.status.success());
    let log = String::from_utf8(output.stderr).unwrap();
    assert!(log.contains("applied migrations"), "{log}");
    assert!(
        log.contains(" INFO "),
        "the level is written as a word: {log}"
    );
    assert!(!log.contains('\u{1b}'), "no escape sequences: {log:?}");
}
