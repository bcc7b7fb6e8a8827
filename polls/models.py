"""Models of the polls app."""
