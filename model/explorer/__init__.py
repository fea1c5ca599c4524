"""The model-agnostic explorer."""
