"""Pure geospatial logic for Cartagora: no Flask, no database session, no app models."""
