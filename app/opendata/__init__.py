"""Bulk open data (exports, /open-data/) and the DCAT-AP catalogue (/catalog.jsonld)."""
