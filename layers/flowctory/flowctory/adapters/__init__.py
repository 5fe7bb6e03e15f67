"""Adapters: the only modules that talk to AWS or to providers over the network."""
