//! Query parameters and the listing pipeline every GET shares: `names` / `ids` (comma lists,
//! `*` globs, and on snapshot endpoints the name of a protection group), `destroyed`,
//! `filter`, `sort` (`field`, `field-`, also `-field`), `offset`, `limit` and
//! `continuation_token`, `total_item_count`.

use std::cmp::Ordering;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde_json::Value;

use super::filter::{self, glob_match, Expr, Path};
use super::reply::{Page, RestError};

/// The decoded query string, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| RestError::bad_request(None, format!("Invalid query string: {e}")))?;
        Ok(Params(pairs))
    }
}

impl Params {
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The last value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every comma-separated value of `key` (repeated keys add up).
    pub(crate) fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// `true` / `false`, or `None` when absent.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, RestError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(RestError::bad_request(
                Some(key),
                format!("Invalid value '{v}' for {key}: use true or false."),
            )),
        }
    }

    /// A boolean that defaults to false.
    pub(crate) fn flag(&self, key: &str) -> Result<bool, RestError> {
        Ok(self.bool(key)?.unwrap_or(false))
    }

    /// A non-negative integer, or `None` when absent.
    pub(crate) fn number(&self, key: &str) -> Result<Option<usize>, RestError> {
        self.get(key)
            .map(|v| {
                v.parse::<usize>().map_err(|_| {
                    RestError::bad_request(
                        Some(key),
                        format!("Invalid value '{v}' for {key}: use a non-negative integer."),
                    )
                })
            })
            .transpose()
    }

    /// The comma list `key`, which must not be empty.
    pub(crate) fn required_list(&self, key: &str) -> Result<Vec<String>, RestError> {
        let values = self.list(key);
        if values.is_empty() {
            return Err(RestError::bad_request(
                None,
                format!("Missing required query parameter {key}."),
            ));
        }
        Ok(values)
    }

    /// Refuses parameters the simulated array does not implement, naming what to do instead.
    pub(crate) fn refuse(&self, keys: &[&str]) -> Result<(), RestError> {
        for key in keys {
            if self.get(key).is_some() {
                return Err(RestError::bad_request(
                    Some(key),
                    format!("The simulated FlashArray does not support the {key} parameter on this endpoint."),
                ));
            }
        }
        Ok(())
    }
}

/// A base64 continuation token holding the offset of the next page (Purity's tokens are
/// base64 too; clients treat them as opaque).
pub(crate) fn encode_token(offset: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = offset.to_string().into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The offset in a token from [`encode_token`].
pub(crate) fn decode_token(token: &str) -> Option<usize> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in token.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(bytes).ok()?.parse().ok()
}

/// One sort key.
#[derive(Debug, Clone)]
struct SortKey {
    path: Path,
    descending: bool,
}

/// The listing parameters of a GET.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub names: Vec<String>,
    pub ids: Vec<String>,
    pub destroyed: Option<bool>,
    filter: Option<Expr>,
    sort: Vec<SortKey>,
    limit: Option<usize>,
    offset: usize,
    total_item_count: bool,
}

impl Listing {
    /// Whether `names` may select an item named `name` (always without `names`): an endpoint
    /// whose names are only its items' own (no `group_of`) renders just those, and the
    /// selection then answers as it would over every item.
    pub(crate) fn may_name(&self, name: &str) -> bool {
        self.names.is_empty() || self.names.iter().any(|n| glob_match(n, name))
    }

    /// Reads the common listing parameters.
    pub(crate) fn parse(params: &Params) -> Result<Listing, RestError> {
        params.refuse(&["total_only"])?;
        let filter = params
            .get("filter")
            .map(|f| {
                filter::parse(f).map_err(|why| {
                    RestError::bad_request(Some(f), format!("Invalid filter: {why}."))
                })
            })
            .transpose()?;
        let mut sort = Vec::new();
        for field in params.list("sort") {
            let (field, descending) = if let Some(f) = field.strip_suffix('-') {
                (f.to_string(), true)
            } else if let Some(f) = field.strip_prefix('-') {
                (f.to_string(), true)
            } else {
                (field.clone(), false)
            };
            let valid = !field.is_empty()
                && field.split('.').all(|p| {
                    !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
            if !valid {
                return Err(RestError::bad_request(
                    Some(&field),
                    format!("Invalid sort field '{field}'."),
                ));
            }
            sort.push(SortKey {
                path: Path::dotted(&field),
                descending,
            });
        }
        let offset = match params.get("continuation_token") {
            Some(token) => decode_token(token).ok_or_else(|| {
                RestError::bad_request(
                    Some("continuation_token"),
                    "Invalid continuation_token: use the token of the previous page.",
                )
            })?,
            None => params.number("offset")?.unwrap_or(0),
        };
        Ok(Listing {
            names: params.list("names"),
            ids: params.list("ids"),
            destroyed: params.bool("destroyed")?,
            filter,
            sort,
            limit: params.number("limit")?,
            offset,
            total_item_count: params.flag("total_item_count")?,
        })
    }
}

/// How a GET's items are named.
pub(crate) struct Naming {
    /// `Volume`, `Protection group`, … for "X does not exist."
    pub noun: &'static str,
    /// On pg-snapshot endpoints a name may be that of the group: every snapshot of it matches.
    pub group_of: Option<fn(&Value) -> Option<String>>,
}

fn str_field<'a>(item: &'a Value, field: &str) -> &'a str {
    item.get(field).and_then(Value::as_str).unwrap_or("")
}

fn is_glob(name: &str) -> bool {
    name.contains('*')
}

/// Selects the items of `names` (each must match at least one item, else "does not exist"),
/// honouring `destroyed` for exact names as Purity does.
fn select(
    items: Vec<Value>,
    wanted: &[String],
    field: &str,
    naming: &Naming,
    destroyed: Option<bool>,
) -> Result<Vec<Value>, RestError> {
    if wanted.is_empty() {
        return Ok(items);
    }
    let group_of = |item: &Value| naming.group_of.and_then(|f| f(item));
    let mut errors = Vec::new();
    for name in wanted {
        let exact = items.iter().find(|i| str_field(i, field) == name.as_str());
        if let (Some(item), Some(want), false) = (exact, destroyed, is_glob(name)) {
            let is_destroyed = item
                .get("destroyed")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if is_destroyed != want {
                errors.push(if is_destroyed {
                    format!("{} {name} has been destroyed.", naming.noun)
                } else {
                    format!("{} {name} is not destroyed.", naming.noun)
                });
                continue;
            }
        }
        let found = exact.is_some()
            || items.iter().any(|i| {
                glob_match(name, str_field(i, field))
                    || field == "name" && group_of(i).is_some_and(|g| glob_match(name, &g))
            });
        if !found {
            errors.push(if field == "id" {
                format!("No {} has id {name}.", naming.noun.to_lowercase())
            } else {
                format!("{} {name} does not exist.", naming.noun)
            });
        }
    }
    if let Some(message) = errors.first() {
        let context = wanted
            .iter()
            .find(|n| message.contains(n.as_str()))
            .map(String::as_str);
        return Err(RestError::bad_request(context, message.clone()));
    }
    Ok(items
        .into_iter()
        .filter(|i| {
            wanted.iter().any(|name| {
                glob_match(name, str_field(i, field))
                    || field == "name" && group_of(i).is_some_and(|g| glob_match(name, &g))
            })
        })
        .collect())
}

fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Names, ids, `destroyed`, filter, sort and paging over every item of an endpoint.
pub(crate) fn list(
    items: Vec<Value>,
    listing: &Listing,
    naming: &Naming,
) -> Result<Page, RestError> {
    let items = select(items, &listing.names, "name", naming, listing.destroyed)?;
    let items = select(items, &listing.ids, "id", naming, listing.destroyed)?;
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|i| match listing.destroyed {
            Some(want) => i
                .get("destroyed")
                .and_then(Value::as_bool)
                .is_none_or(|d| d == want),
            None => true,
        })
        .filter(|i| listing.filter.as_ref().is_none_or(|f| f.matches(i)))
        .collect();
    if !listing.sort.is_empty() {
        items.sort_by(|a, b| {
            for key in &listing.sort {
                let ordering = compare_values(key.path.lookup(a), key.path.lookup(b));
                let ordering = if key.descending {
                    ordering.reverse()
                } else {
                    ordering
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            Ordering::Equal
        });
    }
    let total = items.len();
    let start = listing.offset.min(total);
    let end = match listing.limit {
        Some(limit) => start.saturating_add(limit).min(total),
        None => total,
    };
    let more = end < total;
    let page: Vec<Value> = items.drain(start..end).collect();
    Ok(Page {
        items: page,
        // Purity gives no token when the caller sorts; it pages with offset then.
        continuation_token: (more && listing.sort.is_empty()).then(|| encode_token(end)),
        more_items_remaining: more,
        total_item_count: (listing.total_item_count || listing.limit == Some(0)).then_some(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VOLUMES: Naming = Naming {
        noun: "Volume",
        group_of: None,
    };

    fn items() -> Vec<Value> {
        (1..=5)
            .map(|i| json!({"name": format!("v{i}"), "id": format!("id{i}"), "destroyed": i == 5, "created": 10 - i}))
            .collect()
    }

    fn names(page: &Page) -> Vec<&str> {
        page.items.iter().map(|i| str_field(i, "name")).collect()
    }

    #[test]
    fn tokens_round_trip() {
        assert_eq!(encode_token(2), "Mg==");
        assert_eq!(encode_token(4), "NA==");
        for n in [0, 7, 42, 123, 99_999] {
            assert_eq!(decode_token(&encode_token(n)), Some(n));
        }
        assert_eq!(decode_token("!!"), None);
    }

    #[test]
    fn pages_follow_the_token() {
        let listing = Listing::parse(&Params::from_pairs(&[("limit", "2")])).unwrap();
        let first = list(items(), &listing, &VOLUMES).unwrap();
        assert_eq!(names(&first), ["v1", "v2"]);
        assert!(first.more_items_remaining);
        let token = first.continuation_token.clone().unwrap();
        let listing = Listing::parse(&Params::from_pairs(&[
            ("limit", "2"),
            ("continuation_token", &token),
        ]))
        .unwrap();
        let second = list(items(), &listing, &VOLUMES).unwrap();
        assert_eq!(names(&second), ["v3", "v4"]);
        assert_eq!(first.total_item_count, None);
    }

    #[test]
    fn sort_filter_and_destroyed() {
        let listing = Listing::parse(&Params::from_pairs(&[
            ("sort", "created"),
            ("destroyed", "false"),
            ("filter", "name!='v2'"),
            ("limit", "2"),
            ("total_item_count", "true"),
        ]))
        .unwrap();
        let page = list(items(), &listing, &VOLUMES).unwrap();
        assert_eq!(names(&page), ["v4", "v3"]);
        assert_eq!(page.continuation_token, None);
        assert!(page.more_items_remaining);
        assert_eq!(page.total_item_count, Some(3));
        let listing = Listing::parse(&Params::from_pairs(&[("sort", "name-")])).unwrap();
        assert_eq!(names(&list(items(), &listing, &VOLUMES).unwrap())[0], "v5");
    }

    #[test]
    fn names_must_exist() {
        let listing = Listing::parse(&Params::from_pairs(&[("names", "v1,nope")])).unwrap();
        let error = list(items(), &listing, &VOLUMES).unwrap_err();
        assert_eq!(error.status, 400);
        assert_eq!(error.errors[0].context.as_deref(), Some("nope"));
        assert_eq!(error.errors[0].message, "Volume nope does not exist.");
        let listing = Listing::parse(&Params::from_pairs(&[("names", "v*")])).unwrap();
        assert_eq!(list(items(), &listing, &VOLUMES).unwrap().items.len(), 5);
        let listing = Listing::parse(&Params::from_pairs(&[
            ("names", "v5"),
            ("destroyed", "false"),
        ]))
        .unwrap();
        let error = list(items(), &listing, &VOLUMES).unwrap_err();
        assert_eq!(error.errors[0].message, "Volume v5 has been destroyed.");
    }

    #[test]
    fn group_names_select_their_snapshots() {
        let naming = Naming {
            noun: "Protection group snapshot",
            group_of: Some(|i| i["source"]["name"].as_str().map(str::to_string)),
        };
        let snaps = vec![
            json!({"name": "pg.1", "source": {"name": "pg"}}),
            json!({"name": "pg.2", "source": {"name": "pg"}}),
            json!({"name": "other.1", "source": {"name": "other"}}),
        ];
        let listing = Listing::parse(&Params::from_pairs(&[("names", "pg")])).unwrap();
        assert_eq!(
            names(&list(snaps, &listing, &naming).unwrap()),
            ["pg.1", "pg.2"]
        );
    }

    #[test]
    fn limit_zero_counts() {
        let listing = Listing::parse(&Params::from_pairs(&[("limit", "0")])).unwrap();
        let page = list(items(), &listing, &VOLUMES).unwrap();
        assert!(page.items.is_empty());
        assert_eq!(page.total_item_count, Some(5));
    }
}
