//! The container lists (the page and `GET /api/containers`) are kept in each web node's
//! memory between requests. These stories change, in the database, every thing the lists
//! show, one at a time, and compare what a node that keeps lists answers with what a node that
//! keeps none reads afresh: they must agree right after each change, whichever node or writer
//! made it.

use distropanel::Application;
use distropanel::config::LocalServers;
use serde_json::Value;

use crate::api_client::{World, world};
use crate::helpers::test_config;
use crate::personas::{Browser, scalar};

/// Another web node on the world's database, running no jobs, with alice signed in.
struct Node {
    url: String,
    client: reqwest::Client,
    alice: Browser,
    _host_root: tempfile::TempDir,
    _var_dir: tempfile::TempDir,
}

impl Node {
    async fn start(w: &World, list_rows: usize) -> Node {
        let host_root = tempfile::tempdir().unwrap();
        let var_dir = tempfile::tempdir().unwrap();
        let mut config = test_config(&w.app.db, host_root.path(), var_dir.path());
        config.list_rows = list_rows;
        config.local_servers = LocalServers::Named(Vec::new());
        let app = Application::build(config).await.expect("the node builds");
        let url = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let alice = Browser::at(&url);
        let signed_in = alice.login("alice", "alice-password").await;
        assert_eq!(signed_in.status(), 303);
        Node {
            url,
            client: reqwest::Client::new(),
            alice,
            _host_root: host_root,
            _var_dir: var_dir,
        }
    }

    async fn list(&self, query: &str) -> Value {
        let answer = self
            .client
            .get(format!("{}/api/containers{query}", self.url))
            .basic_auth("alice", Some("alice-password"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.json().await.unwrap()
    }

    /// The table of alice's containers page.
    async fn page(&self) -> String {
        let (status, page) = self.alice.get_text("/containers").await;
        assert_eq!(status, 200);
        let from = page.find("<table id=\"containers\">").expect("the table");
        let to = page[from..].find("</table>").expect("its end") + from;
        page[from..to].to_owned()
    }
}

fn version(w: &World) -> i64 {
    scalar(
        &w.app,
        &format!(
            "SELECT COALESCE(sum(changes), 0)::int8 AS n FROM list_changes WHERE customer_id = {}",
            w.web.customer_id()
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_change_to_what_the_lists_show_is_seen_at_once_by_a_node_that_keeps_them() {
    let w = world().await;
    let keeping = Node::start(&w, 20_000).await;
    let afresh = Node::start(&w, 0).await;
    let (alice, s1, web, images) = (
        w.web.customer_id(),
        w.app.scalar("SELECT id FROM servers WHERE name = 's1'"),
        w.web.id,
        w.images.id,
    );
    w.app
        .sql(&format!(
            "INSERT INTO custom_distros (container_id, server_id, customer_id, name, path)
             VALUES ({images}, {s1}, {alice}, 'mine', 'mine')"
        ))
        .unwrap();
    let mine = w
        .app
        .scalar("SELECT id FROM custom_distros WHERE name = 'mine'");
    let changes = [
        format!("UPDATE containers SET name = 'www' WHERE id = {web}"),
        format!("UPDATE containers SET memory_mb = 256, storage_mb = 2048 WHERE id = {web}"),
        format!("UPDATE containers SET tags = ARRAY['blue', 'green'] WHERE id = {web}"),
        format!("UPDATE containers SET custom_distro_id = {mine} WHERE id = {web}"),
        format!("UPDATE custom_distros SET name = 'mine-too' WHERE id = {mine}"),
        format!(
            "UPDATE containers SET booted_kind = 'fallback', booted_custom_distro_id = {mine},
             fallback_reason = 'no /sbin/init' WHERE id = {web}"
        ),
        format!("UPDATE servers SET name = 's1-renamed' WHERE id = {s1}"),
        format!("UPDATE servers SET address = 'elsewhere.example.com' WHERE id = {s1}"),
        format!(
            "UPDATE distros SET name = 'Bookworm 12' WHERE id = {}",
            w.bookworm.id
        ),
        format!(
            "INSERT INTO jobs (kind, container_id, customer_id, server_id, state, run_after)
             VALUES ('restart', {web}, {alice}, {s1}, 'retrying', now() + interval '1 hour')"
        ),
        format!("UPDATE jobs SET state = 'failed', finished_at = now() WHERE container_id = {web}"),
        format!(
            "INSERT INTO containers (name, customer_id, server_id, memory_mb, storage_mb)
             VALUES ('added', {alice}, {s1}, 64, 64)"
        ),
        "DELETE FROM containers WHERE name = 'added'".to_owned(),
        format!(
            "UPDATE containers SET booted_kind = 'custom', fallback_reason = NULL WHERE id = {web}"
        ),
        format!("UPDATE containers SET custom_distro_id = NULL WHERE id = {web}"),
        format!("DELETE FROM custom_distros WHERE id = {mine}"),
        format!(
            "UPDATE containers SET custom_distros_storage = false WHERE id = {}",
            w.far.id
        ),
    ];
    let mut last = (keeping.list("").await, keeping.page().await);
    assert_eq!(last, (afresh.list("").await, afresh.page().await));
    for change in &changes {
        w.app
            .sql(change)
            .unwrap_or_else(|e| panic!("{change}: {e}"));
        let kept = (keeping.list("").await, keeping.page().await);
        assert_eq!(kept.0, afresh.list("").await, "the API after {change}");
        assert_eq!(kept.1, afresh.page().await, "the page after {change}");
        assert_ne!(kept, last, "{change} shows in a list");
        for tags in ["?tags=blue", "?tags=red,green", "?tags=nothing"] {
            assert_eq!(
                keeping.list(tags).await,
                afresh.list(tags).await,
                "{tags} after {change}"
            );
        }
        last = kept;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_that_boots_what_the_container_booted_before_leaves_the_kept_list_standing() {
    let w = world().await;
    let web = w.web.id;
    w.app
        .sql(&format!(
            "UPDATE containers SET booted_kind = 'platform' WHERE id = {web}"
        ))
        .unwrap();
    let before = version(&w);
    w.app
        .sql(&format!(
            "UPDATE containers SET booted_kind = 'platform', restarted_at = now(),
             last_reboot = now(), updated_at = now() WHERE id = {web}"
        ))
        .unwrap();
    assert_eq!(version(&w), before, "nothing the lists show changed");
    w.app
        .sql(&format!(
            "UPDATE containers SET note = 'a new note' WHERE id = {web}"
        ))
        .unwrap();
    assert!(
        version(&w) > before,
        "any other column counts, shown or not"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn another_customers_changes_leave_alices_kept_list_standing() {
    let w = world().await;
    let before = version(&w);
    w.app
        .sql(&format!(
            "UPDATE containers SET name = 'bobs-www' WHERE id = {}",
            w.bobs.id
        ))
        .unwrap();
    assert_eq!(version(&w), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sweep_folds_a_customers_changes_into_one_row_and_keeps_their_sum() {
    let w = world().await;
    for memory in [100, 200, 300] {
        w.app
            .sql(&format!(
                "UPDATE containers SET memory_mb = {memory} WHERE id = {}",
                w.web.id
            ))
            .unwrap();
    }
    let rows_of_alice = || {
        scalar(
            &w.app,
            &format!(
                "SELECT count(*) AS n FROM list_changes WHERE customer_id = {}",
                w.web.customer_id()
            ),
        )
    };
    let (before, rows) = (version(&w), rows_of_alice());
    assert!(rows > 1, "{rows} rows");
    let pool = distropanel::db::pool(&w.app.db.conninfo(), 1).unwrap();
    let swept = distropanel::jobs::maintenance::sweep(&pool, None)
        .await
        .unwrap();
    assert!(swept.list_changes >= (rows - 1) as usize, "{swept:?}");
    assert_eq!(version(&w), before);
    assert_eq!(rows_of_alice(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_containers_page_shows_a_renamed_server_on_the_next_load() {
    let w = world().await;
    let alice = Browser::customer(&w.app, "alice").await;
    let (status, page) = alice.get_text("/containers").await;
    assert_eq!(status, 200);
    assert!(page.contains("<td>s1</td>"), "{page}");
    w.app
        .sql("UPDATE servers SET name = 'north-1' WHERE name = 's1'")
        .unwrap();
    let (_, page) = alice.get_text("/containers").await;
    assert!(
        page.contains("<td>north-1</td>") && !page.contains("<td>s1</td>"),
        "{page}"
    );
}
