//! Ordered sets of rows: the global order and the secondary orders filters start from.
//!
//! Each set holds `(sort key, slot)` pairs; iterating one backwards walks its rows in list order
//! (pinned first, then newest).
//!
//! Every conversation sits in exactly one of eight **cells**, one per combination of the three
//! criteria that can match most of an account: type (C2C / group), has unread, has @ info. A
//! filter on any of those three is the merge of the cells it accepts, and every row of those
//! cells matches them, so its pages cost O(log n + page) whatever the mix of values. Marks and
//! folders have sets per mark bit and per group name, split by cell the same way,
//! so a mark or group criterion combined with those three walks only rows matching all of
//! them. Only a mark criterion combined with a group criterion may walk rows failing one of
//! the two; both sets hold only decorated conversations, which
//! [`Limits::max_decorated`](crate::Limits::max_decorated) bounds independently of n.

use std::collections::BTreeSet;
use std::ops::Bound;

use foldhash::{HashMap, HashMapExt};

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
    let type_ok = match filter.type_criterion() {
        None => true,
        Some(ConversationType::C2c) => !is_group,
        Some(ConversationType::Group) => is_group,
        Some(_) => false,
    };
    type_ok
        && filter
            .unread_criterion()
            .is_none_or(|u| u == (cell & 2 != 0))
        && filter
            .at_info_criterion()
            .is_none_or(|a| a == (cell & 4 != 0))
}

#[derive(Debug, Default)]
pub(crate) struct OrderSets {
    all: BTreeSet<Key>,
    cells: [BTreeSet<Key>; CELLS],
    /// Per mark bit in use, one set per cell.
    marks: HashMap<u32, [BTreeSet<Key>; CELLS]>,
    /// Per folder with members, one set per cell.
    folders: HashMap<String, [BTreeSet<Key>; CELLS]>,
}

/// Removes `key` from the `cell` set of `map[name]`, dropping the entry once all are empty.
fn remove_from<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, [BTreeSet<Key>; CELLS]>,
    name: &K,
    cell: usize,
    key: &Key,
) {
    if let Some(sets) = map.get_mut(name) {
        sets[cell].remove(key);
        if sets.iter().all(BTreeSet::is_empty) {
            map.remove(name);
        }
    }
}

/// Adds `key` to the `cell` set of folder `name`, creating its sets if it has none (without
/// copying the name when it has).
fn add_to_folder(
    folders: &mut HashMap<String, [BTreeSet<Key>; CELLS]>,
    name: &str,
    cell: usize,
    key: Key,
) {
    match folders.get_mut(name) {
        Some(sets) => {
            sets[cell].insert(key);
        }
        None => {
            folders.entry(name.to_owned()).or_default()[cell].insert(key);
        }
    }
}

impl OrderSets {
    /// The sets of many rows at once: each set is built from its sorted keys, not by as many
    /// inserts (much faster for the whole account at open).
    pub(crate) fn build<'a>(rows: impl Iterator<Item = (u32, &'a Conversation)>) -> Self {
        let mut all = Vec::new();
        let mut cells: [Vec<Key>; CELLS] = Default::default();
        let mut marks: HashMap<u32, [Vec<Key>; CELLS]> = HashMap::new();
        let mut folders: HashMap<String, [Vec<Key>; CELLS]> = HashMap::new();
        for (slot, c) in rows {
            let key = (c.sort_key(), slot);
            let cell = cell_of(c);
            all.push(key);
            cells[cell].push(key);
            for bit in c.marks.each_bit() {
                marks.entry(bit.trailing_zeros()).or_default()[cell].push(key);
            }
            for g in &c.folders {
                folders.entry(g.clone()).or_default()[cell].push(key);
            }
        }
        let sets = |cells: [Vec<Key>; CELLS]| cells.map(BTreeSet::from_iter);
        Self {
            all: BTreeSet::from_iter(all),
            cells: sets(cells),
            marks: marks.into_iter().map(|(k, v)| (k, sets(v))).collect(),
            folders: folders.into_iter().map(|(k, v)| (k, sets(v))).collect(),
        }
    }

    pub(crate) fn insert(&mut self, slot: u32, c: &Conversation) {
        let key = (c.sort_key(), slot);
        let cell = cell_of(c);
        self.all.insert(key);
        self.cells[cell].insert(key);
        for bit in c.marks.each_bit() {
            self.marks.entry(bit.trailing_zeros()).or_default()[cell].insert(key);
        }
        for g in &c.folders {
            add_to_folder(&mut self.folders, g, cell, key);
        }
    }

    pub(crate) fn remove(&mut self, slot: u32, c: &Conversation) {
        let key = (c.sort_key(), slot);
        let cell = cell_of(c);
        self.all.remove(&key);
        self.cells[cell].remove(&key);
        for bit in c.marks.each_bit() {
            remove_from(&mut self.marks, &bit.trailing_zeros(), cell, &key);
        }
        for g in &c.folders {
            remove_from(&mut self.folders, g, cell, &key);
        }
    }

    /// Moves the row in `slot` from `before` to `after`, touching only the sets whose
    /// membership changes: with the same sort key and cell (a change of marks, groups, custom
    /// data, read position of a read row...) the global and cell sets are left alone.
    pub(crate) fn update(&mut self, slot: u32, before: &Conversation, after: &Conversation) {
        let (old_key, new_key) = ((before.sort_key(), slot), (after.sort_key(), slot));
        let (old_cell, new_cell) = (cell_of(before), cell_of(after));
        if old_key == new_key && old_cell == new_cell {
            // Only a mark bit or group set, added or left, changes.
            let (old_bits, new_bits) = (before.marks.bits(), after.marks.bits());
            for bit in before.marks.each_bit().filter(|b| new_bits & b == 0) {
                remove_from(&mut self.marks, &bit.trailing_zeros(), old_cell, &old_key);
            }
            for bit in after.marks.each_bit().filter(|b| old_bits & b == 0) {
                self.marks.entry(bit.trailing_zeros()).or_default()[new_cell].insert(new_key);
            }
            for g in before.folders.iter().filter(|g| !after.folders.contains(g)) {
                remove_from(&mut self.folders, g, old_cell, &old_key);
            }
            for g in after.folders.iter().filter(|g| !before.folders.contains(g)) {
                add_to_folder(&mut self.folders, g, new_cell, new_key);
            }
            return;
        }
        self.remove(slot, before);
        self.insert(slot, after);
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
        if let Some(m) = filter.mark_criterion()
            && !m.is_empty()
        {
            consider(
                m.each_bit()
                    .filter_map(|b| self.marks.get(&b.trailing_zeros()))
                    .flat_map(|sets| cells.iter().map(move |&c| &sets[c]))
                    .collect(),
            );
        }
        if let Some(g) = filter.folder_criterion()
            && !g.is_empty()
        {
            consider(
                self.folders
                    .get(g)
                    .into_iter()
                    .flat_map(|sets| cells.iter().map(move |&c| &sets[c]))
                    .collect(),
            );
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

    /// Every (sort key, slot) of every set, by set, for comparing two `OrderSets`.
    fn contents(sets: &OrderSets) -> Vec<(String, Vec<Key>)> {
        let mut out: Vec<(String, Vec<Key>)> =
            vec![("all".to_owned(), sets.all.iter().copied().collect())];
        for (n, cell) in sets.cells.iter().enumerate() {
            out.push((format!("cell {n}"), cell.iter().copied().collect()));
        }
        for (bit, cells) in &sets.marks {
            for (n, cell) in cells.iter().enumerate() {
                out.push((format!("mark {bit} {n}"), cell.iter().copied().collect()));
            }
        }
        for (name, cells) in &sets.folders {
            for (n, cell) in cells.iter().enumerate() {
                out.push((format!("group {name} {n}"), cell.iter().copied().collect()));
            }
        }
        out.retain(|(_, keys)| !keys.is_empty());
        out.sort();
        out
    }

    #[test]
    fn update_equals_remove_then_insert() {
        use crate::model::MarkFlags;
        let base = {
            let mut c = Conversation::new("group_g".parse().expect("valid id"));
            c.order_key = 10;
            c.marks = MarkFlags::STAR | MarkFlags::FOLD;
            c.folders = vec!["work".into(), "home".into()];
            c
        };
        let edits: Vec<fn(&mut Conversation)> = vec![
            |c| c.marks = MarkFlags::STAR,
            |c| c.marks = MarkFlags::STAR | MarkFlags::HIDE,
            |c| c.marks = MarkFlags::empty(),
            |c| c.folders = vec!["home".into(), "play".into()],
            |c| c.folders.clear(),
            |c| c.custom_data = b"x".as_slice().into(),
            |c| c.unread_count = 3,
            |c| c.order_key = 20,
            |c| c.is_pinned = true,
            |c| {
                c.order_key = 30;
                c.marks = MarkFlags::UNREAD;
                c.folders = vec!["play".into()];
            },
        ];
        for (n, edit) in edits.iter().enumerate() {
            let mut after = base.clone();
            edit(&mut after);
            let (mut updated, mut replaced) = (OrderSets::default(), OrderSets::default());
            for sets in [&mut updated, &mut replaced] {
                sets.insert(0, &base);
                // A neighbour in the same sets, which must stay.
                sets.insert(
                    1,
                    &Conversation {
                        order_key: 5,
                        ..base.clone()
                    },
                );
            }
            updated.update(0, &base, &after);
            replaced.remove(0, &base);
            replaced.insert(0, &after);
            assert_eq!(contents(&updated), contents(&replaced), "edit {n}");
        }
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
