"""Events: intake, workflow, routing, deadlines, escalation, Open311."""
