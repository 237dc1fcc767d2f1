"""Volunteer missions (Je m'engage pour Paris): organisations, missions, sign-ups."""
