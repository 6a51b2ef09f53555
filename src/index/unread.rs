//! The messages behind one conversation's unread count.
//!
//! Each counted message is remembered by its identity (to count a message delivered twice
//! once) and by its read-position coordinate (to clean exactly the messages at or before a
//! position). Both lookups are logarithmic or constant, so counting one more message or
//! checking a duplicate costs the same however many messages are unread already. Most
//! conversations have a handful of unread messages: up to [`SMALL`] are kept in one short
//! list, which costs one allocation instead of two tables.

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use crate::model::ConversationId;
use crate::store::UnreadEntry;

/// Entries kept in a plain list before the set switches to its two tables.
const SMALL: usize = 16;

/// One counted message: `(position, entry id, identity)`.
type Item = (u64, u64, Arc<str>);

/// The unread messages of one conversation.
#[derive(Debug)]
pub(crate) enum UnreadSet {
    /// A few entries, in no order.
    Small(Vec<Item>),
    /// Many: by identity, and by position.
    Large {
        by_key: HashMap<Arc<str>, (u64, u64)>,
        /// `(position, entry id)` → identity.
        by_position: BTreeMap<(u64, u64), Arc<str>>,
    },
}

impl Default for UnreadSet {
    fn default() -> Self {
        UnreadSet::Small(Vec::new())
    }
}

impl UnreadSet {
    pub(crate) fn len(&self) -> usize {
        match self {
            UnreadSet::Small(items) => items.len(),
            UnreadSet::Large { by_key, .. } => by_key.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry id of the message with identity `key`, if it is counted.
    pub(crate) fn id_of(&self, key: &str) -> Option<u64> {
        match self {
            UnreadSet::Small(items) => items.iter().find(|(_, _, k)| &**k == key).map(|i| i.1),
            UnreadSet::Large { by_key, .. } => by_key.get(key).map(|&(_, id)| id),
        }
    }

    pub(crate) fn insert(&mut self, entry: &UnreadEntry) {
        // The same identity twice (a store that was written by hand): keep the newest.
        self.remove(&entry.key);
        let key: Arc<str> = Arc::from(entry.key.as_str());
        match self {
            UnreadSet::Small(items) if items.len() < SMALL => {
                items.push((entry.position, entry.id, key));
            }
            UnreadSet::Small(items) => {
                let mut by_key = HashMap::with_capacity(items.len() * 2);
                let mut by_position = BTreeMap::new();
                for (position, id, k) in items.drain(..) {
                    by_key.insert(Arc::clone(&k), (position, id));
                    by_position.insert((position, id), k);
                }
                by_key.insert(Arc::clone(&key), (entry.position, entry.id));
                by_position.insert((entry.position, entry.id), key);
                *self = UnreadSet::Large {
                    by_key,
                    by_position,
                };
            }
            UnreadSet::Large {
                by_key,
                by_position,
            } => {
                by_key.insert(Arc::clone(&key), (entry.position, entry.id));
                by_position.insert((entry.position, entry.id), key);
            }
        }
    }

    /// Removes the entry with identity `key`; whether it was there.
    pub(crate) fn remove(&mut self, key: &str) -> bool {
        match self {
            UnreadSet::Small(items) => match items.iter().position(|(_, _, k)| &**k == key) {
                Some(at) => {
                    items.swap_remove(at);
                    true
                }
                None => false,
            },
            UnreadSet::Large {
                by_key,
                by_position,
            } => match by_key.remove(key) {
                Some(at) => {
                    by_position.remove(&at);
                    true
                }
                None => false,
            },
        }
    }

    /// The entries at or before `position` (every entry for `None`), oldest position first.
    pub(crate) fn through(
        &self,
        conversation: &ConversationId,
        position: Option<u64>,
    ) -> Vec<UnreadEntry> {
        let entry = |position: u64, id: u64, key: &Arc<str>| {
            UnreadEntry::new(id, conversation.clone(), key.to_string(), position)
        };
        match self {
            UnreadSet::Small(items) => {
                let mut out: Vec<UnreadEntry> = items
                    .iter()
                    .filter(|(p, _, _)| position.is_none_or(|up_to| *p <= up_to))
                    .map(|(p, id, key)| entry(*p, *id, key))
                    .collect();
                out.sort_by_key(|e| (e.position, e.id));
                out
            }
            UnreadSet::Large { by_position, .. } => {
                let upper = position.map_or(std::ops::Bound::Unbounded, |p| {
                    std::ops::Bound::Included((p, u64::MAX))
                });
                by_position
                    .range((std::ops::Bound::Unbounded, upper))
                    .map(|(&(p, id), key)| entry(p, id, key))
                    .collect()
            }
        }
    }

    /// The highest position of an unread message.
    pub(crate) fn max_position(&self) -> Option<u64> {
        match self {
            UnreadSet::Small(items) => items.iter().map(|(p, _, _)| *p).max(),
            UnreadSet::Large { by_position, .. } => by_position.keys().next_back().map(|&(p, _)| p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(count: u64) {
        let id: ConversationId = "group_g".parse().expect("valid id");
        let mut set = UnreadSet::default();
        // Positions out of order: 3 × n mod 101 + 1.
        for n in 1..=count {
            set.insert(&UnreadEntry::new(
                n,
                id.clone(),
                format!("m{n}"),
                (3 * n) % 101 + 1,
            ));
        }
        assert_eq!(set.len() as u64, count);
        assert_eq!(set.id_of("m2"), Some(2));
        assert_eq!(set.id_of("nope"), None);
        let max = (1..=count).map(|n| (3 * n) % 101 + 1).max();
        assert_eq!(set.max_position(), max);
        let through: Vec<(u64, u64)> = set
            .through(&id, Some(10))
            .iter()
            .map(|e| (e.position, e.id))
            .collect();
        let mut expected: Vec<(u64, u64)> = (1..=count)
            .map(|n| ((3 * n) % 101 + 1, n))
            .filter(|(p, _)| *p <= 10)
            .collect();
        expected.sort_unstable();
        assert_eq!(through, expected, "at or before 10, oldest first");
        assert!(set.remove("m1"));
        assert!(!set.remove("m1"));
        assert_eq!(set.through(&id, None).len() as u64, count - 1);
        // A duplicate identity replaces the entry.
        set.insert(&UnreadEntry::new(999, id.clone(), "m2".into(), 50));
        assert_eq!(set.id_of("m2"), Some(999));
        assert_eq!(set.len() as u64, count - 1);
    }

    #[test]
    fn small_and_large_sets_count_once_and_clean_exactly() {
        check(3);
        check(SMALL as u64);
        check(SMALL as u64 + 1);
        check(300);
    }
}
