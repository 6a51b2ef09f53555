//! The diffs from one window to another, for a live list whose window changes shape (a page
//! more, a conversation kept visible or released) without changing its filter.

use std::collections::HashMap;
use std::sync::Arc;

use eyeball_im::{Vector, VectorDiff};

use crate::model::{Conversation, ConversationId};

/// Diffs that turn `from` into `to`. Rows of `from` that are in `to` in the same relative order
/// (a longest run of them) stay; the others are removed, then the rows missing are inserted
/// where they go, or appended at the end in one diff. A row that stays but whose record
/// changed is replaced. When that takes more diffs than `to` has rows, one reset instead.
/// O((|from| + |to|) log |from|).
pub(crate) fn transition(
    from: &Vector<Arc<Conversation>>,
    to: &Vector<Arc<Conversation>>,
) -> Vec<VectorDiff<Arc<Conversation>>> {
    let target: HashMap<&ConversationId, usize> =
        to.iter().enumerate().map(|(i, c)| (&c.id, i)).collect();
    // For each row of `from`, where it is in `to` (if it is).
    let places: Vec<Option<usize>> = from.iter().map(|c| target.get(&c.id).copied()).collect();
    let stay = longest_increasing(&places);
    let mut diffs = Vec::new();
    for (i, _) in places.iter().enumerate().rev() {
        if !stay[i] {
            diffs.push(VectorDiff::Remove { index: i });
        }
    }
    let mut kept = places
        .iter()
        .zip(from.iter())
        .zip(&stay)
        .filter(|(_, stays)| **stays)
        .map(|((place, c), _)| (place.unwrap_or(usize::MAX), c))
        .peekable();
    for (i, c) in to.iter().enumerate() {
        match kept.peek() {
            Some(&(place, old)) if place == i => {
                if !Arc::ptr_eq(old, c) {
                    diffs.push(VectorDiff::Set {
                        index: i,
                        value: Arc::clone(c),
                    });
                }
                kept.next();
            }
            Some(_) => diffs.push(VectorDiff::Insert {
                index: i,
                value: Arc::clone(c),
            }),
            None => {
                diffs.push(VectorDiff::Append {
                    values: to.clone().split_off(i),
                });
                break;
            }
        }
    }
    if diffs.len() > to.len().max(1) {
        return vec![VectorDiff::Reset { values: to.clone() }];
    }
    diffs
}

/// Marks a longest strictly increasing subsequence of the present values (patience sorting).
fn longest_increasing(values: &[Option<usize>]) -> Vec<bool> {
    // tails[k]: index (into `values`) of the smallest tail of an increasing run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; values.len()];
    for (i, value) in values.iter().enumerate() {
        let Some(v) = *value else { continue };
        let len = tails.partition_point(|&t| values[t].is_some_and(|tv| tv < v));
        previous[i] = len.checked_sub(1).map(|k| tails[k]);
        if len == tails.len() {
            tails.push(i);
        } else {
            tails[len] = i;
        }
    }
    let mut stay = vec![false; values.len()];
    let mut at = tails.last().copied();
    while let Some(i) = at {
        stay[i] = true;
        at = previous[i];
    }
    stay
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(names: &[&str]) -> Vector<Arc<Conversation>> {
        names
            .iter()
            .map(|n| {
                Arc::new(Conversation::new(
                    format!("c2c_{n}").parse().expect("valid id"),
                ))
            })
            .collect()
    }

    fn apply(
        from: &Vector<Arc<Conversation>>,
        diffs: Vec<VectorDiff<Arc<Conversation>>>,
    ) -> Vec<String> {
        let mut v = from.clone();
        for d in diffs {
            d.apply(&mut v);
        }
        v.iter().map(|c| c.id.to_string()).collect()
    }

    #[test]
    fn transitions_reach_the_target() {
        let cases: [(&[&str], &[&str]); 7] = [
            (&["a", "b", "c"], &["a", "b", "c", "d", "e"]),
            (&["a", "b", "c"], &["a", "c"]),
            (&["a", "b", "c"], &["c", "a", "b"]),
            (&["a", "b", "c", "d"], &["a", "x", "c", "d"]),
            (&[], &["a"]),
            (&["a"], &[]),
            (&["a", "b", "c", "d", "e"], &["e", "d", "c", "b", "a"]),
        ];
        for (from, to) in cases {
            let (from_rows, to_rows) = (rows(from), rows(to));
            let got = apply(&from_rows, transition(&from_rows, &to_rows));
            let want: Vec<String> = to_rows.iter().map(|c| c.id.to_string()).collect();
            assert_eq!(got, want, "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn a_page_more_is_one_append() {
        let from = rows(&["a", "b"]);
        let mut to = from.clone();
        to.append(rows(&["c", "d"]));
        let diffs = transition(&from, &to);
        assert!(
            matches!(diffs.as_slice(), [VectorDiff::Append { values }] if values.len() == 2),
            "{diffs:?}"
        );
        assert!(transition(&from, &from).is_empty());
    }
}
