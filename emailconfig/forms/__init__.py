"""Forms own validation and wording; views never re-validate."""
