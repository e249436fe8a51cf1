"""Session- and user-parallel mini-batches: every pair once, refills, resets, the reference's stop."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data.session_log import SessionLog
from engine.training.batching import SessionParallelBatcher, UserParallelBatcher


def build_log(sessions_per_user: list[list[int]], starts: list[float] | None = None) -> SessionLog:
    """Users with sessions of the given lengths; items are the event indices (so pairs are visible)."""
    user, session, time = [], [], []
    sid = 0
    for u, lengths in enumerate(sessions_per_user):
        for length in lengths:
            t0 = starts[sid] if starts else 1000.0 * sid
            user += [u] * length
            session += [sid] * length
            time += [t0 + k for k in range(length)]
            sid += 1
    n = len(user)
    return SessionLog.from_arrays(np.array(user), np.array(session), np.arange(n), np.array(time),
                                  len(sessions_per_user), n)


def random_log(seed: int) -> SessionLog:
    rng = np.random.default_rng(seed)
    return build_log([list(rng.integers(1, 6, size=rng.integers(1, 5))) for _ in range(13)])


def expected_pairs(log: SessionLog, across_sessions: bool) -> np.ndarray:
    nxt_same = log.user[1:] == log.user[:-1]
    if not across_sessions:
        nxt_same &= log.session[1:] == log.session[:-1]
    return np.flatnonzero(nxt_same)


@pytest.mark.parametrize("batcher,across", [
    (UserParallelBatcher(3), False),
    (UserParallelBatcher(4, concatenate_sessions=True), True),
    (SessionParallelBatcher(3), False),
    (SessionParallelBatcher(5, order="shuffle"), False),
])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shrinking_batch_trains_every_pair_exactly_once(batcher, across: bool, seed: int) -> None:
    log = random_log(seed)
    sched = batcher.schedule(log, np.random.default_rng(seed))
    seen = np.sort(sched.pair_input[sched.active])
    assert np.array_equal(seen, expected_pairs(log, across))


def test_user_streams_stay_in_one_slot_in_time_order_with_flags() -> None:
    log = random_log(4)
    sched = UserParallelBatcher(3, order="random").schedule(log, np.random.default_rng(7))
    first_of_session = set(log.session_offsets[:-1].tolist())
    for b in range(3):
        col = sched.pair_input[:, b]
        steps = np.flatnonzero(col >= 0)
        events = col[steps]
        users = log.user[events]
        # a user's pairs are consecutive in the slot, in log order, and the stream flag marks the switch
        for k in range(len(events)):
            new_user = k == 0 or users[k] != users[k - 1]
            assert sched.stream_start[steps[k], b] == new_user
            if not new_user:
                assert events[k] > events[k - 1]
            assert sched.session_start[steps[k], b] == (new_user or int(events[k]) in first_of_session)
        assert len(set(users.tolist())) == len([u for i, u in enumerate(users) if i == 0 or u != users[i - 1]])


def test_slot_that_frees_first_takes_the_next_user() -> None:
    # pairs per user: u0 3, u1 1, u2 2; fixed order, two slots
    log = build_log([[4], [2], [3]])
    sched = UserParallelBatcher(2, order="fixed").schedule(log, np.random.default_rng(0))
    # u0 events 0..3 (pairs 0,1,2), u1 events 4,5 (pair 4), u2 events 6,7,8 (pairs 6,7)
    assert sched.pair_input.tolist() == [[0, 4], [1, 6], [2, 7]]
    assert sched.stream_start.tolist() == [[True, True], [False, True], [False, False]]


def test_shrink_keeps_the_tail_with_idle_slots() -> None:
    log = build_log([[5], [2], [2]])  # pairs: 4, 1, 1
    sched = UserParallelBatcher(2, order="fixed").schedule(log, np.random.default_rng(0))
    assert sched.pair_input.tolist() == [[0, 5], [1, 7], [2, -1], [3, -1]]


def test_stop_at_first_exhausted_drops_what_the_reference_drops() -> None:
    # the reference ends the epoch once slot 1 finishes u2 and no user is left to refill it:
    # u0's last two pairs (events 2 and 3) are never trained on
    log = build_log([[5], [2], [2]])
    sched = UserParallelBatcher(2, order="fixed", batch_end="stop_at_first_exhausted").schedule(
        log, np.random.default_rng(0))
    assert sched.pair_input.tolist() == [[0, 5], [1, 7]]


def test_sessions_are_taken_by_start_time() -> None:
    # three sessions of user 0 and one of user 1; session 3 starts first, then 1, 0, 2
    log = build_log([[2, 2, 2], [2]], starts=[30.0, 20.0, 40.0, 10.0])
    sched = SessionParallelBatcher(1).schedule(log, np.random.default_rng(0))
    assert sched.pair_input[:, 0].tolist() == [6, 2, 0, 4]
    assert sched.stream_start[:, 0].all()


def test_random_user_order_depends_only_on_the_seed() -> None:
    log = random_log(5)
    a = UserParallelBatcher(3).schedule(log, np.random.default_rng(11))
    b = UserParallelBatcher(3).schedule(log, np.random.default_rng(11))
    c = UserParallelBatcher(3).schedule(log, np.random.default_rng(12))
    assert np.array_equal(a.pair_input, b.pair_input)
    assert not np.array_equal(a.pair_input, c.pair_input)
