//! Random operation sequences against the invariants (atomic calls, unique order keys, exact
//! counters, unknown values kept, limits held) and the unread rules of docs/SEMANTICS.md.
//!
//! Each case opens a manager with small limits (3 pinned, 3 groups, 5 decorated, batches of
//! 3) over a pool of 8 conversations, watches the total and a dozen filters, and runs up to 60
//! operations. After every step the state is checked against a recount from scratch
//! ([`check_consistent`]): counters, watchers, order, filtered walks, group membership and
//! limits. A failed operation must have changed nothing.
//!
//! A second property runs the same sequences against a reference model of unread counting,
//! read positions, @ info, existence (delete, tombstones) and activation (which operations
//! move a conversation to the top of its section, and that no other changes an order key).
//!
//! `PROPTEST_CASES` sets the number of cases (default 256 per property).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use timconv::{
    CleanTarget, Conversation, ConversationFilter, ConversationId, ConversationManager,
    ConversationOutcome, ConversationType, Draft, Error, GroupAtType, GroupType, IngestOutcome,
    Limits, MarkFlags, Message, ReceiveOption,
};

use crate::common::{
    UnreadWatchers, check_consistent, incoming, invariant_filters, manager_with, outgoing,
    set_marks, set_pinned,
};

/// The conversation pool: four C2C, four group.
pub(crate) const PEERS: [&str; 8] = [
    "c2c_u0", "c2c_u1", "c2c_u2", "c2c_u3", "group_g0", "group_g1", "group_g2", "group_g3",
];

/// Conversation-group names; the last is one byte over the 32-byte limit.
pub(crate) const GROUP_NAMES: [&str; 5] = ["a", "b", "c", "d", "this-name-is-33-bytes-long-oops!!"];

/// Mark arguments: the four named marks, two extension marks, a combination, a reserved bit
/// (refused) and no bit at all (refused).
pub(crate) const MARKS: [u64; 9] = [0x1, 0x2, 0x4, 0x8, 1 << 32, 1 << 63, 0x1 | 0x4, 1 << 8, 0];

const AT_ALL: &str = "__kImSDK_MesssageAtALL__";

pub(crate) fn limits() -> Limits {
    Limits::default()
        .with_max_pinned(3)
        .with_max_groups(3)
        .with_max_decorated(5)
        .with_max_batch(3)
}

pub(crate) fn conv_id(i: usize) -> ConversationId {
    PEERS[i].parse().expect("pool IDs are valid")
}

fn conv_ids(v: &[usize]) -> Vec<ConversationId> {
    v.iter().map(|&i| conv_id(i)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    Nobody,
    Me,
    All,
    MeAndAll,
}

#[derive(Debug, Clone)]
pub(crate) enum Target {
    One(usize),
    AllC2c,
    AllGroups,
    All,
}

impl Target {
    pub(crate) fn clean_target(&self) -> CleanTarget {
        match self {
            Target::One(c) => CleanTarget::Conversation(conv_id(*c)),
            Target::AllC2c => CleanTarget::AllC2c,
            Target::AllGroups => CleanTarget::AllGroups,
            Target::All => CleanTarget::All,
        }
    }
}

/// The read positions a generated clean stands for: 0 is "up to the newest", as in the C API.
pub(crate) fn up_to(timestamp: u64, sequence: u64) -> timconv::ReadUpTo {
    timconv::ReadUpTo::Positions {
        timestamp: (timestamp != 0).then_some(timestamp),
        sequence: (sequence != 0).then_some(sequence),
    }
}

/// The ID of message `msg` of conversation `conv`.
pub(crate) fn msg_id(conv: usize, msg: u8) -> String {
    format!("c{conv}m{msg}")
}

/// One step. Message `msg` of conversation `conv` has the ID `c{conv}m{msg}`; the first
/// ingest of an ID fixes its content, later ones redeliver that same message (their other
/// fields are ignored), which is how duplicates are exercised.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Ingest {
        conv: usize,
        msg: u8,
        from_self: bool,
        pos: u64,
        excluded: bool,
        at: At,
    },
    Pin {
        conv: usize,
        on: bool,
    },
    Mark {
        convs: Vec<usize>,
        mark: usize,
        on: bool,
    },
    CustomData {
        convs: Vec<usize>,
        len: usize,
    },
    SetDraft {
        conv: usize,
    },
    CancelDraft {
        conv: usize,
    },
    ReceiveOption {
        conv: usize,
        option: u32,
    },
    Profile {
        conv: usize,
        av_chat_room: bool,
    },
    Clean {
        target: Target,
        timestamp: u64,
        sequence: u64,
    },
    Delete {
        conv: usize,
        clear: bool,
    },
    DeleteMany {
        convs: Vec<usize>,
    },
    Create {
        conv: usize,
    },
    CreateFolder {
        name: usize,
        convs: Vec<usize>,
    },
    RenameFolder {
        from: usize,
        to: usize,
    },
    DeleteFolder {
        name: usize,
    },
    AddToFolder {
        name: usize,
        convs: Vec<usize>,
    },
    RemoveFromFolder {
        name: usize,
        convs: Vec<usize>,
    },
}

fn conv() -> impl Strategy<Value = usize> {
    0..PEERS.len()
}

/// 0..=4 conversations: 0 and 4 are refused batches (limit 3), repeats are allowed.
fn convs() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(conv(), 0..=4)
}

fn group_name() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0..4usize, 1 => Just(4usize)]
}

/// A read position: 0 ("everything") or a position in the messages' range.
fn clean_position() -> impl Strategy<Value = u64> {
    prop_oneof![1 => Just(0u64), 2 => 1..=45u64]
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    let ingest = (
        conv(),
        0..6u8,
        prop::bool::weighted(0.25),
        // 0: a message without a position (no sequence, no server time).
        prop_oneof![1 => Just(0u64), 7 => 1..=40u64],
        prop::bool::weighted(0.15),
        prop_oneof![
            6 => Just(At::Nobody),
            1 => Just(At::Me),
            1 => Just(At::All),
            1 => Just(At::MeAndAll),
        ],
    )
        .prop_map(|(conv, msg, from_self, pos, excluded, at)| Op::Ingest {
            conv,
            msg,
            from_self,
            pos,
            excluded,
            at,
        });
    let target = prop_oneof![
        4 => conv().prop_map(Target::One),
        1 => Just(Target::AllC2c),
        1 => Just(Target::AllGroups),
        1 => Just(Target::All),
    ];
    prop_oneof![
        12 => ingest,
        3 => (conv(), any::<bool>()).prop_map(|(conv, on)| Op::Pin { conv, on }),
        3 => (convs(), 0..MARKS.len(), any::<bool>())
            .prop_map(|(convs, mark, on)| Op::Mark { convs, mark, on }),
        2 => (convs(), prop_oneof![2 => 0..=3usize, 1 => Just(300usize)])
            .prop_map(|(convs, len)| Op::CustomData { convs, len }),
        2 => conv().prop_map(|conv| Op::SetDraft { conv }),
        1 => conv().prop_map(|conv| Op::CancelDraft { conv }),
        2 => (conv(), 0..5u32).prop_map(|(conv, option)| Op::ReceiveOption { conv, option }),
        1 => (conv(), prop::bool::weighted(0.5))
            .prop_map(|(conv, av_chat_room)| Op::Profile { conv, av_chat_room }),
        4 => (target, clean_position(), clean_position()).prop_map(
            |(target, timestamp, sequence)| Op::Clean { target, timestamp, sequence }
        ),
        2 => (conv(), any::<bool>()).prop_map(|(conv, clear)| Op::Delete { conv, clear }),
        1 => convs().prop_map(|convs| Op::DeleteMany { convs }),
        1 => conv().prop_map(|conv| Op::Create { conv }),
        2 => (group_name(), convs()).prop_map(|(name, convs)| Op::CreateFolder { name, convs }),
        1 => (group_name(), group_name()).prop_map(|(from, to)| Op::RenameFolder { from, to }),
        1 => group_name().prop_map(|name| Op::DeleteFolder { name }),
        2 => (group_name(), convs()).prop_map(|(name, convs)| Op::AddToFolder { name, convs }),
        1 => (group_name(), convs())
            .prop_map(|(name, convs)| Op::RemoveFromFolder { name, convs }),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=60)
}

/// One life of a conversation in the reference model: from its creation to its delete.
#[derive(Debug, Default)]
struct Life {
    /// Every message ID ingested in this life.
    seen: HashSet<String>,
    /// Unread messages: ID → position.
    unread: HashMap<String, u64>,
    /// Pending @ info: (sequence, type).
    at: Vec<(u64, GroupAtType)>,
    /// Read position (timestamp for C2C, sequence for groups).
    read: u64,
    /// (position, `message_rand`) of the last message, if any: the newer of two messages is
    /// the one further on, then the one with the larger random number.
    last: Option<(u64, u64)>,
}

impl Life {
    /// Marks read up to `up_to` (0: everything).
    fn clean(&mut self, up_to: u64) {
        if up_to == 0 {
            self.read = self.read.max(self.last.map_or(0, |(pos, _)| pos));
            self.unread.clear();
            self.at.clear();
        } else {
            self.read = self.read.max(up_to);
            let read = self.read;
            self.unread.retain(|_, pos| *pos > read);
            self.at.retain(|(seq, _)| *seq > read);
        }
    }
}

/// The reference model of unread counting, delete and tombstones, and activation.
#[derive(Debug, Default)]
pub(crate) struct Model {
    lives: HashMap<ConversationId, Life>,
    /// Conversations deleted at least once: the position of the newest message they had
    /// before their last delete (in any earlier life too; 0 without one). A tombstone outlives
    /// the conversation coming back: messages at or before it stay deleted.
    tombstones: HashMap<ConversationId, u64>,
    /// Groups set to be audio-video chat rooms, which never count unread. The setting is kept
    /// whether or not the conversation exists (before its first message, across deletes).
    av_rooms: HashSet<ConversationId>,
}

/// What the model expects an ingest to do.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Stale,
    Created,
    Updated,
    /// Duplicate or Unchanged: nothing changes.
    Nothing,
}

impl Model {
    /// A new, empty life (draft, explicit create, or the first message).
    fn create(&mut self, id: &ConversationId) {
        self.lives.entry(id.clone()).or_default();
    }

    fn ingest(&mut self, id: &ConversationId, m: &Message, at: Option<GroupAtType>) -> Expect {
        let pos = match id.kind() {
            ConversationType::Group => m.seq.unwrap_or(0),
            _ => m.server_time.unwrap_or(0),
        };
        // Messages from before the last delete stay deleted, even once it is back.
        if self.tombstones.get(id).is_some_and(|&t| pos <= t) {
            return Expect::Stale;
        }
        let created = !self.lives.contains_key(id);
        self.create(id);
        let life = self.lives.get_mut(id).expect("just created");
        let msg_id = m.msg_id.clone().expect("test messages have IDs");
        if !life.seen.insert(msg_id.clone()) {
            return Expect::Nothing; // a message delivered twice counts once
        }
        // A message without a position (0) cannot be placed against the read position: it
        // never counts.
        let unread_position = pos > life.read;
        let counts = !m.from_self()
            && !m.excluded_from_unread.unwrap_or(false)
            && !self.av_rooms.contains(id)
            && unread_position;
        if counts {
            life.unread.insert(msg_id, pos);
            if let Some(at) = at.filter(|_| id.kind() == ConversationType::Group) {
                life.at.push((pos, at));
            }
        }
        let order = (pos, m.rand.unwrap_or(0));
        let newer = life.last.is_none_or(|last| order > last);
        if newer {
            life.last = Some(order);
        }
        match (created, counts || newer) {
            (true, _) => Expect::Created,
            (false, true) => Expect::Updated,
            (false, false) => Expect::Nothing,
        }
    }

    fn delete(&mut self, id: &ConversationId) {
        if let Some(life) = self.lives.remove(id) {
            // Only a message newer than any before this delete brings it back.
            let floor = self.tombstones.get(id).copied().unwrap_or(0);
            let last = life.last.map_or(0, |(pos, _)| pos).max(floor);
            self.tombstones.insert(id.clone(), last);
        }
    }

    fn clean(&mut self, target: &CleanTarget, timestamp: u64, sequence: u64) {
        for (id, life) in &mut self.lives {
            let selected = match target {
                CleanTarget::Conversation(one) => one == id,
                CleanTarget::AllC2c => id.kind() == ConversationType::C2c,
                CleanTarget::AllGroups => id.kind() == ConversationType::Group,
                _ => true,
            };
            if selected {
                life.clean(match id.kind() {
                    ConversationType::Group => sequence,
                    _ => timestamp,
                });
            }
        }
    }

    /// The model against the manager's conversations.
    fn check(&self, convs: &[Arc<Conversation>]) -> Result<(), String> {
        if convs.len() != self.lives.len() {
            let mut model: Vec<_> = self.lives.keys().map(ToString::to_string).collect();
            model.sort();
            let listed: Vec<_> = convs.iter().map(|c| c.id.to_string()).collect();
            return Err(format!("conversations {listed:?}, model {model:?}"));
        }
        for c in convs {
            let life = self
                .lives
                .get(&c.id)
                .ok_or_else(|| format!("{} exists, the model says it does not", c.id))?;
            if c.unread_count != life.unread.len() as u64 {
                return Err(format!(
                    "{} has unread {}, model {} ({:?})",
                    c.id,
                    c.unread_count,
                    life.unread.len(),
                    life.unread
                ));
            }
            if c.read_position() != life.read {
                return Err(format!(
                    "{} read position {}, model {}",
                    c.id,
                    c.read_position(),
                    life.read
                ));
            }
            let mut at: Vec<_> = c
                .group_at_info
                .iter()
                .map(|a| (a.seq, a.at_type.as_u32()))
                .collect();
            let mut expected: Vec<_> = life.at.iter().map(|(s, t)| (*s, t.as_u32())).collect();
            at.sort_unstable();
            expected.sort_unstable();
            if at != expected {
                return Err(format!("{} @ info {at:?}, model {expected:?}", c.id));
            }
        }
        Ok(())
    }
}

/// What a step did, for the checks that follow it.
pub(crate) struct Effect {
    /// The call failed as a whole: nothing may have changed.
    failed: bool,
    /// The conversation the step activated (moved to the top of its section), if any.
    activated: Option<ConversationId>,
}

impl Effect {
    fn done() -> Self {
        Effect {
            failed: false,
            activated: None,
        }
    }

    fn activated(id: ConversationId) -> Self {
        Effect {
            failed: false,
            activated: Some(id),
        }
    }

    fn failed() -> Self {
        Effect {
            failed: true,
            activated: None,
        }
    }
}

fn code(e: &Error) -> i32 {
    e.code().as_i32()
}

/// Checks a whole-call error's code against the codes this call may give.
fn expect_code(e: &Error, allowed: &[i32]) -> Result<Effect, String> {
    if allowed.contains(&code(e)) {
        Ok(Effect::failed())
    } else {
        Err(format!(
            "error {e} (code {}) not among {allowed:?}",
            code(e)
        ))
    }
}

/// Checks per-conversation results: one per distinct ID in order; failures only 6004 (does
/// not exist) or 51008 (decoration limit); `ok` checks each success.
fn check_outcomes(
    manager: &ConversationManager,
    before: &[Arc<Conversation>],
    asked: &[ConversationId],
    outcomes: &[ConversationOutcome],
    ok: impl Fn(&Conversation) -> bool,
) -> Result<(), String> {
    let mut distinct = Vec::new();
    for id in asked {
        if !distinct.contains(id) {
            distinct.push(id.clone());
        }
    }
    let got: Vec<_> = outcomes.iter().map(|o| o.id.clone()).collect();
    if got != distinct {
        return Err(format!("outcomes for {got:?}, asked {distinct:?}"));
    }
    for o in outcomes {
        match (&o.result, manager.get(&o.id)) {
            (Ok(()), Some(c)) if ok(&c) => {}
            (Ok(()), Some(c)) => return Err(format!("{} succeeded but is {c:?}", o.id)),
            (Ok(()), None) => return Err(format!("{} succeeded but does not exist", o.id)),
            (Err(e), found) => {
                let expected = if found.is_none() { 6004 } else { 51008 };
                if code(e) != expected {
                    return Err(format!(
                        "{} failed with {e}, expected code {expected}",
                        o.id
                    ));
                }
                // A conversation whose part of a batch failed is left as it was.
                if found.as_ref() != before.iter().find(|c| c.id == o.id) {
                    return Err(format!("{} failed but changed", o.id));
                }
            }
        }
    }
    Ok(())
}

fn build_message(
    conv: usize,
    msg_id: &str,
    from_self: bool,
    pos: u64,
    excluded: bool,
    at: At,
) -> Message {
    let mut m = if from_self {
        outgoing(msg_id, pos)
    } else {
        incoming(msg_id, pos)
    };
    if excluded {
        m.excluded_from_unread = Some(true);
    }
    if conv_id(conv).kind() == ConversationType::Group {
        m.group_at_users = match at {
            At::Nobody => None,
            At::Me => Some(vec!["me".into()]),
            At::All => Some(vec![AT_ALL.into()]),
            At::MeAndAll => Some(vec!["someone".into(), AT_ALL.into(), "me".into()]),
        };
    }
    m
}

/// The message an [`Op::Ingest`] delivers: the first one built for its message ID, kept in
/// `sent`, which later ingests of that ID redeliver. `None` for the other operations.
pub(crate) fn delivered(op: &Op, sent: &mut HashMap<String, Message>) -> Option<Message> {
    let Op::Ingest {
        conv,
        msg,
        from_self,
        pos,
        excluded,
        at,
    } = op
    else {
        return None;
    };
    let msg_id = msg_id(*conv, *msg);
    let message = sent
        .entry(msg_id.clone())
        .or_insert_with(|| build_message(*conv, &msg_id, *from_self, *pos, *excluded, *at));
    Some(message.clone())
}

fn at_type(m: &Message) -> Option<GroupAtType> {
    let users = m.group_at_users.as_ref()?;
    let all = users.iter().any(|u| u == AT_ALL);
    let me = users.iter().any(|u| u == "me");
    match (all, me) {
        (true, true) => Some(GroupAtType::AtAllAtMe),
        (true, false) => Some(GroupAtType::AtAll),
        (false, true) => Some(GroupAtType::AtMe),
        (false, false) => None,
    }
}

/// Runs one step: the call, its own postconditions, and the model's update.
pub(crate) async fn step(
    manager: &ConversationManager,
    model: &mut Model,
    sent: &mut HashMap<String, Message>,
    op: &Op,
    checks: Checks,
) -> Result<Effect, String> {
    let limits = *manager.limits();
    let before = manager.conversations();
    match op {
        Op::Ingest { conv, .. } => {
            let id = conv_id(*conv);
            let message = delivered(op, sent).ok_or("an ingest delivers a message")?;
            if message.seq == Some(0) {
                // It cannot be placed against a read position: refused, nothing changes.
                return match manager.ingest_message(&id, message).await {
                    Ok(outcome) => Err(format!("a message without a position gave {outcome:?}")),
                    Err(e) => expect_code(&e, &[6017]),
                };
            }
            let before = manager.get(&id);
            let expect = model.ingest(&id, &message, at_type(&message));
            let outcome = manager
                .ingest_message(&id, message.clone())
                .await
                .map_err(|e| format!("ingest failed: {e}"))?;
            let after = manager.get(&id);
            let matches = matches!(
                (&expect, outcome),
                (Expect::Stale, IngestOutcome::Stale)
                    | (Expect::Created, IngestOutcome::Created)
                    | (Expect::Updated, IngestOutcome::Updated)
                    | (
                        Expect::Nothing,
                        IngestOutcome::Duplicate | IngestOutcome::Unchanged
                    )
            );
            if checks.model && !matches {
                return Err(format!("ingest gave {outcome:?}, model expects {expect:?}"));
            }
            // Own and excluded messages never add unread.
            let unread = |c: &Option<Arc<Conversation>>| c.as_ref().map_or(0, |c| c.unread_count);
            if (message.from_self() || message.excluded_from_unread == Some(true))
                && unread(&after) > unread(&before)
            {
                return Err(format!(
                    "an own or excluded message added unread: {} -> {}",
                    unread(&before),
                    unread(&after)
                ));
            }
            // The message became the last one: the conversation is activated.
            let became_last = after
                .as_ref()
                .and_then(|c| c.last_message.as_ref())
                .is_some_and(|m| m.msg_id == message.msg_id)
                && before
                    .as_ref()
                    .and_then(|c| c.last_message.as_ref())
                    .map(|m| &m.msg_id)
                    != Some(&message.msg_id);
            Ok(if became_last || expect == Expect::Created {
                Effect::activated(id)
            } else {
                Effect::done()
            })
        }
        Op::Pin { conv, on } => {
            let id = conv_id(*conv);
            let was = manager.get(&id).map(|c| c.is_pinned);
            match set_pinned(manager, &id, *on).await {
                Ok(()) => {
                    let now = manager.get(&id).map(|c| c.is_pinned);
                    if now != Some(*on) {
                        return Err(format!("pin({on}) succeeded, pinned is {now:?}"));
                    }
                    // Pinning activates; pinning a pinned one changes nothing.
                    Ok(if *on && was == Some(false) {
                        Effect::activated(id)
                    } else {
                        Effect::done()
                    })
                }
                Err(e) if was.is_none() => expect_code(&e, &[6004]),
                Err(e) => {
                    let pinned = manager
                        .conversations()
                        .iter()
                        .filter(|c| c.is_pinned)
                        .count();
                    if !*on || pinned < limits.max_pinned {
                        return Err(format!("pin({on}) failed with {pinned} pinned: {e}"));
                    }
                    expect_code(&e, &[51012])
                }
            }
        }
        Op::Mark { convs, mark, on } => {
            let ids = conv_ids(convs);
            let bits = MarkFlags::from_bits_retain(MARKS[*mark]);
            match set_marks(manager, &ids, bits, *on).await {
                Ok(outcomes) => {
                    check_outcomes(manager, &before, &ids, &outcomes, |c| {
                        if *on {
                            c.marks.contains(bits)
                        } else {
                            !c.marks.intersects(bits)
                        }
                    })?;
                    Ok(Effect::done())
                }
                Err(e) => {
                    let bad_bits = bits.is_empty() || bits.bits() & MarkFlags::RESERVED != 0;
                    let bad_batch = ids.is_empty() || ids.len() > limits.max_batch;
                    if !bad_bits && !bad_batch {
                        return Err(format!("mark failed on valid input: {e}"));
                    }
                    expect_code(&e, &[6017, 51006])
                }
            }
        }
        Op::CustomData { convs, len } => {
            let ids = conv_ids(convs);
            let data = "x".repeat(*len);
            match manager.set_custom_data(&ids, data.as_str()).await {
                Ok(outcomes) => {
                    check_outcomes(manager, &before, &ids, &outcomes, |c| {
                        c.custom_data.as_bytes() == data.as_bytes()
                    })?;
                    Ok(Effect::done())
                }
                Err(e) => {
                    let bad_batch = ids.is_empty() || ids.len() > limits.max_batch;
                    if *len <= limits.max_custom_data_bytes && !bad_batch {
                        return Err(format!("custom data failed on valid input: {e}"));
                    }
                    expect_code(&e, &[6017, 51006])
                }
            }
        }
        Op::SetDraft { conv } => {
            let id = conv_id(*conv);
            let draft = Draft::new(Message::text("", "draft"), "user define", 1_700_000_000);
            manager
                .set_draft(&id, draft.clone())
                .await
                .map_err(|e| format!("set_draft failed: {e}"))?;
            if manager.get(&id).and_then(|c| c.draft.clone()).map(|d| *d) != Some(draft) {
                return Err("the draft is not set".into());
            }
            model.create(&id);
            Ok(Effect::activated(id)) // setting a draft activates
        }
        Op::CancelDraft { conv } => {
            let id = conv_id(*conv);
            let exists = manager.get(&id).is_some();
            match manager.cancel_draft(&id).await {
                Ok(()) if manager.get(&id).is_some_and(|c| c.draft.is_none()) => Ok(Effect::done()),
                Ok(()) => Err("cancel_draft succeeded, a draft is still there".into()),
                Err(e) if !exists => expect_code(&e, &[6004]),
                Err(e) => Err(format!("cancel_draft failed: {e}")),
            }
        }
        Op::ReceiveOption { conv, option } => {
            let id = conv_id(*conv);
            let option = ReceiveOption::from_u32(*option);
            let exists = manager.get(&id).is_some();
            match manager.set_receive_option(&id, option).await {
                Ok(()) if manager.get(&id).map(|c| c.receive_option) == Some(option) => {
                    Ok(Effect::done())
                }
                // Kept for when the conversation appears.
                Ok(()) if !exists => Ok(Effect::done()),
                Ok(()) => Err("set_receive_option succeeded, option not set".into()),
                Err(e) => Err(format!("set_receive_option failed: {e}")),
            }
        }
        Op::Profile { conv, av_chat_room } => {
            let id = conv_id(*conv);
            let kind = if *av_chat_room {
                GroupType::AvChatRoom
            } else {
                GroupType::Public
            };
            let exists = manager.get(&id).is_some();
            let result = manager.set_group_type(&id, kind).await;
            if result.is_ok() {
                if *av_chat_room {
                    model.av_rooms.insert(id.clone());
                    // A group that becomes one drops the unread it had.
                    if let Some(life) = model.lives.get_mut(&id) {
                        life.unread.clear();
                    }
                } else {
                    model.av_rooms.remove(&id);
                }
            }
            match result {
                Ok(()) if manager.get(&id).and_then(|c| c.group_type) == Some(kind) => {
                    Ok(Effect::done())
                }
                // Kept for when the conversation appears.
                Ok(()) if !exists => Ok(Effect::done()),
                Ok(()) => Err("set_group_type succeeded, group type not set".into()),
                Err(e) if id.kind() != ConversationType::Group => expect_code(&e, &[6017]),
                Err(e) => Err(format!("set_group_type failed: {e}")),
            }
        }
        Op::Clean {
            target,
            timestamp,
            sequence,
        } => {
            let target = target.clean_target();
            let missing = match &target {
                CleanTarget::Conversation(id) => manager.get(id).is_none(),
                _ => false,
            };
            match manager
                .clean_unread(target.clone(), up_to(*timestamp, *sequence))
                .await
            {
                Ok(()) => {
                    model.clean(&target, *timestamp, *sequence);
                    Ok(Effect::done())
                }
                Err(e) if missing => expect_code(&e, &[6004]),
                Err(e) => Err(format!("clean_unread failed: {e}")),
            }
        }
        Op::Delete { conv, clear } => {
            let id = conv_id(*conv);
            let exists = manager.get(&id).is_some();
            match manager.delete(&id, crate::common::history(*clear)).await {
                Ok(()) if manager.get(&id).is_none() => {
                    model.delete(&id);
                    Ok(Effect::done())
                }
                Ok(()) => Err("delete succeeded, the conversation is still there".into()),
                Err(e) if !exists => expect_code(&e, &[6004]),
                Err(e) => Err(format!("delete failed: {e}")),
            }
        }
        Op::DeleteMany { convs } => {
            let ids = conv_ids(convs);
            let existed: Vec<_> = ids
                .iter()
                .filter(|id| manager.get(id).is_some())
                .cloned()
                .collect();
            match manager
                .delete_many(&ids, timconv::MessageHistory::Keep)
                .await
            {
                Ok(outcomes) => {
                    let asked: Vec<_> = ids.iter().fold(Vec::new(), |mut v, id| {
                        if !v.contains(id) {
                            v.push(id.clone());
                        }
                        v
                    });
                    let got: Vec<_> = outcomes.iter().map(|o| o.id.clone()).collect();
                    if got != asked {
                        return Err(format!("outcomes for {got:?}, asked {asked:?}"));
                    }
                    for o in &outcomes {
                        let existed = existed.contains(&o.id);
                        match (o.is_ok(), existed) {
                            (true, true) if manager.get(&o.id).is_none() => model.delete(&o.id),
                            (false, false) if o.code() == 6004 => {}
                            _ => {
                                return Err(format!(
                                    "{} existed {existed}, outcome code {}",
                                    o.id,
                                    o.code()
                                ));
                            }
                        }
                    }
                    Ok(Effect::done())
                }
                Err(e) if ids.is_empty() || ids.len() > limits.max_batch => {
                    expect_code(&e, &[51006])
                }
                Err(e) => Err(format!("delete_many failed: {e}")),
            }
        }
        Op::Create { conv } => {
            let id = conv_id(*conv);
            let existed = manager.get(&id).is_some();
            let c = manager
                .create_conversation(&id)
                .await
                .map_err(|e| format!("create_conversation failed: {e}"))?;
            if manager.get(&id).as_deref() != Some(&c) {
                return Err("create_conversation returned another state than get".into());
            }
            if existed {
                Ok(Effect::done())
            } else {
                model.create(&id);
                Ok(Effect::activated(id))
            }
        }
        Op::CreateFolder { name, convs } => {
            let name = GROUP_NAMES[*name];
            let ids = conv_ids(convs);
            let groups = manager.folders();
            match manager.create_folder(name, &ids).await {
                Ok(outcomes) => {
                    if !manager.folders().iter().any(|g| g == name) {
                        return Err("create_folder succeeded, no such group".into());
                    }
                    check_outcomes(manager, &before, &ids, &outcomes, |c| {
                        c.folders.iter().any(|g| g == name)
                    })?;
                    Ok(Effect::done())
                }
                Err(e) => {
                    let refused = name.len() > limits.max_folder_name_bytes
                        || ids.is_empty()
                        || ids.len() > limits.max_batch
                        || groups.iter().any(|g| g == name)
                        || groups.len() >= limits.max_folders;
                    if !refused {
                        return Err(format!("create_folder failed on valid input: {e}"));
                    }
                    expect_code(&e, &[51011, 51006, 6017, 51010])
                }
            }
        }
        Op::RenameFolder { from, to } => {
            let (from, to) = (GROUP_NAMES[*from], GROUP_NAMES[*to]);
            let groups = manager.folders();
            let members: Vec<_> = manager
                .conversations()
                .into_iter()
                .filter(|c| c.folders.iter().any(|g| g == from))
                .map(|c| c.id.clone())
                .collect();
            match manager.rename_folder(from, to).await {
                Ok(()) => {
                    let now = manager.folders();
                    if !now.iter().any(|g| g == to) || (from != to && now.iter().any(|g| g == from))
                    {
                        return Err(format!("rename {from:?} -> {to:?} gave groups {now:?}"));
                    }
                    let position = |names: &[String], n: &str| names.iter().position(|g| g == n);
                    if position(&groups, from) != position(&now, to) {
                        return Err("a renamed group lost its place in the list".into());
                    }
                    let renamed: Vec<_> = manager
                        .conversations()
                        .into_iter()
                        .filter(|c| c.folders.iter().any(|g| g == to))
                        .map(|c| c.id.clone())
                        .collect();
                    if renamed != members {
                        return Err(format!("members {members:?} became {renamed:?}"));
                    }
                    Ok(Effect::done())
                }
                Err(e) => {
                    let refused = from.len() > limits.max_folder_name_bytes
                        || to.len() > limits.max_folder_name_bytes
                        || !groups.iter().any(|g| g == from)
                        || (from != to && groups.iter().any(|g| g == to));
                    if !refused {
                        return Err(format!("rename_folder failed on valid input: {e}"));
                    }
                    expect_code(&e, &[51011, 51009, 6017])
                }
            }
        }
        Op::DeleteFolder { name } => {
            let name = GROUP_NAMES[*name];
            let existed = manager.folders().iter().any(|g| g == name);
            match manager.delete_folder(name).await {
                Ok(()) if !manager.folders().iter().any(|g| g == name) => Ok(Effect::done()),
                Ok(()) => Err("delete_folder succeeded, the group is still there".into()),
                Err(e) if !existed => expect_code(&e, &[51009, 51011]),
                Err(e) => Err(format!("delete_folder failed: {e}")),
            }
        }
        Op::AddToFolder { name, convs } | Op::RemoveFromFolder { name, convs } => {
            let adding = matches!(op, Op::AddToFolder { .. });
            let name = GROUP_NAMES[*name];
            let ids = conv_ids(convs);
            let existed = manager.folders().iter().any(|g| g == name);
            let result = if adding {
                manager.add_to_folder(name, &ids).await
            } else {
                manager.remove_from_folder(name, &ids).await
            };
            match result {
                Ok(outcomes) => {
                    check_outcomes(manager, &before, &ids, &outcomes, |c| {
                        c.folders.iter().any(|g| g == name) == adding
                    })?;
                    if !adding && outcomes.iter().any(|o| o.code() == 51008) {
                        return Err("leaving a group hit the decoration limit".into());
                    }
                    Ok(Effect::done())
                }
                Err(e) => {
                    let refused = name.len() > limits.max_folder_name_bytes
                        || ids.is_empty()
                        || ids.len() > limits.max_batch
                        || !existed;
                    if !refused {
                        return Err(format!("group membership failed on valid input: {e}"));
                    }
                    expect_code(&e, &[51011, 51006, 51009])
                }
            }
        }
    }
}

/// Which checks run after each step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checks {
    /// Compare with the reference model and check activation.
    pub(crate) model: bool,
}

/// Order keys only move for the activated conversation, which then has the largest one;
/// conversations appear only by activation.
fn check_activation(
    before: &[Arc<Conversation>],
    after: &[Arc<Conversation>],
    activated: Option<&ConversationId>,
) -> Result<(), String> {
    let old: HashMap<_, _> = before.iter().map(|c| (&c.id, c.order_key)).collect();
    let max = after.iter().map(|c| c.order_key).max().unwrap_or(0);
    for c in after {
        let was = old.get(&c.id).copied();
        if Some(&c.id) == activated {
            if c.order_key != max || was.is_some_and(|k| c.order_key <= k) {
                return Err(format!(
                    "{} was activated but its order key {} (was {was:?}) is not the newest {max}",
                    c.id, c.order_key
                ));
            }
        } else if was != Some(c.order_key) {
            return Err(format!(
                "{} changed order key {was:?} -> {} without being activated",
                c.id, c.order_key
            ));
        }
    }
    Ok(())
}

/// Values that must never decrease while a conversation lives: its read position and order key.
fn check_monotonic(
    before: &[Arc<Conversation>],
    after: &[Arc<Conversation>],
) -> Result<(), String> {
    let old: HashMap<_, _> = before.iter().map(|c| (&c.id, c)).collect();
    for c in after {
        if let Some(b) = old.get(&c.id) {
            if c.read_position() < b.read_position() {
                return Err(format!(
                    "{} read position went back {} -> {}",
                    c.id,
                    b.read_position(),
                    c.read_position()
                ));
            }
            if c.order_key < b.order_key {
                return Err(format!(
                    "{} order key went back {} -> {}",
                    c.id, b.order_key, c.order_key
                ));
            }
        }
    }
    Ok(())
}

async fn run(ops: Vec<Op>, checks: Checks) -> Result<(), TestCaseError> {
    let manager = manager_with(limits()).await;
    let filters = invariant_filters();
    let mut watchers = UnreadWatchers::new(&manager, &filters);
    let mut model = Model::default();
    let mut sent = HashMap::new();
    check_consistent(&manager, &filters, 3).map_err(TestCaseError::fail)?;
    watchers.check(&manager).map_err(TestCaseError::fail)?;
    for (n, op) in ops.iter().enumerate() {
        let fail = |e: String| TestCaseError::fail(format!("step {n} {op:?}: {e}"));
        let before = manager.conversations();
        let groups_before = manager.folders();
        let effect = step(&manager, &mut model, &mut sent, op, checks)
            .await
            .map_err(fail)?;
        let after = manager.conversations();
        if effect.failed && (after != before || manager.folders() != groups_before) {
            return Err(fail("a failed call changed the state".into()));
        }
        let page_size = u32::try_from(n % 7 + 1).expect("small");
        check_consistent(&manager, &filters, page_size).map_err(fail)?;
        watchers.check(&manager).map_err(fail)?;
        check_monotonic(&before, &after).map_err(fail)?;
        if checks.model {
            model.check(&after).map_err(fail)?;
            check_activation(&before, &after, effect.activated.as_ref()).map_err(fail)?;
        }
    }
    manager
        .shutdown()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(())
}

fn run_blocking(ops: Vec<Op>, checks: Checks) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TestCaseError::fail(format!("runtime: {e}")))?
        .block_on(run(ops, checks))
}

fn config() -> ProptestConfig {
    crate::common::proptest_config(256)
}

proptest! {
    #![proptest_config(config())]

    /// Counters, watchers, order, filtered walks, groups and limits equal a recount after
    /// every step; a failed call changes nothing; read positions and order keys never go back.
    #[test]
    fn invariants_hold_after_every_step(ops in ops()) {
        run_blocking(ops, Checks { model: false })?;
    }

    /// Unread counts, read positions, @ info and existence follow the reference model of
    /// Unread and delete follow the model, and only activations move order keys.
    #[test]
    fn unread_and_activation_follow_the_model(ops in ops()) {
        run_blocking(ops, Checks { model: true })?;
    }
}

/// Filters used by the checks are valid and distinct: a watcher each.
#[tokio::test]
async fn invariant_filters_are_distinct_subscriptions() {
    let manager = manager_with(limits()).await;
    let filters = invariant_filters();
    let _watchers = UnreadWatchers::new(&manager, &filters);
    let distinct: HashSet<&ConversationFilter> = filters.iter().collect();
    assert_eq!(manager.watched_filters(), distinct.len());
}

// Minimal sequences the properties found, kept as plain tests so each names its rule.

/// Cleaning "all groups" up to everything reads every group conversation, so a late
/// message from before the clean is not unread, as it would not be after cleaning that one
/// conversation alone (`clean_unread(id, 0, 0)`).
#[tokio::test]
async fn bulk_clean_reads_conversations_without_unread_too() {
    let manager = manager_with(limits()).await;
    let g = conv_id(5);
    manager
        .ingest_message(&g, outgoing("own", 26))
        .await
        .expect("ingest");
    manager
        .clean_unread(CleanTarget::AllGroups, timconv::ReadUpTo::Everything)
        .await
        .expect("clean");
    manager
        .ingest_message(&g, incoming("late", 1))
        .await
        .expect("ingest");
    let c = manager.get(&g).expect("exists");
    assert_eq!((c.group_read_sequence, c.unread_count), (26, 0));

    let u = conv_id(0);
    manager.create_conversation(&u).await.expect("create");
    manager
        .clean_unread(
            CleanTarget::All,
            timconv::ReadUpTo::Positions {
                timestamp: Some(1),
                sequence: None,
            },
        )
        .await
        .expect("clean");
    assert_eq!(manager.get(&u).map(|c| c.c2c_read_timestamp), Some(1));
}

/// A message delivered again is not a new message: it neither activates the
/// conversation nor replaces a newer last message, even when both carry the same time.
#[tokio::test]
async fn redelivered_message_does_not_activate() {
    let manager = manager_with(limits()).await;
    let (a, b) = (conv_id(6), conv_id(1));
    manager
        .ingest_message(&a, outgoing("m1", 25))
        .await
        .expect("ingest");
    manager
        .ingest_message(&a, incoming("m2", 25))
        .await
        .expect("ingest");
    manager
        .ingest_message(&b, incoming("m3", 30))
        .await
        .expect("ingest");
    let before = manager.conversations();
    let again = manager
        .ingest_message(&a, outgoing("m1", 25))
        .await
        .expect("ingest");
    assert!(
        matches!(again, IngestOutcome::Duplicate | IngestOutcome::Unchanged),
        "{again:?}"
    );
    assert_eq!(manager.conversations(), before);
}

/// A message without a position cannot be placed against the read position: it is refused
/// (6017) and changes nothing, before or after a clean.
#[tokio::test]
async fn message_without_position_is_refused() {
    let manager = manager_with(limits()).await;
    let g = conv_id(7);
    manager
        .ingest_message(&g, incoming("m4", 4))
        .await
        .expect("ingest");
    for round in 0..2 {
        let before = manager.conversations();
        let err = manager
            .ingest_message(&g, incoming("m0", 0))
            .await
            .expect_err("no position");
        assert_eq!(code(&err), 6017, "round {round}");
        assert_eq!(manager.conversations(), before, "round {round}");
        manager
            .clean_unread(g.clone(), timconv::ReadUpTo::Everything)
            .await
            .expect("clean");
    }
    assert_eq!(manager.total_unread(), 0);
}

/// A replayed message from before a delete does not bring the conversation back,
/// also after it was recreated (by a draft) and deleted again in between.
#[tokio::test]
async fn replay_does_not_resurrect_after_a_second_delete() {
    let manager = manager_with(limits()).await;
    let a = conv_id(0);
    manager
        .ingest_message(&a, incoming("m1", 10))
        .await
        .expect("ingest");
    manager
        .delete(&a, timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    let draft = Draft::new(Message::text("", "draft"), "", 1);
    manager.set_draft(&a, draft).await.expect("draft");
    manager
        .delete(&a, timconv::MessageHistory::Keep)
        .await
        .expect("delete");
    let replay = manager
        .ingest_message(&a, incoming("m1", 10))
        .await
        .expect("ingest");
    assert_eq!(replay, IngestOutcome::Stale);
    assert!(manager.get(&a).is_none());
}
