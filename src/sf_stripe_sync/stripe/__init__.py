"""stripe package."""
