"""The participatory budget's counting rules, on plain values (no Flask, no database):
winners by the rule Paris and CONSUL use (greedy by votes while the money lasts), by the Method
of Equal Shares (pabutools), the majority-judgment ranking, and the Pabulib `.pb` format both
ways (pabutools' writer and parser). app.budget's services feed them the ballots of one
envelope at a time.

Money is in whole euros here (the ballots' instance), as Pabulib files carry it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

# ballots: sets of project ids (approval, knapsack) or {project id: grade} (majority judgment),
# one per voter or grouped as {frozen ballot: voters}
Ballots = Iterable[Iterable[int]] | Iterable[Mapping[int, int]] | Mapping[frozenset, int]


@dataclass(frozen=True)
class Item:
    """A project on the ballot of one envelope."""

    id: int
    cost: int  # euros
    name: str = ""


@dataclass(frozen=True)
class Decision:
    """Why a project won or lost under a greedy rule: its place in the order, its votes (or
    its majority grade), its cost and the money left when it was considered."""

    id: int
    rank: int
    votes: int
    cost: int
    left_before: int
    won: bool


def greedy_by_votes(items: Sequence[Item], budget: int, votes: Mapping[int, int]) -> list[Decision]:
    """Paris's and CONSUL's rule (`budget/result.rb`): most votes first; a project wins when its
    cost fits in what is left, and a project that does not fit is passed over (the next ones
    may still fit). Ties: the cheaper first, then the lower id (stated, so anyone can redo it)."""
    order = sorted(items, key=lambda i: (-votes.get(i.id, 0), i.cost, i.id))
    return _greedy(order, budget, lambda i: votes.get(i.id, 0))


def _greedy(order: Sequence[Item], budget: int, score) -> list[Decision]:
    left, out = budget, []
    for rank, item in enumerate(order, start=1):
        won = item.cost <= left
        out.append(Decision(item.id, rank, score(item), item.cost, left, won))
        if won:
            left -= item.cost
    return out


def _instance(items: Sequence[Item], budget: int):
    from pabutools.election import Instance, Project

    projects = {i.id: Project(str(i.id), i.cost) for i in items}
    return Instance(projects.values(), budget_limit=budget), projects


def _profile(instance, projects, ballots: Ballots):
    """Identical ballots grouped (pabutools' multiprofile): 200,000 ballots over 20 projects
    are ~15,000 distinct ones. `ballots`: sets of project ids, or (majority judgment) dicts
    {project id: grade}; or a mapping of such ballots (frozen) to how many voters cast them."""
    from pabutools.election import (
        ApprovalMultiProfile,
        CardinalMultiProfile,
        FrozenApprovalBallot,
        FrozenCardinalBallot,
    )

    groups = ballots.items() if isinstance(ballots, Mapping) else ((b, 1) for b in ballots)
    profile = None
    for ballot, n in groups:
        if profile is None:
            graded = isinstance(ballot, Mapping) or (ballot and isinstance(next(iter(ballot)), tuple))
            profile = (CardinalMultiProfile if graded else ApprovalMultiProfile)(instance=instance)
        if isinstance(profile, CardinalMultiProfile):
            pairs = ballot.items() if isinstance(ballot, Mapping) else ballot
            frozen = FrozenCardinalBallot({projects[p]: g for p, g in pairs if p in projects})
        else:
            frozen = FrozenApprovalBallot(projects[p] for p in ballot if p in projects)
        profile[frozen] += n
    return profile if profile is not None else ApprovalMultiProfile(instance=instance)


def equal_shares(items: Sequence[Item], budget: int, ballots: Ballots) -> set[int]:
    """The Method of Equal Shares' winners (`equal_shares_completed`)."""
    return equal_shares_completed(items, budget, ballots)[0]


def equal_shares_completed(items: Sequence[Item], budget: int, ballots: Ballots) -> tuple[set[int], int]:
    """The Method of Equal Shares (each voter's equal share of the budget buys the projects
    they support, the cheapest per unit of satisfaction first; pabutools' MES), completed as
    Wieliczka and Aarau do: each voter's share raised one euro at a time while the outcome
    still fits in the budget. Approval ballots count with cost satisfaction; graded ones with
    their grades as utilities (0 = the worst, as an ungraded project).

    pabutools' `voter_budget_increment=1` reruns MES for every euro: 11,845 runs (325 s) for
    Paris-wide at 200,000 ballots. The same completion is found here by doubling the number
    of euros added, then bisecting to the euro: the largest share b0 + k (k whole) whose
    outcome fits, stopping at an exhaustive outcome — about 30 runs. Where the outcome grows
    with the share (always, in the tests, under approval) it is the euro-by-euro one. Returns the
    winners and the euros k added to each voter's share, which the results publish: pabutools'
    MES without completion on a budget of `budget + k × voters` gives the same winners."""
    instance, projects = _instance(items, budget)
    profile = _profile(instance, projects, ballots)
    voters = profile.num_ballots()
    if voters == 0:
        return set(), 0
    run, supported = _mes_runner(instance, profile)
    cost = {i.id: i.cost for i in items}
    start = Fraction(budget, voters)
    seen: dict[int, frozenset[int]] = {}

    def outcome(k: int) -> frozenset[int]:
        if k not in seen:
            seen[k] = run(start + k)
        return seen[k]

    def fits(k: int) -> bool:
        return sum(cost[p] for p in outcome(k)) <= budget

    def exhaustive(k: int) -> bool:
        left = budget - sum(cost[p] for p in outcome(k))
        return all(p in outcome(k) or cost[p] > left for p in supported)  # as pabutools judges it

    if exhaustive(0):  # MES without completion spent what can be spent
        return set(outcome(0)), 0
    # doubling: the first k (1, 2, 4…) whose outcome no longer fits, or is exhaustive
    low, high = 0, 1
    while fits(high) and not exhaustive(high):
        low, high = high, high * 2
        if start + low > budget:  # each voter alone could buy everything: nothing more to add
            return set(outcome(low)), low
    if fits(high):  # exhaustive
        return set(outcome(high)), high
    while high - low > 1:  # bisection: low fits, high does not
        middle = (low + high) // 2
        if fits(middle):
            if exhaustive(middle):
                return set(outcome(middle)), middle
            low = middle
        else:
            high = middle
    return set(outcome(low)), low


def _mes_runner(instance, profile) -> tuple[Callable[[Fraction], frozenset[int]], set[int]]:
    """pabutools' MES at a given share per voter, its set-up done once: what
    `method_of_equal_shares_scheme` does before its completion loop (the voters, each
    project's supporters and affordability; 31,653 distinct ballots × 60 projects take ~1 s),
    then its inner algorithm once per share, as its own loop does (pabutools 1.2.3, pinned in
    scripts/install.sh). Lexicographic tie-breaking, pabutools' default. Also returns the
    projects someone supports (what "exhaustive" looks at, as in pabutools)."""
    from copy import copy

    from pabutools.election import (
        AbstractApprovalProfile,
        Additive_Cardinal_Sat,
        CardinalMultiProfile,
        Cost_Sat,
    )
    from pabutools.fractions import frac
    from pabutools.rules.budgetallocation import BudgetAllocation
    from pabutools.rules.mes.mes_rule import MESProject, MESVoter, mes_inner_algo
    from pabutools.tiebreaking import lexico_tie_breaking

    binary = isinstance(profile, AbstractApprovalProfile)
    sat_profile = profile.as_sat_profile(
        sat_class=Additive_Cardinal_Sat if isinstance(profile, CardinalMultiProfile) else Cost_Sat)
    voters = [MESVoter(i, sat.ballot, sat, 0, sat_profile.multiplicity(sat)) for i, sat in enumerate(sat_profile)]
    projects, free = set(), []
    for p in instance:
        mes_p, total = MESProject(p), 0
        for i, v in enumerate(voters):
            own = v.sat.sat_project(p)
            if own > 0:
                total += v.total_sat_project(p)
                mes_p.supporter_indices.append(i)
                if binary:
                    mes_p.unique_sat_supporter = own
                else:
                    mes_p.sat_supporter_map[v] = own
        if total > 0:
            if p.cost > 0:
                mes_p.total_sat = total
                mes_p.initial_affordability = mes_p.affordability = frac(p.cost, total)
                projects.add(mes_p)
            else:
                free.append(p)

    def run(share) -> frozenset[int]:
        for v in voters:
            v.budget = share
        for p in projects:
            p.affordability = p.initial_affordability
        allocations: list = []
        mes_inner_algo(instance, profile, voters, copy(projects), lexico_tie_breaking,
                       BudgetAllocation(list(free)), allocations, True)
        return frozenset(int(p.name) for p in allocations[0])

    return run, {int(p.name) for p in projects} | {int(p.name) for p in free}


# ---- majority judgment ----------------------------------------------------------------------

@dataclass(frozen=True)
class Judgment:
    """A project's majority grade (the lower median) and its majority gauge: the share of
    grades above it (sign +1) or below it (sign −1), whichever is larger (Balinski and Laraki;
    the tie-break Mieux Voter's tools use)."""

    id: int
    grade: int
    sign: int
    share: Fraction
    counts: tuple[int, ...]

    def key(self) -> tuple:
        # higher grade first; then, at the same grade, more above than below first, the larger
        # share above first, the smaller share below last
        return (-self.grade, -self.sign, -self.share if self.sign > 0 else self.share)


def judge(project_id: int, counts: Sequence[int]) -> Judgment:
    """`counts[g]`: how many voters gave grade g (0 = the worst). An ungraded project (no
    counts) sits below every graded one."""
    n = sum(counts)
    if n == 0:
        return Judgment(project_id, -1, -1, Fraction(1), tuple(counts))
    half, seen, grade = (n - 1) // 2, 0, 0  # the lower median's position
    for g, c in enumerate(counts):
        seen += c
        if seen > half:
            grade = g
            break
    above = Fraction(sum(counts[grade + 1:]), n)
    below = Fraction(sum(counts[:grade]), n)
    if above > below:
        return Judgment(project_id, grade, 1, above, tuple(counts))
    return Judgment(project_id, grade, -1, below, tuple(counts))


def majority_ranking(grades: Mapping[int, Sequence[int]]) -> list[Judgment]:
    """Projects best first by majority judgment; ties that the gauge cannot break go by id."""
    return sorted((judge(pid, counts) for pid, counts in grades.items()), key=lambda j: (j.key(), j.id))


def greedy_by_judgment(items: Sequence[Item], budget: int, grades: Mapping[int, Sequence[int]]) -> list[Decision]:
    """Majority-judgment ranking, then the money in that order (as Paris in 2021); `votes` of
    each decision is the number of voters who graded it."""
    by_id = {i.id: i for i in items}
    ranking = majority_ranking({i.id: grades.get(i.id, ()) for i in items})
    return _greedy([by_id[j.id] for j in ranking], budget, lambda i: sum(grades.get(i.id, ())))


# ---- Pabulib ------------------------------------------------------------------------------

def to_pabulib(items: Sequence[Item], budget: int, ballots: Iterable, meta: Mapping[str, str],
               receipts: Iterable[str] | None = None) -> str:
    """The envelope's instance and ballots as a Pabulib file (pabutools' writer): approval
    ballots (sets of ids) as `approval`, graded ones ({id: grade}) as `scoring`. Ballots carry
    no voter: their order is the caller's, their `voter_id` the receipts given (else 1…n)."""
    from pabutools.election import ApprovalBallot, ApprovalProfile, CardinalBallot, CardinalProfile
    from pabutools.election.pabulib import election_as_pabulib_string

    instance, projects = _instance(items, budget)
    instance.meta = {"country": "France", "unit": "Paris", "rule": "greedy", **meta}
    ballots = list(ballots)
    graded = any(isinstance(b, Mapping) for b in ballots)
    profile = (CardinalProfile if graded else ApprovalProfile)(instance=instance)
    names = iter(receipts) if receipts is not None else (str(n) for n in range(1, len(ballots) + 1))
    for ballot, name in zip(ballots, names, strict=True):
        if graded:
            made = CardinalBallot({projects[p]: g for p, g in ballot.items() if p in projects}, name=name)
        else:
            made = ApprovalBallot((projects[p] for p in ballot if p in projects), name=name)
        made.meta["voter_id"] = name
        profile.append(made)
    for item in items:  # the projects' names in the file
        instance.project_meta[projects[item.id]] = {"project_id": str(item.id), "cost": str(item.cost),
                                                    "name": item.name or str(item.id)}
    return election_as_pabulib_string(instance, profile)


def from_pabulib(text: str) -> tuple[list[Item], int, list]:
    """A Pabulib file back as items, the budget and the ballots (pabutools' parser): frozensets
    of ids for approval, {id: grade} for scoring."""
    from pabutools.election import AbstractCardinalProfile
    from pabutools.election.pabulib import parse_pabulib_from_string

    instance, profile = parse_pabulib_from_string(text)
    items = sorted((Item(int(p.name), int(p.cost)) for p in instance), key=lambda i: i.id)
    if isinstance(profile, AbstractCardinalProfile):
        ballots = [{int(p.name): int(g) for p, g in ballot.items()} for ballot in profile]
    else:
        ballots = [frozenset(int(p.name) for p in ballot) for ballot in profile]
    return items, int(instance.budget_limit), ballots
