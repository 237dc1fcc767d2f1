"""OGC API – Features (/ogc): the public collections read by GIS tools."""
