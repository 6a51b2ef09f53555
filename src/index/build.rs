//! Building the index from a whole [`Snapshot`], when a manager opens.
//!
//! One pass over the records fills the rows, the ID map and the counters, while the order
//! sets are built from the same records on a second thread (they need nothing else; the load
//! that came before has finished with the other core). Then the unread entries are attached,
//! and the few records whose stored count disagrees with their entries are corrected.

use std::sync::Arc;

use super::{Index, OrderSets, Row};
use crate::store::Snapshot;

impl Index {
    pub(crate) fn from_snapshot(snapshot: Snapshot, version: u64) -> Self {
        let Snapshot {
            conversations,
            unread,
            tombstones,
            settings,
            folders,
            order_clock,
            ..
        } = snapshot;
        let mut index = Index {
            order_clock,
            folders,
            version,
            ..Index::default()
        };
        index.tombstones = tombstones.into_iter().map(|t| (t.id.clone(), t)).collect();
        index.settings = settings.into_iter().map(|s| (s.id.clone(), s)).collect();
        let n = conversations.len();
        // The unread count each record was stored with, by slot.
        let mut stored = Vec::with_capacity(n);
        index.sets = std::thread::scope(|scope| {
            let records = &conversations;
            let build = move || OrderSets::build(records.iter().zip(0..).map(|(c, s)| (s, &**c)));
            // Without a thread (the system refused one), they are built here after the rest.
            let sets = std::thread::Builder::new()
                .name("timconv-index".into())
                .spawn_scoped(scope, build)
                .ok();
            index.rows.reserve_exact(n);
            index.by_id.reserve(n);
            for (record, slot) in conversations.iter().zip(0_u32..) {
                index.by_id.insert(record.id.clone(), slot);
                index.order_clock = index.order_clock.max(record.order_key);
                index.pinned += usize::from(record.is_pinned);
                index.decorated += usize::from(record.is_decorated());
                index.counters.update(None, Some(record));
                stored.push(record.unread_count);
                index.rows.push(Some(Row {
                    record: Arc::clone(record),
                    unread: None,
                    demoted_at: 0,
                    demoted_from: 0,
                }));
            }
            for entry in unread {
                index.next_unread_id = index.next_unread_id.max(entry.id.saturating_add(1));
                // An entry of a conversation that is not in the list counts nowhere.
                if let Some(row) = index.row_mut(&entry.conversation) {
                    row.unread.get_or_insert_default().insert(&entry);
                }
            }
            match sets.map(std::thread::ScopedJoinHandle::join) {
                Some(Ok(sets)) => sets,
                Some(Err(panic)) => std::panic::resume_unwind(panic),
                None => build(),
            }
        });
        // The rows hold the only references now.
        drop(conversations);
        for (slot, (row, stored)) in (0_u32..).zip(index.rows.iter_mut().zip(stored)) {
            let Some(row) = row else { continue };
            let count = row.unread.as_ref().map_or(0, |s| s.len() as u64);
            if count != stored {
                // The count is the entries' number: a record says otherwise only if it was
                // written by hand. Unique at load, so this does not copy.
                index.counters.update(Some(&row.record), None);
                index.sets.remove(slot, &row.record);
                Arc::make_mut(&mut row.record).unread_count = count;
                index.counters.update(None, Some(&row.record));
                index.sets.insert(slot, &row.record);
            }
        }
        index.counters.publish_loaded();
        index
    }
}
