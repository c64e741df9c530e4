"""Settings, training data and reply templates."""
