//! Agents report: each worker writes its servers' heartbeat and every container's disk use,
//! which the customer sees on the container page and staff on the overview.

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use diesel::prelude::*;
use distropanel::db::queries::jobs::ServerScope;
use distropanel::domain::ids::ServerId;
use distropanel::host::usage::bytes_below;
use distropanel::jobs::worker::local_worker;

use crate::api_client::world;
use crate::helpers::{Made, TestApp};
use crate::host_fixtures::{config, home, image};
use crate::personas::Browser;

#[derive(QueryableByName, Debug)]
struct Use {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    home_bytes: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    images_bytes: i64,
}

fn recorded(app: &TestApp, container: i64) -> Use {
    diesel::sql_query(format!(
        "SELECT home_bytes, images_bytes FROM container_disk_use WHERE container_id = {container}"
    ))
    .get_result(&mut app.conn())
    .expect("the container's use was recorded")
}

#[derive(QueryableByName)]
struct Server {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    server_id: i32,
}

fn server_of(app: &TestApp, container: &Made) -> i32 {
    let found: Server = diesel::sql_query(format!(
        "SELECT server_id FROM containers WHERE id = {}",
        container.id
    ))
    .get_result(&mut app.conn())
    .unwrap();
    found.server_id
}

/// What `usage` counts below `path` on the host, nothing when it is not there.
fn counted(path: std::path::PathBuf) -> i64 {
    match Dir::open_ambient_dir(&path, ambient_authority()) {
        Ok(dir) => i64::try_from(bytes_below(&dir).unwrap()).unwrap(),
        Err(_) => 0,
    }
}

#[tokio::test]
async fn a_report_records_disk_use_shown_to_the_customer_and_heartbeats_shown_to_staff() {
    let w = world().await;
    let app = &w.app;
    app.staff("ops");
    std::fs::create_dir_all(home(app, w.web.uid()).join("www")).unwrap();
    std::fs::write(
        home(app, w.web.uid()).join("www/index.html"),
        vec![b'x'; 300_000],
    )
    .unwrap();
    std::fs::create_dir_all(home(app, w.images.uid())).unwrap();
    std::fs::write(home(app, w.images.uid()).join("notes"), b"twelve bytes").unwrap();
    let installed = image(app, &w.images, "bookworm");
    std::fs::write(installed.join("bin/big"), vec![0u8; 2_000_000]).unwrap();

    // the agent of s1 reports once; s2's agent last reported an hour ago
    let s1 = ServerId(server_of(app, &w.web));
    let worker = local_worker(&config(app), ServerScope::Only(vec![s1]))
        .await
        .unwrap();
    let reported = worker.report().await.unwrap();
    assert_eq!(reported.servers, 1);
    app.sql(&format!(
        "INSERT INTO host_reports (server_id, worker, reported_at) \
         VALUES ({}, 'far-agent', now() - interval '1 hour')",
        server_of(app, &w.far)
    ))
    .unwrap();

    let web = recorded(app, w.web.id);
    assert_eq!(web.home_bytes, counted(home(app, w.web.uid())));
    assert!(web.home_bytes >= 300_000, "{web:?}");
    assert_eq!(web.images_bytes, 0);
    let store = app.host_root.path().join("var/lib/distropanel");
    let images = recorded(app, w.images.id);
    assert_eq!(images.home_bytes, counted(home(app, w.images.uid())));
    assert_eq!(
        images.images_bytes,
        counted(store.join(format!("images/{}", w.images.uid())))
            + counted(store.join(format!("previous/{}", w.images.uid())))
    );
    assert!(images.images_bytes >= 2_000_000, "{images:?}");

    let alice = Browser::customer(app, "alice").await;
    let (status, page) = alice
        .get_text(&format!("/containers/{}", w.images.uid()))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("MiB of "), "{page}");
    assert!(page.contains("measured just now"), "{page}");

    let staff = Browser::logged_in(app, "ops", "staff-password").await;
    let (status, scrape) = staff.get_text("/metrics").await;
    assert_eq!(status, 200);
    let images_line = format!(
        "distropanel_container_disk_bytes{{container=\"{}\",kind=\"images\"}} {}",
        w.images.uid(),
        images.images_bytes
    );
    assert!(scrape.contains(&images_line), "{scrape}");
    assert!(
        scrape.contains("distropanel_host_last_report_age_seconds{server=\"s2\"} 3"),
        "{scrape}"
    );

    let (status, page) = staff.get_text("/staff").await;
    assert_eq!(status, 200);
    let agents = &page[page.find("id=\"heartbeats\"").expect("the agents section")..];
    let s1_row = &agents[agents.find("<td>s1</td>").unwrap()..];
    let s1_row = &s1_row[..s1_row.find("</tr>").unwrap()];
    assert!(
        s1_row.contains("just now") && !s1_row.contains("silent"),
        "{s1_row}"
    );
    let s2_row = &agents[agents.find("<td>s2</td>").unwrap()..];
    let s2_row = &s2_row[..s2_row.find("</tr>").unwrap()];
    assert!(
        s2_row.contains("1 h ago") && s2_row.contains("silent"),
        "{s2_row}"
    );
}
