"""crm_adapters package."""
