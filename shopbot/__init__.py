"""shopbot package."""
