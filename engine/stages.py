"""Which statutory deadline governs each human step: one table for every diagram, read by the engine.

A task's due date and warning moment come from its stage's deadline record (engine/deadlines.py), never from
a date typed into the diagram: when a task opens, the engine looks up its (process, element) here, finds or
starts that deadline for the instance, and stores its due and warning moment on the open-task row. When the
last step of a stage (and the last timer bound to it) is done, the record closes, met or lapsed.

A step not listed runs outside any statutory period: its task says so (无法定期限).
"""

from __future__ import annotations

# (process id, element id) -> the deadline that governs the step.
STAGE_DEADLINES: dict[tuple[str, str], str] = {
    # Intake: registration, acceptance and every notice owed within 15 days (Art. 22, 23; Art. 44(3)).
    **{
        ("petition_intake", element): "acceptance"
        for element in (
            "register_check",
            "report_major_urgent",
            "acceptance_review",
            "transfer_political_legal",
            "transfer_discipline",
            "notice_skip_level",
            "notice_same_matter",
            "notice_no_review",
            "notice_terminated",
            "notice_other_channel",
            "notice_other_authority",
            "notice_acceptance",
            "transfer_accusation",
            "classify_complaint",
            "notice_statutory_route",
            "check_simple_eligibility",
        )
    },
    ("petition_intake", "study_suggestion"): "handling",
    ("petition_intake", "record_discipline_result"): "discipline_feedback",
    ("petition_intake", "supervise_overdue_acceptance"): "supervision",
    # Simple procedure (JYBL): the decision and the answer, each counted from the day its step opened at the
    # earliest, so an item found simple after acceptance does not enter the procedure already overdue.
    ("simple_procedure", "simple_decide"): "simple_decision",
    ("simple_procedure", "simple_answer"): "simple_answer",
    ("simple_procedure", "simple_serve_reply"): "simple_answer",
    ("simple_procedure", "simple_evaluate"): "evaluation",
    ("simple_procedure", "supervise_simple_decision"): "supervision",
    ("simple_procedure", "supervise_simple_answer"): "supervision",
    ("simple_procedure", "supervise_simple_dissatisfied"): "supervision",
    # Three tiers: each tier disposes within 15 days (Art. 22), the receiving unit's written notice within 15
    # days and its objection within 5 working days (Art. 23 ¶3), the assignment's feedback and report.
    ("three_tier_transfer", "county_decide"): "transfer_decision",
    ("three_tier_transfer", "conference_decide"): "transfer_decision",
    ("three_tier_transfer", "office_decide"): "transfer_decision",
    ("three_tier_transfer", "objection_review"): "transfer_decision",
    # A competence dispute (Art. 24) is decided as a tier disposes, within the same 15 days.
    ("three_tier_transfer", "superior_decide_competence"): "transfer_decision",
    ("three_tier_transfer", "conference_decide_competence"): "transfer_decision",
    ("three_tier_transfer", "unit_receipt"): "receipt_notice",
    ("three_tier_transfer", "unit_respond"): "transfer_objection",
    ("three_tier_transfer", "supervise_assignment"): "supervision",
    ("three_tier_transfer", "supervise_transfer_timeliness"): "supervision",
    ("three_tier_transfer", "reply_supervision"): "supervision",
    ("three_tier_transfer", "report_completion"): "assignment_feedback",
    # Ordinary handling: 60 days from acceptance, one extension (Art. 34).
    **{
        ("ordinary_handling", element): "handling"
        for element in (
            "receive_assignment",
            "investigate",
            "draft_opinion",
            "approve_extension",
            "notify_extension",
            "serve_reply",
        )
    },
    ("ordinary_handling", "evaluate_satisfaction"): "evaluation",
    ("ordinary_handling", "supervise_overdue_handling"): "supervision",
    ("ordinary_handling", "supervise_dissatisfied"): "supervision",
    # Hearing: its own limits (the recheck clock stops meanwhile, Art. 36 ¶2).
    ("hearing", "offer_hearing"): "hearing_offer",
    ("hearing", "register_application"): "hearing_application",
    ("hearing", "exclusion_check"): "hearing_decision",
    ("hearing", "decide_hearing"): "hearing_decision",
    ("hearing", "notify_hearing"): "hearing_held",
    ("hearing", "set_participants"): "hearing_held",
    ("hearing", "hold_hearing"): "hearing_held",
    ("hearing", "deliberate"): "hearing_held",
    ("hearing", "supervise_decision"): "supervision",
    ("hearing", "supervise_held"): "supervision",
    # Review and recheck (Art. 35, 36): the ineligible notice within 15 days, the decision within 30.
    ("review_recheck", "review_eligibility"): "review_acceptance",
    ("review_recheck", "review_decide"): "review",
    # A redo order starts a new 60-day period for the original organ (Art. 34, 35, 36).
    ("review_recheck", "rehandle"): "rehandling",
    ("review_recheck", "supervise_rehandle"): "supervision",
    ("review_recheck", "rehandle_after_recheck"): "recheck_rehandling",
    ("review_recheck", "supervise_recheck_rehandle"): "supervision",
    ("review_recheck", "serve_review"): "review",
    ("review_recheck", "supervise_review"): "supervision",
    ("review_recheck", "supervise_review_acceptance"): "supervision",
    ("review_recheck", "recheck_eligibility"): "recheck_acceptance",
    ("review_recheck", "recheck_decide"): "recheck",
    ("review_recheck", "serve_recheck"): "recheck",
    ("review_recheck", "supervise_recheck"): "supervision",
    # Leadership packaging: the packaging deadline (local), the confirmation window.
    **{
        ("leadership_package", element): "package"
        for element in (
            "choose_leader",
            "form_team",
            "duty_facts",
            "duty_thinking",
            "duty_resolve",
            "duty_stability",
            "duty_cessation",
            "record_resolution",
            "report_package_progress",
            "escalate_leader",
        )
    },
    ("leadership_package", "register_reflux"): "package",
    ("leadership_package", "supervise_package"): "supervision",
    # Supervision (Art. 40): the written reply, then the rectification a sanction sets (Art. 39 ¶3).
    ("supervision", "issue_supervision"): "supervision",
    ("supervision", "unit_reply"): "supervision",
    ("supervision", "decide_sanction"): "supervision",
    ("supervision", "unit_rectify"): "rectification",
    ("supervision", "recommend_accountability"): "accountability",
}


def stage_deadline(process: str, element: str) -> str | None:
    """The deadline that governs a step; None: outside any statutory period."""
    return STAGE_DEADLINES.get((process, element))
