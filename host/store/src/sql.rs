//! Small helpers: a statement builder that numbers `$n` placeholders (sqlx's `QueryBuilder`
//! emits `?` for `Any`, which PostgreSQL rejects), and typed column readers whose errors name the
//! column.

use gatehouse_core::{
    StoreError, Timestamp,
    page::{Order, PageRequest},
};
use serde::de::DeserializeOwned;
use sqlx::{
    Any, Row,
    any::{AnyArguments, AnyRow},
    query::Query,
};

/// A bound value. Only the types both backends decode the same way.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

#[derive(Debug, Default)]
pub(crate) struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `AND id < $n` / `id > $n` and the ORDER BY + LIMIT for a page over `column`.
    pub fn page(&mut self, column: &str, page: &PageRequest) -> &mut Self {
        if let Some(after) = &page.after {
            let op = if page.order == Order::Desc {
                " < "
            } else {
                " > "
            };
            self.push(" AND ")
                .push(column)
                .push(op)
                .bind(Arg::Text(after.clone()));
        }
        let dir = if page.order == Order::Desc {
            " DESC"
        } else {
            " ASC"
        };
        self.push(" ORDER BY ")
            .push(column)
            .push(dir)
            .push(" LIMIT ");
        self.bind(Arg::Int(page.fetch_limit()))
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for arg in &self.args {
            query = match arg {
                Arg::Text(v) => query.bind(v.as_str()),
                Arg::Int(v) => query.bind(*v),
            };
        }
        query
    }
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(column)
        .map_err(|e| StoreError::Corrupt(format!("column `{column}`: {e}")))
}

/// An integer expression: PostgreSQL types small literals as INT4, SQLite always as INT8.
pub(crate) fn get_int(row: &AnyRow, column: &str) -> Result<i64, StoreError> {
    get::<i64>(row, column).or_else(|_| get::<i32>(row, column).map(i64::from))
}

pub(crate) fn get_json<T: DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("column `{column}`: {e}")))
}

pub(crate) fn get_time(row: &AnyRow, column: &str) -> Result<Timestamp, StoreError> {
    Ok(Timestamp::from_unix_millis(get::<i64>(row, column)?))
}

pub(crate) fn get_opt_time(row: &AnyRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(get::<Option<i64>>(row, column)?.map(Timestamp::from_unix_millis))
}

pub(crate) fn get_enum<T>(
    row: &AnyRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let text: String = get(row, column)?;
    parse(&text)
        .ok_or_else(|| StoreError::Corrupt(format!("column `{column}`: unknown value `{text}`")))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("domain values serialize to JSON")
}

/// Rows affected must be 1, or the row was missing.
pub(crate) fn expect_one(result: sqlx::any::AnyQueryResult) -> Result<(), StoreError> {
    if result.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
