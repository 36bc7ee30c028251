"""The lines netterms adds to an order's staff notes, where staff see its terms.

Staff notes belong to the merchant's staff: netterms only ever appends a
line, and every line it writes starts with NOTE_PREFIX so that a later
attempt can tell whether its write already reached the store.
"""

from __future__ import annotations

from netterms_daemon.terms.schedule import Schedule

NOTE_PREFIX = "netterms:"
STAFF_NOTES_LIMIT = 65535  # characters BigCommerce keeps in staff_notes


def terms_line(schedule: Schedule, hold_reason: str | None) -> str:
    """The line that states an order's terms, or why it is held instead."""
    dates = " and ".join(d.due_date.isoformat() for d in schedule.installments)
    terms = f"{schedule.policy}, due {dates} ({schedule.currency} {schedule.total})"
    if hold_reason is not None:
        return f"{NOTE_PREFIX} ON HOLD, {hold_reason}. Terms if released: {terms}"
    return f"{NOTE_PREFIX} {terms}"


def append_note(notes: str, line: str) -> str:
    """Staff notes with one more line; what staff wrote is never replaced."""
    combined = f"{notes.rstrip()}\n{line}" if notes.strip() else line
    if len(combined) > STAFF_NOTES_LIMIT:
        # Keep staff's words whole; cut our line instead.
        combined = combined[:STAFF_NOTES_LIMIT]
    return combined
