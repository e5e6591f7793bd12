//! The REST 2.x `filter` and `sort` query grammar, rendered safely.
//!
//! Field names are `&'static str` on purpose: they come from code, never from input. Values are
//! always quoted and escaped, so a name containing `'` or `\` cannot change the expression.
//!
//! ```
//! use protector_pure::{Filter, Sort};
//!
//! let f = Filter::like("name", "array-a:pg.2.*").and(Filter::eq("destroyed", false));
//! assert_eq!(f.to_string(), "name='array-a:pg.2.*' and destroyed=false");
//! assert_eq!(Sort::desc("started").to_string(), "started-");
//! ```

use std::fmt;

/// A value on the right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// A string, rendered single-quoted with `\` and `'` escaped.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A number, rendered double-quoted as Purity expects for floats (`progress="1.0"`).
    Number(f64),
    /// `true` / `false`.
    Bool(bool),
}

impl From<&str> for FilterValue {
    fn from(value: &str) -> Self {
        FilterValue::Text(value.to_string())
    }
}

impl From<String> for FilterValue {
    fn from(value: String) -> Self {
        FilterValue::Text(value)
    }
}

impl From<i64> for FilterValue {
    fn from(value: i64) -> Self {
        FilterValue::Integer(value)
    }
}

impl From<f64> for FilterValue {
    fn from(value: f64) -> Self {
        FilterValue::Number(value)
    }
}

impl From<bool> for FilterValue {
    fn from(value: bool) -> Self {
        FilterValue::Bool(value)
    }
}

impl fmt::Display for FilterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterValue::Text(s) => {
                f.write_str("'")?;
                for c in s.chars() {
                    if c == '\\' || c == '\'' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("'")
            }
            FilterValue::Integer(n) => write!(f, "{n}"),
            FilterValue::Number(x) if x.fract() == 0.0 && x.is_finite() => write!(f, "\"{x:.1}\""),
            FilterValue::Number(x) => write!(f, "\"{x}\""),
            FilterValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A filter expression for the `filter` query parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expression: String,
    /// Whether the expression is an `and`/`or` combination (parenthesised when nested).
    compound: bool,
}

impl Filter {
    fn comparison(field: &'static str, op: &str, value: FilterValue) -> Filter {
        Filter {
            expression: format!("{field}{op}{value}"),
            compound: false,
        }
    }

    /// `field=value`. For text, `*` is Purity's wildcard: object names cannot contain it, so an
    /// exact name matches only itself.
    pub fn eq(field: &'static str, value: impl Into<FilterValue>) -> Filter {
        Self::comparison(field, "=", value.into())
    }

    /// `field='pattern'` where `*` in `pattern` matches any characters (`name='pg.2.*'`).
    pub fn like(field: &'static str, pattern: &str) -> Filter {
        Self::comparison(field, "=", FilterValue::from(pattern))
    }

    /// `field!=value`.
    pub fn ne(field: &'static str, value: impl Into<FilterValue>) -> Filter {
        Self::comparison(field, "!=", value.into())
    }

    /// `field>value`.
    pub fn gt(field: &'static str, value: impl Into<FilterValue>) -> Filter {
        Self::comparison(field, ">", value.into())
    }

    /// `field>=value`.
    pub fn ge(field: &'static str, value: impl Into<FilterValue>) -> Filter {
        Self::comparison(field, ">=", value.into())
    }

    /// `field<value`.
    pub fn lt(field: &'static str, value: impl Into<FilterValue>) -> Filter {
        Self::comparison(field, "<", value.into())
    }

    /// `field<=value`.
    pub fn le(field: &'static str, value: impl Into<FilterValue>) -> Filter {
        Self::comparison(field, "<=", value.into())
    }

    /// `field=('a','b')`: the field equals one of the values.
    pub fn one_of<V: Into<FilterValue>>(
        field: &'static str,
        values: impl IntoIterator<Item = V>,
    ) -> Filter {
        let values: Vec<String> = values.into_iter().map(|v| v.into().to_string()).collect();
        Filter {
            expression: format!("{field}=({})", values.join(",")),
            compound: false,
        }
    }

    /// `contains(field,'text')`.
    pub fn contains(field: &'static str, text: &str) -> Filter {
        Filter {
            expression: format!("contains({field},{})", FilterValue::from(text)),
            compound: false,
        }
    }

    /// Both filters hold.
    #[must_use]
    pub fn and(self, other: Filter) -> Filter {
        Self::combine(self, "and", other)
    }

    /// Either filter holds.
    #[must_use]
    pub fn or(self, other: Filter) -> Filter {
        Self::combine(self, "or", other)
    }

    fn combine(left: Filter, op: &str, right: Filter) -> Filter {
        Filter {
            expression: format!("{} {op} {}", left.nested(), right.nested()),
            compound: true,
        }
    }

    fn nested(&self) -> String {
        if self.compound {
            format!("({})", self.expression)
        } else {
            self.expression.clone()
        }
    }

    /// The rendered expression.
    pub fn as_str(&self) -> &str {
        &self.expression
    }
}

/// `!filter` renders `not(...)`.
impl std::ops::Not for Filter {
    type Output = Filter;

    fn not(self) -> Filter {
        Filter {
            expression: format!("not({})", self.expression),
            compound: false,
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

/// A sort order for the `sort` query parameter. Descending is a trailing `-` (`started-`), as
/// the spec's pattern and Pure's own clients send it.
///
/// When a request is sorted the array returns no continuation token; the client then pages with
/// `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort(Vec<(&'static str, bool)>);

impl Sort {
    /// Ascending by `field`.
    pub fn asc(field: &'static str) -> Sort {
        Sort(vec![(field, false)])
    }

    /// Descending by `field`.
    pub fn desc(field: &'static str) -> Sort {
        Sort(vec![(field, true)])
    }

    /// Then ascending by `field`.
    #[must_use]
    pub fn then_asc(mut self, field: &'static str) -> Sort {
        self.0.push((field, false));
        self
    }

    /// Then descending by `field`.
    #[must_use]
    pub fn then_desc(mut self, field: &'static str) -> Sort {
        self.0.push((field, true));
        self
    }
}

impl fmt::Display for Sort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, descending)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(field)?;
            if *descending {
                f.write_str("-")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values() {
        assert_eq!(Filter::eq("name", "vol1").to_string(), "name='vol1'");
        assert_eq!(Filter::eq("progress", 1.0).to_string(), "progress=\"1.0\"");
        assert_eq!(Filter::eq("progress", 0.5).to_string(), "progress=\"0.5\"");
        assert_eq!(Filter::gt("created", 5_i64).to_string(), "created>5");
        assert_eq!(Filter::ne("destroyed", true).to_string(), "destroyed!=true");
        assert_eq!(
            Filter::le("space.total", 9_i64).to_string(),
            "space.total<=9"
        );
        assert_eq!(Filter::ge("x", 1_i64).to_string(), "x>=1");
        assert_eq!(Filter::lt("x", 1_i64).to_string(), "x<1");
    }

    #[test]
    fn quotes_hostile_text() {
        let f = Filter::eq("name", r"a' or name='b\");
        assert_eq!(f.to_string(), r"name='a\' or name=\'b\\'");
    }

    #[test]
    fn combines_with_parentheses_where_needed() {
        let f = Filter::eq("a", "x")
            .or(Filter::eq("b", "y"))
            .and(!Filter::eq("c", "z"));
        assert_eq!(f.to_string(), "(a='x' or b='y') and not(c='z')");
        assert_eq!(
            Filter::one_of("name", ["a", "b"]).to_string(),
            "name=('a','b')"
        );
        assert_eq!(
            Filter::contains("name", "cinder").to_string(),
            "contains(name,'cinder')"
        );
        assert_eq!(Filter::like("name", "pg.2.*").as_str(), "name='pg.2.*'");
    }

    #[test]
    fn sorts() {
        assert_eq!(
            Sort::desc("started").then_asc("name").to_string(),
            "started-,name"
        );
        assert_eq!(
            Sort::asc("created").then_desc("x").to_string(),
            "created,x-"
        );
    }
}
