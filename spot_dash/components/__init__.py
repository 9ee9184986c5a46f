"""Layout builders and pure presentation helpers shared by the pages (no callbacks registered here,
except ``header.register``, which the app calls once)."""
