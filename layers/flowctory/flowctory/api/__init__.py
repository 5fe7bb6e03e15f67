"""HTTP routes grouped by area (Powertools Routers), included by the thin handlers in functions/."""
