//! Limits the manager enforces (SPEC §3, §7; DESIGN property 9).

/// The limits a [`ConversationManager`](crate::ConversationManager) enforces.
///
/// The defaults are the original service's numbers. A self-hosted backend with other numbers can
/// change them:
///
/// ```
/// use timconv::Limits;
///
/// let limits = Limits::default().with_max_pinned(100);
/// assert_eq!(limits.max_pinned, 100);
/// assert_eq!(limits.max_folders, 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most conversations pinned at once (default 50; over it: 51012).
    pub max_pinned: usize,
    /// Most folders (default 20; over it: 51010).
    pub max_folders: usize,
    /// Longest folder name in bytes (default 32; over it or empty: 51011).
    pub max_folder_name_bytes: usize,
    /// Longest custom data in bytes (default 256; over it: 6017).
    pub max_custom_data_bytes: usize,
    /// Most conversations in one batch call (default 100; over it or empty: 51006).
    pub max_batch: usize,
    /// Most conversations carrying marks, custom data or group membership (default 1000;
    /// over it: 51008).
    pub max_decorated: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pinned: 50,
            max_folders: 20,
            max_folder_name_bytes: 32,
            max_custom_data_bytes: 256,
            max_batch: 100,
            max_decorated: 1000,
        }
    }
}

impl Limits {
    /// Sets [`max_pinned`](Self::max_pinned).
    #[must_use]
    pub fn with_max_pinned(mut self, n: usize) -> Self {
        self.max_pinned = n;
        self
    }

    /// Sets [`max_folders`](Self::max_folders).
    #[must_use]
    pub fn with_max_groups(mut self, n: usize) -> Self {
        self.max_folders = n;
        self
    }

    /// Sets [`max_folder_name_bytes`](Self::max_folder_name_bytes).
    #[must_use]
    pub fn with_max_group_name_bytes(mut self, n: usize) -> Self {
        self.max_folder_name_bytes = n;
        self
    }

    /// Sets [`max_custom_data_bytes`](Self::max_custom_data_bytes).
    #[must_use]
    pub fn with_max_custom_data_bytes(mut self, n: usize) -> Self {
        self.max_custom_data_bytes = n;
        self
    }

    /// Sets [`max_batch`](Self::max_batch).
    #[must_use]
    pub fn with_max_batch(mut self, n: usize) -> Self {
        self.max_batch = n;
        self
    }

    /// Sets [`max_decorated`](Self::max_decorated).
    #[must_use]
    pub fn with_max_decorated(mut self, n: usize) -> Self {
        self.max_decorated = n;
        self
    }
}
