"""共享内核 Shared kernel: ID numbers, tables, money helpers, base models."""
