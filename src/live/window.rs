//! One live window: the first rows of a filtered list, kept exact by the writer.
//!
//! A window holds the first `size` **members** of its list, in list order: the conversations
//! that match its filter or are kept visible. The writer calls [`Window::apply`] with the rows
//! a committed change touched (each one's record before and after), under the index's write
//! lock, so the window's diffs are exactly the committed changes.
//!
//! Why an update is exact. Let `b` be the sort key of the window's last row before the change
//! if the window was full (otherwise the window held every member, and `b` is below
//! everything). The window held exactly the members at or above `b`. Untouched rows keep their
//! keys and membership, so after removing every touched row the window holds the untouched
//! members at or above `b`; inserting every touched row that is a member at or above `b` after
//! the change makes it hold exactly the members at or above `b` after the change: a prefix of
//! the new list. It is then cut to `size`, or refilled from the index's ordered sets with the
//! members below `b`. Each step is a binary search in the window (O(log size)) and the refill
//! is a walk of the ordered sets from `b` (O(log n) plus the rows it skips, as for a page).

use std::collections::BTreeSet;
use std::sync::Arc;

use eyeball_im::{ObservableVector, ObservableVectorTransaction, Vector, VectorSubscriber};

use crate::filter::ConversationFilter;
use crate::index::{Index, Touched};
use crate::model::{Conversation, ConversationId};

/// How many committed changes a subscriber may fall behind before the next thing it receives
/// is a reset to the current window.
pub(crate) const LAG_CAPACITY: usize = 128;

/// What a window shows. Equal keys share one window.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ListKey {
    pub(crate) filter: ConversationFilter,
    /// How many rows, at most.
    pub(crate) size: usize,
    /// Conversations shown whether or not they match the filter.
    pub(crate) kept: BTreeSet<ConversationId>,
}

impl ListKey {
    /// Whether `c` belongs to this list (at some position, maybe outside the window).
    fn member(&self, c: &Conversation) -> bool {
        self.filter.matches(c) || self.kept.contains(&c.id)
    }
}

/// The window's rows no longer agree with the index (not reachable while both are updated
/// together); the window is rebuilt rather than left wrong.
struct Drift;

pub(crate) struct Window {
    key: ListKey,
    rows: ObservableVector<Arc<Conversation>>,
}

impl Window {
    /// The window of `key` over the index as it is now.
    pub(crate) fn new(key: ListKey, index: &Index) -> Self {
        let mut rows = ObservableVector::with_capacity(LAG_CAPACITY);
        // No subscriber yet: nothing is broadcast.
        rows.append(members_below(&key, index, None, key.size));
        Self { key, rows }
    }

    /// The rows now and a subscription to their diffs from now on.
    pub(crate) fn subscribe(&self) -> VectorSubscriber<Arc<Conversation>> {
        self.rows.subscribe()
    }

    /// Updates the window after a committed change, `index` being the state after it, and
    /// broadcasts the diffs (one batch) if it changed.
    pub(crate) fn apply(&mut self, index: &Index, touched: &[Touched]) {
        let mut txn = self.rows.transaction();
        if update(&mut txn, &self.key, index, touched).is_ok() {
            txn.commit();
            return;
        }
        drop(txn);
        tracing::warn!(filter = ?self.key.filter, "a live list was out of step; rebuilt it");
        let mut txn = self.rows.transaction();
        txn.clear();
        txn.append(members_below(&self.key, index, None, self.key.size));
        txn.commit();
    }
}

/// The diffs of one change, into `txn` (see the module docs for why they are exact).
fn update(
    txn: &mut ObservableVectorTransaction<'_, Arc<Conversation>>,
    key: &ListKey,
    index: &Index,
    touched: &[Touched],
) -> Result<(), Drift> {
    let size = key.size;
    // Members below this sort key are outside the window; `None`: it holds every member.
    let bound = if txn.len() >= size {
        txn.last().map(|c| c.sort_key())
    } else {
        None
    };
    let inside = |c: &Conversation| key.member(c) && bound.is_none_or(|b| c.sort_key() >= b);
    let relevant = touched
        .iter()
        .any(|t| t.before.as_deref().is_some_and(inside) || t.after.as_deref().is_some_and(inside));
    if !relevant {
        return Ok(());
    }
    // Touched rows leave the window, or are replaced where they stand if they stay there.
    let mut placed = vec![false; touched.len()];
    for (n, t) in touched.iter().enumerate() {
        let Some(before) = t.before.as_ref().filter(|c| inside(c)) else {
            continue;
        };
        let at = position_of(txn, before).ok_or(Drift)?;
        match t.after.as_ref().filter(|c| inside(c)) {
            Some(after) if stays_at(txn, at, after.sort_key()) => {
                txn.set(at, Arc::clone(after));
                placed[n] = true;
            }
            _ => {
                txn.remove(at);
            }
        }
    }
    // Touched rows that are members in the window's range after the change come in.
    for (t, placed) in touched.iter().zip(placed) {
        if placed {
            continue;
        }
        if let Some(after) = t.after.as_ref().filter(|c| inside(c)) {
            let sort_key = after.sort_key();
            let at = txn
                .binary_search_by(|probe| sort_key.cmp(&probe.sort_key()))
                .err()
                .ok_or(Drift)?;
            txn.insert(at, Arc::clone(after));
        }
    }
    if txn.len() > size {
        txn.truncate(size);
    } else if let Some(b) = bound
        && txn.len() < size
    {
        let more = members_below(key, index, Some(b), size - txn.len());
        if !more.is_empty() {
            txn.append(more);
        }
    }
    Ok(())
}

/// Where `c` (a record the window holds) is in the window.
fn position_of(rows: &Vector<Arc<Conversation>>, c: &Conversation) -> Option<usize> {
    let sort_key = c.sort_key();
    let at = rows
        .binary_search_by(|probe| sort_key.cmp(&probe.sort_key()))
        .ok()?;
    (rows.get(at)?.id == c.id).then_some(at)
}

/// Whether a row at `at` with the new key `sort_key` is still in order between its neighbours.
fn stays_at(rows: &Vector<Arc<Conversation>>, at: usize, sort_key: u64) -> bool {
    let above = at.checked_sub(1).and_then(|i| rows.get(i));
    above.is_none_or(|c| c.sort_key() > sort_key)
        && rows.get(at + 1).is_none_or(|c| c.sort_key() < sort_key)
}

/// The first `count` members of `key`'s list strictly below sort key `below` (`None`: from
/// the top), in list order: the filter's matches from the index's ordered sets, merged with
/// the kept conversations that do not match.
pub(crate) fn members_below(
    key: &ListKey,
    index: &Index,
    below: Option<u64>,
    count: usize,
) -> Vector<Arc<Conversation>> {
    let under = |c: &Conversation| below.is_none_or(|b| c.sort_key() < b);
    let mut kept: Vec<&Arc<Conversation>> = key
        .kept
        .iter()
        .filter_map(|id| index.get(id))
        .filter(|c| under(c) && !key.filter.matches(c))
        .collect();
    kept.sort_unstable_by_key(|c| std::cmp::Reverse(c.sort_key()));
    let mut kept = kept.into_iter().peekable();
    let mut matching = index.matching_below(&key.filter, below).peekable();
    let mut out = Vector::new();
    while out.len() < count {
        let next = match (matching.peek(), kept.peek()) {
            (Some(m), Some(k)) if k.sort_key() > m.sort_key() => kept.next(),
            (Some(_), _) => matching.next(),
            (None, _) => kept.next(),
        };
        let Some(c) = next else { break };
        out.push_back(Arc::clone(c));
    }
    out
}
