"""One module per dashboard page (Dash Pages imports them; each registers itself)."""
