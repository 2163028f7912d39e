"""ironbound.states: invariants of the one provision state table."""

from __future__ import annotations

from collections import deque

import pytest

from ironbound import states
from ironbound.api import microversions as mv
from ironbound.jobspec import JobKind

#: Every state name a client may see, character for character (gophercloud's constants).
CLIENT_STATES = {
    "enroll",
    "verifying",
    "manageable",
    "available",
    "active",
    "deploy failed",
    "clean failed",
    "inspect failed",
    "adopt failed",
    "error",
    "wait call-back",
    "deploying",
    "deleting",
    "cleaning",
    "inspecting",
    "inspect wait",
    "adopting",
}
BUSY_IN_TABLE = {t.busy for t in states.TRANSITIONS.values() if t.busy is not None}
KNOWN = states.STABLE_STATES | set(states.FAILURE) | {states.INSPECTWAIT}


def test_state_names_are_ironics() -> None:
    assert KNOWN <= CLIENT_STATES


def test_every_busy_state_has_a_failure_state() -> None:
    assert set(states.FAILURE) >= BUSY_IN_TABLE


def test_every_failure_state_is_stable() -> None:
    assert set(states.FAILURE.values()) <= states.STABLE_STATES


def test_busy_states_are_not_stable() -> None:
    assert not (set(states.FAILURE) & states.STABLE_STATES)
    assert set(states.FAILURE) - {states.DEPLOYWAIT} == states.BUSY_STATES


def test_every_verbs_target_is_a_stable_state() -> None:
    for (verb, source), transition in states.TRANSITIONS.items():
        assert transition.target in states.STABLE_STATES, (verb, source)


def test_every_source_is_a_state_a_node_can_rest_in() -> None:
    for (verb, source), transition in states.TRANSITIONS.items():
        if transition.calls_off:  # from the busy state whose flow the verb stops
            assert source in states.BUSY_STATES and transition.target == states.FAILURE[source]
            continue
        assert source in states.STABLE_STATES | {states.DEPLOYWAIT}, (verb, source)


def test_pure_state_changes_have_no_busy_state_and_work_has_one() -> None:
    for key, transition in states.TRANSITIONS.items():
        if transition.busy is not None:
            assert transition.job is not None, key
        if transition.job is None:
            assert transition.busy is None, key


def test_verbs_are_the_verbs_of_the_rows() -> None:
    assert {verb for verb, _ in states.TRANSITIONS} | set(states.UNSUPPORTED) == states.VERBS
    assert not {verb for verb, _ in states.TRANSITIONS} & set(states.UNSUPPORTED)
    assert {
        "manage",
        "provide",
        "inspect",
        "clean",
        "adopt",
        "active",
        "rebuild",
        "deleted",
        "abort",
        "rescue",
        "unrescue",
    } == states.VERBS


@pytest.mark.parametrize(
    ("verb", "minor"),
    [
        ("manage", mv.MANAGE_PROVIDE),
        ("provide", mv.MANAGE_PROVIDE),
        ("inspect", mv.INSPECT),
        ("clean", mv.MANUAL_CLEAN),
        ("adopt", mv.ADOPT),
        ("abort", mv.ABORT),
        ("active", 1),
        ("rebuild", 1),
        ("deleted", 1),
        ("rescue", mv.RESCUE),
        ("unrescue", mv.RESCUE),
    ],
)
def test_each_verb_has_one_version_matching_the_api(verb: str, minor: int) -> None:
    versions = {t.min_version for (v, _), t in states.TRANSITIONS.items() if v == verb}
    assert versions <= {minor}
    assert states.first_version(verb) == minor


def test_transition_for() -> None:
    deploy = states.transition_for("active", states.AVAILABLE)
    assert deploy == states.Transition(states.DEPLOYING, states.ACTIVE, JobKind.DEPLOY, 1)
    assert states.transition_for("active", states.ENROLL) is None
    assert states.transition_for("bogus", states.AVAILABLE) is None


def test_failed_states_have_a_way_out() -> None:
    for state in set(states.FAILURE.values()):
        assert any(source == state for _, source in states.TRANSITIONS), state


def test_deploy_failed_and_error_rules() -> None:
    # As Ironic: redeploy, rebuild or undeploy a failed deploy; only undeploy from error.
    assert {v for v, s in states.TRANSITIONS if s == states.DEPLOYFAIL} == {
        "active",
        "rebuild",
        "deleted",
    }
    assert {v for v, s in states.TRANSITIONS if s == states.ERROR} == {"deleted"}


def _reachable(start: str) -> set[str]:
    seen, todo = {start}, deque([start])
    while todo:
        state = todo.popleft()
        for (_, source), transition in states.TRANSITIONS.items():
            if source != state:
                continue
            nexts = {transition.target}
            if transition.busy is not None:
                nexts |= {transition.busy, states.FAILURE[transition.busy]}
            for following in nexts - seen:
                seen.add(following)
                todo.append(following)
        if state in states.FAILURE and states.FAILURE[state] not in seen:
            seen.add(states.FAILURE[state])
            todo.append(states.FAILURE[state])
    return seen


def test_every_stable_state_is_reachable_from_enroll() -> None:
    reachable = _reachable(states.ENROLL)
    assert reachable >= states.STABLE_STATES
    # "wait call-back" is entered by the deploy flow, not the table: it must still
    # fail somewhere and have a way out.
    assert states.DEPLOYWAIT not in reachable
    assert states.FAILURE[states.DEPLOYWAIT] == states.DEPLOYFAIL
    assert {v for v, s in states.TRANSITIONS if s == states.DEPLOYWAIT} == {"abort", "deleted"}


def test_delete_and_volume_rules_name_known_states() -> None:
    assert set(states.DELETE_ALLOWED_STATES) <= states.STABLE_STATES
    assert set(states.VOLUME_DELETE_ALLOWED_STATES) <= states.STABLE_STATES
    assert set(states.STORAGE_UPDATE_ALLOWED_STATES) <= KNOWN
    assert states.ACTIVE not in states.DELETE_ALLOWED_STATES
    assert states.ACTIVE not in states.STORAGE_UPDATE_ALLOWED_STATES
    assert {states.DEPLOYING, states.DEPLOYWAIT, states.ACTIVE} == states.BOOTABLE_STATES


def test_power_targets() -> None:
    assert states.POWER_TARGETS == {
        "power on": 1,
        "power off": 1,
        "rebooting": 1,
        "soft power off": mv.SOFT_POWER,
        "soft rebooting": mv.SOFT_POWER,
    }
    assert set(states.POWER_TARGET_AFTER_ACTION.values()) <= {states.POWER_ON, states.POWER_OFF}
    for action in states.POWER_TARGETS:
        shown = states.POWER_TARGET_AFTER_ACTION.get(action, action)
        assert shown in (states.POWER_ON, states.POWER_OFF), action
