//! Bounded concurrency over the members of an operation.

use std::future::Future;

use futures::stream::{self, StreamExt};

use crate::error::Result;

/// Runs `f` on every item, at most `limit` at once. Every item runs; the first error wins.
pub(in crate::engine) async fn each_bounded<'i, T, F, Fut>(
    items: &'i [T],
    limit: usize,
    f: F,
) -> Result<()>
where
    F: FnMut(&'i T) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    // The futures are made up front so that the stream holds no closure: that keeps the
    // operation's future `Send` for any caller (a closure over references in the stream
    // trips rustc's higher-ranked `Send` check).
    let futures: Vec<Fut> = items.iter().map(f).collect();
    let results: Vec<Result<()>> = stream::iter(futures)
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}
