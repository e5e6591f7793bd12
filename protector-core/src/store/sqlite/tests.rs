//! What only the SQLite store does; what every store does is in `store::conformance`.

use super::fixtures::*;
use crate::store::Store;

#[test]
fn debug_shows_the_path_not_the_key() {
    let s = store();
    let shown = format!("{s:?}");
    assert_eq!(shown, r#"SqliteStore { path: ":memory:", .. }"#);
}

#[test]
fn the_store_is_usable_as_a_shared_trait_object() {
    let shared: std::sync::Arc<dyn Store> = std::sync::Arc::new(store());
    assert!(format!("{shared:?}").starts_with("SqliteStore"));
}
