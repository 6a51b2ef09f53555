//! Conversation groups (SPEC §7): user-defined folders that roam.
//!
//! The list of names lives in the store; membership lives on each conversation record
//! (`groups`), which is what filters and counters read.

use super::marks::decorate;
use super::{ConversationManager, Tx};
use crate::error::{Error, Result};
use crate::events::{Event, GroupRemovalReason};
use crate::folders::{FolderEdit, join, leave};
use crate::limits::Limits;
use crate::model::ConversationId;
use crate::outcome::{ConversationOutcome, batch};
use crate::transport::Operation;

/// Checks a group name: 1..=`max_group_name_bytes` bytes (51011).
fn check_name(name: &str, limits: &Limits) -> Result<()> {
    if name.is_empty() || name.len() > limits.max_group_name_bytes {
        return Err(Error::GroupNameLength {
            len: name.len(),
            max: limits.max_group_name_bytes,
        });
    }
    Ok(())
}

fn require_group(tx: &Tx<'_>, name: &str) -> Result<()> {
    if tx.folder_exists(name) {
        Ok(())
    } else {
        Err(Error::GroupNotFound(name.to_owned()))
    }
}

impl ConversationManager {
    /// Names of the conversation groups, in creation order.
    #[must_use]
    pub fn groups(&self) -> Vec<String> {
        self.shared().read_index().folders().to_vec()
    }

    /// Creates group `name` with conversations `ids` (at least one).
    ///
    /// Returns one result per distinct conversation (6004 if it does not exist, 51008 past the
    /// decoration limit); the group is created even if none could join.
    ///
    /// # Errors
    /// For the whole call, changing nothing: [`Error::GroupNameLength`] (51011),
    /// [`Error::BatchSize`] (51006), [`Error::GroupAlreadyExists`] (6017),
    /// [`Error::TooManyGroups`] (51010).
    #[tracing::instrument(skip_all, fields(group = name, count = ids.len()), err)]
    pub async fn create_group(
        &self,
        name: &str,
        ids: &[ConversationId],
    ) -> Result<Vec<ConversationOutcome>> {
        check_name(name, self.limits())?;
        let ids = batch(ids, self.limits())?;
        let name = name.to_owned();
        self.write(move |tx| {
            if tx.folder_exists(&name) {
                return Err(Error::GroupAlreadyExists(name));
            }
            if tx.folder_names().len() >= tx.limits.max_groups {
                return Err(Error::TooManyGroups {
                    max: tx.limits.max_groups,
                });
            }
            tx.edit_folders(FolderEdit::Create(&name));
            let (outcomes, joined) = set_membership(tx, &name, ids, true);
            tx.record(Operation::CreateGroup {
                name: name.clone(),
                conversations: joined.clone(),
            });
            tx.emit(Event::GroupCreated {
                name,
                conversations: joined,
            });
            Ok(outcomes)
        })
        .await
    }

    /// Deletes group `name`; its conversations stay, outside it.
    ///
    /// # Errors
    /// [`Error::GroupNameLength`] (51011), [`Error::GroupNotFound`] (51009).
    #[tracing::instrument(skip_all, fields(group = name), err)]
    pub async fn delete_group(&self, name: &str) -> Result<()> {
        check_name(name, self.limits())?;
        let name = name.to_owned();
        self.write(move |tx| {
            require_group(tx, &name)?;
            let edit = FolderEdit::Delete(&name);
            for id in tx.folder_members(&name) {
                tx.update(&id, |c, _| {
                    edit.apply_to_memberships(&mut c.groups);
                    Ok(())
                })?;
            }
            tx.edit_folders(edit);
            tx.record(Operation::DeleteGroup { name: name.clone() });
            tx.emit(Event::GroupDeleted { name });
            Ok(())
        })
        .await
    }

    /// Renames group `old_name` to `new_name`, keeping its members and its place in the list.
    /// Renaming to the same name changes nothing.
    ///
    /// # Errors
    /// [`Error::GroupNameLength`] (51011) for either name, [`Error::GroupNotFound`] (51009),
    /// [`Error::GroupAlreadyExists`] (6017) if `new_name` is taken.
    #[tracing::instrument(skip_all, fields(old_name, new_name), err)]
    pub async fn rename_group(&self, old_name: &str, new_name: &str) -> Result<()> {
        check_name(old_name, self.limits())?;
        check_name(new_name, self.limits())?;
        let (old_name, new_name) = (old_name.to_owned(), new_name.to_owned());
        self.write(move |tx| {
            require_group(tx, &old_name)?;
            if old_name == new_name {
                return Ok(());
            }
            if tx.folder_exists(&new_name) {
                return Err(Error::GroupAlreadyExists(new_name));
            }
            tx.record(Operation::RenameGroup {
                from: old_name.clone(),
                to: new_name.clone(),
            });
            rename(tx, old_name, new_name);
            Ok(())
        })
        .await
    }

    /// Adds conversations to group `name`. One result per distinct conversation: 6004 if it
    /// does not exist, 51008 past the decoration limit; already a member is a success.
    ///
    /// # Errors
    /// For the whole call, changing nothing: [`Error::GroupNameLength`] (51011),
    /// [`Error::BatchSize`] (51006), [`Error::GroupNotFound`] (51009).
    #[tracing::instrument(skip_all, fields(group = name, count = ids.len()), err)]
    pub async fn add_to_group(
        &self,
        name: &str,
        ids: &[ConversationId],
    ) -> Result<Vec<ConversationOutcome>> {
        self.change_membership(name, ids, true).await
    }

    /// Removes conversations from group `name`. One result per distinct conversation: 6004 if
    /// it does not exist; not a member is a success.
    ///
    /// # Errors
    /// For the whole call, changing nothing: [`Error::GroupNameLength`] (51011),
    /// [`Error::BatchSize`] (51006), [`Error::GroupNotFound`] (51009).
    #[tracing::instrument(skip_all, fields(group = name, count = ids.len()), err)]
    pub async fn remove_from_group(
        &self,
        name: &str,
        ids: &[ConversationId],
    ) -> Result<Vec<ConversationOutcome>> {
        self.change_membership(name, ids, false).await
    }

    async fn change_membership(
        &self,
        name: &str,
        ids: &[ConversationId],
        join: bool,
    ) -> Result<Vec<ConversationOutcome>> {
        check_name(name, self.limits())?;
        let ids = batch(ids, self.limits())?;
        let name = name.to_owned();
        self.write(move |tx| {
            require_group(tx, &name)?;
            let (outcomes, changed) = set_membership(tx, &name, ids, join);
            if !changed.is_empty() {
                tx.record(if join {
                    Operation::AddToGroup {
                        name: name.clone(),
                        conversations: changed.clone(),
                    }
                } else {
                    Operation::RemoveFromGroup {
                        name: name.clone(),
                        conversations: changed.clone(),
                    }
                });
                tx.emit(if join {
                    Event::ConversationsAddedToGroup {
                        name,
                        conversations: changed,
                    }
                } else {
                    Event::ConversationsRemovedFromGroup {
                        name,
                        conversations: changed,
                        reason: GroupRemovalReason::ByUser,
                    }
                });
            }
            Ok(outcomes)
        })
        .await
    }
}

fn is_member(tx: &Tx<'_>, id: &ConversationId, name: &str) -> bool {
    tx.get(id)
        .is_some_and(|c| c.groups.iter().any(|g| g == name))
}

/// Makes each conversation a member of `name` (`join`) or not; returns the results and the
/// conversations whose membership changed.
fn set_membership(
    tx: &mut Tx<'_>,
    name: &str,
    ids: Vec<ConversationId>,
    join: bool,
) -> (Vec<ConversationOutcome>, Vec<ConversationId>) {
    let mut changed = Vec::new();
    let outcomes = ids
        .into_iter()
        .map(|id| {
            let was_member = is_member(tx, &id, name);
            let result = decorate(tx, &id, &mut |c| {
                if join {
                    self::join(&mut c.groups, name);
                } else {
                    leave(&mut c.groups, name);
                }
            });
            if result.is_ok() && was_member != join {
                changed.push(id.clone());
            }
            ConversationOutcome::new(id, result.map(drop))
        })
        .collect();
    (outcomes, changed)
}

/// Renames existing group `old_name` to `new_name` (not taken) in `tx`: the group, its
/// members' group lists, and the `GroupRenamed` event. Shared by the API and by sync, which
/// applies a rename made on another device.
pub(crate) fn rename(tx: &mut Tx<'_>, old_name: String, new_name: String) {
    let edit = FolderEdit::Rename {
        from: &old_name,
        to: &new_name,
    };
    for id in tx.folder_members(&old_name) {
        // Members exist (`folder_members` lists live ones): the update cannot fail.
        let _ = tx.update(&id, |c, _| {
            edit.apply_to_memberships(&mut c.groups);
            Ok(())
        });
    }
    tx.edit_folders(edit);
    tx.emit(Event::GroupRenamed { old_name, new_name });
}
