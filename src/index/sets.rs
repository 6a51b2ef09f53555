//! Ordered sets of rows: the global order and the secondary orders filters start from.
//!
//! Each set holds `(sort key, slot)` pairs; iterating one backwards walks its rows in list order
//! (pinned first, then newest).
//!
//! Every conversation sits in exactly one of eight **cells**, one per combination of the three
//! criteria that can match most of an account: type (C2C / group), has unread, has @ info. A
//! filter on any of those three is the merge of the cells it accepts, and every row of those
//! cells matches them, so its pages cost O(log n + page) whatever the mix of values. Marks and
//! conversation groups have a set per mark bit and per group name; those hold only decorated
//! conversations, which [`Limits::max_decorated`](crate::Limits::max_decorated) bounds, so a
//! walk of one of them is bounded independently of n.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use crate::filter::ConversationFilter;
use crate::model::{Conversation, ConversationType};

/// `(sort key, slot)`: unique because sort keys are unique.
pub(crate) type Key = (u64, u32);

const CELLS: usize = 8;

/// The cell of a conversation: bit 0 group, bit 1 has unread, bit 2 has @ info.
fn cell_of(c: &Conversation) -> usize {
    usize::from(c.id.kind() == ConversationType::Group)
        | usize::from(c.unread_count > 0) << 1
        | usize::from(!c.group_at_info.is_empty()) << 2
}

/// Whether rows of `cell` satisfy the filter's type / unread / @ criteria.
fn cell_accepts(cell: usize, filter: &ConversationFilter) -> bool {
    let is_group = cell & 1 != 0;
    let type_ok = match filter.conv_type {
        None => true,
        Some(ConversationType::C2c) => !is_group,
        Some(ConversationType::Group) => is_group,
        Some(_) => false,
    };
    type_ok
        && filter.has_unread.is_none_or(|u| u == (cell & 2 != 0))
        && filter.has_at_info.is_none_or(|a| a == (cell & 4 != 0))
}

#[derive(Debug, Default)]
pub(crate) struct OrderSets {
    all: BTreeSet<Key>,
    cells: [BTreeSet<Key>; CELLS],
    /// One set per mark bit in use.
    marks: HashMap<u32, BTreeSet<Key>>,
    /// One set per conversation group with members.
    groups: HashMap<String, BTreeSet<Key>>,
}

static EMPTY: BTreeSet<Key> = BTreeSet::new();

impl OrderSets {
    pub(crate) fn insert(&mut self, slot: u32, c: &Conversation) {
        let key = (c.sort_key(), slot);
        self.all.insert(key);
        self.cells[cell_of(c)].insert(key);
        for bit in c.marks.each_bit() {
            self.marks
                .entry(bit.trailing_zeros())
                .or_default()
                .insert(key);
        }
        for g in &c.groups {
            self.groups.entry(g.clone()).or_default().insert(key);
        }
    }

    pub(crate) fn remove(&mut self, slot: u32, c: &Conversation) {
        let key = (c.sort_key(), slot);
        self.all.remove(&key);
        self.cells[cell_of(c)].remove(&key);
        for bit in c.marks.each_bit() {
            let n = bit.trailing_zeros();
            if let Some(set) = self.marks.get_mut(&n) {
                set.remove(&key);
                if set.is_empty() {
                    self.marks.remove(&n);
                }
            }
        }
        for g in &c.groups {
            if let Some(set) = self.groups.get_mut(g) {
                set.remove(&key);
                if set.is_empty() {
                    self.groups.remove(g);
                }
            }
        }
    }

    /// Every slot in list order.
    pub(crate) fn all(&self) -> impl Iterator<Item = u32> + '_ {
        self.all.iter().rev().map(|&(_, slot)| slot)
    }

    /// The sets whose union holds every match of `filter`, chosen to be walked cheaply.
    fn sources<'a>(&'a self, filter: &ConversationFilter) -> Vec<&'a BTreeSet<Key>> {
        let cells: Vec<_> = (0..CELLS).filter(|&c| cell_accepts(c, filter)).collect();
        let mut best: Vec<&BTreeSet<Key>> = if cells.len() == CELLS {
            vec![&self.all]
        } else {
            cells.iter().map(|&c| &self.cells[c]).collect()
        };
        let mut best_size: usize = best.iter().map(|s| s.len()).sum();
        let mut consider = |sets: Vec<&'a BTreeSet<Key>>| {
            let size: usize = sets.iter().map(|s| s.len()).sum();
            if size < best_size {
                best_size = size;
                best = sets;
            }
        };
        if let Some(m) = filter.mark
            && !m.is_empty()
        {
            consider(
                m.each_bit()
                    .map(|b| self.marks.get(&b.trailing_zeros()).unwrap_or(&EMPTY))
                    .collect(),
            );
        }
        if let Some(g) = filter.group.as_deref()
            && !g.is_empty()
        {
            consider(vec![self.groups.get(g).unwrap_or(&EMPTY)]);
        }
        best
    }

    /// Rows that may match `filter`, in list order, strictly after position `below` (a sort key;
    /// `None` for the top). Callers still apply the full predicate.
    pub(crate) fn candidates<'a>(
        &'a self,
        filter: &ConversationFilter,
        below: Option<u64>,
    ) -> Box<dyn Iterator<Item = Key> + 'a> {
        let upper = match below {
            Some(pos) => Bound::Excluded((pos, 0)),
            None => Bound::Unbounded,
        };
        let mut iters: Vec<_> = self
            .sources(filter)
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.range((Bound::Unbounded, upper)).rev().peekable())
            .collect();
        if iters.len() == 1 {
            return Box::new(iters.pop().into_iter().flatten().copied());
        }
        // Several sets (cells, or mark bits): merge them, newest first, without repeats.
        Box::new(std::iter::from_fn(move || {
            let next = *iters.iter_mut().filter_map(|it| it.peek().copied()).max()?;
            for it in &mut iters {
                if it.peek() == Some(&&next) {
                    it.next();
                }
            }
            Some(next)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_partition_the_three_broad_criteria() {
        let f = ConversationFilter::new;
        let count =
            |filter: ConversationFilter| (0..CELLS).filter(|&c| cell_accepts(c, &filter)).count();
        assert_eq!(count(f()), 8);
        assert_eq!(count(f().conv_type(ConversationType::C2c)), 4);
        assert_eq!(
            count(f().conv_type(ConversationType::C2c).has_at_info(true)),
            2
        );
        assert_eq!(
            count(
                f().conv_type(ConversationType::Group)
                    .has_unread(false)
                    .has_at_info(false)
            ),
            1
        );
        assert_eq!(count(f().conv_type(ConversationType::System)), 0);
    }

    #[test]
    fn cell_of_agrees_with_the_filter_predicate() {
        let mut c = Conversation::new("group_g".parse().expect("valid id"));
        c.unread_count = 1;
        let cell = cell_of(&c);
        for filter in [
            ConversationFilter::new()
                .conv_type(ConversationType::Group)
                .has_unread(true),
            ConversationFilter::new().has_at_info(false),
        ] {
            assert_eq!(cell_accepts(cell, &filter), filter.matches(&c));
        }
        assert!(!cell_accepts(
            cell,
            &ConversationFilter::new().conv_type(ConversationType::C2c)
        ));
    }
}
