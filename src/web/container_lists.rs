//! A customer's containers as the lists show them (the page and the API), kept in memory
//! between requests and checked on each against the list state the database keeps: one short
//! statement instead of the list's joins, and the rows are read again only after a change.
//!
//! The database counts every committed change to what the lists show (`list_changes`, written
//! by triggers in the writer's own transaction), so rows read after a count are current while
//! the count stays the same. Pending jobs change with every job and are read with the count,
//! never kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::db::queries::containers::{self, ListedContainer};
use crate::db::queries::dashboard::JobCounts;
use crate::db::queries::list_changes::{self, ListState};
use crate::db::{self, PgPool};
use crate::domain::ids::{ContainerId, CustomerId};
use crate::error::Error;

/// A customer's containers as read once, with what the page and the API made of them.
#[derive(Debug, Default)]
pub struct ListedRows {
    pub rows: Vec<ListedContainer>,
    /// Each row as `GET /api/containers` shows it, up to its pending jobs.
    api_json: OnceLock<Rendered>,
    /// Each row of the containers page, up to its pending jobs.
    page_html: OnceLock<Rendered>,
}

/// Each row, rendered: one text per row, in order.
type Rendered = Box<[Box<str>]>;

impl ListedRows {
    /// Each row's JSON up to its pending jobs, made by `render` on first use and kept with the
    /// rows, since they are all it depends on.
    pub fn api_json<E>(
        &self,
        render: impl FnMut(&ListedContainer) -> Result<Box<str>, E>,
    ) -> Result<&[Box<str>], E> {
        self.kept_rendering(&self.api_json, render)
    }

    /// Each row's HTML up to its pending jobs, kept the same way.
    pub fn page_html<E>(
        &self,
        render: impl FnMut(&ListedContainer) -> Result<Box<str>, E>,
    ) -> Result<&[Box<str>], E> {
        self.kept_rendering(&self.page_html, render)
    }

    fn kept_rendering<'a, E>(
        &'a self,
        kept: &'a OnceLock<Rendered>,
        render: impl FnMut(&ListedContainer) -> Result<Box<str>, E>,
    ) -> Result<&'a [Box<str>], E> {
        if let Some(rendered) = kept.get() {
            return Ok(rendered);
        }
        let rendered = self
            .rows
            .iter()
            .map(render)
            .collect::<Result<Rendered, E>>()?;
        Ok(kept.get_or_init(|| rendered))
    }
}

impl std::ops::Deref for ListedRows {
    type Target = [ListedContainer];

    fn deref(&self) -> &[ListedContainer] {
        &self.rows
    }
}

/// A customer's list as one request sees it.
#[derive(Debug, Clone)]
pub struct CustomerList {
    pub rows: Arc<ListedRows>,
    /// Each pending job's container, in order, once per job.
    pending: Vec<ContainerId>,
    /// The top bar's counts, read with the rest.
    pub counts: JobCounts,
}

impl CustomerList {
    /// How many of the container's jobs are pending.
    pub fn pending_jobs(&self, container: ContainerId) -> i64 {
        let from = self.pending.partition_point(|c| *c < container);
        let to = self.pending.partition_point(|c| *c <= container);
        (to - from) as i64
    }
}

struct Kept {
    version: i64,
    rows: Arc<ListedRows>,
    last_read: u64,
}

#[derive(Default)]
struct Store {
    lists: HashMap<CustomerId, Kept>,
    rows: usize,
    reads: u64,
}

pub struct ContainerLists {
    store: Mutex<Store>,
    max_rows: usize,
    /// Requests served from kept rows, and those that read the rows.
    served_kept: AtomicU64,
    read_afresh: AtomicU64,
}

/// How the lists have been served since the process started, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListsServed {
    pub kept: u64,
    pub read: u64,
    pub rows_kept: usize,
}

impl ContainerLists {
    pub fn new(max_rows: usize) -> Arc<Self> {
        Arc::new(Self {
            store: Mutex::new(Store::default()),
            max_rows,
            served_kept: AtomicU64::new(0),
            read_afresh: AtomicU64::new(0),
        })
    }

    /// The customer's list: the kept rows when nothing they show changed since they were
    /// read, else the rows read now. Two statements on a miss, one otherwise.
    pub async fn of_customer(
        self: &Arc<Self>,
        pool: &PgPool,
        customer: CustomerId,
    ) -> Result<CustomerList, Error> {
        let lists = Arc::clone(self);
        db::run(pool, move |conn| {
            let ListState {
                version,
                pending,
                counts,
            } = list_changes::state(conn, customer)?;
            let rows = match lists.kept(customer, version) {
                Some(rows) => {
                    lists.served_kept.fetch_add(1, Ordering::Relaxed);
                    rows
                }
                None => {
                    lists.read_afresh.fetch_add(1, Ordering::Relaxed);
                    let rows = Arc::new(ListedRows {
                        rows: containers::listed_for_customer(conn, customer)?,
                        ..ListedRows::default()
                    });
                    lists.keep(customer, version, Arc::clone(&rows));
                    rows
                }
            };
            Ok(CustomerList {
                rows,
                pending,
                counts,
            })
        })
        .await
    }

    /// The map, even after a panic while it was held: every change to it leaves it whole.
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn kept(&self, customer: CustomerId, version: i64) -> Option<Arc<ListedRows>> {
        let mut store = self.store();
        store.reads += 1;
        let now = store.reads;
        let kept = store.lists.get_mut(&customer)?;
        (kept.version == version).then(|| {
            kept.last_read = now;
            Arc::clone(&kept.rows)
        })
    }

    /// Keeps `rows`, read after `version`, unless newer rows are kept already.
    fn keep(&self, customer: CustomerId, version: i64, rows: Arc<ListedRows>) {
        if self.max_rows == 0 || rows.len() > self.max_rows {
            return;
        }
        let mut store = self.store();
        store.reads += 1;
        let now = store.reads;
        if let Some(kept) = store.lists.get(&customer) {
            if kept.version > version {
                return;
            }
            let gone = kept.rows.len();
            store.rows -= gone;
        }
        store.rows += rows.len();
        store.lists.insert(
            customer,
            Kept {
                version,
                rows,
                last_read: now,
            },
        );
        if store.rows > self.max_rows {
            store.drop_least_read(self.max_rows * 3 / 4);
        }
    }

    /// How many rows are kept, over all customers.
    pub fn kept_rows(&self) -> usize {
        self.store().rows
    }

    pub fn served(&self) -> ListsServed {
        ListsServed {
            kept: self.served_kept.load(Ordering::Relaxed),
            read: self.read_afresh.load(Ordering::Relaxed),
            rows_kept: self.kept_rows(),
        }
    }
}

impl Store {
    /// Drops the least recently read lists until at most `rows` rows are kept.
    fn drop_least_read(&mut self, rows: usize) {
        let mut by_age: Vec<(u64, CustomerId)> = self
            .lists
            .iter()
            .map(|(customer, kept)| (kept.last_read, *customer))
            .collect();
        by_age.sort_unstable();
        for (_, customer) in by_age {
            if self.rows <= rows {
                break;
            }
            if let Some(kept) = self.lists.remove(&customer) {
                self.rows -= kept.rows.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i32) -> ListedContainer {
        ListedContainer {
            id: ContainerId(id),
            name: format!("c{id}"),
            memory_mb: 64,
            storage_mb: 64,
            uuid: uuid::Uuid::nil(),
            distro_id: None,
            custom_distro_id: None,
            custom_distros_storage: false,
            tags: Vec::new(),
            server_name: "s1".into(),
            server_address: "s1.example.com".into(),
            distro_name: None,
            custom_distro_name: None,
            fallback_reason: None,
            booted_kind: None,
            booted_custom_name: None,
        }
    }

    fn rows(n: i32) -> Arc<ListedRows> {
        Arc::new(ListedRows {
            rows: (1..=n).map(row).collect(),
            ..ListedRows::default()
        })
    }

    #[test]
    fn a_container_counts_each_of_its_pending_jobs_and_no_other() {
        let list = CustomerList {
            rows: rows(0),
            pending: [1, 3, 3, 3, 7].map(ContainerId).to_vec(),
            counts: JobCounts::default(),
        };
        let counted = [0, 1, 2, 3, 7, 8].map(|id| list.pending_jobs(ContainerId(id)));
        assert_eq!(counted, [0, 1, 0, 3, 1, 0]);
    }

    #[test]
    fn a_list_is_kept_for_its_version_only() {
        let lists = ContainerLists::new(100);
        let alice = CustomerId(1);
        lists.keep(alice, 4, rows(3));
        assert!(lists.kept(alice, 4).is_some_and(|kept| kept.len() == 3));
        assert!(
            lists.kept(alice, 5).is_none(),
            "a newer version reads again"
        );
        assert!(lists.kept(CustomerId(2), 4).is_none(), "another customer's");
    }

    #[test]
    fn rows_read_for_an_older_version_do_not_replace_newer_ones() {
        let lists = ContainerLists::new(100);
        let alice = CustomerId(1);
        lists.keep(alice, 5, rows(2));
        lists.keep(alice, 4, rows(3));
        assert!(lists.kept(alice, 5).is_some_and(|kept| kept.len() == 2));
        lists.keep(alice, 6, rows(1));
        assert_eq!(lists.kept_rows(), 1, "replaced, not added");
    }

    #[test]
    fn past_the_bound_the_least_recently_read_lists_go_first() {
        let lists = ContainerLists::new(10);
        for customer in 1..=3 {
            lists.keep(CustomerId(customer), 1, rows(3));
        }
        assert!(lists.kept(CustomerId(1), 1).is_some(), "read last");
        lists.keep(CustomerId(4), 1, rows(3));
        assert!(lists.kept_rows() <= 10 * 3 / 4, "{}", lists.kept_rows());
        assert!(lists.kept(CustomerId(1), 1).is_some(), "recently read");
        assert!(lists.kept(CustomerId(4), 1).is_some(), "just kept");
        assert!(
            lists.kept(CustomerId(2), 1).is_none(),
            "least recently read"
        );
    }

    #[test]
    fn a_list_longer_than_the_bound_is_not_kept_and_a_bound_of_nothing_keeps_nothing() {
        let lists = ContainerLists::new(2);
        lists.keep(CustomerId(1), 1, rows(3));
        assert!(lists.kept(CustomerId(1), 1).is_none());
        let none = ContainerLists::new(0);
        none.keep(CustomerId(1), 1, rows(0));
        assert!(none.kept(CustomerId(1), 1).is_none());
        assert_eq!(none.kept_rows(), 0);
    }
}
