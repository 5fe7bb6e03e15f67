"""Flowctory's shared package: settings, domain logic, adapters and HTTP glue for every function."""
