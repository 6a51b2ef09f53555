//! Folders (the original SDK's "conversation groups"): the one definition of what creating,
//! deleting, renaming, joining and leaving a folder do, to the folder list and to a
//! conversation's memberships.
//!
//! The folder list is an ordered list of distinct names (creation order; a rename keeps the
//! place). Membership lives on each conversation record: the names of the folders it is in, in
//! the order it joined them. Every module that changes either — the manager's folder calls,
//! sync reconciliation, the index — goes through [`FolderEdit`], [`join`] and [`leave`];
//! stores only keep the resulting list and records.

/// A change to the folder list, and what it does to memberships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FolderEdit<'a> {
    /// A folder is created: appended to the list, unless a folder of that name exists. It has
    /// no members yet (members join with [`join`]).
    Create(&'a str),
    /// A folder is deleted: it leaves the list, and every conversation leaves it.
    Delete(&'a str),
    /// A folder is renamed, keeping its place and its members. Renaming onto a name that
    /// exists changes nothing (the list and a conversation's memberships stay distinct).
    Rename {
        /// The old name.
        from: &'a str,
        /// The new name.
        to: &'a str,
    },
}

impl FolderEdit<'_> {
    /// Applies the edit to the folder list; whether it changed.
    pub(crate) fn apply_to_list(self, list: &mut Vec<String>) -> bool {
        rename_or_edit(self, list)
    }

    /// Applies the edit to one conversation's memberships; whether they changed.
    pub(crate) fn apply_to_memberships(self, member_of: &mut Vec<String>) -> bool {
        match self {
            // A new folder has no members.
            FolderEdit::Create(_) => false,
            edit => rename_or_edit(edit, member_of),
        }
    }
}

/// The list rules, shared by the folder list and memberships (both are ordered lists of
/// distinct names).
fn rename_or_edit(edit: FolderEdit<'_>, names: &mut Vec<String>) -> bool {
    match edit {
        FolderEdit::Create(name) => {
            if names.iter().any(|n| n == name) {
                return false;
            }
            names.push(name.to_owned());
            true
        }
        FolderEdit::Delete(name) => leave(names, name),
        FolderEdit::Rename { from, to } => {
            if from == to || names.iter().any(|n| n == to) {
                return false;
            }
            let mut changed = false;
            for n in names.iter_mut().filter(|n| *n == from) {
                to.clone_into(n);
                changed = true;
            }
            changed
        }
    }
}

/// Makes a conversation a member of `name` (joining last); whether it changed.
pub(crate) fn join(member_of: &mut Vec<String>, name: &str) -> bool {
    if member_of.iter().any(|n| n == name) {
        return false;
    }
    member_of.push(name.to_owned());
    true
}

/// Takes a conversation out of `name`; whether it changed.
pub(crate) fn leave(member_of: &mut Vec<String>, name: &str) -> bool {
    let before = member_of.len();
    member_of.retain(|n| n != name);
    member_of.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_list_keeps_distinct_names_in_creation_order() {
        let mut list = Vec::new();
        assert!(FolderEdit::Create("work").apply_to_list(&mut list));
        assert!(FolderEdit::Create("home").apply_to_list(&mut list));
        assert!(!FolderEdit::Create("work").apply_to_list(&mut list));
        assert_eq!(list, names(&["work", "home"]));
        assert!(
            FolderEdit::Rename {
                from: "work",
                to: "office"
            }
            .apply_to_list(&mut list)
        );
        assert_eq!(list, names(&["office", "home"]), "a rename keeps the place");
        assert!(
            !FolderEdit::Rename {
                from: "office",
                to: "home"
            }
            .apply_to_list(&mut list),
            "renaming onto a taken name changes nothing"
        );
        assert!(FolderEdit::Delete("office").apply_to_list(&mut list));
        assert!(!FolderEdit::Delete("office").apply_to_list(&mut list));
        assert_eq!(list, names(&["home"]));
    }

    #[test]
    fn memberships_follow_renames_and_deletes_but_not_creates() {
        let mut member_of = Vec::new();
        assert!(!FolderEdit::Create("work").apply_to_memberships(&mut member_of));
        assert!(join(&mut member_of, "work"));
        assert!(!join(&mut member_of, "work"));
        assert!(join(&mut member_of, "home"));
        assert!(
            FolderEdit::Rename {
                from: "work",
                to: "office"
            }
            .apply_to_memberships(&mut member_of)
        );
        assert_eq!(member_of, names(&["office", "home"]));
        assert!(FolderEdit::Delete("home").apply_to_memberships(&mut member_of));
        assert!(leave(&mut member_of, "office"));
        assert!(!leave(&mut member_of, "office"));
        assert!(member_of.is_empty());
    }
}
