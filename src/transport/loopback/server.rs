//! One user's state on the loopback server: an [`Account`] kept whole in memory, with the
//! indexes a pull and the test accessors need. The rules themselves are the shared ones of
//! [`account`](crate::transport::account).

use std::collections::{BTreeMap, HashMap};

use super::ServerState;
use crate::limits::Limits;
use crate::model::{ConversationId, Message};
use crate::transport::account::{Account, Entry, Head, PullItem, PullStart, pull_page, pull_start};
use crate::transport::{
    Bookmark, FolderRename, OpId, OpOutcome, PendingOperation, PullResponse, PushResponse,
    RemoteChange, TransportError,
};

/// Everything the loopback server keeps for one user.
#[derive(Debug)]
pub(super) struct UserAccount {
    account: Account,
    /// Each conversation visible to a pull (live or tombstone) and the group list, by version.
    by_version: BTreeMap<u64, Entry>,
    /// Renames, with the version of the group list they gave, for incremental pulls.
    renames: Vec<(u64, FolderRename)>,
    outcomes: HashMap<OpId, OpOutcome>,
    applied: Vec<OpId>,
}

impl UserAccount {
    pub(super) fn new(limits: Limits) -> Self {
        let head = Head::default();
        let mut by_version = BTreeMap::new();
        by_version.insert(head.groups_version, Entry::Groups);
        Self {
            account: Account::new(limits, head),
            by_version,
            renames: Vec::new(),
            outcomes: HashMap::new(),
            applied: Vec::new(),
        }
    }

    /// Brings the indexes up to what the account changed.
    fn index(&mut self) {
        let changes = self.account.take_changes();
        if changes.renames_forgotten {
            self.renames.clear();
        }
        for bump in changes.bumps {
            if self.by_version.get(&bump.old) == Some(&bump.entry) {
                self.by_version.remove(&bump.old);
            }
            if bump.visible {
                self.by_version.insert(bump.new, bump.entry);
            }
        }
        self.renames.extend(changes.renames);
        for (id, outcome) in changes.outcomes {
            self.applied.push(id.clone());
            self.outcomes.insert(id, outcome);
        }
    }

    pub(super) fn state(&self) -> ServerState {
        let mut state = ServerState {
            folders: self.account.head().group_names(),
            ..ServerState::default()
        };
        for (id, _) in self.account.records() {
            match self.account.view(id) {
                Some(RemoteChange::Conversation(c)) => {
                    state.conversations.insert(id.clone(), c);
                }
                Some(RemoteChange::Deleted { floor, .. }) => {
                    state.deleted.insert(id.clone(), floor);
                }
                _ => {}
            }
        }
        state
    }

    pub(super) fn applied(&self) -> Vec<OpId> {
        self.applied.clone()
    }

    pub(super) fn outcome(&self, id: &OpId) -> Option<OpOutcome> {
        self.outcomes.get(id).cloned()
    }

    pub(super) fn deliver(&mut self, id: &ConversationId, message: Message) -> bool {
        let stored = self.account.deliver(id, message);
        self.index();
        stored
    }

    /// Applies a push; also says whether anything changed.
    pub(super) fn push(&mut self, ops: &[PendingOperation]) -> (PushResponse, bool) {
        let answer = self.account.push(ops, &self.outcomes);
        self.index();
        answer
    }

    pub(super) fn forget_history(&mut self) {
        self.account.forget_history();
        self.index();
    }

    /// One page of changes after `since` (everything live when `None`).
    pub(super) fn pull(
        &self,
        since: Option<&Bookmark>,
        limit: usize,
    ) -> Result<PullResponse, TransportError> {
        let head = self.account.head();
        let start = pull_start(head, since)?;
        let PullStart::From { version, .. } = start else {
            return Ok(PullResponse::TooFarBehind);
        };
        let items = self
            .by_version
            .range(version..)
            .filter_map(|(&v, entry)| match entry {
                Entry::Groups => Some((v, PullItem::Groups)),
                Entry::Conversation(id) => self
                    .account
                    .view(id)
                    .map(|c| (v, PullItem::Conversation(c))),
            });
        Ok(pull_page(head, start, limit, items, &self.renames)
            .map_or(PullResponse::TooFarBehind, PullResponse::Page))
    }
}
