"""Neural networks, torch only: the passive separators (U-Nets); later the transformer memory and policies."""
