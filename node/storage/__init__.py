"""Storage: every SQL statement of the node lives in this package."""
