//! Invariant checks shared by the property, paging, concurrency and sync tests. Each returns
//! `Err(description)` instead of panicking so that proptest can shrink a failing sequence.

use std::sync::Arc;

use timconv::{
    Conversation, ConversationFilter, ConversationManager, ConversationType, Cursor, MarkFlags,
};

/// Filters the invariant checks cover: each criterion alone, its "zero" form (no mark, no
/// group) and a few combinations.
pub fn invariant_filters() -> Vec<ConversationFilter> {
    let ext32 = MarkFlags::extension(32).expect("32 is an extension bit");
    vec![
        ConversationFilter::new().conv_type(ConversationType::C2c),
        ConversationFilter::new().conv_type(ConversationType::Group),
        ConversationFilter::new().mark(MarkFlags::empty()),
        ConversationFilter::new().mark(MarkFlags::STAR | ext32),
        ConversationFilter::new().folder(""),
        ConversationFilter::new().folder("a"),
        ConversationFilter::new().has_unread(true),
        ConversationFilter::new().has_unread(false),
        ConversationFilter::new().has_at_info(true),
        ConversationFilter::new()
            .conv_type(ConversationType::Group)
            .has_at_info(false),
        ConversationFilter::new()
            .conv_type(ConversationType::C2c)
            .mark(MarkFlags::FOLD)
            .has_unread(true),
        ConversationFilter::new()
            .folder("b")
            .mark(MarkFlags::empty()),
    ]
}

/// Every conversation of `filter`'s list, walked from the top with pages of `page_size`.
pub fn walk(
    manager: &ConversationManager,
    filter: &ConversationFilter,
    page_size: u32,
) -> Result<Vec<Arc<Conversation>>, String> {
    let mut out = Vec::new();
    let mut cursor = Cursor::START;
    // A walk over an unchanging list cannot take more pages than it has conversations.
    for _ in 0..=manager.len() + 1 {
        let page = manager
            .list(filter, cursor, page_size)
            .map_err(|e| format!("list({filter:?}) failed: {e}"))?;
        if page.conversations.len() > page_size as usize {
            return Err(format!(
                "a page of {page_size} held {}",
                page.conversations.len()
            ));
        }
        out.extend(page.conversations.iter().cloned());
        if page.is_finished {
            return Ok(out);
        }
        if page.conversations.is_empty() {
            return Err(format!("an empty page that is not finished for {filter:?}"));
        }
        cursor = page.next_cursor;
    }
    Err(format!("the walk of {filter:?} does not finish"))
}

fn ids_of<'a>(convs: impl IntoIterator<Item = &'a Arc<Conversation>>) -> Vec<String> {
    convs.into_iter().map(|c| c.id.to_string()).collect()
}

/// The unread of `filter` recounted from scratch over `convs`.
pub fn recount(convs: &[Arc<Conversation>], filter: &ConversationFilter) -> u64 {
    convs
        .iter()
        .filter(|c| filter.matches(c))
        .map(|c| c.counted_unread())
        .sum()
}

/// Checks the manager's whole state against a recount from scratch over
/// `manager.conversations()`: order, uniqueness, counters, every filter's list and count,
/// group membership and limits. `page_size` is the page size of the list walks.
pub fn check_consistent(
    manager: &ConversationManager,
    filters: &[ConversationFilter],
    page_size: u32,
) -> Result<(), String> {
    let convs = manager.conversations();
    let limits = *manager.limits();
    if convs.len() != manager.len() {
        return Err(format!(
            "len() {} but {} conversations",
            manager.len(),
            convs.len()
        ));
    }
    // One order: pinned first, then order key strictly descending; IDs and order keys unique.
    let mut ids = std::collections::HashSet::new();
    let mut keys = std::collections::HashSet::new();
    for c in &convs {
        if !ids.insert(c.id.clone()) {
            return Err(format!("{} listed twice", c.id));
        }
        if !keys.insert(c.order_key) {
            return Err(format!(
                "order key {} is not unique ({})",
                c.order_key, c.id
            ));
        }
        if c.order_key >= 1 << 62 {
            return Err(format!("order key of {} carries the pinned bit", c.id));
        }
        if c.unread_count > 1 << 32 {
            return Err(format!(
                "{} has an absurd unread count {}",
                c.id, c.unread_count
            ));
        }
    }
    for w in convs.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let sorted = (a.is_pinned && !b.is_pinned)
            || (a.is_pinned == b.is_pinned && a.order_key > b.order_key);
        if !sorted || a.sort_key() <= b.sort_key() {
            return Err(format!(
                "out of order: {} (pinned {}, key {}) before {} (pinned {}, key {})",
                a.id, a.is_pinned, a.order_key, b.id, b.is_pinned, b.order_key
            ));
        }
    }
    // Counters equal a recount.
    let total: u64 = convs.iter().map(|c| c.counted_unread()).sum();
    if manager.total_unread() != total {
        return Err(format!(
            "total_unread() {} but recount {total}",
            manager.total_unread()
        ));
    }
    // The unfiltered walk is the list.
    let all = walk(manager, &ConversationFilter::new(), page_size)?;
    if all != convs {
        return Err(format!(
            "the full walk {:?} differs from conversations() {:?}",
            ids_of(&all),
            ids_of(&convs)
        ));
    }
    // Groups: names unique and within limits, membership only names existing groups.
    let names = manager.folders();
    let unique: std::collections::HashSet<_> = names.iter().collect();
    if unique.len() != names.len() || names.len() > limits.max_folders {
        return Err(format!(
            "groups {names:?}: repeated or over {}",
            limits.max_folders
        ));
    }
    for c in &convs {
        let own: std::collections::HashSet<_> = c.folders.iter().collect();
        if own.len() != c.folders.len() {
            return Err(format!("{} names a group twice: {:?}", c.id, c.folders));
        }
        if let Some(g) = c.folders.iter().find(|g| !names.contains(g)) {
            return Err(format!(
                "{} is in group {g:?} which does not exist ({names:?})",
                c.id
            ));
        }
    }
    let mut all_filters: Vec<ConversationFilter> = filters.to_vec();
    all_filters.extend(
        names
            .iter()
            .map(|n| ConversationFilter::new().folder(n.as_str())),
    );
    all_filters.push(ConversationFilter::new().folder(""));
    for f in &all_filters {
        let expected: Vec<String> = ids_of(convs.iter().filter(|c| f.matches(c)));
        let walked = ids_of(&walk(manager, f, page_size)?);
        if walked != expected {
            return Err(format!(
                "walk of {f:?} gave {walked:?}, recount {expected:?}"
            ));
        }
        if let Some(name) = f
            .folder_criterion()
            .filter(|n| !n.is_empty() && *f == ConversationFilter::new().folder(*n))
        {
            let named: Vec<String> =
                ids_of(convs.iter().filter(|c| c.folders.iter().any(|g| g == name)));
            if walked != named {
                return Err(format!(
                    "group {name:?} lists {walked:?}, members are {named:?}"
                ));
            }
        }
        let by_filter = manager
            .unread_by_filter(f)
            .map_err(|e| format!("unread_by_filter({f:?}): {e}"))?;
        let counted = recount(&convs, f);
        if by_filter != counted {
            return Err(format!(
                "unread_by_filter({f:?}) {by_filter} but recount {counted}"
            ));
        }
    }
    // Limits.
    let pinned = convs.iter().filter(|c| c.is_pinned).count();
    if pinned > limits.max_pinned {
        return Err(format!("{pinned} pinned, limit {}", limits.max_pinned));
    }
    let decorated = convs.iter().filter(|c| c.is_decorated()).count();
    if decorated > limits.max_decorated {
        return Err(format!(
            "{decorated} decorated, limit {}",
            limits.max_decorated
        ));
    }
    Ok(())
}
