"""Retry policies and their delays (conveyor.retry)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import ConfigurationError
from conveyor.retry import MAX_DELAY, Retry, coerce_retry

ACCEPTED_DURATIONS = (
    'accepted: a number of seconds, a timedelta, or text like "90 seconds", "1.5 hours", '
    '"7 days", "2 weeks", "1 month", "30s", "5m", "1h", "1 day 2 hours"'
)

backoffs = st.sampled_from(["fixed", "exponential", "linear"])
waits = st.floats(min_value=0, max_value=1e6, allow_nan=False)
max_waits = st.none() | st.floats(min_value=0, max_value=1e7, allow_nan=False)
retry_numbers = st.integers(min_value=1, max_value=10_000)


# -- construction ---------------------------------------------------------------------


def test_retry_defaults_to_no_retries() -> None:
    policy = Retry()
    assert (policy.retries, policy.wait, policy.backoff, policy.max_wait, policy.jitter) == (
        0,
        0.0,
        "fixed",
        None,
        False,
    )
    assert policy.max_attempts == 1


def test_retry_max_attempts_is_retries_plus_one() -> None:
    assert Retry(retries=5).max_attempts == 6


@pytest.mark.parametrize("wait", [60, 60.0, timedelta(minutes=1), "1 minute", "60s"])
def test_retry_wait_is_normalised_to_float_seconds(wait: Any) -> None:
    policy = Retry(retries=1, wait=wait)
    assert policy.wait == 60.0
    assert isinstance(policy.wait, float)
    assert policy.wait_seconds == 60.0


@pytest.mark.parametrize("max_wait", [3600, timedelta(hours=1), "1 hour"])
def test_retry_max_wait_is_normalised_to_float_seconds(max_wait: Any) -> None:
    policy = Retry(max_wait=max_wait)
    assert policy.max_wait == 3600.0
    assert policy.max_wait_seconds == 3600.0


def test_retry_policies_with_equal_settings_are_equal_and_hashable() -> None:
    assert Retry(retries=2, wait="1 minute") == Retry(retries=2, wait=60)
    assert hash(Retry(retries=2, wait="1 minute")) == hash(Retry(retries=2, wait=60))


def test_retry_is_frozen() -> None:
    policy = Retry()
    with pytest.raises(AttributeError):
        policy.retries = 3  # type: ignore[misc]


@pytest.mark.parametrize(("retries", "shown"), [(True, "bool True"), (1.5, "float 1.5")])
def test_retry_refuses_non_int_retries(retries: Any, shown: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry(retries=retries)
    assert str(info.value) == f"Retry retries must be a whole number >= 0, got {shown}"


def test_retry_refuses_negative_retries() -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry(retries=-1)
    assert str(info.value) == "Retry retries must be a whole number >= 0, got -1"


def test_retry_unknown_backoff_error_lists_backoffs() -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry(backoff="expo")  # type: ignore[arg-type]
    assert str(info.value) == ("unknown Retry backoff 'expo'; accepted: fixed, exponential, linear")


def test_retry_refuses_non_bool_jitter() -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry(jitter=1)  # type: ignore[arg-type]
    assert str(info.value) == "Retry jitter must be True or False, got int 1"


def test_retry_refuses_bad_wait_text() -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry(wait="soon")
    assert str(info.value) == f'Retry wait: cannot read duration "soon"; {ACCEPTED_DURATIONS}'


def test_retry_refuses_none_wait() -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry(wait=None)  # type: ignore[arg-type]
    assert str(info.value) == (
        'Retry wait must be seconds, a timedelta or text like "1 minute", got None'
    )


def test_retry_refuses_negative_max_wait() -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry(max_wait=-1)
    assert str(info.value) == (
        "Retry max_wait: duration must be a finite number of seconds >= 0, got -1; "
        f"{ACCEPTED_DURATIONS}"
    )


def test_retry_configuration_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        Retry(retries=-1)


# -- delay ----------------------------------------------------------------------------


def test_delay_fixed_waits_the_same_every_time() -> None:
    policy = Retry(retries=3, wait=10)
    assert [policy.delay(k) for k in (1, 2, 3)] == [10, 10, 10]


def test_delay_linear_waits_wait_times_k() -> None:
    policy = Retry(retries=3, wait=10, backoff="linear")
    assert [policy.delay(k) for k in (1, 2, 3)] == [10, 20, 30]


def test_delay_exponential_doubles_from_wait() -> None:
    policy = Retry(retries=4, wait=60, backoff="exponential")
    assert [policy.delay(k) for k in (1, 2, 3, 4)] == [60, 120, 240, 480]


def test_delay_is_capped_by_max_wait() -> None:
    policy = Retry(retries=10, wait=60, backoff="exponential", max_wait="5 minutes")
    assert [policy.delay(k) for k in range(1, 6)] == [60, 120, 240, 300, 300]


def test_delay_of_zero_wait_is_zero() -> None:
    assert Retry(wait=0, backoff="exponential").delay(10**9) == 0


def test_delay_does_not_overflow_for_huge_k() -> None:
    assert Retry(wait=1, backoff="exponential", max_wait=60).delay(10**9) == 60
    assert Retry(wait=1, backoff="linear", max_wait=60).delay(10**400) == 60


def test_delay_without_max_wait_stops_at_max_delay() -> None:
    assert Retry(wait=1, backoff="exponential").delay(10**6) == MAX_DELAY
    assert Retry(wait="200 years").delay(1) == MAX_DELAY


def test_delay_jitter_uses_the_given_rng() -> None:
    policy = Retry(wait=100, jitter=True)
    assert policy.delay(1, random.Random(7)) == policy.delay(1, random.Random(7))
    assert 75 <= policy.delay(1) <= 125


def test_delay_jitter_applies_after_the_cap() -> None:
    policy = Retry(wait=1000, max_wait=100, jitter=True)
    delays = {policy.delay(1, random.Random(seed)) for seed in range(50)}
    assert all(75 <= d <= 125 for d in delays)
    assert max(delays) > 100


@pytest.mark.parametrize("k", [0, -1, True, 1.0])
def test_delay_refuses_k_below_one_or_not_int(k: Any) -> None:
    with pytest.raises(ValueError) as info:
        Retry(wait=1).delay(k)
    assert str(info.value) == f"retry number k must be an int >= 1, got {k!r}"


@given(wait=waits, backoff=backoffs, max_wait=max_waits, k=retry_numbers)
def test_delay_is_monotone_non_decreasing_without_jitter(
    wait: float, backoff: Any, max_wait: float | None, k: int
) -> None:
    policy = Retry(wait=wait, backoff=backoff, max_wait=max_wait)
    assert policy.delay(k) <= policy.delay(k + 1)


@given(wait=waits, backoff=backoffs, max_wait=st.floats(0, 1e7, allow_nan=False), k=retry_numbers)
def test_delay_never_exceeds_max_wait_without_jitter(
    wait: float, backoff: Any, max_wait: float, k: int
) -> None:
    assert 0 <= Retry(wait=wait, backoff=backoff, max_wait=max_wait).delay(k) <= max_wait


@given(
    wait=waits,
    backoff=backoffs,
    max_wait=max_waits,
    k=retry_numbers,
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_delay_jitter_stays_within_25_percent(
    wait: float, backoff: Any, max_wait: float | None, k: int, seed: int
) -> None:
    plain = Retry(wait=wait, backoff=backoff, max_wait=max_wait).delay(k)
    jittered = Retry(wait=wait, backoff=backoff, max_wait=max_wait, jitter=True).delay(
        k, random.Random(seed)
    )
    assert 0.75 * plain <= jittered <= 1.25 * plain
    assert jittered >= 0


@given(wait=waits, backoff=backoffs, k=st.integers(min_value=1, max_value=60))
def test_delay_follows_the_backoff_formula(wait: float, backoff: Any, k: int) -> None:
    expected = {"fixed": wait, "linear": wait * k, "exponential": wait * 2 ** (k - 1)}[backoff]
    assert Retry(wait=wait, backoff=backoff).delay(k) == pytest.approx(min(expected, MAX_DELAY))


# -- JSON -----------------------------------------------------------------------------


def test_to_json_gives_seconds_and_every_field() -> None:
    policy = Retry(retries=3, wait="1 minute", backoff="linear", max_wait="1 hour", jitter=True)
    assert policy.to_json() == {
        "retries": 3,
        "wait": 60.0,
        "backoff": "linear",
        "max_wait": 3600.0,
        "jitter": True,
    }


@given(
    retries=st.integers(min_value=0, max_value=1000),
    wait=waits,
    backoff=backoffs,
    max_wait=max_waits,
    jitter=st.booleans(),
)
def test_to_json_round_trips_through_from_json(
    retries: int, wait: float, backoff: Any, max_wait: float | None, jitter: bool
) -> None:
    policy = Retry(retries=retries, wait=wait, backoff=backoff, max_wait=max_wait, jitter=jitter)
    assert Retry.from_json(policy.to_json()) == policy


def test_from_json_refuses_unknown_keys() -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry.from_json({"retries": 1, "tries": 2})
    assert str(info.value) == (
        "unknown Retry option 'tries'; accepted: retries, wait, backoff, max_wait, jitter"
    )


def test_from_json_refuses_non_dicts() -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry.from_json([1])  # type: ignore[arg-type]
    assert str(info.value) == (
        "Retry must be a dict with keys retries, wait, backoff, max_wait, jitter, got list"
    )


# -- Reaction style -------------------------------------------------------------------


def test_from_reaction_reads_wait_as_milliseconds() -> None:
    policy = Retry.from_reaction({"retries": 5, "wait": 60000, "backoff": "exponential"})
    assert policy == Retry(retries=5, wait=60, backoff="exponential")


def test_from_reaction_constant_backoff_is_fixed() -> None:
    assert Retry.from_reaction({"retries": 2, "wait": 500, "backoff": "constant"}).backoff == (
        "fixed"
    )


def test_from_reaction_defaults_match_reactions_job_queue() -> None:
    assert Retry.from_reaction({"retries": 1}) == Retry(retries=1, wait=300, backoff="fixed")


def test_from_reaction_accepts_whole_float_retries() -> None:
    assert Retry.from_reaction({"retries": 3.0, "wait": 1000}).retries == 3


def test_from_reaction_refuses_unknown_keys() -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry.from_reaction({"retries": 1, "until": "2027-01-01"})
    assert str(info.value) == (
        "unknown Reaction-style retry option 'until'; accepted: retries, wait, backoff"
    )


@pytest.mark.parametrize(("wait", "shown"), [("1 minute", "str '1 minute'"), (-1, "int -1")])
def test_from_reaction_refuses_non_millisecond_waits(wait: Any, shown: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry.from_reaction({"retries": 1, "wait": wait})
    assert str(info.value) == (
        f"Reaction-style retry wait is milliseconds (a number >= 0), got {shown}"
    )


def test_from_reaction_unknown_backoff_error_lists_backoffs() -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry.from_reaction({"retries": 1, "backoff": "random"})
    assert str(info.value) == (
        "unknown Reaction-style retry backoff 'random'; accepted: constant, fixed, "
        "exponential, linear"
    )


# -- coerce_retry ---------------------------------------------------------------------


def test_coerce_retry_passes_policies_and_none_through() -> None:
    policy = Retry(retries=2)
    assert coerce_retry(policy) is policy
    assert coerce_retry(None) is None


def test_coerce_retry_int_is_a_number_of_retries() -> None:
    assert coerce_retry(3) == Retry(retries=3)


def test_coerce_retry_dict_is_retry_options_in_seconds() -> None:
    assert coerce_retry({"retries": 5, "wait": 60, "backoff": "exponential"}) == Retry(
        retries=5, wait=60, backoff="exponential"
    )


def test_coerce_retry_dict_refuses_unknown_keys() -> None:
    with pytest.raises(ConfigurationError) as info:
        coerce_retry({"retries": 5, "delay": 60})
    assert str(info.value) == (
        "unknown Retry option 'delay'; accepted: retries, wait, backoff, max_wait, jitter"
    )


@pytest.mark.parametrize(("value", "shown"), [(True, "bool True"), ("5", "str '5'")])
def test_coerce_retry_refuses_other_values(value: Any, shown: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        coerce_retry(value)
    assert str(info.value) == (
        f"retry must be a Retry, an int (number of retries) or a dict of Retry options, got {shown}"
    )
