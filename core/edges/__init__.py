"""Named edges with properties between records of a space (FLXBL style)."""
