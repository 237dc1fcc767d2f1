"""The budget's counting rules on hand-made elections whose outcomes are worked out by hand:
greedy by votes, the Method of Equal Shares (they differ here), majority judgment, and the
Pabulib round trip (pabutools reads our file and finds the same winners)."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from app.budget.rules import (
    Item,
    equal_shares,
    equal_shares_completed,
    from_pabulib,
    greedy_by_judgment,
    greedy_by_votes,
    judge,
    majority_ranking,
    to_pabulib,
)

pytest.importorskip("pabutools")

# 12 voters, €12. A (€8) and C (€4) are approved by voters 1–7, B (€4) by voters 8–12.
ITEMS = [Item(1, 8, "A"), Item(2, 4, "B"), Item(3, 4, "C")]
BALLOTS = [frozenset({1, 3})] * 7 + [frozenset({2})] * 5
VOTES = {1: 7, 2: 5, 3: 7}


def won(decisions) -> set[int]:
    return {d.id for d in decisions if d.won}


def test_greedy_and_equal_shares_choose_differently_and_each_as_worked_out_by_hand():
    # greedy: A (7 votes, €8: left 12) wins, C (7, €4: left 4) wins, B (5, €4: left 0) loses
    decisions = greedy_by_votes(ITEMS, 12, VOTES)
    assert [(d.id, d.rank, d.votes, d.left_before, d.won) for d in decisions] == [
        (3, 1, 7, 12, True), (1, 2, 7, 8, True), (2, 3, 5, 0, False)]
    assert won(decisions) == {1, 3}
    # Equal Shares: each voter holds €1. A's 7 supporters hold €7 < €8: never affordable. C
    # costs its 7 supporters 4/7 each (4/7 per euro of satisfaction), B its 5 supporters 4/5
    # each: C first, then B (€4 of the 5 voters' €5). A still does not fit (€4 left). The
    # minority's project wins instead of the majority's second one.
    assert equal_shares(ITEMS, 12, BALLOTS) == {2, 3}


def test_greedy_passes_over_what_does_not_fit_and_keeps_going():
    items = [Item(1, 70), Item(2, 50), Item(3, 30), Item(4, 1)]
    decisions = greedy_by_votes(items, 100, {1: 90, 2: 80, 3: 70, 4: 10})
    assert [(d.id, d.left_before, d.won) for d in decisions] == [
        (1, 100, True), (2, 30, False), (3, 30, True), (4, 0, False)]


def test_equal_shares_with_no_ballot_chooses_nothing():
    assert equal_shares(ITEMS, 12, []) == set()


def test_the_majority_grade_is_the_lower_median_and_the_gauge_breaks_ties():
    # 4 grades (0 insufficient … 3 very good), as Paris in 2021
    assert judge(1, [1, 1, 1, 1]).grade == 1  # lower median of 0,1,2,3
    a = judge(1, [0, 2, 5, 3])  # grade 2; above 3/10, below 2/10: +3/10
    b = judge(2, [0, 4, 3, 3])  # grade 2 (positions 4, 5 of 10 are 2): above 3/10, below 4/10: −4/10
    c = judge(3, [3, 0, 3, 4])  # grade 2: above 4/10 > below 3/10: +4/10
    d = judge(4, [5, 0, 0, 5])  # lower median: grade 0; above 5/10
    assert (a.grade, a.sign, a.share) == (2, 1, Fraction(3, 10))
    assert (b.grade, b.sign, b.share) == (2, -1, Fraction(4, 10))
    assert (c.grade, c.sign, c.share) == (2, 1, Fraction(4, 10))
    assert (d.grade, d.sign) == (0, 1)
    ranking = majority_ranking({1: [0, 2, 5, 3], 2: [0, 4, 3, 3], 3: [3, 0, 3, 4], 4: [5, 0, 0, 5], 5: []})
    assert [j.id for j in ranking] == [3, 1, 2, 4, 5]


def test_majority_judgment_then_the_money():
    items = [Item(1, 60), Item(2, 50), Item(3, 40)]
    grades = {1: [0, 0, 1, 9], 2: [0, 0, 5, 5], 3: [0, 1, 9, 0]}
    decisions = greedy_by_judgment(items, 100, grades)
    assert [(d.id, d.left_before, d.won, d.votes) for d in decisions] == [
        (1, 100, True, 10), (2, 40, False, 10), (3, 40, True, 10)]


def test_the_pabulib_export_gives_pabutools_the_same_winners():
    from pabutools.election import Cost_Sat, Instance, Project
    from pabutools.election.pabulib import parse_pabulib_from_string
    from pabutools.rules import method_of_equal_shares

    rng = random.Random(7)
    items = [Item(i, rng.randint(10, 60) * 1000, f"Projet {i}") for i in range(1, 16)]
    weights = [rng.random() for _ in items]
    ballots = [frozenset(x.id for x in rng.choices(items, weights=weights, k=rng.randint(1, 4)))
               for _ in range(500)]
    budget = 150_000
    text = to_pabulib(items, budget, ballots, {"description": "Test", "instance": "2026", "subunit": "11e"})
    assert "PROJECTS" in text and "VOTES" in text and "num_votes;500" in text
    back_items, back_budget, back_ballots = from_pabulib(text)
    assert (back_items, back_budget) == ([Item(i.id, i.cost) for i in items], budget)
    assert sorted(map(sorted, back_ballots)) == sorted(map(sorted, ballots))
    # pabutools itself, on the parsed file, finds our Equal Shares winners…
    instance, profile = parse_pabulib_from_string(text)
    theirs = method_of_equal_shares(instance, profile, sat_class=Cost_Sat, voter_budget_increment=1)
    assert {int(p.name) for p in theirs} == equal_shares(items, budget, ballots)
    # …and the greedy winners follow from the file's own counts
    votes = {i.id: sum(i.id in b for b in back_ballots) for i in back_items}
    assert won(greedy_by_votes(back_items, back_budget, votes)) == won(greedy_by_votes(
        items, budget, {i.id: sum(i.id in b for b in ballots) for i in items}))
    assert isinstance(instance, Instance) and all(isinstance(p, Project) for p in instance)


def _random_election(seed: int, graded: bool = False):
    rng = random.Random(seed)
    items = [Item(i, rng.randint(5, 60) * 100) for i in range(1, rng.randint(4, 14))]
    weights = [rng.random() ** 3 for _ in items]
    if graded:
        ballots = [{x.id: rng.randint(0, 3) for x in rng.sample(items, rng.randint(1, len(items)))}
                   for _ in range(rng.randint(5, 200))]
    else:
        ballots = [frozenset(x.id for x in rng.choices(items, weights=weights, k=rng.randint(1, 4)))
                   for _ in range(rng.randint(5, 300))]
    return items, rng.randint(50, 400) * 100, ballots


def test_the_completion_by_bisection_is_pabutools_euro_by_euro_under_approval():
    """60 random approval elections: the doubling-then-bisection completion (about 30 MES runs
    at Paris scale instead of 11,845) chooses what pabutools' `voter_budget_increment=1` does."""
    from pabutools.election import Cost_Sat
    from pabutools.rules import method_of_equal_shares

    from app.budget import rules

    for seed in range(60):
        items, budget, ballots = _random_election(seed)
        instance, projects = rules._instance(items, budget)
        profile = rules._profile(instance, projects, ballots)
        theirs = method_of_equal_shares(instance, profile, sat_class=Cost_Sat, voter_budget_increment=1)
        assert equal_shares(items, budget, ballots) == {int(p.name) for p in theirs}, seed


def test_the_published_share_lets_pabutools_check_the_winners_in_one_run():
    """Under majority judgment (grades as utilities) the outcome is not always monotone in the
    share, so euro-by-euro and bisection may stop at different shares; the share we publish
    makes ours checkable: MES without completion on budget + added × voters."""
    from pabutools.election import Additive_Cardinal_Sat, Instance
    from pabutools.rules import method_of_equal_shares

    from app.budget import rules

    completed = 0
    for seed in range(40):
        items, budget, ballots = _random_election(seed, graded=True)
        ours, added = equal_shares_completed(items, budget, ballots)
        completed += added > 0
        instance, projects = rules._instance(items, budget)
        profile = rules._profile(instance, projects, ballots)
        widened = Instance(instance, budget_limit=budget + added * profile.num_ballots())
        assert {int(p.name) for p in method_of_equal_shares(widened, profile, sat_class=Additive_Cardinal_Sat)} \
            == ours, seed
        assert sum(i.cost for i in items if i.id in ours) <= budget
    assert completed >= 10  # the completion did something in many of them
