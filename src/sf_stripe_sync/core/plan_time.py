"""Time applied to a desired schedule: what is past is not sent.

Theory of operation (DESIGN 2, Operations, time): ``as_of`` is the injected "now".
For an amend or a replace, phases ended by ``as_of`` are dropped and the phase in
force keeps the current phase's start as Stripe has it (Stripe refuses a change to a
started phase's start); an amending line dated before that start takes effect from it
(warning ``clipped_to_current_phase``). When nothing is to be billed between the
current phase's start and the first phase (reductions empty the period in force), that
phase still starts at the current phase's start, as the update sends it (same
warning). A create whose start is past backdates unless ``rules.backdate`` is false:
then its first phase in force starts at ``as_of`` (``start_now``), with the same
warning naming the lines dated before now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sf_stripe_sync.core.dates import iso_z
from sf_stripe_sync.core.issues import IssueCode, OrderIssue, warning
from sf_stripe_sync.core.models import DesiredSchedule, OrderLine
from sf_stripe_sync.core.rules import SyncRules


def start_now_if_not_backdating(
    schedule: DesiredSchedule, lines: Sequence[OrderLine], rules: SyncRules, as_of: datetime
) -> tuple[DesiredSchedule, bool, list[OrderIssue]]:
    start = schedule.start
    if rules.backdate or start is None or start >= as_of:
        return schedule, False, []
    kept = [p for p in schedule.phases if p.end is None or p.end > as_of]
    kept[0] = kept[0].model_copy(update={"start": as_of})
    past = tuple(sorted(line.id for line in lines if line.start < as_of))
    note = warning(
        IssueCode.CLIPPED_TO_CURRENT_PHASE,
        f"service starts {iso_z(start)}, before {iso_z(as_of)}, and backdating is off: "
        "the schedule starts now",
        order_item_ids=past,
    )
    return schedule.model_copy(update={"phases": tuple(kept)}), True, [note]


def drop_past(
    schedule: DesiredSchedule,
    amending: Sequence[OrderLine],
    current_phase_start: datetime | None,
    as_of: datetime,
) -> tuple[DesiredSchedule, list[OrderIssue]]:
    """Leave out ended phases; the phase in force keeps the current phase's start."""
    kept = [p for p in schedule.phases if p.end is None or p.end > as_of]
    clip_to: datetime | None = None
    if kept and kept[0].start <= as_of:
        clip_to = current_phase_start if current_phase_start is not None else kept[0].start
        if current_phase_start is not None and current_phase_start <= as_of:
            kept[0] = kept[0].model_copy(update={"start": current_phase_start})
    notes: list[OrderIssue] = []
    in_force = current_phase_start is not None and current_phase_start <= as_of
    if kept and in_force and current_phase_start is not None and kept[0].start > as_of:
        notes.append(_current_phase_kept(kept[0].start, current_phase_start, amending))
        kept[0] = kept[0].model_copy(update={"start": current_phase_start})
    early = tuple(sorted(line.id for line in amending if clip_to and line.start < clip_to))
    if early and clip_to is not None:
        notes.append(warning(
            IssueCode.CLIPPED_TO_CURRENT_PHASE,
            f"change dated before the current phase (started {iso_z(clip_to)}): "
            "it takes effect from the current phase",
            order_item_ids=early,
        ))
    if len(kept) == len(schedule.phases) and all(
            a is b for a, b in zip(kept, schedule.phases, strict=True)):
        return schedule, notes  # nothing past, nothing moved: the same schedule
    return schedule.model_copy(update={"phases": tuple(kept)}), notes


def _current_phase_kept(start: datetime, current_phase_start: datetime,
                        amending: Sequence[OrderLine]) -> OrderIssue:
    """Nothing is billed until ``start``, but Stripe's phase in force cannot be emptied:
    the first phase sent starts at the current phase's start (as the update sends it)."""
    return warning(
        IssueCode.CLIPPED_TO_CURRENT_PHASE,
        f"nothing is billed until {iso_z(start)}, but the schedule's current phase "
        f"(started {iso_z(current_phase_start)}) cannot be left without items: the phase "
        f"from {iso_z(start)} starts at the current phase's start",
        order_item_ids=tuple(sorted(line.id for line in amending if line.start < start)),
    )
