"""Open311 GeoReport v2 (issue 12): services, requests, FixMyStreet's updates."""
