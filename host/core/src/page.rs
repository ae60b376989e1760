//! Cursor pagination, WorkOS style: `?limit=&after=` in, `{data, list_metadata:{after}}` out.

use serde::{Deserialize, Serialize};

use crate::Error;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

/// A validated page request. `after` is the cursor returned by the previous page (an object id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
    pub order: Order,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            after: None,
            order: Order::Desc,
        }
    }
}

impl PageRequest {
    pub fn new(
        limit: Option<u32>,
        after: Option<String>,
        order: Option<Order>,
    ) -> Result<Self, Error> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = after.filter(|a| !a.is_empty());
        if let Some(cursor) = &after
            && (cursor.len() > 128
                || !cursor
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(Error::invalid(
                "after",
                "after must be a cursor returned by a previous page",
            ));
        }
        Ok(Self {
            limit,
            after,
            order: order.unwrap_or_default(),
        })
    }

    /// Stores fetch one row more than asked to learn whether another page exists.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Cursor for the next page; `None` on the last page.
    pub after: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows; `cursor` extracts a row's cursor.
    pub fn from_rows(
        mut rows: Vec<T>,
        request: &PageRequest,
        cursor: impl Fn(&T) -> String,
    ) -> Self {
        let more = rows.len() > request.limit as usize;
        rows.truncate(request.limit as usize);
        let after = if more { rows.last().map(&cursor) } else { None };
        Self { data: rows, after }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            after: self.after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds_are_enforced() {
        assert!(PageRequest::new(Some(0), None, None).is_err());
        assert!(PageRequest::new(Some(101), None, None).is_err());
        assert_eq!(
            PageRequest::new(None, None, None).unwrap().limit,
            DEFAULT_LIMIT
        );
    }

    #[test]
    fn cursor_is_set_only_when_more_rows_exist() {
        let req = PageRequest::new(Some(2), None, None).unwrap();
        let page = Page::from_rows(vec![1, 2, 3], &req, |n| n.to_string());
        assert_eq!(page.data, vec![1, 2]);
        assert_eq!(page.after.as_deref(), Some("2"));
        let last = Page::from_rows(vec![1, 2], &req, |n| n.to_string());
        assert_eq!(last.after, None);
    }

    #[test]
    fn hostile_cursors_are_refused() {
        assert!(PageRequest::new(None, Some("'; drop table".into()), None).is_err());
    }
}
