//! Unread counters: the total and one per subscribed filter, kept incrementally, so that each
//! always equals a recount from scratch. Reading one is O(1); a change costs O(subscriptions).

use foldhash::{HashMap, HashMapExt};

use tokio::sync::watch;

use crate::filter::ConversationFilter;
use crate::model::Conversation;

#[derive(Debug)]
struct Subscription {
    value: u64,
    /// The value when the change being applied began.
    start: u64,
    tx: watch::Sender<u64>,
    watchers: usize,
}

/// What a change did to the counters that anyone can see.
#[derive(Debug, Default)]
pub(crate) struct CounterChanges {
    pub(crate) total: Option<u64>,
    pub(crate) filters: Vec<(ConversationFilter, u64)>,
}

#[derive(Debug)]
pub(crate) struct Counters {
    total: u64,
    total_tx: watch::Sender<u64>,
    subs: HashMap<ConversationFilter, Subscription>,
    /// The total when the change being applied began, to report only real changes.
    total_start: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            total: 0,
            total_tx: watch::Sender::new(0),
            subs: HashMap::new(),
            total_start: 0,
        }
    }
}

impl Counters {
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    pub(crate) fn subscribed(&self, filter: &ConversationFilter) -> Option<u64> {
        self.subs.get(filter).map(|s| s.value)
    }

    pub(crate) fn watch_total(&self) -> watch::Receiver<u64> {
        self.total_tx.subscribe()
    }

    /// Adds a watcher of `filter`; `recount` computes its value if it is not subscribed yet.
    pub(crate) fn watch_filter(
        &mut self,
        filter: &ConversationFilter,
        recount: impl FnOnce() -> u64,
    ) -> watch::Receiver<u64> {
        let sub = self.subs.entry(filter.clone()).or_insert_with(|| {
            let value = recount();
            Subscription {
                value,
                start: value,
                tx: watch::Sender::new(value),
                watchers: 0,
            }
        });
        sub.watchers += 1;
        sub.tx.subscribe()
    }

    /// Drops a watcher of `filter`; the subscription ends with its last watcher.
    pub(crate) fn unwatch_filter(&mut self, filter: &ConversationFilter) {
        if let Some(sub) = self.subs.get_mut(filter) {
            sub.watchers = sub.watchers.saturating_sub(1);
            if sub.watchers == 0 {
                self.subs.remove(filter);
            }
        }
    }

    pub(crate) fn subscription_count(&self) -> usize {
        self.subs.len()
    }

    /// Tells watchers the total of rows loaded without a change (when the index is built).
    pub(crate) fn publish_loaded(&mut self) {
        self.total_start = self.total;
        self.total_tx.send_replace(self.total);
    }

    /// Starts a change: remembers the values it starts from.
    pub(crate) fn begin(&mut self) {
        self.total_start = self.total;
        for sub in self.subs.values_mut() {
            sub.start = sub.value;
        }
    }

    /// Accounts for one row going from `before` to `after` (either may be absent).
    pub(crate) fn update(&mut self, before: Option<&Conversation>, after: Option<&Conversation>) {
        let counted = |c: Option<&Conversation>| c.map_or(0, Conversation::counted_unread);
        let (old, new) = (counted(before), counted(after));
        self.total = self.total.wrapping_sub(old).wrapping_add(new);
        if old == 0 && new == 0 {
            return; // contributes nothing to any filter either
        }
        for (filter, sub) in &mut self.subs {
            let was = before.filter(|c| filter.matches(c)).map_or(0, |_| old);
            let is = after.filter(|c| filter.matches(c)).map_or(0, |_| new);
            sub.value = sub.value.wrapping_sub(was).wrapping_add(is);
        }
    }

    /// Ends a change: tells watchers whose value differs from the start, and reports them.
    pub(crate) fn finish(&mut self) -> CounterChanges {
        let mut changes = CounterChanges::default();
        if self.total != self.total_start {
            self.total_start = self.total;
            self.total_tx.send_replace(self.total);
            changes.total = Some(self.total);
        }
        for (filter, sub) in &mut self.subs {
            if sub.value != sub.start {
                sub.start = sub.value;
                sub.tx.send_replace(sub.value);
                changes.filters.push((filter.clone(), sub.value));
            }
        }
        changes
    }
}
