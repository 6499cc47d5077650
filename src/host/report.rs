//! What an unpack or a check found, line by line, as the jobs API shows it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    pub level: Level,
    pub message: String,
}

impl ReportLine {
    pub fn info(message: impl Into<String>) -> Self {
        Self {
            level: Level::Info,
            message: message.into(),
        }
    }
    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            level: Level::Warning,
            message: message.into(),
        }
    }
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            level: Level::Error,
            message: message.into(),
        }
    }
}

/// Collects names of one kind of finding and reports them as one line, listing the first few.
#[derive(Debug, Default)]
pub struct Findings {
    names: Vec<String>,
    total: usize,
}

impl Findings {
    const SHOWN: usize = 10;

    pub fn add(&mut self, name: impl Into<String>) {
        self.total += 1;
        if self.names.len() < Self::SHOWN {
            self.names.push(name.into());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// `"<what>: a, b, c"` with `" and N more"` when the list was cut.
    pub fn describe(&self, what: &str) -> String {
        let mut line = format!("{what} ({}): {}", self.total, self.names.join(", "));
        if self.total > self.names.len() {
            line.push_str(&format!(" and {} more", self.total - self.names.len()));
        }
        line
    }
}
