//! The timer store: a hierarchical timing wheel with 1 ms ticks.
//!
//! Six levels of 64 slots; a slot of level L spans 64^L ticks, so the wheel
//! covers 64^6 ms (about 795 days; later deadlines wait in the top level
//! and are re-filed as it turns). Each slot is an intrusive doubly linked
//! list of entries living in a slab, so inserting and cancelling cost O(1)
//! and no allocation once the slab has grown. Turning the wheel fires the
//! entries of level-0 slots and re-files ("cascades") those of higher
//! levels closer to their deadline. An occupancy bitmap per level finds the
//! next busy slot without scanning.
//!
//! A deadline is rounded up to the next tick to file it. The tick that has
//! begun but not ended (the current millisecond) is taken out of the wheel
//! whole into a small heap ordered by exact deadline, so a timer fires at
//! the first expiry at or after its exact deadline: never early, and not
//! held back to a tick boundary (asyncio's `call_later(0, ...)` runs at the
//! next iteration). Each entry keeps its exact deadline too: the timers expired
//! together come out ordered by exact deadline, then by the order they were
//! scheduled (asyncio orders by the exact float deadline, FIFO on ties),
//! whenever one of them asks for it (a callback does; a task's wake-up
//! does not, and a batch of those skips the sort).
//!
//! The store holds any action type `A`; the runtime decides what firing
//! means (wake a task, queue a callback). Times are nanoseconds on the
//! loop's own timeline (see `driver::clock`): plain integers, so filing a
//! timer does no `Instant` arithmetic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use slab::Slab;

const LEVELS: usize = 6;
const SLOTS: usize = 64;
const SLOT_BITS: u32 = 6;
const NIL: usize = usize::MAX;
/// The level marker of an entry already due when inserted.
const DUE: u8 = u8::MAX;
/// The level marker of an entry not yet filed (see `Timers::staged`).
const STAGED: u8 = u8::MAX - 1;
const TICK_NANOS: u32 = 1_000_000;

/// What the store needs to know of an action.
pub(crate) trait TimerOrder {
    /// Whether this action must fire in exact-deadline order with the
    /// others expired beside it (a callback must; a task's wake-up need not).
    fn needs_order(&self) -> bool;
}

/// Names one timer; `seq` tells it from a later timer in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    slot: usize,
    seq: u64,
}

struct Entry<A> {
    seq: u64,
    tick: u64,
    /// The exact deadline, in nanoseconds (tick 0 starts at 0).
    deadline: u64,
    action: A,
    level: u8,
    slot: u8,
    /// `action.needs_order()`, asked once at insertion.
    ordered: bool,
    prev: usize,
    next: usize,
}

pub(crate) struct Timers<A> {
    /// Every tick before this one has been processed, and this one taken
    /// out of the wheel (its entries are in `soon` or `due`).
    elapsed: u64,
    entries: Slab<Entry<A>>,
    heads: [[usize; SLOTS]; LEVELS],
    tails: [[usize; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    /// Entries already due when inserted, in insertion order.
    due: Vec<TimerKey>,
    /// Entries beyond level 0 not yet filed into the wheel: the next
    /// expiry pass (or `next_deadline`) files them. A timeout cancelled
    /// before then (the common case: its future finished first) never
    /// touches the wheel. Cancelled keys stay until the list is filed or
    /// emptied.
    staged: Vec<TimerKey>,
    /// How many entries of `staged` are still pending.
    staged_live: usize,
    /// Entries of the tick `elapsed`, which may not have ended yet:
    /// (exact deadline, sequence number, slab index), earliest first.
    /// Cancelled entries stay until popped (their key no longer matches).
    soon: BinaryHeap<Reverse<(u64, u64, usize)>>,
    next_seq: u64,
    /// No expiry has work before this time, the start of a tick in
    /// nanoseconds (a lower bound, kept as each entry is filed and
    /// recomputed after each expiry), so an iteration with nothing due
    /// skips the wheel; `u64::MAX` when nothing is pending.
    check_ns: u64,
    /// How many pending entries need ordering: while none does, an expiry
    /// records no sort keys.
    ordered_pending: usize,
    /// One expiry's entries, to order them by exact deadline (reused):
    /// (deadline, sequence number, index into `actions`).
    batch: Vec<(u64, u64, u32)>,
    /// `batch` packed into one sortable word each (reused).
    packed: Vec<u128>,
}

impl<A: TimerOrder> Timers<A> {
    pub(crate) fn new() -> Timers<A> {
        Timers {
            elapsed: 0,
            entries: Slab::new(),
            heads: [[NIL; SLOTS]; LEVELS],
            tails: [[NIL; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            due: Vec::new(),
            staged: Vec::new(),
            staged_live: 0,
            soon: BinaryHeap::new(),
            next_seq: 0,
            check_ns: u64::MAX,
            ordered_pending: 0,
            batch: Vec::new(),
            packed: Vec::new(),
        }
    }

    /// Whether no timer is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a timer may be due at `now` (false: [`expire`](Self::expire)
    /// would find nothing).
    #[inline]
    pub(crate) fn may_be_due(&self, now: u64) -> bool {
        now >= self.check_ns
    }

    /// An expiry may have work from `tick` on.
    #[inline]
    fn lower_check(&mut self, tick: u64) {
        self.check_ns = self
            .check_ns
            .min(tick.saturating_mul(u64::from(TICK_NANOS)));
    }

    /// Files a timer due at `exact` (nanoseconds).
    pub(crate) fn insert(&mut self, exact: u64, action: A) -> TimerKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        // Rounding up: never early.
        let tick = exact.div_ceil(u64::from(TICK_NANOS));
        let ordered = action.needs_order();
        self.ordered_pending += usize::from(ordered);
        let slot = self.entries.insert(Entry {
            seq,
            tick,
            deadline: exact,
            action,
            level: DUE,
            slot: 0,
            ordered,
            prev: NIL,
            next: NIL,
        });
        let key = TimerKey { slot, seq };
        if tick > self.elapsed && level_for(self.elapsed, tick) > 0 {
            // An expiry pass must come before the entry's tick, and it
            // files the entry first (a slot is taken a tick before it
            // starts, and the entry's slot starts at or before its tick).
            self.entries[slot].level = STAGED;
            self.staged.push(key);
            self.staged_live += 1;
            self.lower_check(tick.saturating_sub(1));
        } else {
            self.file(key.slot);
        }
        key
    }

    /// Files every staged entry still pending into the wheel.
    fn file_staged(&mut self) {
        if self.staged.is_empty() {
            return;
        }
        let mut staged = std::mem::take(&mut self.staged);
        for key in staged.drain(..) {
            if self.entry_mut(key).is_some_and(|e| e.level == STAGED) {
                self.file(key.slot);
            }
        }
        self.staged = staged;
        self.staged_live = 0;
    }

    /// Puts an entry in the slot its tick belongs to, seen from `elapsed`
    /// (or on the due list).
    fn file(&mut self, index: usize) {
        let tick = self.entries[index].tick;
        if tick <= self.elapsed {
            let entry = &mut self.entries[index];
            entry.level = DUE;
            if tick < self.elapsed {
                self.due.push(TimerKey {
                    slot: index,
                    seq: entry.seq,
                });
                self.lower_check(0);
            } else {
                // The current tick: due at its exact deadline.
                let deadline = entry.deadline;
                self.soon.push(Reverse((deadline, entry.seq, index)));
                self.lower_check(deadline / u64::from(TICK_NANOS));
            }
            return;
        }
        let level = level_for(self.elapsed, tick);
        let shift = SLOT_BITS * level as u32;
        // The slot is taken (fired or re-filed) a tick before it starts.
        self.lower_check(((tick >> shift) << shift).saturating_sub(1));
        let slot = ((tick >> shift) & (SLOTS as u64 - 1)) as usize;
        let tail = self.tails[level][slot];
        {
            let entry = &mut self.entries[index];
            entry.level = level as u8;
            entry.slot = slot as u8;
            entry.prev = tail;
            entry.next = NIL;
        }
        if tail == NIL {
            self.heads[level][slot] = index;
        } else {
            self.entries[tail].next = index;
        }
        self.tails[level][slot] = index;
        self.occupied[level] |= 1 << slot;
    }

    /// Takes an entry out of its slot list.
    fn unlink(&mut self, index: usize) {
        let (level, slot, prev, next) = {
            let e = &self.entries[index];
            (e.level, e.slot as usize, e.prev, e.next)
        };
        if level == DUE || level == STAGED {
            return; // the due and staged lists skip removed keys
        }
        let level = level as usize;
        if prev == NIL {
            self.heads[level][slot] = next;
        } else {
            self.entries[prev].next = next;
        }
        if next == NIL {
            self.tails[level][slot] = prev;
        } else {
            self.entries[next].prev = prev;
        }
        if self.heads[level][slot] == NIL {
            self.occupied[level] &= !(1 << slot);
        }
    }

    fn entry_mut(&mut self, key: TimerKey) -> Option<&mut Entry<A>> {
        self.entries.get_mut(key.slot).filter(|e| e.seq == key.seq)
    }

    /// The action of a pending timer, to change it in place.
    pub(crate) fn action_mut(&mut self, key: TimerKey) -> Option<&mut A> {
        self.entry_mut(key).map(|e| &mut e.action)
    }

    /// Whether the timer is still pending.
    pub(crate) fn contains(&self, key: TimerKey) -> bool {
        self.entries.get(key.slot).is_some_and(|e| e.seq == key.seq)
    }

    /// Removes a pending timer; returns its action so the caller drops it
    /// outside any borrow.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<A> {
        let staged = self.entry_mut(key)?.level == STAGED;
        self.unlink(key.slot);
        let entry = self.entries.remove(key.slot);
        if staged {
            self.staged_live -= 1;
            if self.staged_live == 0 {
                self.staged.clear();
            }
        }
        self.ordered_pending -= usize::from(entry.ordered);
        let action = entry.action;
        if self.entries.is_empty() {
            // Nothing left for the stale keys to name.
            self.due.clear();
            self.staged.clear();
            self.soon.clear();
        }
        Some(action)
    }

    /// The next busy slot of `level` and the tick it starts at.
    fn next_in_level(&self, level: usize) -> Option<(usize, u64)> {
        let occupied = self.occupied[level];
        if occupied == 0 {
            return None;
        }
        let shift = SLOT_BITS * level as u32;
        let slot_range = 1u64 << shift;
        let level_range = slot_range << SLOT_BITS;
        let now_slot = ((self.elapsed >> shift) & (SLOTS as u64 - 1)) as u32;
        let level_start = self.elapsed & !(level_range.wrapping_sub(1));
        // A slot whose start is already behind us belongs to the next turn.
        let start_of = |slot: usize| {
            let start = level_start + slot as u64 * slot_range;
            if start <= self.elapsed {
                start + level_range
            } else {
                start
            }
        };
        // The first busy slot after the current one (circularly)...
        let others = occupied & !(1u64 << now_slot);
        let mut best = (others != 0).then(|| {
            let slot = (others.rotate_right(now_slot).trailing_zeros() + now_slot) as usize % SLOTS;
            (slot, start_of(slot))
        });
        // ...or the current slot itself, which (at the top level, holding
        // deadlines more than one turn away) may come only a turn later.
        if occupied & (1u64 << now_slot) != 0 {
            let start = start_of(now_slot as usize);
            if best.is_none_or(|(_, other)| start < other) {
                best = Some((now_slot as usize, start));
            }
        }
        best
    }

    /// The earliest tick at which something must happen: a timer fires, or
    /// a higher-level slot must be re-filed.
    fn next_tick(&self) -> Option<(usize, usize, u64)> {
        if !self.due.is_empty() {
            return Some((0, 0, self.elapsed));
        }
        (0..LEVELS)
            .filter_map(|level| {
                self.next_in_level(level)
                    .map(|(slot, tick)| (level, slot, tick))
            })
            .min_by_key(|x| x.2)
    }

    /// When (in nanoseconds) the loop must next look at its timers.
    pub(crate) fn next_deadline(&mut self) -> Option<u64> {
        if self.entries.is_empty() {
            return None;
        }
        self.file_staged();
        if !self.due.is_empty() {
            return Some(0);
        }
        let wheel = self
            .next_tick()
            .map(|(_, _, tick)| tick.saturating_mul(u64::from(TICK_NANOS)));
        let soon = self.soon.peek().map(|Reverse((deadline, ..))| *deadline);
        match (wheel, soon) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes every timer due at `now` into `out`. When any of them
    /// `needs_order`, all come ordered by exact deadline, then by the order
    /// they were scheduled; otherwise in filing order (the order they were
    /// scheduled, tick by tick), which saves the sort (and, while no pending
    /// timer needs order, recording the sort keys at all).
    pub(crate) fn expire(&mut self, now: u64, out: &mut Vec<A>) {
        self.file_staged();
        let start = out.len();
        let ordered_before = self.ordered_pending;
        let mut batch = std::mem::take(&mut self.batch);
        self.expire_into(now, (ordered_before > 0).then_some(&mut batch), out);
        let ordered_fired = ordered_before - self.ordered_pending;
        if out.len() - start > 1
            && ordered_fired > 0
            && !batch.is_sorted_by_key(|&(deadline, seq, _)| (deadline, seq))
        {
            self.sort(&mut batch);
            let mut unordered: Vec<Option<A>> = out.drain(start..).map(Some).collect();
            out.extend(batch.iter().map(|&(_, _, i)| {
                unordered[i as usize - start]
                    .take()
                    .expect("each action once")
            }));
        }
        batch.clear();
        self.batch = batch;
        self.recompute_check();
    }

    /// After an expiry: the earliest tick at which the next one may have
    /// work. The wheel's next step is taken a tick early (the tick under
    /// way moves to the exact-deadline heap); the heap's entries count
    /// from the tick their deadline falls in.
    fn recompute_check(&mut self) {
        self.check_ns = u64::MAX;
        if self.entries.is_empty() {
            return;
        }
        let wheel = if self.due.is_empty() {
            self.next_tick().map(|(_, _, tick)| tick.saturating_sub(1))
        } else {
            Some(0)
        };
        let soon = self
            .soon
            .peek()
            .map(|Reverse((deadline, ..))| deadline / u64::from(TICK_NANOS));
        if let Some(tick) = wheel.into_iter().chain(soon).min() {
            self.lower_check(tick);
        }
    }

    /// Orders `batch` by (deadline, sequence number). Keys are unique (the
    /// sequence number breaks ties), so an unstable sort gives the one
    /// order. Usually each entry packs into one `u128` (deadline, sequence
    /// number relative to the batch's first, index): one comparison of
    /// plain words each.
    fn sort(&mut self, batch: &mut [(u64, u64, u32)]) {
        let first = batch.iter().map(|e| e.1).min().unwrap_or(0);
        let last = batch.iter().map(|e| e.1).max().unwrap_or(0);
        if last - first >= 1 << 32 {
            batch.sort_unstable_by_key(|&(deadline, seq, _)| (deadline, seq));
            return;
        }
        let packed = &mut self.packed;
        packed.clear();
        packed.extend(batch.iter().map(|&(deadline, seq, index)| {
            (u128::from(deadline) << 64) | (u128::from(seq - first) << 32) | u128::from(index)
        }));
        packed.sort_unstable();
        for (slot, key) in batch.iter_mut().zip(packed.iter()) {
            *slot = (
                (key >> 64) as u64,
                first + ((key >> 32) as u64 & 0xffff_ffff),
                *key as u32,
            );
        }
    }

    /// Moves one entry's action to `actions`, and its sort key (with the
    /// action's place there) to `keys` when they are recorded.
    fn take(
        &mut self,
        index: usize,
        keys: &mut Option<&mut Vec<(u64, u64, u32)>>,
        actions: &mut Vec<A>,
    ) {
        let entry = self.entries.remove(index);
        self.ordered_pending -= usize::from(entry.ordered);
        actions.push(entry.action);
        if let Some(keys) = keys {
            keys.push((entry.deadline, entry.seq, (actions.len() - 1) as u32));
        }
    }

    fn expire_into(
        &mut self,
        now_nanos: u64,
        mut keys: Option<&mut Vec<(u64, u64, u32)>>,
        actions: &mut Vec<A>,
    ) {
        // The last tick that has fully passed.
        let now_tick = now_nanos / u64::from(TICK_NANOS);
        loop {
            for key in std::mem::take(&mut self.due) {
                if self.contains(key) {
                    self.take(key.slot, &mut keys, actions);
                }
            }
            while let Some(&Reverse((deadline, seq, index))) = self.soon.peek() {
                if deadline > now_nanos {
                    break;
                }
                self.soon.pop();
                if self.contains(TimerKey { slot: index, seq }) {
                    self.take(index, &mut keys, actions);
                }
            }
            let Some((level, slot, tick)) = self.next_tick() else {
                self.elapsed = self.elapsed.max(now_tick);
                return;
            };
            // Ticks up to `now_tick` have ended; the next one is under way.
            if tick > now_tick + 1 {
                self.elapsed = self.elapsed.max(now_tick);
                return;
            }
            self.elapsed = tick;
            // Take the whole slot; level 0 fires, higher levels re-file.
            let mut index = self.heads[level][slot];
            self.heads[level][slot] = NIL;
            self.tails[level][slot] = NIL;
            self.occupied[level] &= !(1 << slot);
            while index != NIL {
                let next = self.entries[index].next;
                if level == 0 || self.entries[index].tick <= self.elapsed {
                    let entry = &mut self.entries[index];
                    if entry.deadline <= now_nanos {
                        self.take(index, &mut keys, actions);
                    } else {
                        entry.level = DUE;
                        self.soon.push(Reverse((entry.deadline, entry.seq, index)));
                    }
                } else {
                    self.file(index);
                }
                index = next;
            }
        }
    }
}

/// The level whose slots separate `elapsed` from `tick`: the highest 6-bit
/// digit in which they differ.
fn level_for(elapsed: u64, tick: u64) -> usize {
    let masked = (elapsed ^ tick) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros() as usize;
    (significant / SLOT_BITS as usize).min(LEVELS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The action in these tests: a label.
    type Timers = super::Timers<u32>;

    fn ns(d: Duration) -> u64 {
        d.as_nanos() as u64
    }

    impl TimerOrder for u32 {
        fn needs_order(&self) -> bool {
            true
        }
    }

    #[test]
    fn fires_each_timer_once_never_early_across_levels() {
        let mut timers = Timers::new();
        // Deadlines spread over every level, including sub-millisecond ones.
        let deadlines: Vec<Duration> = [
            0u64, 1, 2, 63, 64, 65, 4095, 4096, 4097, 262_143, 262_144, 300_000, 20_000_000,
        ]
        .iter()
        .flat_map(|&ms| {
            [
                Duration::from_millis(ms),
                Duration::from_millis(ms) + Duration::from_micros(300),
            ]
        })
        .collect();
        let keys: Vec<(TimerKey, Duration)> = deadlines
            .iter()
            .map(|&d| (timers.insert(ns(d), 0), d))
            .collect();
        let mut now = Duration::ZERO;
        let mut fired = 0;
        let end = Duration::from_secs(20_001);
        while now <= end {
            let mut out = Vec::new();
            timers.expire(ns(now), &mut out);
            fired += out.len();
            for (key, deadline) in &keys {
                if timers.contains(*key) {
                    assert!(
                        now < *deadline + Duration::from_millis(1),
                        "late: {deadline:?} still pending at {now:?}"
                    );
                } else {
                    assert!(*deadline <= now, "fired early: {deadline:?} at {now:?}");
                }
            }
            // Jump to the next interesting instant, as the loop would.
            now = match timers.next_deadline() {
                Some(next) => Duration::from_nanos(next).max(now + Duration::from_micros(1)),
                None => break,
            };
        }
        assert_eq!(fired, deadlines.len());
    }

    #[test]
    fn staged_timers_fire_on_time_when_the_loop_expires_only_when_due() {
        // The loop calls `expire` only when `may_be_due`: timers waiting
        // staged (not yet in the wheel) must still make it due in time.
        let mut timers = Timers::new();
        let keys: Vec<(TimerKey, u64)> = [70u64, 65, 130, 4_100, 5_000, 64, 200]
            .iter()
            .enumerate()
            .map(|(i, &ms)| {
                let at = ns(Duration::from_millis(ms) + Duration::from_micros(500));
                (timers.insert(at, i as u32), ms * 1000 + 500)
            })
            .collect();
        let cancelled = timers.insert(ns(Duration::from_secs(3)), 99);
        assert!(
            timers.occupied.iter().all(|&slots| slots == 0),
            "timers beyond level 0 wait staged"
        );
        assert_eq!(timers.cancel(cancelled), Some(99));
        let mut fired = vec![None; keys.len()];
        for step in 0..=60_000u64 {
            let micros = step * 100;
            let now = ns(Duration::from_micros(micros));
            if timers.may_be_due(now) {
                let mut out = Vec::new();
                timers.expire(now, &mut out);
                for label in out {
                    fired[label as usize] = Some(micros);
                }
            }
        }
        for (i, (key, deadline)) in keys.iter().enumerate() {
            let at = fired[i].unwrap_or_else(|| panic!("timer {i} never fired"));
            assert!(
                *deadline <= at && at < deadline + 1_100,
                "deadline {deadline} µs, fired at {at} µs"
            );
            assert!(!timers.contains(*key));
        }
        assert!(timers.staged.is_empty() && timers.is_empty());
    }

    #[test]
    fn deadlines_beyond_the_wheel_range_fire_on_time() {
        let mut timers = Timers::new();
        let day = Duration::from_secs(86_400);
        // 64^6 ms is about 795 days: these wait in the top level and are
        // re-filed as it turns (the far one shares a top-level slot pattern
        // with the farther one's earlier turns).
        let far = timers.insert(ns(day * 3000), 0);
        let farther = timers.insert(ns(day * 9000), 0);
        let mut out = Vec::new();
        timers.expire(ns(day * 2999), &mut out);
        assert!(out.is_empty() && timers.contains(far));
        timers.expire(ns(day * 3000), &mut out);
        assert_eq!(out.len(), 1);
        assert!(!timers.contains(far) && timers.contains(farther));
        let next = timers.next_deadline().unwrap();
        assert!(
            next <= ns(day * 9000),
            "the wheel wakes no later than the deadline"
        );
        timers.expire(ns(day * 9000), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn cancel_and_same_tick_order() {
        let mut timers = Timers::new();
        let calls: Vec<TimerKey> = (0..5)
            .map(|_| timers.insert(ns(Duration::from_millis(10)), 0))
            .collect();
        assert!(timers.cancel(calls[2]).is_some());
        assert!(timers.cancel(calls[2]).is_none(), "cancel twice");
        let far = timers.insert(ns(Duration::from_secs(3600)), 0);
        assert!(timers.cancel(far).is_some());
        assert_eq!(timers.next_deadline(), Some(ns(Duration::from_millis(10))));
        let mut out = Vec::new();
        timers.expire(ns(Duration::from_millis(9)), &mut out);
        assert!(out.is_empty());
        timers.expire(ns(Duration::from_millis(10)), &mut out);
        assert_eq!(out.len(), 4);
        assert_eq!(timers.next_deadline(), None);
    }

    /// A deadline inside the current millisecond fires at the first
    /// expiry at or after it, not at the end of the tick; never before.
    #[test]
    fn a_deadline_inside_the_current_tick_fires_at_its_exact_time() {
        let mut timers = Timers::new();
        let at = |us: u64| us * 1_000;
        let mut out = Vec::new();
        timers.expire(at(5_100), &mut out);
        timers.insert(at(5_300), 1);
        timers.insert(at(5_200), 2);
        timers.insert(at(5_100), 3); // already due
        timers.expire(at(5_199), &mut out);
        assert_eq!(out, [3]);
        assert_eq!(timers.next_deadline(), Some(at(5_200)));
        timers.expire(at(5_250), &mut out);
        assert_eq!(out, [3, 2]);
        // Filed while the tick is under way: due at its exact deadline too.
        timers.insert(at(5_260), 4);
        let late = timers.insert(at(5_270), 5);
        assert!(timers.cancel(late).is_some());
        timers.expire(at(5_280), &mut out);
        assert_eq!(out, [3, 2, 4]);
        timers.expire(at(5_999), &mut out);
        timers.expire(at(6_000), &mut out);
        assert_eq!(out, [3, 2, 4, 1]);
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn timers_due_together_fire_by_exact_deadline_then_fifo() {
        let mut timers = Timers::new();
        let at = |us: u64| us * 1_000;
        // All within one tick, scheduled out of deadline order, with a tie.
        timers.insert(at(10_700), 1);
        timers.insert(at(10_200), 2);
        timers.insert(at(10_700), 3);
        timers.insert(at(10_000), 4);
        // One in the past (the due list) and one cascaded from a higher
        // level: both still take their place by deadline.
        let mut out = Vec::new();
        timers.expire(at(5_000), &mut out);
        timers.insert(at(4_000), 5);
        timers.insert(at(10_100), 6);
        timers.expire(at(11_000), &mut out);
        assert_eq!(out, [5, 4, 6, 2, 1, 3]);
    }
}
