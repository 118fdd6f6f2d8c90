"""Dialogs: each takes plain values in and gives plain values back."""
