"""The participatory budget's counting rules, on plain values (no Flask, no database):
winners by the rule Paris and CONSUL use (greedy by votes while the money lasts), by the Method
of Equal Shares (pabutools), the majority-judgment ranking, and the Pabulib `.pb` format both
ways (pabutools' writer and parser). app.budget's services feed them the ballots of one
envelope at a time.

Money is in whole euros here (the ballots' instance), as Pabulib files carry it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction


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


def _profile(instance, projects, ballots: Iterable[Iterable[int]]):
    """Identical ballots grouped (pabutools' multiprofile): 200,000 ballots over 20 projects
    are ~15,000 distinct ones."""
    from pabutools.election import ApprovalMultiProfile, FrozenApprovalBallot

    profile = ApprovalMultiProfile(instance=instance)
    profile.extend(FrozenApprovalBallot(projects[p] for p in ballot if p in projects) for ballot in ballots)
    return profile


def equal_shares(items: Sequence[Item], budget: int, ballots: Iterable[Iterable[int]]) -> set[int]:
    """The Method of Equal Shares with cost satisfaction (each voter's share of the budget buys
    the projects they approve, cheapest per unit of satisfaction first), completed by raising
    the voters' budgets one euro at a time while the outcome still fits (pabutools'
    `voter_budget_increment=1`, the completion used in Wieliczka and Aarau)."""
    from pabutools.election import Cost_Sat
    from pabutools.rules import method_of_equal_shares

    instance, projects = _instance(items, budget)
    profile = _profile(instance, projects, ballots)
    if profile.num_ballots() == 0:
        return set()
    chosen = method_of_equal_shares(instance, profile, sat_class=Cost_Sat, voter_budget_increment=1)
    return {int(p.name) for p in chosen}


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

def to_pabulib(items: Sequence[Item], budget: int, ballots: Iterable[Iterable[int]], meta: Mapping[str, str]) -> str:
    """The envelope's instance and approval ballots as a Pabulib file (pabutools' writer).
    Ballots carry no voter: their order is the caller's (shuffled), their ids 1…n."""
    from pabutools.election import ApprovalBallot, ApprovalProfile
    from pabutools.election.pabulib import election_as_pabulib_string

    instance, projects = _instance(items, budget)
    instance.meta = {"country": "France", "unit": "Paris", "rule": "greedy", **meta}
    profile = ApprovalProfile(instance=instance)
    for n, ballot in enumerate(ballots, start=1):
        profile.append(ApprovalBallot((projects[p] for p in ballot if p in projects), name=str(n)))
    for item in items:  # the projects' names in the file
        instance.project_meta[projects[item.id]] = {"project_id": str(item.id), "cost": str(item.cost),
                                                    "name": item.name or str(item.id)}
    return election_as_pabulib_string(instance, profile)


def from_pabulib(text: str) -> tuple[list[Item], int, list[frozenset[int]]]:
    """A Pabulib approval file back as items, the budget and the ballots (pabutools' parser)."""
    from pabutools.election.pabulib import parse_pabulib_from_string

    instance, profile = parse_pabulib_from_string(text)
    items = sorted((Item(int(p.name), int(p.cost)) for p in instance), key=lambda i: i.id)
    ballots = [frozenset(int(p.name) for p in ballot) for ballot in profile]
    return items, int(instance.budget_limit), ballots
