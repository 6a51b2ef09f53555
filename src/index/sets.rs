//! Ordered sets of rows: the global order and the secondary orders filters start from.
//!
//! Each set holds `(sort key, slot)` pairs; iterating one backwards walks its rows in list order
//! (pinned first, then newest). A filter walks the smallest set that can hold its matches, so a
//! first page costs O(log n + page) whenever a selective criterion is present.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use crate::filter::ConversationFilter;
use crate::model::{Conversation, ConversationType};

/// `(sort key, slot)`: unique because sort keys are unique.
pub(crate) type Key = (u64, u32);

#[derive(Debug, Default)]
pub(crate) struct OrderSets {
    all: BTreeSet<Key>,
    c2c: BTreeSet<Key>,
    group: BTreeSet<Key>,
    /// One set per mark bit in use.
    marks: HashMap<u32, BTreeSet<Key>>,
    /// One set per conversation group with members.
    groups: HashMap<String, BTreeSet<Key>>,
    unread: BTreeSet<Key>,
    at_info: BTreeSet<Key>,
}

static EMPTY: BTreeSet<Key> = BTreeSet::new();

impl OrderSets {
    pub(crate) fn insert(&mut self, slot: u32, c: &Conversation) {
        self.each_set(c, |set| {
            set.insert((c.sort_key(), slot));
        });
    }

    pub(crate) fn remove(&mut self, slot: u32, c: &Conversation) {
        let key = (c.sort_key(), slot);
        self.all.remove(&key);
        match c.id.kind() {
            ConversationType::Group => self.group.remove(&key),
            _ => self.c2c.remove(&key),
        };
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
        self.unread.remove(&key);
        self.at_info.remove(&key);
    }

    fn each_set(&mut self, c: &Conversation, mut f: impl FnMut(&mut BTreeSet<Key>)) {
        f(&mut self.all);
        match c.id.kind() {
            ConversationType::Group => f(&mut self.group),
            _ => f(&mut self.c2c),
        }
        for bit in c.marks.each_bit() {
            f(self.marks.entry(bit.trailing_zeros()).or_default());
        }
        for g in &c.groups {
            f(self.groups.entry(g.clone()).or_default());
        }
        if c.unread_count > 0 {
            f(&mut self.unread);
        }
        if !c.group_at_info.is_empty() {
            f(&mut self.at_info);
        }
    }

    /// Every slot in list order.
    pub(crate) fn all(&self) -> impl Iterator<Item = u32> + '_ {
        self.all.iter().rev().map(|&(_, slot)| slot)
    }

    /// Rows that may match `filter`, in list order, strictly after position `below` (a sort key;
    /// `None` for the top). Callers still apply the full predicate.
    pub(crate) fn candidates<'a>(
        &'a self,
        filter: &ConversationFilter,
        below: Option<u64>,
    ) -> Box<dyn Iterator<Item = Key> + 'a> {
        let mut sources: Vec<&'a BTreeSet<Key>> = vec![&self.all];
        let mut best = self.all.len();
        let mut consider = |sets: Vec<&'a BTreeSet<Key>>| {
            let size: usize = sets.iter().map(|s| s.len()).sum();
            if size < best {
                best = size;
                sources = sets;
            }
        };
        match filter.conv_type {
            Some(ConversationType::C2c) => consider(vec![&self.c2c]),
            Some(ConversationType::Group) => consider(vec![&self.group]),
            Some(_) => consider(vec![]),
            None => {}
        }
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
        if filter.has_unread == Some(true) {
            consider(vec![&self.unread]);
        }
        if filter.has_at_info == Some(true) {
            consider(vec![&self.at_info]);
        }
        let upper = match below {
            Some(pos) => Bound::Excluded((pos, 0)),
            None => Bound::Unbounded,
        };
        let mut iters: Vec<_> = sources
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.range((Bound::Unbounded, upper)).rev().peekable())
            .collect();
        if iters.len() == 1 {
            return Box::new(iters.pop().into_iter().flatten().copied());
        }
        // Several mark bits: merge their sets, newest first, without repeats.
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
