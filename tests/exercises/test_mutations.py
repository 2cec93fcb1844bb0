"""Real published bugs (tests/exercises/mutations.py), planted in the teachers' solutions of the checked
exercises: every check they apply to rejects every one of them — ✗, no traceback, no hang."""
from __future__ import annotations

import pytest
import torch

from d2l_exercises import core
from exercise_support import by_check, run_exercise
from mutations import CATALOGUE, Replace

PLANTED = [(mutation, name, patch) for mutation in CATALOGUE for name, patch in mutation.planted()]


@pytest.mark.parametrize("mutation, name, patch", PLANTED,
                         ids=[f"{m.id}-{name}-{i}" for i, (m, name, _) in enumerate(PLANTED)])
def test_a_published_bug_planted_in_the_solution_is_rejected(mutation, name, patch, monkeypatch):
    monkeypatch.setattr(core, "TIME_LIMIT_S", 3.0)
    exercises = by_check(name)
    if not exercises:
        pytest.skip(f"no chapter has the check `{name}` now")
    planted = [(checked, patch.apply(checked.scaffold)) for checked in exercises]
    planted = [(checked, source) for checked, source in planted if source is not None]
    assert planted, (f"{mutation.id}: the patch {patch} no longer applies to the solution of `{name}` "
                     f"({', '.join(c.path.name for c in exercises)}); update tests/exercises/mutations.py")
    for checked, source in planted:
        ok, printed = run_exercise(checked, source)
        assert ok is False, f"{mutation.id} ({mutation.source}) passes the check `{name}`:\n{printed}"
        assert printed.startswith(f"✗ {checked.exercise.title}"), printed
        assert "Traceback" not in printed
        assert torch.is_grad_enabled()


def test_every_entry_has_a_source_and_a_patch():
    ids = [m.id for m in CATALOGUE]
    assert len(ids) == len(set(ids))
    for mutation in CATALOGUE:
        assert mutation.bug and mutation.source and "http" in mutation.source, mutation.id
        assert list(mutation.planted()), mutation.id


def test_a_replace_patch_only_touches_the_solution():
    scaffold = "def f(x):\n    y = x + 1\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert Replace("x + 1", "x + 2").apply(scaffold) == scaffold.replace("return x + 1", "return x + 2")
    assert Replace("y = x + 1", "y = 0").apply(scaffold) is None   # given code, not the solution
