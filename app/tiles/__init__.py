"""Mapbox vector tiles of the public contributions and of the areas, with TileJSON 3.0."""
