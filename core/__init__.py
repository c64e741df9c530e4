"""The channel-agnostic conversation engine and its pipeline stages.

Imports neither channels nor crm_adapters.
"""
