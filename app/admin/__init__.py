"""Administration: categories, services and routing, users and roles, API keys (issue 13)."""
