"""The aiohttp API: one module per resource."""
