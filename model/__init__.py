"""The FLE model and the explorer."""
