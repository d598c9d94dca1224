"""Infrastructure shared by the support-triage services."""
