"""Use cases and validation: no Qt, no SQL text; plain values in and out."""
