"""The resident map's data path: grid-aggregated clusters, the synced list, light outlines."""
