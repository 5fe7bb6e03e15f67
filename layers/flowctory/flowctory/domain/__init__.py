"""Domain logic: pure functions over ports, no AWS or HTTP imports."""
