"""Models of the bots app."""
