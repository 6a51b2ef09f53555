//! Folders: user-defined, named sets of conversations that roam (the original SDK's
//! "conversation groups", not to be confused with group chats).
//!
//! The folder list lives in the store; membership lives on each conversation record
//! ([`Conversation::folders`](crate::Conversation::folders)), which is what filters and
//! counters read. What each edit does is defined once, in `src/folders.rs`.

use super::marks::decorate;
use super::{ConversationManager, Tx};
use crate::error::{Error, Result};
use crate::events::{Event, FolderRemovalReason};
use crate::folders::{FolderEdit, join, leave};
use crate::limits::Limits;
use crate::model::{ConversationId, IntoConversationIds};
use crate::outcome::{BatchOutcome, ConversationOutcome, batch};
use crate::transport::Operation;

/// Checks a folder name: 1..=`max_folder_name_bytes` bytes (51011).
fn check_name(name: &str, limits: &Limits) -> Result<()> {
    if name.is_empty() || name.len() > limits.max_folder_name_bytes {
        return Err(Error::FolderNameLength {
            len: name.len(),
            max: limits.max_folder_name_bytes,
        });
    }
    Ok(())
}

fn require_folder(tx: &Tx<'_>, name: &str) -> Result<()> {
    if tx.folder_exists(name) {
        Ok(())
    } else {
        Err(Error::FolderNotFound(name.to_owned()))
    }
}

/// The IDs of a folder call: none is allowed (an empty folder), else 1..=`max_batch`.
fn members(ids: impl IntoConversationIds, limits: &Limits) -> Result<Vec<ConversationId>> {
    let ids = ids.into_conversation_ids();
    if ids.is_empty() {
        Ok(ids)
    } else {
        batch(ids, limits)
    }
}

impl ConversationManager {
    /// Names of the folders, in creation order.
    #[must_use]
    pub fn folders(&self) -> Vec<String> {
        self.shared().read_index().folders().to_vec()
    }

    /// Creates folder `name` with conversations `ids` (none for an empty folder; one ID or any
    /// collection of them).
    ///
    /// Returns one result per distinct conversation (6004 if it does not exist, 51008 past the
    /// decoration limit); the folder is created even if none could join. Emits
    /// [`Event::FolderCreated`] with those that joined. Dropping the returned future does not
    /// cancel the write.
    ///
    /// # Errors
    /// For the whole call, changing nothing: [`Error::FolderNameLength`] (51011),
    /// [`Error::BatchSize`] (51006, over the batch limit), [`Error::FolderAlreadyExists`]
    /// (6017), [`Error::TooManyFolders`] (51010).
    #[tracing::instrument(skip_all, fields(folder = name), err(level = "debug"))]
    pub async fn create_folder(
        &self,
        name: &str,
        ids: impl IntoConversationIds,
    ) -> Result<BatchOutcome> {
        check_name(name, self.limits())?;
        let ids = members(ids, self.limits())?;
        let name = name.to_owned();
        self.write(move |tx| {
            if tx.folder_exists(&name) {
                return Err(Error::FolderAlreadyExists(name));
            }
            if tx.folder_names().len() >= tx.limits.max_folders {
                return Err(Error::TooManyFolders {
                    max: tx.limits.max_folders,
                });
            }
            tx.edit_folders(FolderEdit::Create(&name));
            let (outcomes, joined) = set_membership(tx, &name, ids, true);
            tx.record(Operation::CreateFolder {
                name: name.clone(),
                conversations: joined.clone(),
            });
            tx.emit(Event::FolderCreated {
                name,
                conversations: joined,
            });
            Ok(outcomes)
        })
        .await
    }

    /// Deletes folder `name`; its conversations stay, outside it.
    ///
    /// # Errors
    /// [`Error::FolderNameLength`] (51011), [`Error::FolderNotFound`] (51009).
    #[tracing::instrument(skip_all, fields(folder = name), err(level = "debug"))]
    pub async fn delete_folder(&self, name: &str) -> Result<()> {
        check_name(name, self.limits())?;
        let name = name.to_owned();
        self.write(move |tx| {
            require_folder(tx, &name)?;
            let edit = FolderEdit::Delete(&name);
            for id in tx.folder_members(&name) {
                tx.update(&id, |c, _| {
                    edit.apply_to_memberships(&mut c.folders);
                    Ok(())
                })?;
            }
            tx.edit_folders(edit);
            tx.record(Operation::DeleteFolder { name: name.clone() });
            tx.emit(Event::FolderDeleted { name });
            Ok(())
        })
        .await
    }

    /// Renames folder `old_name` to `new_name`, keeping its members and its place in the list.
    /// Renaming to the same name changes nothing.
    ///
    /// # Errors
    /// [`Error::FolderNameLength`] (51011) for either name, [`Error::FolderNotFound`] (51009),
    /// [`Error::FolderAlreadyExists`] (6017) if `new_name` is taken.
    #[tracing::instrument(skip_all, fields(old_name, new_name), err(level = "debug"))]
    pub async fn rename_folder(&self, old_name: &str, new_name: &str) -> Result<()> {
        check_name(old_name, self.limits())?;
        check_name(new_name, self.limits())?;
        let (old_name, new_name) = (old_name.to_owned(), new_name.to_owned());
        self.write(move |tx| {
            require_folder(tx, &old_name)?;
            if old_name == new_name {
                return Ok(());
            }
            if tx.folder_exists(&new_name) {
                return Err(Error::FolderAlreadyExists(new_name));
            }
            tx.record(Operation::RenameFolder {
                from: old_name.clone(),
                to: new_name.clone(),
            });
            rename(tx, old_name, new_name);
            Ok(())
        })
        .await
    }

    /// Adds conversations to folder `name` (one ID, or any collection of them). One result per
    /// distinct conversation: 6004 if it does not exist, 51008 past the decoration limit;
    /// already a member is a success.
    ///
    /// # Errors
    /// For the whole call, changing nothing: [`Error::FolderNameLength`] (51011),
    /// [`Error::BatchSize`] (51006), [`Error::FolderNotFound`] (51009).
    #[tracing::instrument(skip_all, fields(folder = name), err(level = "debug"))]
    pub async fn add_to_folder(
        &self,
        name: &str,
        ids: impl IntoConversationIds,
    ) -> Result<BatchOutcome> {
        self.change_membership(name, ids.into_conversation_ids(), true)
            .await
    }

    /// Removes conversations from folder `name`. One result per distinct conversation: 6004 if
    /// it does not exist; not a member is a success.
    ///
    /// # Errors
    /// For the whole call, changing nothing: [`Error::FolderNameLength`] (51011),
    /// [`Error::BatchSize`] (51006), [`Error::FolderNotFound`] (51009).
    #[tracing::instrument(skip_all, fields(folder = name), err(level = "debug"))]
    pub async fn remove_from_folder(
        &self,
        name: &str,
        ids: impl IntoConversationIds,
    ) -> Result<BatchOutcome> {
        self.change_membership(name, ids.into_conversation_ids(), false)
            .await
    }

    /// Moves conversations from folder `from` to folder `to`, atomically: each leaves `from`
    /// and joins `to` in one change, with one [`Event::ConversationsMovedBetweenFolders`].
    /// One result per distinct conversation: 6004 if it does not exist, 51008 past the
    /// decoration limit; one that is not in `from` still joins `to`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), timconv::Error> {
    /// use timconv::{ConversationId, ConversationManager};
    ///
    /// let manager = ConversationManager::builder().in_memory().open().await?;
    /// let alice = ConversationId::c2c("alice")?;
    /// manager.create_conversation(&alice).await?;
    /// manager.create_folder("inbox", &alice).await?.into_result()?;
    /// manager.create_folder("done", [] as [ConversationId; 0]).await?;
    /// manager.move_to_folder(&alice, "inbox", "done").await?.into_result()?;
    /// assert_eq!(manager.get(&alice).map(|c| c.folders.clone()), Some(vec!["done".to_owned()]));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// For the whole call, changing nothing: [`Error::FolderNameLength`] (51011) for either
    /// name, [`Error::BatchSize`] (51006), [`Error::FolderNotFound`] (51009) for either.
    #[tracing::instrument(skip_all, fields(from, to), err(level = "debug"))]
    pub async fn move_to_folder(
        &self,
        ids: impl IntoConversationIds,
        from: &str,
        to: &str,
    ) -> Result<BatchOutcome> {
        check_name(from, self.limits())?;
        check_name(to, self.limits())?;
        let ids = batch(ids.into_conversation_ids(), self.limits())?;
        let (from, to) = (from.to_owned(), to.to_owned());
        self.write(move |tx| {
            require_folder(tx, &from)?;
            require_folder(tx, &to)?;
            let mut moved = Vec::new();
            let outcomes = ids
                .into_iter()
                .map(|id| {
                    let result = decorate(tx, &id, &mut |c| {
                        leave(&mut c.folders, &from);
                        join(&mut c.folders, &to);
                    });
                    if matches!(result, Ok(true)) {
                        moved.push(id.clone());
                    }
                    ConversationOutcome::new(id, result.map(drop))
                })
                .collect();
            if !moved.is_empty() && from != to {
                tx.record(Operation::RemoveFromFolder {
                    name: from.clone(),
                    conversations: moved.clone(),
                });
                tx.record(Operation::AddToFolder {
                    name: to.clone(),
                    conversations: moved.clone(),
                });
                tx.emit(Event::ConversationsMovedBetweenFolders {
                    from,
                    to,
                    conversations: moved,
                });
            }
            Ok(BatchOutcome::new(outcomes))
        })
        .await
    }

    async fn change_membership(
        &self,
        name: &str,
        ids: Vec<ConversationId>,
        join: bool,
    ) -> Result<BatchOutcome> {
        check_name(name, self.limits())?;
        let ids = batch(ids, self.limits())?;
        let name = name.to_owned();
        self.write(move |tx| {
            require_folder(tx, &name)?;
            let (outcomes, changed) = set_membership(tx, &name, ids, join);
            if !changed.is_empty() {
                tx.record(if join {
                    Operation::AddToFolder {
                        name: name.clone(),
                        conversations: changed.clone(),
                    }
                } else {
                    Operation::RemoveFromFolder {
                        name: name.clone(),
                        conversations: changed.clone(),
                    }
                });
                tx.emit(if join {
                    Event::ConversationsAddedToFolder {
                        name,
                        conversations: changed,
                    }
                } else {
                    Event::ConversationsRemovedFromFolder {
                        name,
                        conversations: changed,
                        reason: FolderRemovalReason::ByUser,
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
        .is_some_and(|c| c.folders.iter().any(|g| g == name))
}

/// Makes each conversation a member of `name` (`join`) or not; returns the results and the
/// conversations whose membership changed.
fn set_membership(
    tx: &mut Tx<'_>,
    name: &str,
    ids: Vec<ConversationId>,
    joining: bool,
) -> (BatchOutcome, Vec<ConversationId>) {
    let mut changed = Vec::new();
    let outcomes = ids
        .into_iter()
        .map(|id| {
            let was_member = is_member(tx, &id, name);
            let result = decorate(tx, &id, &mut |c| {
                if joining {
                    join(&mut c.folders, name);
                } else {
                    leave(&mut c.folders, name);
                }
            });
            if result.is_ok() && was_member != joining {
                changed.push(id.clone());
            }
            ConversationOutcome::new(id, result.map(drop))
        })
        .collect();
    (BatchOutcome::new(outcomes), changed)
}

/// Renames existing folder `old_name` to `new_name` (not taken) in `tx`: the folder, its
/// members' memberships, and the `FolderRenamed` event. Shared by the API and by sync, which
/// applies a rename made on another device.
pub(crate) fn rename(tx: &mut Tx<'_>, old_name: String, new_name: String) {
    let edit = FolderEdit::Rename {
        from: &old_name,
        to: &new_name,
    };
    for id in tx.folder_members(&old_name) {
        // Members exist (`folder_members` lists live ones): the update cannot fail.
        let _ = tx.update(&id, |c, _| {
            edit.apply_to_memberships(&mut c.folders);
            Ok(())
        });
    }
    tx.edit_folders(edit);
    tx.emit(Event::FolderRenamed { old_name, new_name });
}
