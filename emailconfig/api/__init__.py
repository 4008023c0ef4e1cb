"""The outbound email API, versioned under /api/v1/."""
