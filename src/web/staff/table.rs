//! Paging and sorting for staff tables, done by the database: `?page=N&sort=COLUMN&dir=asc|desc`
//! next to a page's own filters. A sort names one of the columns the page allows, so a query
//! string never reaches SQL; anything else falls back to the page's default order.

use serde::Deserialize;

/// Rows per page of every staff table.
pub const PER_PAGE: i64 = 50;

/// The page, sort column and direction a request asks for, before a page checks them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct TableQuery {
    pub page: String,
    pub sort: String,
    pub dir: String,
}

/// A column a table may be sorted by: the name in query strings and what the query sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortColumn<K: Copy> {
    pub name: &'static str,
    pub label: &'static str,
    pub key: K,
}

/// The window and order a table shows, parsed against the columns the page allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window<K: Copy> {
    pub page: i64,
    pub sort: SortColumn<K>,
    pub descending: bool,
}

impl<K: Copy> Window<K> {
    /// `columns[0]` with `default_descending` is the order when the query asks for none or
    /// for a column the page does not allow.
    pub fn parse(query: &TableQuery, columns: &[SortColumn<K>], default_descending: bool) -> Self {
        let page = query
            .page
            .trim()
            .parse::<i64>()
            .unwrap_or(1)
            .clamp(1, 1_000_000);
        let asked = columns.iter().find(|c| c.name == query.sort.trim());
        let sort = asked.copied().unwrap_or(columns[0]);
        let descending = match query.dir.trim() {
            "asc" if asked.is_some() => false,
            "desc" if asked.is_some() => true,
            _ => default_descending,
        };
        Window {
            page,
            sort,
            descending,
        }
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * PER_PAGE
    }

    /// One row more than a page, so the page knows whether a next one exists.
    pub fn limit_probe(&self) -> i64 {
        PER_PAGE + 1
    }

    fn dir(&self) -> &'static str {
        if self.descending { "desc" } else { "asc" }
    }

    /// The links a table's header and pager need, keeping `filters` (a query string without
    /// `page`, `sort` or `dir`, possibly empty).
    pub fn pager(
        &self,
        path: &str,
        filters: &str,
        rows_fetched: usize,
        columns: &[SortColumn<K>],
    ) -> Pager {
        let shown = rows_fetched.min(PER_PAGE as usize) as i64;
        let link = |page: i64, sort: &str, dir: &str| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("sort", sort);
            query.append_pair("dir", dir);
            query.append_pair("page", &page.to_string());
            let paging = query.finish();
            if filters.is_empty() {
                format!("{path}?{paging}")
            } else {
                format!("{path}?{filters}&{paging}")
            }
        };
        let headers = columns
            .iter()
            .map(|column| {
                let current = column.name == self.sort.name;
                let next_dir = if current && !self.descending {
                    "desc"
                } else {
                    "asc"
                };
                SortLink {
                    label: column.label,
                    href: link(1, column.name, next_dir),
                    aria_sort: match (current, self.descending) {
                        (false, _) => "none",
                        (true, false) => "ascending",
                        (true, true) => "descending",
                    },
                }
            })
            .collect();
        let first = self.offset() + 1;
        Pager {
            summary: match shown {
                0 if self.page == 1 => "none".to_string(),
                0 => format!("nothing on page {}", self.page),
                n => format!("{first} to {}", first + n - 1),
            },
            previous: (self.page > 1).then(|| link(self.page - 1, self.sort.name, self.dir())),
            next: (rows_fetched as i64 > PER_PAGE)
                .then(|| link(self.page + 1, self.sort.name, self.dir())),
            headers,
        }
    }
}

/// A sortable column header: its label, the link that sorts by it and its `aria-sort`.
#[derive(Debug, Clone)]
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    pub aria_sort: &'static str,
}

/// What `templates/staff/_pager.html` shows under a table, and the headers above it.
#[derive(Debug, Clone)]
pub struct Pager {
    pub summary: String,
    pub previous: Option<String>,
    pub next: Option<String>,
    pub headers: Vec<SortLink>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[SortColumn<u8>] = &[
        SortColumn {
            name: "created",
            label: "Created",
            key: 0,
        },
        SortColumn {
            name: "name",
            label: "Name",
            key: 1,
        },
    ];

    fn query(page: &str, sort: &str, dir: &str) -> TableQuery {
        TableQuery {
            page: page.into(),
            sort: sort.into(),
            dir: dir.into(),
        }
    }

    #[test]
    fn an_unknown_column_or_a_garbage_page_falls_back_to_the_default_order() {
        let window = Window::parse(
            &query("-3", "password_hash; DROP TABLE", "asc"),
            COLUMNS,
            true,
        );
        assert_eq!(
            (window.page, window.sort.key, window.descending),
            (1, 0, true)
        );
        let window = Window::parse(&query("x", "", ""), COLUMNS, false);
        assert_eq!((window.page, window.descending), (1, false));
    }

    #[test]
    fn an_allowed_column_sorts_both_ways_and_pages_skip_whole_pages() {
        let window = Window::parse(&query("3", "name", "asc"), COLUMNS, true);
        assert_eq!(
            (window.sort.key, window.descending, window.offset()),
            (1, false, 2 * PER_PAGE)
        );
        assert!(Window::parse(&query("1", "name", "desc"), COLUMNS, false).descending);
    }

    #[test]
    fn the_pager_offers_a_next_page_only_when_a_row_more_was_found_and_keeps_filters() {
        let window = Window::parse(&query("2", "name", "asc"), COLUMNS, true);
        let pager = window.pager("/staff", "q=a%26b", PER_PAGE as usize + 1, COLUMNS);
        assert_eq!(pager.summary, "51 to 100");
        assert_eq!(
            pager.next.as_deref(),
            Some("/staff?q=a%26b&sort=name&dir=asc&page=3")
        );
        assert_eq!(
            pager.previous.as_deref(),
            Some("/staff?q=a%26b&sort=name&dir=asc&page=1")
        );
        assert_eq!(pager.headers[1].aria_sort, "ascending");
        assert_eq!(
            pager.headers[1].href,
            "/staff?q=a%26b&sort=name&dir=desc&page=1"
        );
        let last = window.pager("/staff", "", 3, COLUMNS);
        assert_eq!((last.next, last.summary.as_str()), (None, "51 to 53"));
    }
}
