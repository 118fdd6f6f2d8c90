"""Field lengths: how long each kind of text may be, in the database and in every form.

A leaf module (no imports) so the window, the services and the table definitions in
``app.db.models`` all read the same numbers: a form cannot accept what the column or
the validation would then refuse.
"""

from __future__ import annotations

TAG_LEN = 64  # asset tags
SHORT_LEN = 120  # names, makers, models, serial and certificate numbers, locations
TEXT_LEN = 255  # descriptions and file names
NOTES_LEN = 4000  # notes, comments, impact assessments
USER_LEN = 128  # login names
ENTRY_KEY_LEN = 36  # the key of one calibration entry: a uuid4 in its text form
UNIT_LEN = 32  # a measurement point's unit
TOLERANCE_TEXT_LEN = 64  # a tolerance as written ("±(0.05 % + 2 digits)")
CURRENCY_LEN = 8  # a maintenance event's cost currency ("EUR", "USD", "CHF")
COST_LEN = 40  # a cost as exact decimal text ("1250.00")
