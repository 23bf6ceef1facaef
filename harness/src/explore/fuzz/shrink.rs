//! Shrinking: walks proptest's value tree by hand and keeps a simpler case only when it fails
//! with the *same* verdict kind.

use super::case::FuzzCase;
use super::runner::CaseRunner;
use crate::explore::ExploreError;
use crate::oracle::VerdictKind;
use crate::process::Interrupt;
use proptest::strategy::ValueTree;

/// Shrinks `tree` (currently failing with `kind`) to a minimal case failing with `kind`.
/// Stops early, keeping the smallest failing case so far, when `interrupted` is set.
pub fn shrink<T: ValueTree<Value = FuzzCase>>(
    tree: &mut T,
    kind: VerdictKind,
    cr: &mut CaseRunner,
    max_steps: u32,
    interrupted: &Interrupt,
) -> Result<FuzzCase, ExploreError> {
    let mut best = tree.current();
    let mut steps = 0;
    if !tree.simplify() {
        return Ok(best);
    }
    while steps < max_steps && !interrupted.is_set() {
        steps += 1;
        let candidate = tree.current();
        let same = cr.check(&candidate)?.verdict.kind == kind;
        let more = if same {
            best = candidate;
            tree.simplify()
        } else {
            tree.complicate()
        };
        if !more {
            break;
        }
    }
    Ok(best)
}
