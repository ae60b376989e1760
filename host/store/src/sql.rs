//! Small helpers: one statement builder for every module — `$n` placeholders (sqlx's
//! `QueryBuilder` emits `?` for `Any`, which PostgreSQL rejects) or `?` where the dialect wants
//! them, `VALUES` lists, event-type patterns, pages — and typed column readers whose errors name
//! the column.

use crate::{Dialect, error::interpret};
use gatehouse_core::{
    StoreError, Timestamp,
    page::{Order, PageRequest},
};
use serde::de::DeserializeOwned;
use sqlx::{
    Any, Executor, Row,
    any::{AnyArguments, AnyRow},
    query::Query,
};

/// A bound value, NULLs typed so PostgreSQL accepts them for their column. Only the types both
/// backends decode the same way.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(Some(v.to_owned()))
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(Some(v))
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Self {
        Val::Text(v.map(str::to_owned))
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(Some(v))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::Int(v)
    }
}
impl From<Timestamp> for Val {
    fn from(v: Timestamp) -> Self {
        Val::Int(Some(v.unix_millis()))
    }
}
impl From<Option<Timestamp>> for Val {
    fn from(v: Option<Timestamp>) -> Self {
        Val::Int(v.map(Timestamp::unix_millis))
    }
}

/// A statement whose placeholders are added as values are bound: `$n`, or plain `?` where the
/// dialect wants them (SQLite, see [`Dialect::anonymous_placeholders`]).
#[derive(Debug, Default)]
pub(crate) struct Sql {
    text: String,
    args: Vec<Val>,
    anonymous: bool,
}

impl Sql {
    /// A statement with `$n` placeholders, which both backends accept.
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: Vec::new(),
            anonymous: false,
        }
    }

    /// A statement with the dialect's placeholders: for statements with many of them.
    pub fn for_dialect(dialect: Dialect, text: &str) -> Self {
        Self {
            anonymous: dialect.anonymous_placeholders,
            ..Self::new(text)
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Val>) -> &mut Self {
        self.args.push(value.into());
        if self.anonymous {
            self.text.push('?');
        } else {
            self.text.push('$');
            self.text.push_str(&self.args.len().to_string());
        }
        self
    }

    /// `(CAST(? AS BIGINT), CAST(? AS TEXT), …), …`: a `VALUES` list, one row per item, each
    /// value cast to its column type (placeholders there are untyped on PostgreSQL).
    pub fn values<T>(&mut self, items: &[T], row: impl Fn(&T) -> Vec<Val>) -> &mut Self {
        for (i, item) in items.iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            for (j, value) in row(item).into_iter().enumerate() {
                let ty = match value {
                    Val::Text(_) => "TEXT",
                    Val::Int(_) => "BIGINT",
                };
                self.push(if j == 0 { "CAST(" } else { ", CAST(" })
                    .bind(value)
                    .push(" AS ")
                    .push(ty)
                    .push(")");
            }
            self.push(")");
        }
        self
    }

    /// `(a, b, c)` of bound values.
    pub fn list<V: Into<Val>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        self.push("(");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value);
        }
        self.push(")")
    }

    /// `column LIKE 'family.%'` for a wildcard event-type pattern (`user.*`), `column = …` for an
    /// exact one. The caller handles `*`, which matches everything.
    pub fn event_type(&mut self, column: &str, pattern: &str) -> &mut Self {
        self.push(column);
        match pattern.strip_suffix(".*") {
            Some(prefix) => self
                .push(" LIKE ")
                .bind(format!("{}.%", escape_like(prefix)))
                .push(" ESCAPE '\\'"),
            None => self.push(" = ").bind(pattern),
        }
    }

    /// Appends `AND column < $n` / `> $n` and the ORDER BY + LIMIT for a page over `column`.
    pub fn page(&mut self, column: &str, page: &PageRequest) -> &mut Self {
        let (op, dir) = match page.order {
            Order::Desc => (" < ", " DESC"),
            Order::Asc => (" > ", " ASC"),
        };
        if let Some(after) = &page.after {
            self.push(" AND ").push(column).push(op).bind(after);
        }
        self.push(" ORDER BY ")
            .push(column)
            .push(dir)
            .push(" LIMIT ")
            .bind(page.fetch_limit())
    }

    /// Runs the statement and decodes the row it found, if any.
    pub async fn fetch_optional<'c, T>(
        &self,
        executor: impl Executor<'c, Database = Any>,
        decode: impl Fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = self
            .query()
            .fetch_optional(executor)
            .await
            .map_err(interpret)?;
        row.as_ref().map(decode).transpose()
    }

    /// Runs the statement and decodes every row.
    pub async fn fetch_all<'c, T>(
        &self,
        executor: impl Executor<'c, Database = Any>,
        decode: impl Fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.query().fetch_all(executor).await.map_err(interpret)?;
        rows.iter().map(decode).collect()
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for arg in &self.args {
            query = match arg {
                Val::Text(v) => query.bind(v.as_deref()),
                Val::Int(v) => query.bind(*v),
            };
        }
        query
    }
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn escape_like(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
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
