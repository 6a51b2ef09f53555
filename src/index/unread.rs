//! The messages behind one conversation's unread count.
//!
//! Each counted message is remembered by its identity (to count a message delivered twice
//! once) and by its read-position coordinate (to clean exactly the messages at or before a
//! position). Both lookups are logarithmic or constant, so counting one more message or
//! checking a duplicate costs the same however many messages are unread already.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::model::ConversationId;
use crate::store::UnreadEntry;

/// The unread messages of one conversation.
#[derive(Debug, Default)]
pub(crate) struct UnreadSet {
    by_key: HashMap<Arc<str>, (u64, u64)>,
    /// `(position, entry id)` → key.
    by_position: BTreeMap<(u64, u64), Arc<str>>,
}

impl UnreadSet {
    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The entry id of the message with identity `key`, if it is counted.
    pub(crate) fn id_of(&self, key: &str) -> Option<u64> {
        self.by_key.get(key).map(|&(_, id)| id)
    }

    pub(crate) fn insert(&mut self, entry: &UnreadEntry) {
        let key: Arc<str> = Arc::from(entry.key.as_str());
        if let Some(old) = self
            .by_key
            .insert(Arc::clone(&key), (entry.position, entry.id))
        {
            // The same identity twice (a store that was written by hand): keep the newest.
            self.by_position.remove(&old);
        }
        self.by_position.insert((entry.position, entry.id), key);
    }

    /// Removes the entry with identity `key`; whether it was there.
    pub(crate) fn remove(&mut self, key: &str) -> bool {
        match self.by_key.remove(key) {
            Some(at) => {
                self.by_position.remove(&at);
                true
            }
            None => false,
        }
    }

    /// The entries at or before `position` (every entry for `None`), oldest position first.
    pub(crate) fn through(
        &self,
        conversation: &ConversationId,
        position: Option<u64>,
    ) -> impl Iterator<Item = UnreadEntry> + '_ {
        let upper = position.map_or(std::ops::Bound::Unbounded, |p| {
            std::ops::Bound::Included((p, u64::MAX))
        });
        let conversation = conversation.clone();
        self.by_position
            .range((std::ops::Bound::Unbounded, upper))
            .map(move |(&(position, id), key)| {
                UnreadEntry::new(id, conversation.clone(), key.to_string(), position)
            })
    }

    /// The highest position of an unread message.
    pub(crate) fn max_position(&self) -> Option<u64> {
        self.by_position.keys().next_back().map(|&(p, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_count_once_and_positions_clean_exactly() {
        let id: ConversationId = "group_g".parse().expect("valid id");
        let mut set = UnreadSet::default();
        for (n, position) in [(1, 5), (2, 3), (3, 9)] {
            set.insert(&UnreadEntry::new(n, id.clone(), format!("m{n}"), position));
        }
        assert_eq!(set.len(), 3);
        assert_eq!(set.id_of("m2"), Some(2));
        assert_eq!(set.max_position(), Some(9));
        let through: Vec<u64> = set.through(&id, Some(5)).map(|e| e.id).collect();
        assert_eq!(through, [2, 1], "positions 3 and 5, oldest first");
        assert!(set.remove("m1"));
        assert!(!set.remove("m1"));
        assert_eq!(set.through(&id, None).count(), 2);
    }
}
