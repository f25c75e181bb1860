"""Small shared utilities: user-facing errors, atomic writes, checked text input."""
