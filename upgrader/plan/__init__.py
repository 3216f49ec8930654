"""The plan: discovery -> snapshot -> checks/ -> planner -> the Plan document."""
