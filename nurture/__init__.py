"""nurture: email/SMS follow-up sequences for a clinic's consultation requests."""

__version__ = "0.1.0"
