"""Qt item models over the services' read side."""
