//! An install's progress names the archive's size whenever it is known before the archive is
//! read: an upload's, a home file's (from the file opened) and a download's (its
//! `Content-Length`); a chunked download has none, and the total stays null.

use std::path::Path;

use distropanel::host::sample_image::{BUSYBOX, busybox_rootfs};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api_client::{World, world};
use crate::host_fixtures::{drain, home};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn busybox_image(w: &World) -> Vec<u8> {
    busybox_rootfs(Path::new(BUSYBOX), &[("web", w.web.uid() as u32)]).expect("busybox-static")
}

/// Serves `body` to every request, with its length announced or, if not, chunked.
async fn serve(body: Vec<u8>, announce_length: bool) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                if announce_length {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                    return;
                }
                let head =
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                for piece in body.chunks(16 * 1024) {
                    let _ = stream
                        .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                        .await;
                    let _ = stream.write_all(piece).await;
                    let _ = stream.write_all(b"\r\n").await;
                }
                let _ = stream.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    port
}

/// The finished job `accepted` names, once the worker ran it.
async fn finished(w: &World, accepted: &crate::api_client::Answer) -> Value {
    assert_eq!(accepted.status, 202, "{accepted:?}");
    assert_eq!(
        accepted.json["job"]["progress"],
        Value::Null,
        "no progress before it runs"
    );
    drain(&w.app).await;
    let id = accepted.json["job"]["id"].as_i64().unwrap();
    let shown = w.app.api("alice").get(&format!("/api/jobs/{id}")).await;
    assert_eq!(shown.json["state"], "done", "{shown:?}");
    shown.json
}

#[tokio::test(flavor = "multi_thread")]
async fn a_home_file_and_a_download_of_known_length_show_their_total_and_a_chunked_one_none() {
    let w = world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let tarball = busybox_image(&w);
    let api = w.app.api("alice");

    let images = home(&w.app, w.images.uid()).join("images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::write(images.join("rootfs.tar.gz"), &tarball).unwrap();
    let from_home = api
        .post(
            &format!("/api/custom_distro/{id}/unpack"),
            json!({"file": "images/rootfs.tar.gz"}),
        )
        .await;
    let done = finished(&w, &from_home).await;
    assert_eq!(done["progress"]["total"], tarball.len(), "{done}");
    assert_eq!(done["progress"]["done"], tarball.len(), "{done}");

    for (announce, total) in [(true, json!(tarball.len())), (false, Value::Null)] {
        let port = serve(tarball.clone(), announce).await;
        let fetched = api
            .post(
                &format!("/api/custom_distro/{id}/fetch"),
                json!({"url": format!("http://127.0.0.1:{port}/rootfs.tar.gz"), "sha256": sha256(&tarball)}),
            )
            .await;
        let done = finished(&w, &fetched).await;
        assert_eq!(done["progress"]["total"], total, "{done}");
        assert_eq!(done["progress"]["done"], tarball.len(), "{done}");
    }
}
