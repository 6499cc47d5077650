//! Staff find anything from the top bar, read a customer, a container, a server and a platform
//! distro on one page each, page through every customer, and read, filter and export the
//! audit trail, which the maintenance sweep prunes past its retention.

use std::time::Duration;

use fantoccini::Locator;

use crate::browser::Browser as Chromium;
use crate::helpers::{Made, TestApp, spawn_app};
use crate::host_fixtures::custom_distro;
use crate::pages_looks::{look_at, screen, screenshot_dir};
use crate::personas::{Browser, scalar};

/// Where a response sends the browser, if anywhere.
fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned)
}

fn encode(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

async fn search(staff: &Browser, q: &str) -> reqwest::Response {
    staff.get(&format!("/staff/search?q={}", encode(q))).await
}

/// Two customers with distinct companies and e-mails, a server, a platform distro and a few
/// containers; the staff member `helpdesk` (support).
struct Shop {
    app: TestApp,
    alice: Made,
    bob: Made,
    debian: Made,
    store: Made,
    web: Made,
    bob_web: Made,
}

async fn shop() -> Shop {
    let app = spawn_app().await;
    app.support("helpdesk");
    let alice = app.customer("alice");
    let bob = app.customer("bob");
    app.sql(&format!(
        "UPDATE customers SET company = 'Olympus Hosting', vat = 'IT123' WHERE id = {}",
        alice.customer_id()
    ))
    .unwrap();
    app.sql(&format!(
        "UPDATE customers SET company = 'Mars Labs' WHERE id = {}",
        bob.customer_id()
    ))
    .unwrap();
    app.sql("UPDATE users SET email = 'kratos.deimos@olympus.example' WHERE username = 'alice'")
        .unwrap();
    app.server("node1");
    let debian = app.distro("debian");
    let store = app.storage_container("alice", "node1", "alice-store");
    let web = app.container("alice", "node1", "alice-web", Some(&debian));
    let bob_web = app.container("bob", "node1", "bob-web", Some(&debian));
    Shop {
        app,
        alice,
        bob,
        debian,
        store,
        web,
        bob_web,
    }
}

#[tokio::test]
async fn a_fragment_of_an_e_mail_lands_on_the_customer_and_a_uid_on_the_container() {
    let s = shop().await;
    let staff = Browser::logged_in(&s.app, "helpdesk", "staff-password").await;

    let found = search(&staff, "deimos@olym").await;
    assert_eq!(found.status(), 303);
    let to = location(&found).unwrap();
    assert_eq!(to, format!("/staff/customers/{}", s.alice.customer_id()));
    let (status, page) = staff.get_text(&to).await;
    assert_eq!(status, 200);
    assert!(page.contains("Olympus Hosting") && page.contains("alice-web"));

    let found = search(&staff, &format!(" {} ", s.web.uid())).await;
    assert_eq!(
        location(&found).as_deref(),
        Some(format!("/staff/containers/{}", s.web.uid()).as_str())
    );
    for (q, to) in [
        (
            "MARS lab",
            format!("/staff/customers/{}", s.bob.customer_id()),
        ),
        ("bob-we", format!("/staff/containers/{}", s.bob_web.uid())),
        (
            "node",
            format!(
                "/staff/servers/{}",
                scalar(&s.app, "SELECT id::bigint AS n FROM servers")
            ),
        ),
        ("Distro deb", format!("/staff/distros/{}", s.debian.id)),
        (
            &format!("#{}", s.bob.customer_id()),
            format!("/staff/customers/{}", s.bob.customer_id()),
        ),
    ] {
        let found = search(&staff, q).await;
        assert_eq!(found.status(), 303, "{q}");
        assert_eq!(location(&found), Some(to), "{q}");
    }
}

#[tokio::test]
async fn a_search_matching_several_things_lists_them_by_kind_and_one_matching_nothing_says_so() {
    let s = shop().await;
    let staff = Browser::logged_in(&s.app, "helpdesk", "staff-password").await;
    let listed = search(&staff, "alice").await;
    assert_eq!(listed.status(), 200);
    let page = listed.text().await.unwrap();
    let customers = page.find("<h2>Customers</h2>").expect("a customers group");
    let containers = page
        .find("<h2>Containers</h2>")
        .expect("a containers group");
    assert!(customers < containers);
    for link in [
        format!("/staff/customers/{}", s.alice.customer_id()),
        format!("/staff/containers/{}", s.web.uid()),
        format!("/staff/containers/{}", s.store.uid()),
    ] {
        assert!(page.contains(&link), "{link} in {page}");
    }
    assert!(!page.contains("bob-web"));

    let (status, nothing) = staff.get_text("/staff/search?q=zebra").await;
    assert_eq!(status, 200);
    assert!(nothing.contains("Nothing matches “zebra”"), "{nothing}");
    let (status, empty) = staff.get_text("/staff/search").await;
    assert_eq!(status, 200);
    assert!(
        empty.contains("at least 3 characters"),
        "the rules are on the page"
    );
}

#[tokio::test]
async fn hostile_searches_get_a_clear_page_and_never_an_error() {
    let s = shop().await;
    s.app
        .sql("UPDATE containers SET name = 'a_b%c' WHERE name = 'bob-web'")
        .unwrap();
    let staff = Browser::logged_in(&s.app, "helpdesk", "staff-password").await;
    let long = "x".repeat(10 * 1024);
    let long_quotes = "'%_".repeat(1500);
    let cases: Vec<(&str, &str)> = vec![
        ("%", "at least 3 characters"),
        ("_", "at least 3 characters"),
        ("'", "at least 3 characters"),
        ("%%%", "Nothing matches"),
        ("___", "Nothing matches"),
        ("' OR 1=1 --", "Nothing matches"),
        ("\\\\\\", "Nothing matches"),
        ("99999999999999999999", "Nothing matches"),
        ("#0", "at least 3 characters"),
        ("30000", "Nothing matches"),
        (&long, "too long"),
        (&long_quotes, "too long"),
    ];
    for (q, says) in cases {
        let response = search(&staff, q).await;
        let status = response.status().as_u16();
        let page = response.text().await.unwrap();
        assert_eq!(status, 200, "{:.40}", q);
        assert!(page.contains(says), "{:.40}: {says} in {page}", q);
    }
    // wildcards are searched as typed: only the name holding them matches
    let found = search(&staff, "_b%").await;
    assert_eq!(
        location(&found),
        Some(format!("/staff/containers/{}", s.bob_web.uid()))
    );
}

fn insert_audit(
    app: &TestApp,
    actor: &str,
    customer: Option<i64>,
    action: &str,
    detail: &str,
    days_ago: i32,
) {
    let customer = customer.map_or("NULL".to_string(), |c| c.to_string());
    app.sql(&format!(
        "INSERT INTO events (kind, actor_user_id, actor, customer_id, action, target, outcome, detail, ip, at) \
         VALUES ('audit', (SELECT id FROM users WHERE username = '{actor}'), '{actor}', {customer}, \
                 '{}', 'target', 'ok', '{}', '127.0.0.1', now() - interval '{days_ago} days')",
        action.replace('\'', "''"),
        detail.replace('\'', "''")
    ))
    .unwrap();
}

#[tokio::test]
async fn the_customer_page_shows_containers_storage_use_distros_alarms_jobs_tokens_sessions_and_audit()
 {
    let s = shop().await;
    let app = &s.app;
    let trixie = custom_distro(app, &s.store, "trixie");
    app.sql(&format!(
        "UPDATE custom_distros SET image_state = 'ready', image_bytes = 300 * 1024 * 1024, image_sha256 = repeat('a', 64) WHERE id = {trixie}"
    ))
    .unwrap();
    app.sql(&format!(
        "INSERT INTO alarms (container_id, customer_id, level, msg, unix) \
         SELECT id, customer_id, 1, 'disk almost full', now() FROM containers WHERE id = {}",
        s.web.id
    ))
    .unwrap();
    app.sql(&format!(
        "INSERT INTO jobs (kind, server_id, container_id, customer_id, payload, state, error) \
         SELECT 'restart', server_id, id, customer_id, '{{}}', 'failed', 'the emperor did not answer' \
         FROM containers WHERE id = {}",
        s.web.id
    ))
    .unwrap();
    app.sql(
        "INSERT INTO api_tokens (user_id, name, token_hash, last_used_at) \
         SELECT id, 'deploy-bot', repeat('5eced', 12) || 'abcd', now() - interval '2 hours' FROM users WHERE username = 'alice'",
    )
    .unwrap();
    let _alice = Browser::customer(app, "alice").await;
    insert_audit(
        app,
        "helpdesk",
        Some(s.alice.customer_id()),
        "end sessions",
        "all of them",
        1,
    );
    insert_audit(
        app,
        "helpdesk",
        Some(s.bob.customer_id()),
        "about bob",
        "not alice",
        1,
    );

    let staff = Browser::logged_in(app, "helpdesk", "staff-password").await;
    let (status, page) = staff
        .get_text(&format!("/staff/customers/{}", s.alice.customer_id()))
        .await;
    assert_eq!(status, 200);
    for fact in [
        "Olympus Hosting",
        "IT123",
        "kratos.deimos@olympus.example",
        "alice-web",
        "alice-store",
        &format!("/staff/containers/{}", s.web.uid()),
        &format!("/staff/distros/{}", s.debian.id),
        // 300 MiB of the storage container's 1024 MB quota, from its image's size
        "300.0 MiB",
        "1.0 GiB",
        "29%",
        "Distro trixie",
        &format!("/staff/custom-distros/{trixie}"),
        "disk almost full",
        "the emperor did not answer",
        "deploy-bot",
        "2 h ago",
        "distropanel-tests",
        "end sessions",
    ] {
        assert!(page.contains(fact), "{fact} in {page}");
    }
    assert!(!page.contains("5eced5eced"), "no token hash");
    assert!(!page.contains("about bob") && !page.contains("bob-web"));
    assert_eq!(staff.get("/staff/customers/999999").await.status(), 404);
}

#[tokio::test]
async fn the_container_page_shows_what_the_customer_sees_every_job_report_and_its_vassal() {
    let s = shop().await;
    let app = &s.app;
    let trixie = custom_distro(app, &s.store, "trixie");
    app.sql(&format!(
        "UPDATE containers SET custom_distro_id = {trixie}, fallback_reason = 'no .old_root in the image' WHERE id = {}",
        s.web.id
    ))
    .unwrap();
    app.sql(&format!(
        "INSERT INTO jobs (kind, server_id, container_id, customer_id, payload, state, report) \
         SELECT 'restart', server_id, id, customer_id, '{{}}', 'done', \
                '[{{\"level\": \"info\", \"message\": \"vassal written\"}}, \
                  {{\"level\": \"warning\", \"message\": \"fell back to Distro debian\"}}]' \
         FROM containers WHERE id = {}",
        s.web.id
    ))
    .unwrap();
    let staff = Browser::logged_in(app, "helpdesk", "staff-password").await;
    let (status, page) = staff
        .get_text(&format!("/staff/containers/{}", s.web.uid()))
        .await;
    assert_eq!(status, 200);
    for fact in [
        "alice-web",
        "Olympus Hosting",
        &format!("/staff/customers/{}", s.alice.customer_id()),
        "/staff/servers/",
        &format!("/staff/containers/{}/act", s.web.uid()),
        "Act for the customer",
        &format!("/staff/custom-distros/{trixie}"),
        &format!("/staff/distros/{}", s.debian.id),
        "no .old_root in the image",
        "info: vassal written",
        "warning: fell back to Distro debian",
        "id=\"vassal\"",
        "[uwsgi]",
    ] {
        assert!(page.contains(fact), "{fact} in {page}");
    }
    assert!(
        !page.contains("method=\"post\" action=\"/containers/"),
        "read-only"
    );
    let (_, store_page) = staff
        .get_text(&format!("/staff/containers/{}", s.store.uid()))
        .await;
    assert!(
        store_page.contains("Custom distros it stores") && store_page.contains("Distro trixie")
    );
    assert_eq!(staff.get("/staff/containers/30999").await.status(), 404);
}

#[tokio::test]
async fn the_server_page_says_nothing_reports_until_its_agent_does_and_shows_its_queue() {
    let s = shop().await;
    let app = &s.app;
    let server = scalar(app, "SELECT id::bigint AS n FROM servers");
    app.sql(&format!(
        "INSERT INTO jobs (kind, server_id, container_id, customer_id, payload, created_at) \
         SELECT 'restart', server_id, id, customer_id, '{{}}', now() - interval '3 hours' \
         FROM containers WHERE id = {}",
        s.web.id
    ))
    .unwrap();
    let staff = Browser::logged_in(app, "helpdesk", "staff-password").await;
    let (status, page) = staff.get_text(&format!("/staff/servers/{server}")).await;
    assert_eq!(status, 200);
    for fact in [
        "Nothing reports for this server",
        "Nothing reports disk use for this server yet",
        "1 pending, 0 running",
        "queued 3 h ago",
        "alice-web",
        "bob-web",
    ] {
        assert!(page.contains(fact), "{fact} in {page}");
    }
    app.sql(&format!(
        "INSERT INTO host_reports (server_id, worker, reported_at) VALUES ({server}, 'agent-7', now())"
    ))
    .unwrap();
    app.sql(&format!(
        "INSERT INTO container_disk_use (container_id, home_bytes, images_bytes, measured_at) \
         VALUES ({}, 5 * 1024 * 1024, 0, now())",
        s.web.id
    ))
    .unwrap();
    let (_, page) = staff.get_text(&format!("/staff/servers/{server}")).await;
    assert!(
        page.contains("agent-7") && page.contains("just now"),
        "{page}"
    );
    assert!(
        page.contains("5.0 MiB") && !page.contains("Nothing reports"),
        "{page}"
    );
    let (_, list) = staff.get_text("/staff/servers").await;
    assert!(list.contains(&format!("/staff/servers/{server}")) && list.contains("node1"));

    let (status, distro) = staff
        .get_text(&format!("/staff/distros/{}", s.debian.id))
        .await;
    assert_eq!(status, 200);
    assert!(
        distro.contains("alice-web")
            && distro.contains("bob-web")
            && !distro.contains(">alice-store<")
    );
}

/// The ids in a page's customers table, in order.
fn customer_ids(page: &str) -> Vec<i64> {
    page.split("<tr id=\"customer-")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

fn next_link(page: &str) -> Option<String> {
    let at = page.find("rel=\"next\" href=\"")? + 17;
    Some(
        page[at..]
            .split('"')
            .next()?
            .replace("&amp;", "&")
            .replace("&#38;", "&"),
    )
}

#[tokio::test]
async fn the_staff_home_and_container_list_page_through_the_benchmark_dataset() {
    let app = spawn_app().await;
    app.support("helpdesk");
    for statement in [
        "INSERT INTO customers (company, vat) \
         SELECT 'Company ' || i, 'IT' || (10000 + i) FROM generate_series(1, 1000) i",
        "INSERT INTO servers (name, address) \
         SELECT 'node-' || i, 'node-' || i || '.example.com' FROM generate_series(1, 20) i",
        "INSERT INTO distros (name, path) SELECT 'Distro ' || i, 'distro' || i FROM generate_series(1, 5) i",
        "INSERT INTO containers (name, customer_id, server_id, distro_id, memory_mb, storage_mb) \
         SELECT 'c' || i, (SELECT min(id) FROM customers) + i % 1000, \
                (SELECT min(id) FROM servers) + i % 20, (SELECT min(id) FROM distros) + i % 5, 128, 1024 \
         FROM generate_series(1, 20000) i",
    ] {
        app.sql(statement).unwrap();
    }
    let staff = Browser::logged_in(&app, "helpdesk", "staff-password").await;
    let mut seen = std::collections::BTreeSet::new();
    let mut next = Some("/staff".to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let (status, page) = staff.get_text(&path).await;
        assert_eq!(status, 200, "{path}");
        let ids = customer_ids(&page);
        assert!(!ids.is_empty() && ids.len() <= 50, "{path}");
        seen.extend(ids);
        next = next_link(&page);
        pages += 1;
    }
    assert_eq!(
        (pages, seen.len()),
        (20, 1000),
        "every customer once, 50 a page"
    );
    let (status, page) = staff.get_text("/staff/containers?page=400").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("rel=\"prev\""),
        "the last page of 20,000 containers links back"
    );
    assert!(!page.contains("rel=\"next\""), "and is the last");

    // platform distros page by themselves: 5 above and 60 more make two pages
    app.sql(
        "INSERT INTO distros (name, path) SELECT 'Extra ' || i, 'extra' || i FROM generate_series(1, 60) i",
    )
    .unwrap();
    let (_, first) = staff.get_text("/staff/distros").await;
    let (_, second) = staff.get_text("/staff/distros?platform_page=2").await;
    let rows = |page: &str| page.matches("<tr id=\"distro-").count();
    assert_eq!((rows(&first), rows(&second)), (50, 15));
    assert!(
        first.contains("Next platform distros") && !first.contains("Previous platform distros")
    );
    assert!(
        second.contains("Previous platform distros") && !second.contains("Next platform distros")
    );
}

#[tokio::test]
async fn staff_page_through_every_customer_in_any_order_without_losing_or_repeating_one() {
    let app = spawn_app().await;
    app.support("helpdesk");
    app.sql(
        "INSERT INTO customers (company, created_at) \
         SELECT 'Company ' || (i * 37 % 120), now() - i * interval '1 hour' FROM generate_series(1, 120) i",
    )
    .unwrap();
    // ties on company: the id breaks them
    app.sql("UPDATE customers SET company = 'Same' WHERE id % 10 = 0")
        .unwrap();
    let staff = Browser::logged_in(&app, "helpdesk", "staff-password").await;
    for (sort, dir) in [
        ("id", "asc"),
        ("company", "asc"),
        ("company", "desc"),
        ("created", "desc"),
    ] {
        let mut seen = Vec::new();
        let mut next = Some(format!("/staff?sort={sort}&dir={dir}"));
        let mut pages = 0;
        while let Some(path) = next {
            let (status, page) = staff.get_text(&path).await;
            assert_eq!(status, 200);
            let ids = customer_ids(&page);
            assert!(ids.len() <= 50);
            seen.extend(ids);
            next = next_link(&page);
            pages += 1;
        }
        assert_eq!(pages, 3, "{sort} {dir}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 120, "{sort} {dir}: none lost or repeated");
        assert_eq!(seen.len(), 120, "{sort} {dir}");
        let mut conn = app.conn();
        let order = format!(
            "SELECT id::bigint AS n FROM customers ORDER BY {} {dir}, id {dir}",
            match sort {
                "id" => "id",
                "company" => "company",
                _ => "created_at",
            }
        );
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel::RunQueryDsl;
        let expected: Vec<i64> = diesel::sql_query(order)
            .load::<N>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|r| r.n)
            .collect();
        assert_eq!(seen, expected, "{sort} {dir}: the order holds across pages");
    }
    // a sort the page does not offer falls back to the default order
    let (status, page) = staff
        .get_text("/staff?sort=password_hash&dir=asc&page=x")
        .await;
    assert_eq!(status, 200);
    assert_eq!(customer_ids(&page)[0], 1);
}

#[tokio::test]
async fn the_audit_trail_filters_pages_says_when_empty_and_exports_csv_with_formulas_defused() {
    let s = shop().await;
    let app = &s.app;
    app.staff("root");
    let staff = Browser::logged_in(app, "helpdesk", "staff-password").await;
    let (_, empty) = staff.get_text("/staff/audit").await;
    assert!(empty.contains("Nothing has been audited yet"), "{empty}");

    insert_audit(
        app,
        "helpdesk",
        Some(s.alice.customer_id()),
        "=HYPERLINK(\"http://evil\",\"x\")",
        "+1 555",
        2,
    );
    insert_audit(
        app,
        "helpdesk",
        Some(s.alice.customer_id()),
        "storage on",
        "-rf, \"quoted\"\nnext line",
        1,
    );
    insert_audit(
        app,
        "root",
        Some(s.bob.customer_id()),
        "storage on",
        "@SUM(A1)",
        40,
    );
    insert_audit(app, "root", None, "\tdelete", "\rcr", 0);

    let (_, all) = staff.get_text("/staff/audit").await;
    assert!(all.contains("storage on") && all.contains("@SUM(A1)"));
    let helpdesk = scalar(
        app,
        "SELECT id::bigint AS n FROM users WHERE username = 'helpdesk'",
    );
    let (_, by_staff) = staff
        .get_text(&format!("/staff/audit?staff={helpdesk}"))
        .await;
    assert!(by_staff.contains("+1 555") && !by_staff.contains("@SUM(A1)"));
    let (_, by_customer) = staff
        .get_text(&format!("/staff/audit?customer={}", s.bob.customer_id()))
        .await;
    assert!(by_customer.contains("@SUM(A1)") && !by_customer.contains("+1 555"));
    let (_, by_action) = staff.get_text("/staff/audit?action=storage+on").await;
    assert!(by_action.contains("@SUM(A1)") && !by_action.contains("+1 555"));
    let today = chrono::Utc::now().date_naive();
    let (_, by_date) = staff
        .get_text(&format!(
            "/staff/audit?from={}&to={}",
            today - chrono::Duration::days(41),
            today - chrono::Duration::days(3)
        ))
        .await;
    assert!(by_date.contains("@SUM(A1)") && !by_date.contains("+1 555"));
    let (_, none) = staff.get_text("/staff/audit?action=nothing+like+it").await;
    assert!(none.contains("No audit entries match these filters"));
    assert_eq!(staff.get("/staff/audit?from=yesterday").await.status(), 400);

    let response = staff
        .get(&format!(
            "/staff/audit.csv?staff={helpdesk}&sort=at&dir=asc"
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "at,staff,customer,company,container,action,target,outcome,detail,ip"
    );
    assert!(
        lines[1].ends_with(&format!(
            ",helpdesk,{},Olympus Hosting,,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",target,ok,'+1 555,127.0.0.1",
            s.alice.customer_id()
        )),
        "{csv}"
    );
    assert!(
        lines[2].contains(",storage on,target,ok,\"'-rf, \"\"quoted\"\"\nnext line\",127.0.0.1"),
        "{csv}"
    );
    assert_eq!(
        lines.len(),
        4,
        "two entries and the trailing line end: {csv}"
    );
    let (_, everything) = staff.get_text("/staff/audit.csv").await;
    assert!(
        everything.contains(",'@SUM(A1),")
            && everything.contains(",'\tdelete,")
            && everything.contains("\"'\rcr\""),
        "{everything}"
    );

    // paging: 60 entries are two pages
    app.sql(
        "INSERT INTO events (kind, actor, action, target, outcome, detail) \
         SELECT 'audit', 'root', 'bulk', 'n' || i, 'ok', '' FROM generate_series(1, 60) i",
    )
    .unwrap();
    let (_, first) = staff.get_text("/staff/audit?action=bulk").await;
    let second = next_link(&first).expect("a second page");
    let (_, second) = staff.get_text(&second).await;
    assert_eq!(
        first.matches("<td>bulk</td>").count() + second.matches("<td>bulk</td>").count(),
        60
    );
    assert!(next_link(&second).is_none());
}

#[tokio::test]
async fn pruning_deletes_audit_entries_past_retention_and_keeps_the_rest() {
    let s = shop().await;
    let app = &s.app;
    insert_audit(app, "helpdesk", None, "ancient", "", 500);
    insert_audit(app, "helpdesk", None, "just past", "", 401);
    insert_audit(app, "helpdesk", None, "recent", "", 399);
    app.sql(&format!(
        "INSERT INTO events (kind, actor, container_id, action, target, outcome, detail, at) \
         VALUES ('operation', 'alice', {}, 'restart', 'alice-web', 'ok', '', now() - interval '500 days')",
        s.web.id
    ))
    .unwrap();
    let pool = distropanel::db::pool(&app.db.conninfo(), 2).unwrap();
    let pruned =
        distropanel::jobs::maintenance::prune_audit(&pool, Duration::from_secs(400 * 86_400))
            .await
            .unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(
        scalar(app, "SELECT count(*) AS n FROM events WHERE kind = 'audit'"),
        1
    );
    assert_eq!(
        scalar(
            app,
            "SELECT count(*) AS n FROM events WHERE action = 'recent'"
        ),
        1
    );
    assert_eq!(
        scalar(
            app,
            "SELECT count(*) AS n FROM events WHERE kind = 'operation'"
        ),
        1,
        "the operation log is not the audit trail"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_support_member_types_part_of_an_e_mail_in_the_top_bar_and_lands_on_the_customer() {
    let s = shop().await;
    let browser = Chromium::start().await;
    let c = &browser.client;
    browser
        .log_in(&s.app.url("/login"), "helpdesk", "staff-password")
        .await;
    let search = c
        .find(Locator::Css("form.staff-search input[name=q]"))
        .await
        .unwrap();
    search.send_keys("deimos@olym\u{E007}").await.unwrap();
    c.wait()
        .for_element(Locator::XPath("//h1[contains(., 'Olympus Hosting')]"))
        .await
        .unwrap();
    let url = c.current_url().await.unwrap();
    assert_eq!(
        url.path(),
        format!("/staff/customers/{}", s.alice.customer_id())
    );
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_staff_find_page_passes_axe_and_is_screenshotted_light_and_dark() {
    let s = shop().await;
    let app = &s.app;
    let trixie = custom_distro(app, &s.store, "trixie");
    app.sql(&format!(
        "UPDATE containers SET custom_distro_id = {trixie} WHERE id = {}",
        s.web.id
    ))
    .unwrap();
    insert_audit(
        app,
        "helpdesk",
        Some(s.alice.customer_id()),
        "storage on",
        "alice-store",
        1,
    );
    let server = scalar(app, "SELECT id::bigint AS n FROM servers");
    let pages = [
        ("staff-customers", "/staff".to_owned()),
        (
            "staff-customer",
            format!("/staff/customers/{}", s.alice.customer_id()),
        ),
        ("staff-containers", "/staff/containers".into()),
        (
            "staff-container",
            format!("/staff/containers/{}", s.web.uid()),
        ),
        ("staff-servers", "/staff/servers".into()),
        ("staff-server", format!("/staff/servers/{server}")),
        ("staff-distros", "/staff/distros".into()),
        ("staff-distro", format!("/staff/distros/{}", s.debian.id)),
        ("staff-search", "/staff/search?q=alice".into()),
        ("staff-search-empty", "/staff/search?q=zebra".into()),
        ("staff-audit", "/staff/audit".into()),
        ("staff-audit-empty", "/staff/audit?action=none".into()),
    ];
    let dir = screenshot_dir();
    let browser = Chromium::start().await;
    let c = &browser.client;
    browser
        .log_in(&app.url("/login"), "helpdesk", "staff-password")
        .await;
    let mut problems = Vec::new();
    for (name, path) in &pages {
        screen(c, 1366).await;
        c.goto(&app.url(path)).await.unwrap();
        problems.extend(look_at(c, name, &dir).await);
    }
    assert!(problems.is_empty(), "{problems:#?}");
    for (name, _) in &pages {
        assert!(dir.join(format!("{name}-390-dark.png")).exists(), "{name}");
    }
    browser.stop().await;
}
